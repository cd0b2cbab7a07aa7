// The operator's desk (docs/screens.md): one agent's screen. The agent id and token are
// typed once and kept in this tab's sessionStorage ("vaxel.desk"), sent as a header, never
// in a URL. The live state is the shared snapshot stream (/api/v1/stream); the actions
// are the agent's HTTP endpoints (/api/v1/agents/{id}/state, .../call/*, .../wrapup/done).
// Keyboard: F2 ready (or log in), F3 pause, F4 transfer, F6 park / take back, F7 requeue,
// F8 register the case, F9 end wrap-up, "/" the directory search, Esc back to the page.

import { openStream } from "/assets/stream.js";

const TEXT = {
  sv: {
    login_title: "Logga in på växeldesken", agent_id: "Agent-id", token: "Token", login: "Logga in",
    signout: "Lämna desken", my_state: "Mitt läge", agent_login: "Logga in (redo)", ready: "Redo",
    logout: "Logga ut", reason: "Orsak", back_at: "Tillbaka kl.", note: "Närvarotext", pause: "Paus",
    current_call: "Pågående samtal", no_call: "Inget samtal just nu", entry: "Ingång", menu: "Menyval",
    group: "Grupp", waited: "Väntade", priority: "Prioritet", case: "Ärende", park: "Parkera",
    unpark: "Ta tillbaka", wrapup_done: "Klar med efterarbete", transfer_to: "Koppla till",
    target: "Mål", transfer: "Koppla", requeue_to: "Lägg i kö", requeue: "Köa om",
    case_type: "Ärendetyp", resolved: "Löst", back_office: "Till handläggare", register: "Registrera",
    parked: "Mina parkerade samtal", queues: "Köläge i mina grupper", waiting: "Väntar",
    longest: "Längsta", ewt: "Förv. väntan", colleagues: "Kollegor", only_logged_in: "Bara inloggade",
    name: "Namn", state: "Läge", since: "Sedan", skills: "Kompetens", groups: "Grupper",
    directory: "Hänvisning", department: "Avdelning", extension: "Anknytning", presence: "Närvaro",
    all_groups: "Alla grupper", all_skills: "All kompetens", kind_group: "grupp", kind_agent: "agent",
    kind_number: "nummer", transfer_here: "Koppla hit", search: "Sök namn, avdelning, nyckelord…",
    logged_out: "Utloggad", ringing: "Ringer", talking: "Samtal", wrapup: "Efterarbete", paused: "Paus",
    live: "Live", stale: "Inaktuellt – återansluter…", connecting: "Ansluter…",
    token_bad: "Token gäller inte", unknown_agent: "Ingen agent med det id:t",
    crisis: "KRISLÄGE", done: "Klart", back: "tillbaka", keys: "F2 redo · F3 paus · F4 koppla · F6 parkera · F7 köa om · F8 ärende · F9 klar · / sök",
  },
  en: {
    login_title: "Sign in to the desk", agent_id: "Agent id", token: "Token", login: "Sign in",
    signout: "Leave the desk", my_state: "My state", agent_login: "Log in (ready)", ready: "Ready",
    logout: "Log out", reason: "Reason", back_at: "Back at", note: "Presence note", pause: "Pause",
    current_call: "Current call", no_call: "No call right now", entry: "Entry", menu: "Menu choices",
    group: "Group", waited: "Waited", priority: "Priority", case: "Case", park: "Park",
    unpark: "Take back", wrapup_done: "End wrap-up", transfer_to: "Transfer to", target: "Target",
    transfer: "Transfer", requeue_to: "Put in queue", requeue: "Requeue", case_type: "Case type",
    resolved: "Resolved", back_office: "Back office", register: "Register", parked: "My parked calls",
    queues: "Queues of my groups", waiting: "Waiting", longest: "Longest", ewt: "Expected",
    colleagues: "Colleagues", only_logged_in: "Logged in only", name: "Name", state: "State",
    since: "Since", skills: "Skills", groups: "Groups", directory: "Directory", department: "Department",
    extension: "Extension", presence: "Presence", all_groups: "All groups", all_skills: "All skills",
    kind_group: "group", kind_agent: "agent", kind_number: "number", transfer_here: "Transfer here",
    search: "Search name, department, keyword…", logged_out: "Logged out", ringing: "Ringing",
    talking: "Talking", wrapup: "Wrap-up", paused: "Paused", live: "Live",
    stale: "Stale – reconnecting…", connecting: "Connecting…", token_bad: "Token not accepted",
    unknown_agent: "No agent with that id", crisis: "CRISIS MODE", done: "Done", back: "back",
    keys: "F2 ready · F3 pause · F4 transfer · F6 park · F7 requeue · F8 case · F9 done · / search",
  },
};
const LANG_KEY = "vaxel.lang";
const SESSION_KEY = "vaxel.desk";

const $ = id => document.getElementById(id);
let siteLang = "sv";
let chosenLang = null;
try { chosenLang = localStorage.getItem(LANG_KEY); } catch (_) { /* none */ }
const lang = () => (chosenLang === "sv" || chosenLang === "en") ? chosenLang : siteLang;
const t = k => TEXT[lang()][k] ?? k;

let session = null;        // {agent, token}
try { session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null"); } catch (_) { session = null; }
let last = null;           // the last snapshot
let receivedAt = 0;        // Date.now() when it came
let stream = null;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function clock(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

// Engine time now: the snapshot's time plus what passed since it came.
const nowMs = () => last ? last.at + (Date.now() - receivedAt) : Date.now();
const hhmm = ms => new Date(ms).toLocaleTimeString(lang() === "sv" ? "sv-SE" : "en-GB", { hour: "2-digit", minute: "2-digit" });

function applyText() {
  document.documentElement.lang = lang();
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  for (const o of $("transfer-kind").options) o.textContent = t("kind_" + o.value);
  $("dir-q").placeholder = t("search");
  $("lang").textContent = lang() === "sv" ? "EN" : "SV";
  $("keys").textContent = t("keys");
  for (const b of document.querySelectorAll("button[data-key]")) b.title = b.dataset.key;
  if (last) render();
}

function say(text, bad) {
  const m = $("message");
  m.textContent = text;
  m.hidden = !text;
  m.className = bad ? "bad" : "good";
  clearTimeout(say.timer);
  if (text) say.timer = setTimeout(() => { m.hidden = true; }, bad ? 8000 : 2500);
}

function headers() {
  const h = { "Content-Type": "application/json" };
  if (session && session.token) h["Authorization"] = "Bearer " + session.token;
  return h;
}

// One action of this agent: POST /api/v1/agents/{id}/{path} with body; the answer's agent
// is shown at once (the stream follows within a second).
async function act(path, body) {
  if (!session) return;
  try {
    const res = await fetch(`/api/v1/agents/${encodeURIComponent(session.agent)}/${path}`,
      { method: "POST", headers: headers(), body: body ? JSON.stringify(body) : "{}", cache: "no-store" });
    const v = await res.json().catch(() => ({}));
    if (!res.ok) {
      say(`${v.code || res.status}: ${v.message || ""}`, true);
      return false;
    }
    if (v.agent && last) {
      const i = last.agents.findIndex(a => a.id === v.agent.id);
      if (i >= 0) last.agents[i] = v.agent;
      render();
    }
    say(t("done"), false);
    return true;
  } catch (e) {
    say(String(e), true);
    return false;
  }
}

const me = () => last && session ? last.agents.find(a => a.id === session.agent) : null;

function stateName(s) { return s === "ready" ? t("ready") : t(s); }

// ---------------------------------------------------------------- rendering

function render() {
  const snap = last, a = me();
  if (!snap) return;
  $("site").textContent = snap.site;
  $("crisis").hidden = !snap.crisis;
  $("crisis").textContent = t("crisis");
  if (!a) { showLogin(t("unknown_agent")); return; }
  $("me-name").textContent = a.name;
  $("me-id").textContent = `${a.id} · ${a.extension}`;
  $("my-state").dataset.state = a.state;
  $("my-state-name").textContent = stateName(a.state);
  tick();
  const out = a.state === "logged_out";
  $("btn-login").hidden = !out;
  $("btn-ready").hidden = out;
  // Ready ends a pause or the wrap-up; ringing and talking end by the call.
  $("btn-ready").disabled = !(a.state === "paused" || a.state === "wrapup");
  $("btn-logout").disabled = out;
  $("btn-pause").disabled = out;
  $("btn-wrapup").hidden = a.state !== "wrapup";
  $("presence").textContent = [a.pause_reason, a.note, a.until && a.state === "paused" ? `${t("back")} ${hhmm(a.until)}` : null]
    .filter(Boolean).join(" · ");
  renderCall(a, snap);
  renderQueues(a, snap);
  renderColleagues(a, snap);
  renderDirectoryPresence(snap);
}

function renderCall(a, snap) {
  const c = a.call_detail;
  $("call").hidden = !c;
  $("no-call").hidden = !!c;
  if (c) {
    $("call-from").textContent = c.from || "–";
    $("call-entry").textContent = c.entry || "–";
    $("call-digits").textContent = c.digits || "–";
    $("call-group").textContent = c.group ? groupName(snap, c.group) : "–";
    $("call-wait").textContent = clock(c.wait_s);
    $("call-priority").textContent = String(c.priority);
    $("call-case").textContent = c.case_type ? `${c.case_type} · ${c.resolved ? t("resolved") : t("back_office")}` : "–";
    const talking = a.state === "talking";
    for (const id of ["btn-park", "btn-transfer", "btn-requeue"]) $(id).disabled = !talking;
    $("btn-case").disabled = !(talking || a.state === "wrapup");
  }
  // Requeue: the site's groups, the call's own first.
  const sel = $("requeue-group");
  const want = snap.groups.map(g => g.id).join(",");
  if (sel.dataset.ids !== want) {
    sel.replaceChildren(...snap.groups.map(g => { const o = el("option", null, g.name); o.value = g.id; return o; }));
    sel.dataset.ids = want;
  }
  if (c && c.group && document.activeElement !== sel) sel.value = c.group;
  // Transfer targets for the chosen kind.
  fillTransferOptions(snap);
  const parked = snap.calls.filter(x => x.state === "parked" && x.parked_by === a.id);
  $("parked-box").hidden = parked.length === 0;
  $("parked").replaceChildren(...parked.map(p => {
    const li = el("li");
    li.append(el("b", null, p.from || p.call), " ", el("span", "dim", clock(p.wait_s)));
    const b = el("button", null, t("unpark"));
    b.type = "button";
    b.disabled = a.state !== "ready";
    b.addEventListener("click", () => act("call/unpark"));
    li.append(" ", b);
    return li;
  }));
  $("btn-park").textContent = t("park");
}

function fillTransferOptions(snap) {
  const kind = $("transfer-kind").value;
  let opts = [];
  if (kind === "group") opts = snap.groups.map(g => [g.id, g.name]);
  else if (kind === "agent") opts = snap.agents.filter(x => x.state === "ready" && x.id !== session.agent).map(x => [x.id, x.name]);
  const dl = $("transfer-options");
  const key = kind + ":" + opts.map(o => o[0]).join(",");
  if (dl.dataset.key === key) return;
  dl.dataset.key = key;
  dl.replaceChildren(...opts.map(([v, label]) => { const o = el("option"); o.value = v; o.label = label; return o; }));
}

const groupName = (snap, id) => (snap.groups.find(g => g.id === id) || { name: id }).name;

function renderQueues(a, snap) {
  const body = $("queues").tBodies[0];
  const mine = snap.groups.filter(g => a.groups.includes(g.id));
  body.replaceChildren(...mine.map(g => {
    const tr = el("tr");
    tr.dataset.group = g.id;
    const w = el("td", "num", String(g.waiting));
    if (g.waiting >= g.wallboard.waiting_red) w.className += " red";
    else if (g.waiting >= g.wallboard.waiting_amber) w.className += " amber";
    const longest = el("td", "num tick", g.waiting ? clock(g.oldest_wait_s) : "–");
    longest.dataset.wait = g.waiting ? String(g.oldest_wait_s) : "";
    tr.append(el("td", null, g.name), w, longest,
      el("td", "num", g.ewt_s === null ? "–" : clock(g.ewt_s)), el("td", "num", String(g.agents.ready)));
    return tr;
  }));
  queuesAt = Date.now();
}
let queuesAt = 0;

function renderColleagues(a, snap) {
  const gsel = $("filter-group"), ssel = $("filter-skill");
  const skills = [...new Set(snap.agents.flatMap(x => x.skills.map(s => s[0])))].sort();
  const gkey = snap.groups.map(g => g.id).join(",") + "|" + lang();
  if (gsel.dataset.key !== gkey) {
    const v = gsel.value;
    const all = el("option", null, t("all_groups")); all.value = "";
    gsel.replaceChildren(all, ...snap.groups.map(g => { const o = el("option", null, g.name); o.value = g.id; return o; }));
    gsel.value = v;
    gsel.dataset.key = gkey;
  }
  const skey = skills.join(",") + "|" + lang();
  if (ssel.dataset.key !== skey) {
    const v = ssel.value;
    const all = el("option", null, t("all_skills")); all.value = "";
    ssel.replaceChildren(all, ...skills.map(s => { const o = el("option", null, s); o.value = s; return o; }));
    ssel.value = v;
    ssel.dataset.key = skey;
  }
  const g = gsel.value, s = ssel.value, onlyIn = $("filter-in").checked;
  const canTransfer = a.state === "talking";
  const rows = snap.agents
    .filter(x => x.id !== a.id)
    .filter(x => !onlyIn || x.state !== "logged_out")
    .filter(x => !g || x.groups.includes(g))
    .filter(x => !s || x.skills.some(k => k[0] === s))
    .map(x => {
      const tr = el("tr");
      tr.dataset.agent = x.id;
      const st = el("td", "state");
      st.append(el("span", "dot " + x.state), " ", stateName(x.state));
      if (x.state === "paused" && (x.note || x.pause_reason)) st.append(el("div", "dim", x.note || x.pause_reason));
      const since = el("td", "num since");
      since.dataset.since = String(x.since);
      since.textContent = clock((nowMs() - x.since) / 1000);
      const b = el("button", null, t("transfer_here"));
      b.type = "button";
      b.disabled = !canTransfer || x.state !== "ready";
      b.addEventListener("click", () => transfer("agent:" + x.id, 0));
      const td = el("td"); td.append(b);
      tr.append(el("td", null, `${x.name} (${x.extension})`), st, since,
        el("td", "dim", x.skills.map(k => `${k[0]} ${k[1]}`).join(", ")),
        el("td", "dim", x.groups.map(id => groupName(snap, id)).join(", ")), td);
      return tr;
    });
  $("colleagues").tBodies[0].replaceChildren(...rows);
}

// ---------------------------------------------------------------- the directory

let dirHits = [];
async function search() {
  const q = $("dir-q").value.trim();
  if (!session) return;
  try {
    const res = await fetch("/api/v1/directory?q=" + encodeURIComponent(q), { headers: headers(), cache: "no-store" });
    if (!res.ok) return;
    const v = await res.json();
    if (v.q !== $("dir-q").value.trim()) return; // a later search is on its way
    dirHits = v.hits;
    renderDirectory();
  } catch (_) { /* the stream's status says it */ }
}

// Presence comes with the search; between searches the snapshot's agents keep it fresh.
function renderDirectoryPresence() { if (dirHits.length) renderDirectory(); }

function renderDirectory() {
  const a = me();
  const talking = a && a.state === "talking";
  $("directory").tBodies[0].replaceChildren(...dirHits.map(h => {
    const live = h.presence && last ? last.agents.find(x => x.id === h.presence.agent) : null;
    const p = live ? { state: live.state, note: live.note, until: live.until } : h.presence;
    const tr = el("tr");
    const pres = el("td");
    if (p) {
      pres.append(el("span", "dot " + p.state), " ", stateName(p.state));
      const extra = [p.note, p.until ? `${t("back")} ${hhmm(p.until)}` : null].filter(Boolean).join(" · ");
      if (extra) pres.append(el("div", "dim", extra));
    } else pres.textContent = "–";
    // To a linked agent who is ready, else to the entry's external number.
    let target = null;
    if (h.presence && p && p.state === "ready") target = "agent:" + h.presence.agent;
    else if (h.number) target = "number:" + h.number;
    const b = el("button", null, t("transfer_here"));
    b.type = "button";
    b.disabled = !talking || !target;
    if (target) b.title = target;
    b.addEventListener("click", () => transfer(target, 0));
    const td = el("td"); td.append(b);
    tr.append(el("td", null, h.name), el("td", "dim", h.department || ""),
      el("td", "num", h.extension || h.number || ""), pres, td);
    return tr;
  }));
}

// ---------------------------------------------------------------- actions

function transfer(to, priority) {
  const body = { to };
  if (priority) body.priority = priority;
  return act("call/transfer", body);
}

function pause() {
  const body = { state: "pause" };
  const reason = $("pause-reason").value.trim();
  const note = $("pause-note").value.trim();
  const until = $("pause-until").value;
  if (reason) body.reason = reason;
  if (note) body.note = note;
  if (until) {
    // Today at that local time, or tomorrow if it has passed.
    const [h, m] = until.split(":").map(Number);
    const d = new Date(nowMs());
    d.setHours(h, m, 0, 0);
    if (d.getTime() < nowMs()) d.setDate(d.getDate() + 1);
    body.until = d.getTime();
  }
  return act("state", body);
}

function parkOrTake() {
  const a = me();
  if (!a) return;
  if (a.state === "talking") act("call/park");
  else if (last.calls.some(x => x.state === "parked" && x.parked_by === a.id)) act("call/unpark");
}

function wire() {
  $("lang").addEventListener("click", () => {
    chosenLang = lang() === "sv" ? "en" : "sv";
    try { localStorage.setItem(LANG_KEY, chosenLang); } catch (_) { /* this page only */ }
    applyText();
  });
  $("signout").addEventListener("click", () => {
    try { sessionStorage.removeItem(SESSION_KEY); } catch (_) { /* none */ }
    location.reload();
  });
  $("login").addEventListener("submit", e => { e.preventDefault(); login(); });
  // Logging in makes the agent ready.
  $("btn-login").addEventListener("click", () => act("state", { state: "login" }));
  $("btn-ready").addEventListener("click", () => act("state", { state: "ready" }));
  $("btn-logout").addEventListener("click", () => act("state", { state: "logout" }));
  $("pause-form").addEventListener("submit", e => { e.preventDefault(); pause(); });
  $("btn-park").addEventListener("click", parkOrTake);
  $("btn-wrapup").addEventListener("click", () => act("wrapup/done"));
  $("transfer-kind").addEventListener("change", () => { $("transfer-target").value = ""; if (last) fillTransferOptions(last); });
  $("transfer-form").addEventListener("submit", e => {
    e.preventDefault();
    const to = $("transfer-kind").value + ":" + $("transfer-target").value.trim();
    transfer(to, parseInt($("transfer-priority").value, 10) || 0);
  });
  $("requeue-form").addEventListener("submit", e => {
    e.preventDefault();
    const body = { group: $("requeue-group").value };
    const p = parseInt($("requeue-priority").value, 10) || 0;
    if (p) body.priority = p;
    act("call/requeue", body);
  });
  $("case-form").addEventListener("submit", e => {
    e.preventDefault();
    const resolved = document.querySelector("input[name=resolved]:checked").value === "true";
    act("call/disposition", { case_type: $("case-type").value.trim(), resolved });
  });
  for (const id of ["filter-group", "filter-skill", "filter-in"]) $(id).addEventListener("change", render);
  let timer = 0;
  $("dir-q").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(search, 200); });
  document.addEventListener("keydown", e => {
    const keys = {
      F2: () => (me() && me().state === "logged_out" ? $("btn-login") : $("btn-ready")).click(),
      F3: () => $("pause-reason").focus(),
      F4: () => $("transfer-target").focus(),
      F6: parkOrTake,
      F7: () => $("requeue-group").focus(),
      F8: () => $("case-type").focus(),
      F9: () => $("btn-wrapup").click(),
    };
    if (!session || $("desk").hidden) return;
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); return; }
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
    if (e.key === "/" && !typing) { e.preventDefault(); $("dir-q").focus(); }
    if (e.key === "Escape" && typing) document.activeElement.blur();
  });
}

// ---------------------------------------------------------------- session and stream

function showLogin(error) {
  document.body.dataset.state = "login";
  $("login").hidden = false;
  $("desk").hidden = true;
  $("login-error").textContent = error || "";
  if (session) $("login-agent").value = session.agent;
  $("login-agent").focus();
}

async function login() {
  const agent = $("login-agent").value.trim();
  const token = $("login-token").value.trim();
  const res = await fetch("/api/v1/snapshot", { headers: { "Authorization": "Bearer " + token }, cache: "no-store" }).catch(() => null);
  if (!res || res.status === 401) { $("login-error").textContent = t("token_bad"); return; }
  const snap = await res.json().catch(() => null);
  if (!snap || !snap.agents.some(a => a.id === agent)) { $("login-error").textContent = t("unknown_agent"); return; }
  session = { agent, token };
  try { sessionStorage.setItem(SESSION_KEY, JSON.stringify(session)); } catch (_) { /* this page only */ }
  $("login-token").value = "";
  start();
}

function start() {
  $("login").hidden = true;
  $("desk").hidden = false;
  document.body.dataset.state = "connecting";
  const handlers = {
    snapshot(snap) {
      last = snap;
      receivedAt = Date.now();
      if (snap.lang && snap.lang !== siteLang) { siteLang = snap.lang; applyText(); }
      render();
    },
    status(s) {
      if (s === "token") { showLogin(t("token_bad")); return; }
      document.body.dataset.state = s;
      $("status").textContent = t(s);
    },
  };
  if (stream) stream.restart();
  else stream = openStream(handlers, () => (session ? session.token : ""));
  search();
}

// The clocks between snapshots: my state's "since", colleagues' "since", queues' waits.
function tick() {
  const a = me();
  if (!a) return;
  $("my-since").textContent = clock((nowMs() - a.since) / 1000);
  for (const td of document.querySelectorAll("#colleagues td.since")) {
    td.textContent = clock((nowMs() - Number(td.dataset.since)) / 1000);
  }
  const dt = (Date.now() - queuesAt) / 1000;
  for (const td of document.querySelectorAll("#queues td.tick")) {
    if (td.dataset.wait) td.textContent = clock(Number(td.dataset.wait) + dt);
  }
}

wire();
applyText();
setInterval(tick, 1000);
if (session && session.agent && session.token) start(); else showLogin("");
