//! `vaxel serve`'s HTTP API and metrics, end to end: the built binary runs as a process
//! (`--clock event`, ports picked by the OS), a platform speaks the TCP protocol to it, and
//! the checks go through real HTTP: the wallboard snapshot, server-sent events, the
//! directory with presence, the agents' desktop and admin actions with their tokens, crisis
//! mode, reload, `/metrics` (checked by `promtool check metrics` when it is installed) and a
//! real Prometheus scraping the daemon.
//!
//! No mocks and no HTTP client library: a small HTTP/1.1 client over `TcpStream` is below.
//! Every wait is bounded.

use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const PLATFORM_TOKEN: &str = "platform-token-0123456789";
const OPERATOR_TOKEN: &str = "operator-token-0123456789";
const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
/// 2026-01-01T10:00:00Z: the scenarios' start in engine time (event clock).
const T0: u64 = 1_767_261_600_000;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A small site: two entries, two groups, two agents, a directory with a linked agent.
const SITE: &str = r#"
[site]
name = "Testby kommun"
timezone = "Europe/Stockholm"
service_level_s = 20
service_level_target = 0.8

[calendars.always]
mon-sun = "00:00-24:00"

[[entries]]
id = "main"
number = "+4685550000"
greeting = "greeting-main"
route = "group:bygglov"
calendar = "always"

[[entries]]
id = "school"
number = "+4685550100"
greeting = "greeting-school"
route = "group:forskola"
calendar = "always"

[[groups]]
id = "bygglov"
name = "Bygglov"
requires = { bygglov = 1 }
calendar = "always"
wrapup_s = 10
ring_s = 10

[[groups]]
id = "forskola"
name = "Förskola"
requires = { forskola = 1 }
calendar = "always"
wrapup_s = 10
ring_s = 10

[[agents]]
id = "a1"
name = "Anna Berg"
extension = "1001"
skills = { bygglov = 1 }

[[agents]]
id = "a2"
name = "Bo Ek"
extension = "1002"
skills = { forskola = 1 }

[[directory]]
name = "Anna Berg"
department = "Stadsbyggnadskontoret"
extension = "1001"
keywords = ["bygglov", "ritning"]
agent = "a1"

[[directory]]
name = "Förskoleenheten"
department = "Utbildningsförvaltningen"
extension = "2000"
keywords = ["förskola"]

[crisis]
prompt = "crisis-message"
route = "group:bygglov"
"#;

/// [`SITE`] with the three kinds of tokens.
fn site_with_tokens() -> String {
    format!(
        "{SITE}\n[auth]\nplatform_tokens = [\"{PLATFORM_TOKEN}\"]\n\
         operator_tokens = [\"{OPERATOR_TOKEN}\"]\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\n"
    )
}

// ----------------------------------------------------------------------------- helpers

/// A directory under the system's temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("vaxel-serve-http-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `vaxel serve`; killed when dropped (its log printed if the test failed).
struct Daemon {
    child: Child,
    tcp: SocketAddr,
    http: SocketAddr,
    config: PathBuf,
    dir: TempDir,
}

impl Daemon {
    fn start(site: &str) -> Daemon {
        let dir = TempDir::new("daemon");
        let config = dir.0.join("site.toml");
        std::fs::write(&config, site).expect("write site");
        let log = std::fs::File::create(dir.0.join("stderr.log")).expect("log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_vaxel"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .args(["--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir.0.join("data"))
            .args(["--clock", "event"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start vaxel serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(l)) = lines.next() {
                let _ = tx.send(l);
            }
            // Keep draining so that the daemon never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(dir.0.join("stderr.log")).unwrap_or_default();
                panic!("vaxel serve printed no `listening` line within 15 s; its log:\n{log}");
            }
        };
        let addr = |key: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no {key}ADDR in {line:?}"))
        };
        let (tcp, http) = (addr("tcp="), addr("http="));
        Daemon {
            child,
            tcp,
            http,
            config,
            dir,
        }
    }

    fn platform(&self) -> Platform {
        Platform::connect(self.tcp, PLATFORM_TOKEN)
    }

    fn get(&self, path: &str, token: Option<&str>) -> Resp {
        http(self.http, "GET", path, token, None)
    }

    fn post(&self, path: &str, token: Option<&str>, body: &str) -> Resp {
        http(self.http, "POST", path, token, Some(body.as_bytes()))
    }

    fn snapshot(&self) -> Value {
        let r = self.get("/api/v1/snapshot", Some(OPERATOR_TOKEN));
        assert_eq!(r.status, 200, "snapshot: {}", r.text());
        r.json()
    }

    fn metrics(&self) -> String {
        let r = self.get("/metrics", Some(OPERATOR_TOKEN));
        assert_eq!(r.status, 200, "metrics: {}", r.text());
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
            "content type {:?}",
            r.header("content-type")
        );
        r.text()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.0.join("stderr.log")).unwrap_or_default();
            eprintln!("---- vaxel serve's log ----\n{log}\n---- end of log ----");
        }
    }
}

/// An HTTP response.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    s.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
    s
}

fn request_head(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    len: usize,
) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// Splits a response head: status and headers.
fn parse_head(head: &str) -> (u16, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

/// One request on a fresh connection (`Connection: close`), the whole response read.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Resp {
    let mut s = connect(addr);
    let body = body.unwrap_or_default();
    let head = request_head(addr, method, path, token, body.len());
    s.write_all(head.as_bytes()).expect("write request");
    // A server may answer (413) before reading everything: a failed write is not fatal.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw) {
        assert!(!raw.is_empty(), "read response: {e}");
    }
    let split = find(&raw, b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(&raw)));
    let (status, headers) = parse_head(&String::from_utf8_lossy(&raw[..split]));
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let mut d = Dechunk {
            raw: body,
            ..Dechunk::default()
        };
        d.decode();
        body = d.out;
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Incremental `Transfer-Encoding: chunked` decoding.
#[derive(Default)]
struct Dechunk {
    raw: Vec<u8>,
    out: Vec<u8>,
    done: bool,
}

impl Dechunk {
    fn decode(&mut self) {
        while !self.done {
            let Some(eol) = find(&self.raw, b"\r\n") else {
                return;
            };
            let size_text = String::from_utf8_lossy(&self.raw[..eol]).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
            if size == 0 {
                self.done = true;
                return;
            }
            if self.raw.len() < eol + 2 + size + 2 {
                return;
            }
            self.out
                .extend_from_slice(&self.raw[eol + 2..eol + 2 + size]);
            self.raw.drain(..eol + 2 + size + 2);
        }
    }
}

/// A server-sent event.
#[derive(Debug)]
struct SseEvent {
    event: String,
    id: String,
    data: String,
}

/// A `GET /api/v1/stream` being read.
struct SseClient {
    stream: TcpStream,
    chunks: Dechunk,
    chunked: bool,
    status: u16,
    content_type: String,
}

impl SseClient {
    fn open(addr: SocketAddr, token: Option<&str>) -> SseClient {
        let mut s = connect(addr);
        let head = request_head(addr, "GET", "/api/v1/stream", token, 0);
        s.write_all(head.as_bytes()).expect("write request");
        let mut raw = Vec::new();
        let deadline = Instant::now() + IO_TIMEOUT;
        let split = loop {
            if let Some(i) = find(&raw, b"\r\n\r\n") {
                break i;
            }
            assert!(Instant::now() < deadline, "no response head");
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).expect("read head");
            assert!(n > 0, "connection closed before the head");
            raw.extend_from_slice(&buf[..n]);
        };
        let (status, headers) = parse_head(&String::from_utf8_lossy(&raw[..split]));
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let chunked = get("transfer-encoding").contains("chunked");
        let content_type = get("content-type");
        let chunks = Dechunk {
            raw: raw[split + 4..].to_vec(),
            ..Dechunk::default()
        };
        SseClient {
            stream: s,
            chunks,
            chunked,
            status,
            content_type,
        }
    }

    /// The next event (keep-alive comments skipped), or `None` at `deadline`.
    fn next(&mut self, deadline: Instant) -> Option<SseEvent> {
        loop {
            if !self.chunked {
                let raw = std::mem::take(&mut self.chunks.raw);
                self.chunks.out.extend_from_slice(&raw);
            } else {
                self.chunks.decode();
            }
            if let Some(end) = find(&self.chunks.out, b"\n\n") {
                let block: Vec<u8> = self.chunks.out.drain(..end + 2).collect();
                let block = String::from_utf8_lossy(&block).into_owned();
                let mut e = SseEvent {
                    event: String::new(),
                    id: String::new(),
                    data: String::new(),
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        e.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        e.id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        e.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if e.event.is_empty() && e.data.is_empty() {
                    continue; // a comment (keep-alive) or `retry:` alone
                }
                return Some(e);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("timeout");
            let mut buf = [0u8; 16 * 1024];
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.chunks.raw.extend_from_slice(&buf[..n]),
                Err(_) => return None,
            }
        }
    }

    /// Events until one whose snapshot satisfies `ok`, or panics at `deadline`.
    fn until(&mut self, within: Duration, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while let Some(e) = self.next(deadline) {
            assert_eq!(e.event, "snapshot", "{e:?}");
            let v: Value = serde_json::from_str(&e.data).expect("event data is JSON");
            if ok(&v) {
                return v;
            }
            seen.push(e.id);
        }
        panic!("no snapshot event with {what} within {within:?} (events seen: {seen:?})");
    }
}

/// A platform speaking the TCP protocol.
struct Platform {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    seq: u64,
    /// Commands received, in order.
    commands: Vec<Value>,
}

impl Platform {
    fn connect(addr: SocketAddr, token: &str) -> Platform {
        let (p, welcome) = Platform::hello(addr, token);
        assert_eq!(welcome["cmd"], "welcome", "{welcome}");
        p
    }

    /// Connects and says `hello` with `token`: the connection and the daemon's answer.
    fn hello(addr: SocketAddr, token: &str) -> (Platform, Value) {
        let s = connect(addr);
        let mut p = Platform {
            reader: BufReader::new(s.try_clone().expect("clone")),
            writer: s,
            seq: 0,
            commands: Vec::new(),
        };
        p.write(&json!({"ev":"hello","platform":"pbx-1","token":token,"protocol":1}).to_string());
        let answer = p.read();
        (p, answer)
    }

    fn write(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("write line");
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read line");
        assert!(n > 0, "the daemon closed the connection");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"))
    }

    /// Sends `msg` with a `seq` and waits for its `ok` (commands before it are kept);
    /// `Err` with the `error` line.
    fn try_send(&mut self, mut msg: Value) -> Result<(), Value> {
        self.seq += 1;
        msg["seq"] = json!(self.seq);
        self.write(&msg.to_string());
        loop {
            let l = self.read();
            if l["seq"] == json!(self.seq) {
                return if l["cmd"] == "ok" { Ok(()) } else { Err(l) };
            }
            if l["cmd"] == "error" {
                return Err(l);
            }
            self.commands.push(l);
        }
    }

    fn send(&mut self, msg: Value) {
        let shown = msg.to_string();
        if let Err(e) = self.try_send(msg) {
            panic!("{shown} refused: {e}");
        }
    }

    fn command(&self, cmd: &str, call: &str) -> Option<&Value> {
        self.commands
            .iter()
            .find(|c| c["cmd"] == cmd && c["call"] == call)
    }
}

fn group<'a>(snap: &'a Value, id: &str) -> &'a Value {
    snap["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["id"] == id))
        .unwrap_or_else(|| panic!("no group {id} in {snap}"))
}

fn agent<'a>(snap: &'a Value, id: &str) -> &'a Value {
    snap["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == id))
        .unwrap_or_else(|| panic!("no agent {id} in {snap}"))
}

/// Agent a1 logged in and paused with a note; calls c1 (at T0+1 s) and c2 (T0+2 s) waiting
/// in `bygglov`; engine time T0+31 s.
fn two_waiting(p: &mut Platform) {
    p.send(json!({"ev":"agent.login","agent":"a1","at":T0}));
    p.send(json!({"ev":"agent.pause","agent":"a1","reason":"lunch","note":"Lunch, back 13:00","at":T0}));
    p.send(json!({"ev":"call.arrived","call":"c1","to":"+4685550000","from":"+46701234561","at":T0 + 1000}));
    p.send(json!({"ev":"call.arrived","call":"c2","to":"+4685550000","from":"+46701234562","at":T0 + 2000}));
    p.send(json!({"ev":"tick","at":T0 + 31_000}));
}

/// The value of the series written exactly as `series` (`name{labels}`).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[track_caller]
fn assert_sample(text: &str, series: &str, want: f64) {
    match sample(text, series) {
        Some(v) => assert!(
            (v - want).abs() < 1e-9,
            "{series} is {v}, want {want}\n{text}"
        ),
        None => panic!("no {series} in\n{text}"),
    }
}

/// The path of `name` (a Prometheus tool, Debian's `prometheus` package): a test that
/// needs it fails without it and says how to install it, it never passes by skipping.
fn require(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed: apt-get install -y prometheus (scripts/test does)")
        })
}

// --------------------------------------------------------------- exposition checks

/// Checks the exposition with `promtool check metrics`.
fn check_exposition(text: &str) {
    let promtool = require("promtool");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool output");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ------------------------------------------------------------------------------ tests

#[test]
fn snapshot_stream_directory_and_metrics_follow_the_calls() {
    let d = Daemon::start(&site_with_tokens());
    let mut sse = SseClient::open(d.http, Some(OPERATOR_TOKEN));
    assert_eq!(sse.status, 200);
    assert!(
        sse.content_type.starts_with("text/event-stream"),
        "{}",
        sse.content_type
    );
    // A snapshot at connect: nobody waits yet.
    let first = sse.until(Duration::from_secs(5), "the first snapshot", |_| true);
    assert_eq!(group(&first, "bygglov")["waiting"], 0, "{first}");

    let mut p = d.platform();
    two_waiting(&mut p);
    assert!(p.command("queue", "c2").is_some(), "{:?}", p.commands);

    // Another snapshot after the change.
    let later = sse.until(Duration::from_secs(5), "two calls waiting", |s| {
        group(s, "bygglov")["waiting"] == 2
    });
    assert_eq!(agent(&later, "a1")["state"], "paused");

    let snap = d.snapshot();
    let g = group(&snap, "bygglov");
    assert_eq!(g["waiting"], 2, "{snap}");
    assert_eq!(g["oldest_wait_s"], 30.0, "{snap}");
    assert_eq!(g["agents"]["paused"], 1, "{snap}");
    let calls: Vec<(&str, u64)> = snap["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            (
                c["call"].as_str().unwrap_or_default(),
                c["position"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(calls, [("c1", 1), ("c2", 2)], "{snap}");
    assert_eq!(snap["at"], T0 + 31_000);

    // Directory: presence follows the linked agent's pause note.
    let r = d.get("/api/v1/directory?q=ritning", Some(OPERATOR_TOKEN));
    assert_eq!(r.status, 200, "{}", r.text());
    let hits = r.json();
    let hit = &hits["hits"][0];
    assert_eq!(hit["name"], "Anna Berg", "{hits}");
    assert_eq!(hit["presence"]["state"], "paused", "{hits}");
    assert_eq!(hit["presence"]["note"], "Lunch, back 13:00", "{hits}");
    assert_eq!(hits["hits"].as_array().map(Vec::len), Some(1), "{hits}");
    // Percent-encoded UTF-8 in the query; an entry without an agent has no presence.
    let r = d.get("/api/v1/directory?q=f%C3%B6rskola", Some(OPERATOR_TOKEN));
    let hits = r.json();
    assert_eq!(hits["hits"][0]["name"], "Förskoleenheten", "{hits}");
    assert_eq!(hits["hits"][0]["presence"], Value::Null, "{hits}");
    let r = d.get("/api/v1/directory?q=nobody-here", Some(OPERATOR_TOKEN));
    assert_eq!(r.json()["hits"], json!([]));

    let m = d.metrics();
    assert_sample(&m, r#"vaxel_calls_waiting{group="bygglov"}"#, 2.0);
    assert_sample(&m, r#"vaxel_calls_waiting{group="forskola"}"#, 0.0);
    assert_sample(&m, r#"vaxel_oldest_wait_seconds{group="bygglov"}"#, 30.0);
    assert_sample(&m, r#"vaxel_agents{group="bygglov",state="paused"}"#, 1.0);
    assert_sample(
        &m,
        r#"vaxel_agents{group="forskola",state="logged_out"}"#,
        1.0,
    );
    assert_sample(&m, "vaxel_crisis_active", 0.0);
    assert_sample(&m, "vaxel_platform_connections", 1.0);
    assert_sample(&m, r#"vaxel_events_total{type="call.arrived"}"#, 2.0);
    assert_sample(&m, r#"vaxel_commands_total{type="queue"}"#, 2.0);
    // The group's only agent is paused: nobody serves it, so the expected wait is unknown.
    assert!(sample(&m, r#"vaxel_expected_wait_seconds{group="bygglov"}"#).is_some_and(f64::is_nan));
    assert!(sample(&m, r#"vaxel_service_level_ratio{group="bygglov"}"#).is_some());
    assert!(sample(&m, "vaxel_journal_sync_seconds_count").is_some_and(|v| v >= 1.0));
    assert!(sample(&m, "vaxel_decision_seconds_count").is_some_and(|v| v >= 1.0));
    check_exposition(&m);
}

#[test]
fn call_records_feed_the_counters_and_histograms() {
    let d = Daemon::start(&site_with_tokens());
    let mut p = d.platform();
    // Answered: queued at T0+1 s, answered 5 s later, 60 s of talk, wrap-up ended early.
    p.send(json!({"ev":"agent.login","agent":"a2","at":T0}));
    p.send(json!({"ev":"call.arrived","call":"c3","to":"+4685550100","from":"+46701234563","at":T0 + 1000}));
    assert!(p.command("connect", "c3").is_some(), "{:?}", p.commands);
    p.send(json!({"ev":"call.answered","call":"c3","agent":"a2","at":T0 + 6000}));
    p.send(json!({"ev":"call.hangup","call":"c3","at":T0 + 66_000}));
    p.send(json!({"ev":"agent.wrapup_done","agent":"a2","at":T0 + 70_000}));
    // Abandoned after 9 s in the bygglov queue (a1 logged in but paused).
    p.send(json!({"ev":"agent.login","agent":"a1","at":T0 + 70_000}));
    p.send(json!({"ev":"agent.pause","agent":"a1","at":T0 + 70_000}));
    p.send(json!({"ev":"call.arrived","call":"c4","to":"+4685550000","from":"+46701234564","at":T0 + 71_000}));
    p.send(json!({"ev":"call.hangup","call":"c4","at":T0 + 80_000}));
    // Two protocol errors: a bad line and an unknown call.
    p.write("{not json");
    let e = p.read();
    assert_eq!(e["code"], "bad_json", "{e}");
    let e = p
        .try_send(json!({"ev":"call.hangup","call":"nope","at":T0 + 80_000}))
        .expect_err("unknown call");
    assert_eq!(e["code"], "unknown_call", "{e}");

    let m = d.metrics();
    assert_sample(
        &m,
        r#"vaxel_calls_total{entry="school",outcome="answered"}"#,
        1.0,
    );
    assert_sample(
        &m,
        r#"vaxel_calls_total{entry="main",outcome="abandoned"}"#,
        1.0,
    );
    assert_sample(
        &m,
        r#"vaxel_queue_calls_total{group="forskola",outcome="answered"}"#,
        1.0,
    );
    assert_sample(
        &m,
        r#"vaxel_queue_calls_total{group="bygglov",outcome="abandoned"}"#,
        1.0,
    );
    assert_sample(
        &m,
        r#"vaxel_queue_calls_total{group="bygglov",outcome="answered"}"#,
        0.0,
    );
    let w = "vaxel_wait_seconds";
    assert_sample(
        &m,
        &format!(r#"{w}_bucket{{group="forskola",outcome="answered",le="5"}}"#),
        1.0,
    );
    assert_sample(
        &m,
        &format!(r#"{w}_sum{{group="forskola",outcome="answered"}}"#),
        5.0,
    );
    assert_sample(
        &m,
        &format!(r#"{w}_bucket{{group="bygglov",outcome="abandoned",le="5"}}"#),
        0.0,
    );
    assert_sample(
        &m,
        &format!(r#"{w}_bucket{{group="bygglov",outcome="abandoned",le="10"}}"#),
        1.0,
    );
    assert_sample(
        &m,
        &format!(r#"{w}_count{{group="bygglov",outcome="abandoned"}}"#),
        1.0,
    );
    assert_sample(&m, r#"vaxel_talk_seconds_sum{group="forskola"}"#, 60.0);
    assert_sample(&m, r#"vaxel_talk_seconds_count{group="forskola"}"#, 1.0);
    assert_sample(&m, r#"vaxel_protocol_errors_total{code="bad_json"}"#, 1.0);
    assert_sample(
        &m,
        r#"vaxel_protocol_errors_total{code="unknown_call"}"#,
        1.0,
    );
    assert_sample(
        &m,
        r#"vaxel_events_refused_total{code="unknown_call",type="call.hangup"}"#,
        1.0,
    );
    assert_sample(&m, r#"vaxel_commands_total{type="connect"}"#, 1.0);
    // Today's service level: 1 of 2 offered answered within 20 s (the abandon took 9 s).
    assert_sample(&m, r#"vaxel_service_level_ratio{group="forskola"}"#, 1.0);
    assert_sample(&m, "vaxel_calls_in_progress", 0.0);
    check_exposition(&m);
    check_dashboard(&m);
}

/// The Grafana dashboard's queries use only families the daemon exports (`m` has every
/// histogram populated), and parse as PromQL (`promtool check rules`, when installed).
fn check_dashboard(m: &str) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/grafana/vaxel-dashboard.json");
    let text = std::fs::read_to_string(&path).expect("read the dashboard");
    let dash: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(dash["__inputs"][0]["name"], "DS_PROMETHEUS");
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "{t}");
            let e = t["expr"].as_str().expect("expr");
            exprs.push(
                e.replace("$group", ".*")
                    .replace("$sl_target", "0.8")
                    .replace("$__rate_interval", "1m"),
            );
        }
    }
    assert!(exprs.len() >= 15, "{exprs:?}");
    let families: Vec<&str> = m
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for e in &exprs {
        let mut rest = e.as_str();
        while let Some(i) = rest.find("vaxel_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|b| families.contains(b)))
                .unwrap_or(&name);
            assert!(
                families.contains(&base),
                "the dashboard uses {name}, which the daemon does not export: {e}"
            );
            rest = &rest[i + name.len()..];
        }
    }
    let promtool = require("promtool");
    let dir = TempDir::new("rules");
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard:q{i}\n        expr: {}\n",
            json!(e)
        ));
    }
    let file = dir.0.join("rules.yml");
    std::fs::write(&file, rules).expect("write rules");
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "promtool check rules on the dashboard's queries:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tokens_guard_reads_and_writes() {
    let d = Daemon::start(&site_with_tokens());
    // Probes are open.
    assert_eq!(d.get("/healthz", None).status, 200);
    assert_eq!(d.get("/readyz", None).status, 200);
    // No token, a wrong token: 401 and nothing of the state.
    for token in [None, Some("wrong-token-0123456789"), Some(PLATFORM_TOKEN)] {
        for path in [
            "/api/v1/snapshot",
            "/api/v1/directory?q=anna",
            "/metrics",
            "/api/v1/stream",
        ] {
            let r = d.get(path, token);
            assert_eq!(r.status, 401, "{path} with {token:?}: {}", r.text());
            assert!(
                r.header("www-authenticate")
                    .is_some_and(|h| h.starts_with("Bearer"))
            );
            let body = r.text();
            assert_eq!(r.json()["code"], "unauthorized", "{body}");
            for secret in ["Anna", "bygglov", "vaxel_", "groups"] {
                assert!(!body.contains(secret), "{path}: {body}");
            }
        }
        let r = d.post("/api/v1/agents/a1/state", token, r#"{"state":"login"}"#);
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let r = http(d.http, "GET", "/api/v1/snapshot", None, None);
    assert_eq!(r.status, 401);

    // An operator reads and acts for agents (tests/serve_desk.rs), but may not change the
    // site: 403.
    assert_eq!(d.get("/api/v1/snapshot", Some(OPERATOR_TOKEN)).status, 200);
    for (path, body) in [("/api/v1/crisis", r#"{"on":true}"#), ("/api/v1/reload", "")] {
        let r = d.post(path, Some(OPERATOR_TOKEN), body);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        assert_eq!(r.json()["code"], "forbidden");
    }
    assert_eq!(agent(&d.snapshot(), "a1")["state"], "logged_out");

    // An admin drives an agent's desktop.
    let post = |body: &str| d.post("/api/v1/agents/a1/state", Some(ADMIN_TOKEN), body);
    let r = post(r#"{"state":"login","extension":"1001"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["agent"]["state"], "ready", "{}", r.text());
    let r = post(
        r#"{"state":"pause","reason":"meeting","note":"Möte, tillbaka 13:00","until":"2026-01-01T13:00:00+01:00"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let a = &r.json()["agent"];
    assert_eq!(a["state"], "paused", "{a}");
    assert_eq!(a["note"], "Möte, tillbaka 13:00", "{a}");
    assert_eq!(a["until"], 1_767_268_800_000_u64, "{a}");
    let r = d.get("/api/v1/directory?q=anna", Some(ADMIN_TOKEN));
    assert_eq!(
        r.json()["hits"][0]["presence"]["note"],
        "Möte, tillbaka 13:00"
    );
    let r = post(r#"{"state":"pause","until":1767268800000}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post(r#"{"state":"ready"}"#);
    assert_eq!(r.json()["agent"]["state"], "ready", "{}", r.text());
    let r = post(r#"{"state":"logout"}"#);
    assert_eq!(r.json()["agent"]["state"], "logged_out", "{}", r.text());

    // Bad requests name their field; engine refusals are 409 with the protocol code.
    let cases = [
        (
            r#"{"state":"pause","until":"after lunch"}"#,
            400,
            "bad_field",
            Some("until"),
        ),
        (r#"{"state":"nap"}"#, 400, "bad_field", Some("state")),
        (r#"{}"#, 400, "missing_field", Some("state")),
        (
            r#"{"state":"ready","colour":"blue"}"#,
            400,
            "bad_field",
            Some("colour"),
        ),
        (
            r#"{"state":"login","extension":7}"#,
            400,
            "bad_field",
            Some("extension"),
        ),
        ("{\"state\":", 400, "bad_json", None),
        ("", 400, "bad_json", None),
    ];
    for (body, status, code, field) in cases {
        let r = post(body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        let v = r.json();
        assert_eq!(v["code"], code, "{body}: {v}");
        assert_eq!(v["field"].as_str(), field, "{body}: {v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    }
    let r = d.post(
        "/api/v1/agents/zz9/state",
        Some(ADMIN_TOKEN),
        r#"{"state":"ready"}"#,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["code"], "unknown_agent");
    // A body past the bound: 413 from its Content-Length alone (nothing more is read),
    // and the daemon still answers.
    let mut s = connect(d.http);
    let head = request_head(
        d.http,
        "POST",
        "/api/v1/agents/a1/state",
        Some(ADMIN_TOKEN),
        1024 * 1024 + 1,
    );
    s.write_all(head.as_bytes()).expect("write head");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("\"too_large\""), "{raw}");
    assert_eq!(d.get("/readyz", None).status, 200);
    let r = d.get("/api/v1/nothing-here", Some(OPERATOR_TOKEN));
    assert_eq!(r.status, 404);
}

#[test]
fn a_site_without_tokens_is_open_on_loopback() {
    let d = Daemon::start(SITE);
    let r = d.get("/api/v1/snapshot", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = d.post("/api/v1/crisis", None, r#"{"on":true}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_sample(&d.get("/metrics", None).text(), "vaxel_crisis_active", 1.0);
}

#[test]
fn crisis_on_and_off_shows_in_snapshot_and_metrics() {
    let d = Daemon::start(&site_with_tokens());
    let crisis = |body: &str| d.post("/api/v1/crisis", Some(ADMIN_TOKEN), body);
    let r = crisis(r#"{"on":true,"prompt":"crisis-storm","route":"group:forskola"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["crisis"], true);
    assert_eq!(d.snapshot()["crisis"], true);
    assert_sample(&d.metrics(), "vaxel_crisis_active", 1.0);

    // A caller now hears the crisis prompt first.
    let mut p = d.platform();
    p.send(
        json!({"ev":"call.arrived","call":"k1","to":"+4685550000","from":"+46701234565","at":T0}),
    );
    let play = p.command("play", "k1").expect("a play command");
    assert_eq!(play["prompt"], "crisis-storm", "{:?}", p.commands);

    let r = crisis(r#"{"on":true,"route":"group:nowhere"}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["field"], "route");
    let r = crisis(r#"{"on":"yes"}"#);
    assert_eq!((r.status, r.json()["field"].clone()), (400, json!("on")));
    let r = crisis(r#"{"prompt":"x"}"#);
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, json!("missing_field"))
    );

    let r = crisis(r#"{"on":false}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["crisis"], false);
    assert_eq!(d.snapshot()["crisis"], false);
    let m = d.metrics();
    assert_sample(&m, "vaxel_crisis_active", 0.0);
    // On, the refused route, off: refused inputs count too, and apart.
    assert_sample(&m, r#"vaxel_events_total{type="crisis"}"#, 3.0);
    assert_sample(
        &m,
        r#"vaxel_events_refused_total{code="bad_field",type="crisis"}"#,
        1.0,
    );
}

#[test]
fn reload_applies_valid_changes_and_refuses_others_with_reasons() {
    let d = Daemon::start(&site_with_tokens());
    let mut p = d.platform();
    two_waiting(&mut p);
    let before = d.snapshot();
    let reload = |body: &str| d.post("/api/v1/reload", Some(ADMIN_TOKEN), body);

    // A valid change applies; the waiting calls keep their places and waits.
    let renamed = site_with_tokens().replace("name = \"Bygglov\"", "name = \"Bygglov och lov\"");
    let r = reload(&renamed);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["ok"], true);
    let after = d.snapshot();
    assert_eq!(group(&after, "bygglov")["name"], "Bygglov och lov");
    assert_eq!(after["calls"], before["calls"], "the waiting calls moved");
    assert_eq!(group(&after, "bygglov")["waiting"], 2);

    // Invalid: 422 with every reason, the running configuration stays.
    let broken = renamed.replace(
        "route = \"group:bygglov\"\ncalendar",
        "route = \"group:bygglv\"\ncalendar",
    );
    assert_ne!(broken, renamed);
    let r = reload(&broken);
    assert_eq!(r.status, 422, "{}", r.text());
    let v = r.json();
    assert_eq!(v["code"], "invalid_config", "{v}");
    let reasons = v["reasons"].as_array().expect("reasons");
    assert!(
        reasons.iter().any(|r| r
            .as_str()
            .is_some_and(|s| s.contains("bygglv") && s.contains("did you mean"))),
        "{v}"
    );
    assert!(
        v["diagnostics"][0]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("entries[0]")),
        "{v}"
    );
    let r = reload("[site\nname = ");
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(group(&d.snapshot(), "bygglov")["name"], "Bygglov och lov");

    // Valid, but it would strand the waiting calls: 409 with the reasons.
    let without = site_with_tokens()
        .replace(
            "[[groups]]\nid = \"bygglov\"\nname = \"Bygglov\"\nrequires = { bygglov = 1 }\n",
            "[[groups]]\nid = \"bygglov-old\"\nname = \"Bygglov\"\nrequires = { bygglov = 1 }\n",
        )
        .replace("route = \"group:bygglov\"", "route = \"group:bygglov-old\"");
    assert!(!without.contains("id = \"bygglov\""));
    let r = reload(&without);
    assert_eq!(r.status, 409, "{}", r.text());
    let v = r.json();
    assert_eq!(v["code"], "reload_refused", "{v}");
    let reasons = v["reasons"].as_array().expect("reasons");
    assert!(
        reasons.iter().any(|r| r
            .as_str()
            .is_some_and(|s| s.contains("\"c1\"") && s.contains("bygglov"))),
        "{v}"
    );
    assert_eq!(group(&d.snapshot(), "bygglov")["waiting"], 2);

    // An empty body re-reads the file: back to the original name, calls still in place.
    let r = reload("");
    assert_eq!(r.status, 200, "{}", r.text());
    let again = d.snapshot();
    assert_eq!(group(&again, "bygglov")["name"], "Bygglov");
    assert_eq!(again["calls"], before["calls"]);
    // ...and a changed file is picked up the same way.
    std::fs::write(&d.config, &renamed).expect("rewrite site");
    assert_eq!(reload("").status, 200);
    assert_eq!(group(&d.snapshot(), "bygglov")["name"], "Bygglov och lov");
    let m = d.metrics();
    assert_sample(&m, r#"vaxel_calls_waiting{group="bygglov"}"#, 2.0);
}

#[test]
fn a_real_prometheus_scrapes_the_daemon() {
    let prometheus = require("prometheus");
    let d = Daemon::start(&site_with_tokens());
    let mut p = d.platform();
    two_waiting(&mut p);

    let dir = TempDir::new("prometheus");
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let yml = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: vaxel\n    scrape_interval: 1s\n    scrape_timeout: 1s\n\
         \x20   authorization:\n      type: Bearer\n      credentials: {OPERATOR_TOKEN}\n\
         \x20   static_configs:\n      - targets: ['{}']\n",
        d.http
    );
    let config = dir.0.join("prometheus.yml");
    std::fs::write(&config, yml).expect("write prometheus.yml");
    let log_path = dir.0.join("prometheus.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.0.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let prom = KillOnDrop {
        child,
        log: log_path,
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let query = |q: &str| -> Option<Value> {
        let path = format!("/api/v1/query?query={}", percent_encode(q));
        let s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
        drop(s);
        let r = http(addr, "GET", &path, None, None);
        (r.status == 200).then(|| r.json())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    let q = r#"vaxel_calls_waiting{group="bygglov"}"#;
    loop {
        if let Some(v) = query(q) {
            if v["data"]["result"][0]["value"][1] == "2" {
                break;
            }
            last = Some(v);
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(&prom.log).unwrap_or_default();
            panic!(
                "Prometheus never answered {q} = 2 within 20 s; last answer {last:?}\nits log:\n{log}"
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    // The scrape itself was healthy, and the gauges of the live state are all there.
    let up = query(r#"up{job="vaxel"}"#).expect("up");
    assert_eq!(up["data"]["result"][0]["value"][1], "1", "{up}");
    let agents = query(r#"vaxel_agents{group="bygglov",state="paused"}"#).expect("agents");
    assert_eq!(agents["data"]["result"][0]["value"][1], "1", "{agents}");
}

/// A child process killed when dropped (its log printed if the test failed).
struct KillOnDrop {
    child: Child,
    log: PathBuf,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            print_log(&self.log);
        }
    }
}

fn print_log(p: &Path) {
    eprintln!(
        "---- {} ----\n{}",
        p.display(),
        std::fs::read_to_string(p).unwrap_or_default()
    );
}

/// Percent-encodes a URL query value.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_reload_rotates_the_tokens_without_a_restart() {
    let d = Daemon::start(&site_with_tokens());
    let (platform, operator, admin) = (
        "platform-token-rotated-000001",
        "operator-token-rotated-000001",
        "admin-token-rotated-000000001",
    );
    let rotated = format!(
        "{SITE}\n[auth]\nplatform_tokens = [\"{platform}\"]\n\
         operator_tokens = [\"{operator}\"]\nadmin_tokens = [\"{admin}\"]\n"
    );
    let r = d.post("/api/v1/reload", Some(ADMIN_TOKEN), &rotated);
    assert_eq!(r.status, 200, "{}", r.text());

    // The old tokens are out, the new ones in, on both ports.
    assert_eq!(d.get("/api/v1/snapshot", Some(OPERATOR_TOKEN)).status, 401);
    assert_eq!(d.get("/api/v1/snapshot", Some(operator)).status, 200);
    let body = r#"{"state":"login"}"#;
    assert_eq!(
        d.post("/api/v1/agents/a1/state", Some(ADMIN_TOKEN), body)
            .status,
        401
    );
    assert_eq!(
        d.post("/api/v1/agents/a1/state", Some(admin), body).status,
        200
    );
    let (_old, refused) = Platform::hello(d.tcp, PLATFORM_TOKEN);
    assert_eq!(refused["code"], "unauthorized", "{refused}");
    let _new = Platform::connect(d.tcp, platform);
}
