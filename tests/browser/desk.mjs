// The operator's desk in a real browser (run by tests/wallboard_browser.rs,
// which starts `vaxel serve --clock event` on the built-in city with operator, admin and
// agent tokens). The switchboard operator a1101 signs in on /desk, logs in with F2, gets a
// call fed over the platform protocol and sees its caller, entry, menu choice and group;
// parks it and takes it back, registers the case, transfers it to a colleague (the
// platform must receive the `connect`), ends the wrap-up with F9 and searches the
// directory. Its token is refused for another agent. Screenshot: desk.png at 1920×1080.
//
// Environment: VAXEL_HTTP, VAXEL_TCP (host:port), ADMIN_TOKEN, AGENT_TOKEN (a1101's),
// CHROMIUM (the executable), SHOTS (a directory for the screenshots).
// Exit 0 when every expectation held; otherwise the first failure is printed.

import path from "node:path";
import { env, T0, sleep, log, fail, within, platform, launch, post } from "./harness.mjs";

const HTTP = env("VAXEL_HTTP"), TCP = env("VAXEL_TCP");
const ADMIN = env("ADMIN_TOKEN"), AGENT = env("AGENT_TOKEN");
const SHOTS = env("SHOTS");
const ME = "a1101";

async function admin(pathname, body) {
  const r = await post(HTTP, pathname, ADMIN, body);
  if (r.status !== 200) fail(`POST ${pathname}: ${r.status} ${JSON.stringify(r.body)}`);
}

const pbx = await platform(TCP, "pbx-desk");
await pbx.send({ ev: "tick", at: T0 });
// Colleagues at work: three of the switchboard (they take calls), one on lunch, one of
// Stockholmshem who stays ready (the transfer's target).
for (const a of ["a1102", "a1103", "a1104", "a1201", "a3102"]) {
  await admin(`/api/v1/agents/${a}/state`, { state: "login" });
}
await admin("/api/v1/agents/a1103/state", { state: "pause", reason: "lunch", note: "Lunch, tillbaka 13:00", until: T0 + 4 * 3600e3 });
// Five calls for the switchboard (menu choice 9): two answered by the colleagues who
// qualify, a1101 will take one, two wait in the queue the desk shows.
for (let i = 1; i <= 5; i++) {
  await pbx.send({ ev: "call.arrived", at: T0 + 1000 * i, call: `q${i}`, to: "+4685080000", from: `+4670555000${i}`, digits: "9" });
}
await sleep(300);
const busy = [];
for (const l of pbx.take(l => l.includes('"cmd":"connect"'))) {
  const c = JSON.parse(l);
  busy.push(c.call);
  await pbx.send({ ev: "call.answered", at: T0 + 6000, call: c.call, agent: c.agent });
}
await pbx.send({ ev: "tick", at: T0 + 20000 });

const browser = await launch(env("CHROMIUM"));
let ok = false;
try {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  const errors = [];
  page.on("pageerror", e => errors.push(String(e)));
  page.on("console", m => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
  });
  const text = sel => page.locator(sel).first().textContent({ timeout: 2000 }).catch(() => null);
  const myState = () => page.evaluate(() => document.getElementById("my-state").dataset.state);

  // 1. Sign in: agent id and token, kept in this tab's sessionStorage, never in the URL.
  await page.goto(`http://${HTTP}/desk`);
  await page.waitForSelector("#login:not([hidden])", { timeout: 5000 });
  await page.fill("#login-agent", ME);
  await page.fill("#login-token", "wrong-token-0123456789");
  await page.click("#login button[type=submit]");
  await within(3000, "the wrong token refused", () => text("#login-error"), s => /token/i.test(s ?? ""));
  await page.fill("#login-token", AGENT);
  await page.click("#login button[type=submit]");
  await within(5000, "the desk live", () => page.evaluate(() => document.body.dataset.state), s => s === "live");
  const kept = await page.evaluate(() => sessionStorage.getItem("vaxel.desk"));
  if (!kept || !kept.includes(AGENT)) fail("the session is not in sessionStorage");
  if (page.url().includes(AGENT)) fail("the token is in the URL");
  log("signed in");

  // 2. F2 logs the agent in (ready); a waiting call of the switchboard rings at once.
  await within(3000, "logged out at first", myState, s => s === "logged_out");
  await page.keyboard.press("F2");
  const connect = await pbx.expect(l => l.includes('"cmd":"connect"') && l.includes(`"agent":"${ME}"`), `a connect to ${ME}`);
  const call = JSON.parse(connect).call;
  await pbx.send({ ev: "call.answered", at: T0 + 25000, call, agent: ME });
  await within(5000, "talking on the desk", myState, s => s === "talking");
  const from = await text("#call-from");
  if (!/^\+4670555000\d$/.test(from ?? "")) fail(`the caller's number shows ${JSON.stringify(from)}`);
  const facts = { entry: await text("#call-entry"), digits: await text("#call-digits"), group: await text("#call-group") };
  if (facts.entry !== "city" || facts.group !== "Växeln") fail(`call facts: ${JSON.stringify(facts)}`);
  log(`call ${call} from ${from} shown: ${JSON.stringify(facts)}`);

  // 3. The queue of the agent's groups and the colleagues.
  const queues = await page.locator("#queues tbody tr").count();
  if (queues < 2) fail(`the queue table has ${queues} rows`);
  const lunch = await page.locator('#colleagues tr[data-agent="a1103"]').textContent();
  if (!lunch.includes("Lunch")) fail(`the colleague on lunch shows ${JSON.stringify(lunch)}`);
  await page.selectOption("#filter-skill", "kris");
  const kris = await page.locator("#colleagues tbody tr").evaluateAll(rs => rs.map(r => r.dataset.agent));
  if (kris.includes("a1102") || !kris.includes("a1201")) fail(`skill filter: ${kris}`);
  await page.selectOption("#filter-skill", "");

  // 4. Directory search, with presence.
  await page.fill("#dir-q", "Bengtsson");
  await within(3000, "the directory hit", () => page.locator("#directory tbody tr").count(), n => n >= 1);

  // 5. The case (referred to the back office), shown on the call.
  await page.fill("#case-type", "bygglov");
  await page.check('input[name=resolved][value="false"]');
  await page.click("#btn-case");
  await within(5000, "the case on the call", () => text("#call-case"), s => (s ?? "").startsWith("bygglov"));
  await page.screenshot({ path: path.join(SHOTS, "desk.png") });
  log("case registered; desk.png");

  // 6. Park with F6: the agent is free (the caller still waiting gives up first, or would
  //    ring the free agent), the call in its parked list; take it back.
  //    The queue table follows the event stream (one snapshot a second at most): the
  //    answered call leaves the count within that.
  const queueCounts = () => page.evaluate(() => [...document.querySelectorAll("#queues tbody tr")]
    .map(r => r.dataset.group + ":" + r.children[1].textContent));
  await within(5000, "two waiting in vaxel", queueCounts, w => w.includes("vaxel:2"));
  for (const left of ["q1", "q2", "q3", "q4", "q5"].filter(c => c !== call && !busy.includes(c))) {
    await pbx.send({ ev: "call.hangup", at: T0 + 26000, call: left });
  }
  await page.keyboard.press("F6");
  await within(5000, "parked", () => page.isVisible("#parked-box"), v => v);
  if ((await myState()) === "talking") fail("still talking after park");
  await page.click("#parked button");
  await within(5000, "talking again", myState, s => s === "talking");
  log("parked and taken back");

  // 7. Transfer to a ready colleague with a priority: the platform is told to connect.
  const colleague = await page.evaluate(() => {
    const b = [...document.querySelectorAll("#colleagues tbody tr")].find(r => !r.querySelector("button").disabled);
    return b ? b.dataset.agent : null;
  });
  if (!colleague) fail("no ready colleague to transfer to");
  await page.selectOption("#transfer-kind", "agent");
  await page.fill("#transfer-target", colleague);
  await page.fill("#transfer-priority", "5");
  await page.keyboard.press("F4");
  await page.keyboard.press("Enter");
  await pbx.expect(l => l.includes('"cmd":"connect"') && l.includes(`"call":"${call}"`) && l.includes(`"agent":"${colleague}"`), `the transfer's connect to ${colleague}`);
  await within(5000, "wrap-up after the transfer", myState, s => s === "wrapup");
  log(`transferred to ${colleague}`);

  // 8. The token acts for this agent only.
  const other = await page.evaluate(async () => {
    const s = JSON.parse(sessionStorage.getItem("vaxel.desk"));
    const r = await fetch("/api/v1/agents/a1102/state", {
      method: "POST", body: JSON.stringify({ state: "logout" }),
      headers: { "Authorization": "Bearer " + s.token, "Content-Type": "application/json" },
    });
    return r.status;
  });
  if (other !== 403) fail(`the agent token acted for another agent: ${other}`);

  // 9. F9 ends the wrap-up; a pause with a note and "back at".
  await page.keyboard.press("F9");
  await within(5000, "ready after the wrap-up", myState, s => s === "ready");
  await page.fill("#pause-reason", "meeting");
  await page.fill("#pause-note", "Möte");
  await page.fill("#pause-until", "14:30");
  await page.click("#btn-pause");
  await within(5000, "paused", myState, s => s === "paused");
  log("wrap-up ended; paused");

  // 10. The language toggle.
  const title = () => text("#call-panel h2");
  const t0 = await title();
  await page.click("#lang");
  const t1 = await title();
  if (!(t0 === "Pågående samtal" && t1 === "Current call")) fail(`language toggle: ${t0} → ${t1}`);

  if (errors.length) fail(`errors in the page: ${errors.join("; ")}`);
  ok = true;
} finally {
  await browser.close();
  pbx.close();
}
log(ok ? "all desk checks passed" : "failed");
process.exit(ok ? 0 : 1);
