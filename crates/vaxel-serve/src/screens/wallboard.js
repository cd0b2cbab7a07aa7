// The wallboard (docs/screens.md): one tile per answer group and one for the whole site,
// from the live snapshots of /api/v1/stream. Colours come from each group's thresholds in
// the snapshot (groups[].wallboard, set in the site file); the longest wait ticks every
// second from the wait's start between snapshots.

import { openStream, setToken, token } from "/assets/stream.js";

const TEXT = {
  sv: {
    site: "Hela växeln", waiting: "Väntar", longest: "Längsta väntan", sl: "Servicenivå",
    target: "SL-mål", ewt: "Förv. väntan", answered: "Besvarade", abandoned: "Avbrutna",
    occupancy: "Beläggning", ready: "Redo", ringing: "Ringer", talking: "Samtal",
    wrapup: "Efterarb.", paused: "Paus", logged_in: "inloggade",
    crisis: "KRISLÄGE – alla samtal går till krisrutten",
    stale: "Data är inaktuell – återansluter…", connecting: "Ansluter…", live: "Live",
    token: "Ange en operatörstoken för den här skärmen", save: "Spara",
    no_groups: "Inga svarsgrupper matchar", other: "Lang", today: "i dag",
  },
  en: {
    site: "Whole site", waiting: "Waiting", longest: "Longest wait", sl: "Service level",
    target: "SL target", ewt: "Expected", answered: "Answered", abandoned: "Abandoned",
    occupancy: "Occupancy", ready: "Ready", ringing: "Ringing", talking: "Talking",
    wrapup: "Wrap-up", paused: "Paused", logged_in: "logged in",
    crisis: "CRISIS MODE – every call takes the crisis route",
    stale: "Data is stale – reconnecting…", connecting: "Connecting…", live: "Live",
    token: "Enter an operator token for this screen", save: "Save",
    no_groups: "No answer group matches", other: "Lang", today: "today",
  },
};
const LANG_KEY = "vaxel.lang";
const STATES = ["ready", "ringing", "talking", "wrapup", "paused"];
const LEVELS = ["green", "amber", "red"];

const $ = id => document.getElementById(id);
const filter = (new URLSearchParams(location.search).get("groups") || "")
  .split(",").map(s => s.trim()).filter(Boolean);

let siteLang = "sv";
let chosenLang = null;
try { chosenLang = localStorage.getItem(LANG_KEY); } catch (_) { /* none */ }
let last = null;           // the last snapshot
let receivedAt = 0;        // performance.now() when it came
let status = "connecting";
const tiles = new Map();   // id → {el, f, board, waitStart, waitFrom, waiting, sl}

const lang = () => (chosenLang === "sv" || chosenLang === "en") ? chosenLang : siteLang;
const t = k => TEXT[lang()][k];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function clock(s) {
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

const pct = x => Math.round(x * 100) + " %";

// green below amber, amber from it, red from red.
function levelUp(v, amber, red) { return v >= red ? 2 : v >= amber ? 1 : 0; }
// The service level the other way round: green at or above the target.
function levelDown(v, target, amber) { return v >= target ? 0 : v >= amber ? 1 : 2; }

function makeTile(id) {
  const el0 = el("section", "tile");
  el0.dataset.group = id;
  const inner = el("div", "inner");
  el0.append(inner);
  const f = {};
  const head = el("div", "head");
  f.name = el("h2");
  const loggedIn = el("div", "in");
  loggedIn.dataset.k = "logged_in";
  f.logged_in = el("b");
  f.logged_in_label = el("span");
  loggedIn.append(f.logged_in, " ", f.logged_in_label);
  head.append(f.name, loggedIn);
  inner.append(head);
  const big = el("div", "big");
  for (const k of ["waiting", "longest", "sl"]) {
    const box = el("div", "fig");
    box.dataset.k = k;
    f[k] = el("b");
    f[k + "_label"] = el("span");
    box.append(f[k], f[k + "_label"]);
    f[k + "_box"] = box;
    big.append(box);
  }
  inner.append(big);
  const small = el("div", "small");
  for (const k of ["ewt", "answered", "abandoned", "occupancy"]) {
    const box = el("div", "pair");
    box.dataset.k = k;
    f[k + "_label"] = el("span");
    f[k] = el("b");
    box.append(f[k + "_label"], f[k]);
    small.append(box);
  }
  inner.append(small);
  const agents = el("div", "agents");
  for (const k of STATES) {
    const box = el("div", "state " + k);
    box.dataset.k = k;
    f[k] = el("b");
    f[k + "_label"] = el("span");
    box.append(f[k], f[k + "_label"]);
    agents.append(box);
  }
  inner.append(agents);
  f.reasons = el("div", "reasons");
  inner.append(f.reasons);
  return { el: el0, f };
}

// The summary tile's figures: every call and every person counted once.
function siteFigures(snap, groups) {
  // With ?groups=, the calls and people of those groups (each still counted once).
  const ids = new Set(groups.map(g => g.id));
  const mine = list => !filter.length || list.some(id => ids.has(id));
  const waitingCalls = snap.calls.filter(c => mine(c.groups) &&
    (c.state === "queued" || c.state === "offering_callback" || c.state === "callback"));
  const agents = { ready: 0, ringing: 0, talking: 0, wrapup: 0, paused: 0, logged_out: 0 };
  const reasons = {};
  for (const a of snap.agents.filter(a => mine(a.groups))) {
    agents[a.state] = (agents[a.state] || 0) + 1;
    if (a.state === "paused") { const r = a.pause_reason || "–"; reasons[r] = (reasons[r] || 0) + 1; }
  }
  const sum = k => groups.reduce((n, g) => n + g.today[k], 0);
  const base = sum("offered") - sum("short_abandoned");
  // The most common target among the groups (the site's, unless groups set their own).
  const boards = groups.map(g => g.wallboard);
  const count = new Map();
  for (const b of boards) count.set(b.service_level_target, (count.get(b.service_level_target) || 0) + 1);
  const target = [...count.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0.8;
  const board = boards.find(b => b.service_level_target === target) || {
    service_level_target: 0.8, service_level_amber: 0.7, wait_amber_s: 20, wait_red_s: 60,
    waiting_amber: 3, waiting_red: 10,
  };
  return {
    id: "", name: t("site"), waiting: waitingCalls.length,
    oldest_wait_s: groups.reduce((m, g) => Math.max(m, g.oldest_wait_s), 0),
    ewt_s: null,
    agents, reasons,
    today: {
      answered: sum("answered"), abandoned: sum("abandoned"),
      service_level: base > 0 ? sum("answered_within_sl") / base : 1,
    },
    occupancy: filter.length ? null : last15(snap.occupancy),
    wallboard: board,
  };
}

function groupFigures(snap, g) {
  const reasons = {};
  for (const a of snap.agents) {
    if (a.state === "paused" && a.groups.includes(g.id)) {
      const r = a.pause_reason || "–";
      reasons[r] = (reasons[r] || 0) + 1;
    }
  }
  return { ...g, reasons, occupancy: last15(g.occupancy) };
}

// The share of staffed time busy over the last 15 minutes (the live figure; the
// snapshot also has today's), or null when the daemon does not report it.
function last15(occ) {
  return occ && typeof occ.last_15_min === "number" ? occ.last_15_min : null;
}

function fill(tile, fig) {
  const f = tile.f;
  f.name.textContent = fig.name;
  f.waiting.textContent = fig.waiting;
  f.sl.textContent = pct(fig.today.service_level);
  f.ewt.textContent = fig.ewt_s === null ? "–" : clock(fig.ewt_s);
  f.answered.textContent = fig.today.answered;
  f.abandoned.textContent = fig.today.abandoned;
  f.occupancy.textContent = fig.occupancy === null ? "–" : pct(fig.occupancy);
  const a = fig.agents;
  for (const k of STATES) f[k].textContent = a[k];
  f.logged_in.textContent = STATES.reduce((n, k) => n + a[k], 0);
  const reasons = Object.entries(fig.reasons).sort().map(([r, n]) => `${r} ${n}`).join(" · ");
  f.reasons.textContent = reasons ? `${t("paused")}: ${reasons}` : "";
  tile.board = fig.wallboard;
  // The oldest wait's start on the engine's clock: while it is the same call, the
  // browser keeps counting from where it anchored it (no jump back when a snapshot comes
  // from an engine whose clock moves in steps, as on the event clock).
  const start = last.at - Math.round(fig.oldest_wait_s * 1000);
  if (fig.waiting === 0) {
    tile.waitStart = null;
  } else if (tile.waitStart !== start) {
    tile.waitStart = start;
    tile.waitFrom = receivedAt - fig.oldest_wait_s * 1000;
  }
  tile.waiting = fig.waiting;
  tile.sl = fig.today.service_level;
  labels(tile);
  tick1(tile);
}

function labels(tile) {
  const f = tile.f;
  for (const k of ["waiting", "longest", "ewt", "answered", "abandoned", "occupancy", ...STATES, "logged_in"]) {
    f[k + "_label"].textContent = t(k);
  }
  f.sl_label.textContent = `${t("target")} ${pct(tile.board.service_level_target)}`;
  f.sl_label.title = t("sl");
}

// The longest wait now, its colour, and the tile's colour (the worst of its figures).
function tick1(tile) {
  const b = tile.board;
  const wait = tile.waitStart !== null && tile.waitStart !== undefined
    ? (performance.now() - tile.waitFrom) / 1000 : 0;
  const shown = clock(wait);
  tile.f.longest.textContent = shown;
  tile.f.longest_box.dataset.len = shown.length > 5 ? "long" : "short";
  const lv = {
    waiting: levelUp(tile.waiting, b.waiting_amber, b.waiting_red),
    longest: levelUp(wait, b.wait_amber_s, b.wait_red_s),
    sl: levelDown(tile.sl, b.service_level_target, b.service_level_amber),
  };
  for (const [k, v] of Object.entries(lv)) tile.f[k + "_box"].dataset.level = LEVELS[v];
  tile.el.dataset.level = LEVELS[Math.max(...Object.values(lv))];
}

function render() {
  const snap = last;
  if (!snap) return;
  siteLang = snap.lang === "en" ? "en" : "sv";
  document.documentElement.lang = lang();
  $("site").textContent = snap.site;
  const crisis = $("crisis");
  crisis.hidden = !snap.crisis;
  crisis.textContent = t("crisis");
  document.body.dataset.crisis = snap.crisis ? "on" : "off";
  const groups = snap.groups.filter(g => !filter.length || filter.includes(g.id));
  const want = ["", ...groups.map(g => g.id)];
  if (want.join("\n") !== [...tiles.keys()].join("\n")) {
    const main = $("tiles");
    main.replaceChildren();
    tiles.clear();
    for (const id of want) {
      const tile = makeTile(id);
      if (id === "") tile.el.classList.add("summary");
      tiles.set(id, tile);
      main.append(tile.el);
    }
    layout();
  }
  fill(tiles.get(""), siteFigures(snap, groups));
  for (const g of groups) fill(tiles.get(g.id), groupFigures(snap, g));
  $("tiles").dataset.empty = groups.length ? "no" : "yes";
  $("tiles").dataset.emptyText = t("no_groups");
}

// Columns and rows so that every tile fits the window without scrolling, tiles as large
// and as close to 4:3 as the count allows.
function layout() {
  const n = Math.max(1, tiles.size);
  const main = $("tiles");
  const W = main.clientWidth || innerWidth, H = main.clientHeight || innerHeight;
  let best = [1, n], score = -1;
  for (let c = 1; c <= n; c++) {
    const r = Math.ceil(n / c);
    const s = Math.min(W / c / 1.33, H / r);
    if (s > score) { score = s; best = [c, r]; }
  }
  main.style.setProperty("--cols", best[0]);
  main.style.setProperty("--rows", best[1]);
}

function showStatus() {
  document.body.dataset.state = status;
  const s = $("status");
  if (status === "live") {
    const at = last ? new Date(last.at) : null;
    s.textContent = `● ${t("live")}`;
    s.title = at ? at.toISOString() : "";
  } else if (status === "stale") {
    s.textContent = t("stale");
  } else if (status === "connecting") {
    s.textContent = last ? t("stale") : t("connecting");
  } else {
    s.textContent = t("token");
  }
  const form = $("token-form");
  form.hidden = status !== "token";
  $("token-label").textContent = t("token");
  $("token-save").textContent = t("save");
  $("lang").textContent = lang() === "sv" ? "EN" : "SV";
}

function relabel() {
  for (const tile of tiles.values()) if (tile.board) labels(tile);
  render();
  showStatus();
}

function start() {
  const stream = openStream({
    snapshot(snap) { last = snap; receivedAt = performance.now(); render(); showStatus(); },
    status(s) {
      // "connecting" after a drop is still stale data on the screen.
      status = (s === "connecting" && status === "stale") ? "stale" : s;
      showStatus();
    },
  });
  $("token-form").addEventListener("submit", e => {
    e.preventDefault();
    setToken($("token-input").value.trim());
    $("token-input").value = "";
    stream.restart();
  });
  $("key").addEventListener("click", () => {
    status = "token";
    showStatus();
    $("token-input").value = token() ? "" : "";
    $("token-input").focus();
  });
  $("lang").addEventListener("click", () => {
    chosenLang = lang() === "sv" ? "en" : "sv";
    try { localStorage.setItem(LANG_KEY, chosenLang); } catch (_) { /* this page only */ }
    relabel();
  });
  addEventListener("resize", layout);
  // Five times a second, so that a shown second is never more than 0.2 s late (a 1 s
  // timer's phase against each wait's start would make it up to a second late).
  setInterval(() => {
    for (const tile of tiles.values()) if (tile.board) tick1(tile);
    $("clock").textContent = new Date().toLocaleTimeString(lang() === "sv" ? "sv-SE" : "en-GB");
  }, 200);
  showStatus();
}

start();
