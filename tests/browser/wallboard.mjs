// The wallboard in a real browser (run by tests/wallboard_browser.rs, which
// starts `vaxel serve --clock event` on the built-in city with an operator and an admin
// token). This script drives Debian's Chromium through playwright-core, feeds calls over
// the platform protocol, and puts a proxy between the browser and the daemon's HTTP port
// so that it can cut the event stream like a network failure would.
//
// Environment: VAXEL_HTTP, VAXEL_TCP (host:port), OPERATOR_TOKEN, ADMIN_TOKEN,
// CHROMIUM (the executable), SHOTS (a directory for the screenshots).
// Exit 0 when every expectation held; otherwise the first failure is printed.

import { chromium } from "playwright-core";
import net from "node:net";
import fs from "node:fs";
import path from "node:path";

const env = k => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const HTTP = env("VAXEL_HTTP"), TCP = env("VAXEL_TCP");
const OPERATOR = env("OPERATOR_TOKEN"), ADMIN = env("ADMIN_TOKEN");
const SHOTS = env("SHOTS");
// 2026-03-02 08:45 in Stockholm: a Monday, the office lines are open.
const T0 = 1772437500000;
const sleep = ms => new Promise(r => setTimeout(r, ms));
const log = m => console.log(`[${new Date().toISOString().slice(11, 23)}] ${m}`);

function fail(msg) { throw new Error(msg); }

// Polls `probe` until `ok(value)` or `ms` pass; returns how long it took.
async function within(ms, what, probe, ok) {
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
function proxy(target) { // target: host:port
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
async function platform() {
  const [host, port] = [TCP.slice(0, TCP.lastIndexOf(":")), Number(TCP.slice(TCP.lastIndexOf(":") + 1))];
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
    const until = Date.now() + 5000;
    for (;;) {
      const i = lines.findIndex(pred);
      if (i >= 0) return lines.splice(i, 1)[0];
      if (Date.now() > until) fail(`platform: no ${what}; got ${JSON.stringify(lines)}`);
      await Promise.race([new Promise(r => waiters.push(r)), sleep(200)]);
    }
  }
  const p = {
    async send(ev) {
      const s = ++seq;
      sock.write(JSON.stringify({ ...ev, seq: s }) + "\n");
      await expect(l => l.includes(`"seq":${s}`) && l.includes('"cmd":"ok"'), `ok for ${ev.ev} (seq ${s})`);
    },
    close() { sock.destroy(); },
  };
  sock.write(JSON.stringify({ ev: "hello", platform: "pbx-1", protocol: 1 }) + "\n");
  await expect(l => l.includes('"cmd":"welcome"'), "welcome");
  return p;
}

async function admin(pathname, body) {
  const r = await fetch(`http://${HTTP}${pathname}`, {
    method: "POST", body: JSON.stringify(body),
    headers: { "Authorization": `Bearer ${ADMIN}`, "Content-Type": "application/json" },
  });
  if (!r.ok) fail(`POST ${pathname}: ${r.status} ${await r.text()}`);
}

// ---- the scenario --------------------------------------------------------------------------
const px = await proxy(HTTP);
const pbx = await platform();
// Engine time to the office's morning before anything else happens.
await pbx.send({ ev: "tick", at: T0 });

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let ok = false;
try {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  // Script errors fail the test; failed requests are expected here (the 401 before the
  // token, the cut stream), so the console's network messages are not counted.
  page.on("console", m => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
  });
  const tile = id => `.tile[data-group="${id}"]`;
  const text = sel => page.locator(sel).first().textContent({ timeout: 2000 }).catch(() => null);
  const state = () => page.evaluate(() => document.body.dataset.state);
  const num = async sel => Number((await text(sel)) ?? NaN);

  // 1. The page asks for a token (the site has operator tokens); typed once, kept.
  await page.goto(`${px.url}/wallboard`);
  await within(5000, "the token form", state, s => s === "token");
  await page.fill("#token-input", OPERATOR);
  await page.click("#token-save");
  await within(5000, "live after the token", state, s => s === "live");
  const stored = await page.evaluate(() => localStorage.getItem("vaxel.token"));
  if (stored !== OPERATOR) fail("the token is not kept in localStorage");
  if (page.url().includes(OPERATOR)) fail("the token is in the URL");
  log("token accepted, stream live");

  // 2. Sixteen groups and the site tile, all on a 1920×1080 screen without scrolling.
  const tiles = await page.locator(".tile").count();
  if (tiles !== 17) fail(`expected 17 tiles, got ${tiles}`);
  const fits = await page.evaluate(() => {
    const out = [];
    for (const t of document.querySelectorAll(".tile")) {
      const r = t.getBoundingClientRect();
      if (r.bottom > innerHeight + 0.5 || r.right > innerWidth + 0.5) out.push(t.dataset.group);
    }
    return { out, scroll: document.documentElement.scrollHeight > innerHeight };
  });
  if (fits.out.length || fits.scroll) fail(`tiles off screen: ${JSON.stringify(fits)}`);
  const overflow = await page.evaluate(() => [...document.querySelectorAll(".fig b, .pair b, .state b")]
    .filter(b => b.scrollWidth > b.parentElement.clientWidth + 1).length);
  if (overflow) fail(`${overflow} figures are wider than their boxes`);

  // 3. A call arrives: on its tile within a second. (The stream sends at most one
  //    snapshot a second: wait a second after the last change first.)
  const before = await num(`${tile("stockholmshem")} [data-k="waiting"] b`);
  if (before !== 0) fail(`stockholmshem waiting before the call: ${before}`);
  await sleep(1100);
  await pbx.send({ ev: "call.arrived", at: T0 + 1000, call: "c1", to: "+46850839000", from: "+46701234567" });
  const took = await within(1000, "the call on the stockholmshem tile", () => num(`${tile("stockholmshem")} [data-k="waiting"] b`), n => n === 1);
  log(`call shown on its tile after ${took} ms`);
  const siteWaiting = await num(`${tile("")} [data-k="waiting"] b`);
  if (siteWaiting !== 1) fail(`the site tile says ${siteWaiting} waiting`);

  // 4. The longest wait ticks in the browser (engine time stands still on this clock).
  const parse = s => s.split(":").reduce((a, x) => a * 60 + Number(x), 0);
  const seen = [];
  for (let i = 0; i < 12; i++) {
    seen.push([Date.now() % 100000, await text(`${tile("stockholmshem")} [data-k="longest"] b`)]);
    await sleep(200);
  }
  const w1 = parse(seen[0][1]);
  const w2 = parse(seen[11][1]);
  if (!(w2 - w1 >= 2 && w2 - w1 <= 3)) fail(`longest wait went from ${w1} to ${w2} s in 2.3 s: ${JSON.stringify(seen)}`);
  log(`longest wait ticked ${w1} → ${w2} s`);
  await page.screenshot({ path: path.join(SHOTS, "wallboard.png") });

  // 5. An agent logs in: the waiting call rings them; the counts move.
  const loggedIn = () => num(`${tile("stockholmshem")} [data-k="logged_in"] b`);
  const in0 = await loggedIn();
  await admin("/api/v1/agents/a3102/state", { state: "login" });
  await within(1500, "the agent logged in on the stockholmshem tile", loggedIn, n => n === in0 + 1);
  await within(1500, "the call ringing the agent", () => num(`${tile("stockholmshem")} .state.ringing b`), n => n === 1);
  await within(1500, "no call waiting any more", () => num(`${tile("stockholmshem")} [data-k="waiting"] b`), n => n === 0);
  log("agent login moved the counts");

  // 6. Crisis mode: the banner across the top.
  await admin("/api/v1/crisis", { on: true });
  await within(1500, "the crisis banner", () => page.isVisible("#crisis"), v => v);
  await page.screenshot({ path: path.join(SHOTS, "wallboard-crisis.png") });
  await admin("/api/v1/crisis", { on: false });
  await within(1500, "the crisis banner gone", () => page.isVisible("#crisis"), v => !v);
  log("crisis banner shown and gone");

  // 7. The stream drops: the stale mark; it comes back by itself.
  px.cut();
  await within(3000, "the stale mark", state, s => s === "stale");
  const mark = await text("#status");
  if (!/stale|inaktuell/i.test(mark ?? "")) fail(`the stale mark says ${JSON.stringify(mark)}`);
  await page.screenshot({ path: path.join(SHOTS, "wallboard-stale.png") });
  await sleep(3000);
  px.heal();
  await within(15000, "live again", state, s => s === "live");
  log("stale mark shown; recovered");

  // 8. The language toggle.
  const label = () => text(`${tile("stockholmshem")} [data-k="waiting"] span`);
  const l0 = await label();
  await page.click("#lang");
  const l1 = await label();
  if (!(l0 === "Väntar" && l1 === "Waiting")) fail(`language toggle: ${l0} → ${l1}`);

  // 9. ?groups= shows only those groups (in the site's order); the first tile covers
  //    their people; the token kept in localStorage connects the new page at once.
  await page.goto(`${px.url}/wallboard?groups=stockholmshem,bygglov`);
  await within(5000, "live with the kept token", state, s => s === "live");
  const shown = await page.locator(".tile").evaluateAll(ts => ts.map(t => t.dataset.group));
  if (JSON.stringify(shown) !== JSON.stringify(["", "bygglov", "stockholmshem"])) fail(`filtered tiles: ${shown}`);
  const people = await num(`${tile("")} [data-k="logged_in"] b`);
  if (people !== 1) fail(`the filtered site tile counts ${people} people logged in`);
  log("group filter");

  if (errors.length) fail(`errors in the page: ${errors.join("; ")}`);
  ok = true;
} finally {
  await browser.close();
  pbx.close();
  px.close();
}
log(ok ? "all wallboard checks passed" : "failed");
process.exit(ok ? 0 : 1);
