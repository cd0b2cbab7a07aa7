// What the browser scenarios share (wallboard.mjs, desk.mjs): waiting for a condition
// with a deadline, a proxy that can cut the HTTP connections, a platform connection
// speaking the TCP protocol, and Debian's Chromium launched headless.

import { chromium } from "playwright-core";
import net from "node:net";

export const env = k => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
// 2026-03-02 08:45 in Stockholm: a Monday, the office lines are open.
export const T0 = 1772437500000;
export const sleep = ms => new Promise(r => setTimeout(r, ms));
export const log = m => console.log(`[${new Date().toISOString().slice(11, 23)}] ${m}`);

export function fail(msg) { throw new Error(msg); }

// Polls `probe` until `ok(value)` or `ms` pass; returns how long it took.
export async function within(ms, what, probe, ok) {
  const start = Date.now();
  let last;
  while (Date.now() - start <= ms) {
    last = await probe();
    if (ok(last)) return Date.now() - start;
    await sleep(50);
  }
  fail(`${what}: not within ${ms} ms (last seen: ${JSON.stringify(last)})`);
}

// ---- a proxy in front of the HTTP port, with a switch that cuts everything -------------
export function proxy(target) { // target: host:port
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const open = new Set();
  let cut = false;
  const server = net.createServer(client => {
    if (cut) { client.destroy(); return; }
    const up = net.connect(port, host);
    open.add(client); open.add(up);
    const done = () => { client.destroy(); up.destroy(); open.delete(client); open.delete(up); };
    client.on("error", done); up.on("error", done); client.on("close", done); up.on("close", done);
    client.pipe(up); up.pipe(client);
  });
  return new Promise(resolve => server.listen(0, "127.0.0.1", () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    cut() { cut = true; for (const s of open) s.destroy(); open.clear(); },
    heal() { cut = false; },
    close() { server.close(); for (const s of open) s.destroy(); },
  })));
}

// ---- the platform side: one connection, lines in and out --------------------------------
// `tcp` is host:port; `name` the platform id of its hello.
export async function platform(tcp, name = "pbx-1") {
  const [host, port] = [tcp.slice(0, tcp.lastIndexOf(":")), Number(tcp.slice(tcp.lastIndexOf(":") + 1))];
  const sock = net.connect(port, host);
  await new Promise((res, rej) => { sock.once("connect", res); sock.once("error", rej); });
  let buf = "";
  const lines = [];
  const waiters = [];
  sock.on("data", d => {
    buf += d.toString("utf8");
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      lines.push(buf.slice(0, i)); buf = buf.slice(i + 1);
      while (waiters.length) waiters.shift()();
    }
  });
  let seq = 0;
  async function expect(pred, what) {
    const until = Date.now() + 15000;
    for (;;) {
      const i = lines.findIndex(pred);
      if (i >= 0) return lines.splice(i, 1)[0];
      if (Date.now() > until) fail(`platform: no ${what}; got ${JSON.stringify(lines)}`);
      await Promise.race([new Promise(r => waiters.push(r)), sleep(200)]);
    }
  }
  const p = {
    // Sends `ev` and waits for its `ok` (or, with `tolerate`, its `error`): the answer.
    async send(ev, tolerate = false) {
      const s = ++seq;
      sock.write(JSON.stringify({ ...ev, seq: s }) + "\n");
      const answered = l => l.includes(`"seq":${s},`) || l.endsWith(`"seq":${s}}`);
      return expect(l => answered(l) && (l.includes('"cmd":"ok"') || (tolerate && l.includes('"cmd":"error"'))),
        `ok for ${ev.ev} (seq ${s})`);
    },
    // The next line matching `pred` (a command to the platform), within 15 s (the host is
    // shared: a deadline, not a measure).
    expect,
    // Every line received so far that matches `pred`, taken out of the buffer.
    take(pred) {
      const out = lines.filter(pred);
      for (const l of out) lines.splice(lines.indexOf(l), 1);
      return out;
    },
    close() { sock.destroy(); },
  };
  sock.write(JSON.stringify({ ev: "hello", platform: name, protocol: 1 }) + "\n");
  await expect(l => l.includes('"cmd":"welcome"'), "welcome");
  return p;
}

// Headless Chromium at `executablePath`, with nothing of its own going to the network.
export function launch(executablePath) {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// A POST of `body` as JSON with a bearer token: the status and the JSON answer.
export async function post(http, pathname, token, body) {
  const r = await fetch(`http://${http}${pathname}`, {
    method: "POST", body: JSON.stringify(body ?? {}),
    headers: { "Authorization": `Bearer ${token}`, "Content-Type": "application/json" },
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}
