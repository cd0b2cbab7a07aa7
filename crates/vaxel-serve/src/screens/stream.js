// The screens' live feed: /api/v1/stream read with fetch() so that the token travels in
// the Authorization header (EventSource cannot set headers, and a token in the URL ends up
// in proxy and access logs). The token is typed once and kept in this browser's
// localStorage under "vaxel.token".
//
// openStream(handlers, getToken) calls handlers.snapshot(snap) for every event, handlers.status(s)
// with "connecting" | "live" | "stale" | "token", and reconnects by itself: after the
// stream ends or fails, after 2 s (the server's retry), backing off to 10 s; and when
// nothing (not even the 15 s keep-alive) arrived for 25 s. getToken (default: the stored
// screen token) gives the token to send: the desk passes its agent's session token.

const TOKEN_KEY = "vaxel.token";
const SILENCE_MS = 25000;

export function token() {
  try { return localStorage.getItem(TOKEN_KEY) || ""; } catch (_) { return ""; }
}

export function setToken(t) {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
  } catch (_) { /* private mode: the token lasts this page */ }
}

export function openStream(handlers, getToken = token) {
  let delay = 2000;
  let lastByte = Date.now();
  let ctrl = null;
  let stopped = false;

  setInterval(() => {
    if (ctrl && Date.now() - lastByte > SILENCE_MS) ctrl.abort();
  }, 1000);

  async function once() {
    ctrl = new AbortController();
    const headers = { "Accept": "text/event-stream" };
    const t = getToken();
    if (t) headers["Authorization"] = "Bearer " + t;
    handlers.status("connecting");
    const res = await fetch("/api/v1/stream", { headers, cache: "no-store", signal: ctrl.signal });
    if (res.status === 401) { handlers.status("token"); stopped = true; return; }
    if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
    lastByte = Date.now();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      lastByte = Date.now();
      buf += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = block.split("\n").filter(l => l.startsWith("data:"))
          .map(l => l.slice(5).replace(/^ /, "")).join("\n");
        if (!data) continue;
        let snap;
        try { snap = JSON.parse(data); } catch (_) { continue; }
        delay = 2000;
        handlers.status("live");
        handlers.snapshot(snap);
      }
    }
  }

  async function loop() {
    while (!stopped) {
      try { await once(); } catch (_) { /* reconnect below */ }
      ctrl = null;
      if (stopped) break;
      handlers.status("stale");
      await new Promise(r => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }

  loop();
  return {
    // After a new token was typed in.
    restart() { if (stopped) { stopped = false; loop(); } else if (ctrl) ctrl.abort(); },
  };
}
