// The wallboard in a real browser (run by tests/wallboard_browser.rs, which
// starts `vaxel serve --clock event` on the built-in city with an operator and an admin
// token). This script drives Debian's Chromium through playwright-core, feeds calls over
// the platform protocol, and puts a proxy between the browser and the daemon's HTTP port
// so that it can cut the event stream like a network failure would.
//
// Environment: VAXEL_HTTP, VAXEL_TCP (host:port), OPERATOR_TOKEN, ADMIN_TOKEN,
// CHROMIUM (the executable), SHOTS (a directory for the screenshots).
// Exit 0 when every expectation held; otherwise the first failure is printed.

import path from "node:path";
import { env, T0, sleep, log, fail, within, proxy, platform, launch, post } from "./harness.mjs";

const HTTP = env("VAXEL_HTTP"), TCP = env("VAXEL_TCP");
const OPERATOR = env("OPERATOR_TOKEN"), ADMIN = env("ADMIN_TOKEN");
const SHOTS = env("SHOTS");

async function admin(pathname, body) {
  const r = await post(HTTP, pathname, ADMIN, body);
  if (r.status !== 200) fail(`POST ${pathname}: ${r.status} ${JSON.stringify(r.body)}`);
}

// ---- the scenario --------------------------------------------------------------------------
const px = await proxy(HTTP);
const pbx = await platform(TCP);
// Engine time to the office's morning before anything else happens.
await pbx.send({ ev: "tick", at: T0 });

const browser = await launch(env("CHROMIUM"));
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

  // 10. A busy morning on every group, for the screenshot in docs/: two people logged in
  //     per group, calls answered and hung up, some waiting, one abandoned; then every
  //     group's tile shows real figures (occupancy, expected wait, service level).
  const snap = await (await fetch(`http://${HTTP}/api/v1/snapshot`, { headers: { "Authorization": `Bearer ${ADMIN}` } })).json();
  const chosen = new Set(snap.agents.filter(a => a.state !== "logged_out").map(a => a.id));
  for (const g of snap.groups) {
    const serving = snap.agents.filter(a => a.groups.includes(g.id));
    let n = serving.filter(a => chosen.has(a.id)).length;
    for (const a of serving) {
      if (n >= 2) break;
      if (!chosen.has(a.id)) { chosen.add(a.id); n++; await admin(`/api/v1/agents/${a.id}/state`, { state: "login" }); }
    }
  }
  const routes = [["+4685080000", "9"], ["+4685080000", "1"], ["+4685080000", "2"], ["+4685080000", "3"],
    ["+46850836000", ""], ["+4685080000", "5,1"], ["+46852212000", ""], ["+4685080000", "5,3"],
    ["+4685080000", "8,1"], ["+46850840000", ""], ["+46850839000", ""], ["+46850812000", ""],
    ["+46850808000", ""], ["+46850801000", ""]];
  let at = T0 + 5000, n = 0;
  const talking = [];
  // Every ring answered (the last offer of each call; an offer that rang out meanwhile is
  // answered "invalid_state" and left to the engine).
  const answerAll = async () => {
    const last = new Map();
    for (const l of pbx.take(l => l.includes('"cmd":"connect"'))) { const c = JSON.parse(l); last.set(c.call, c.agent); }
    for (const [call, agent] of last) {
      const r = await pbx.send({ ev: "call.answered", at, call, agent }, true);
      if (r.includes('"cmd":"ok"')) talking.push(call);
    }
  };
  // Time passes in steps shorter than any ring time, every ring answered.
  const advance = async s => {
    for (let i = 0; i < s; i += 4) {
      at += 4000;
      await pbx.send({ ev: "tick", at });
      await answerAll();
    }
  };
  const arrive = async k => {
    for (const [to, digits] of routes) {
      for (let i = 0; i < k; i++) {
        await pbx.send({ ev: "call.arrived", at, call: `m${++n}`, to, from: `+4670${String(1000000 + n)}`, digits });
      }
    }
    await answerAll();
  };
  await arrive(3);
  for (let round = 0; round < 3; round++) {
    await advance(100);
    // Half of the calls in progress end; the wrap-ups that end take the next callers.
    for (const c of talking.splice(0, Math.ceil(talking.length / 2))) await pbx.send({ ev: "call.hangup", at, call: c }, true);
  }
  await arrive(2);
  await advance(12);
  // One caller gives up.
  await pbx.send({ ev: "call.hangup", at, call: `m${n}` }, true);
  await advance(12);
  await page.evaluate(() => localStorage.setItem("vaxel.lang", "sv"));
  await page.goto(`${px.url}/wallboard`);
  await within(5000, "live on the busy morning", state, s => s === "live");
  await sleep(1200);
  const dashes = await page.evaluate(() => [...document.querySelectorAll(".tile")]
    .filter(t => t.dataset.group)
    .flatMap(t => ["occupancy", "ewt"].filter(k => (t.querySelector(`[data-k="${k}"] b`) || {}).textContent === "–")
      .map(k => `${t.dataset.group}:${k}`)));
  if (dashes.length) fail(`tiles without figures: ${dashes}`);
  await page.screenshot({ path: path.join(SHOTS, "wallboard-busy.png") });
  log(`busy morning: ${n} calls, ${chosen.size} people; wallboard-busy.png`);

  if (errors.length) fail(`errors in the page: ${errors.join("; ")}`);
  ok = true;
} finally {
  await browser.close();
  pbx.close();
  px.close();
}
log(ok ? "all wallboard checks passed" : "failed");
process.exit(ok ? 0 : 1);
