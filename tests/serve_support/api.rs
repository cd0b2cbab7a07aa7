//! The HTTP tests' daemon: a town's site with a directory, a crisis route and the three
//! kinds of tokens, the daemon on it (in process, or a `vaxel serve` process) reached through
//! [`super::http`], and a platform that speaks the protocol in JSON values with its own
//! `seq`.

use super::http::{Resp, connect, http};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;

pub const PLATFORM_TOKEN: &str = "platform-token-0123456789";
pub const OPERATOR_TOKEN: &str = "operator-token-0123456789";
pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
/// 2026-01-01T10:00:00Z: the scenarios' start in engine time (event clock).
pub const T0: u64 = 1_767_261_600_000;

/// A small site: two entries, two groups, two agents, a directory with a linked agent.
pub const SITE: &str = r#"
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
pub fn site_with_tokens() -> String {
    format!(
        "{SITE}\n[auth]\nplatform_tokens = [\"{PLATFORM_TOKEN}\"]\n\
         operator_tokens = [\"{OPERATOR_TOKEN}\"]\nadmin_tokens = [\"{ADMIN_TOKEN}\"]\n"
    )
}

/// A daemon on a site given as text: in process (`vaxel_serve::serve` on a thread and
/// runtime of its own, [`ApiDaemon::start`]) or as a `vaxel serve` process for what a real
/// Prometheus scrapes ([`ApiDaemon::process`]); stopped when dropped (a process's log
/// printed if the test failed).
pub struct ApiDaemon {
    inner: Inner,
    pub tcp: SocketAddr,
    pub http: SocketAddr,
    /// The site file (a test rewrites it and reloads).
    pub config: PathBuf,
    /// The site file's and data dir's directory, removed when this drops: after `inner`
    /// (fields drop in order), so after the daemon stopped.
    _dir: tempfile::TempDir,
}

enum Inner {
    Process(super::Daemon),
    InProcess(super::InProcess),
}

impl ApiDaemon {
    /// The daemon in process ([`super::InProcess`]).
    pub fn start(site: &str) -> ApiDaemon {
        let (dir, config, data) = site_dir(site);
        let inner = super::InProcess::start(&config, &data);
        ApiDaemon {
            tcp: inner.tcp,
            http: inner.http,
            inner: Inner::InProcess(inner),
            config,
            _dir: dir,
        }
    }

    /// `vaxel serve` as a process (the binary a real Prometheus scrapes).
    pub fn process(site: &str) -> ApiDaemon {
        let (dir, config, data) = site_dir(site);
        let inner = super::Daemon::start(&config, &data, &[]);
        ApiDaemon {
            tcp: inner.tcp,
            http: inner.http,
            inner: Inner::Process(inner),
            config,
            _dir: dir,
        }
    }

    pub fn platform(&self) -> Platform {
        Platform::connect(self.tcp, PLATFORM_TOKEN)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        http(self.http, "GET", path, token, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &str) -> Resp {
        http(self.http, "POST", path, token, Some(body.as_bytes()))
    }

    pub fn snapshot(&self) -> Value {
        let r = self.get("/api/v1/snapshot", Some(OPERATOR_TOKEN));
        assert_eq!(r.status, 200, "snapshot: {}", r.text());
        r.json()
    }

    pub fn metrics(&self) -> String {
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

/// A fresh directory (under the target's temp dir, as [`super::temp_dir`]'s, but of its own:
/// removed when the guard drops) with `site` written in it: the guard, the site file and the
/// data dir.
fn site_dir(site: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("serve-http-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("create temp dir");
    let config = super::write_site(dir.path(), site);
    let data = dir.path().join("data");
    (dir, config, data)
}

impl Drop for ApiDaemon {
    fn drop(&mut self) {
        if let Inner::Process(d) = &self.inner
            && std::thread::panicking()
        {
            let log = d.log_text();
            eprintln!("---- vaxel serve's log ----\n{log}\n---- end of log ----");
        }
    }
}

/// A platform speaking the TCP protocol.
pub struct Platform {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    seq: u64,
    /// Commands received, in order.
    pub commands: Vec<Value>,
}

impl Platform {
    pub fn connect(addr: SocketAddr, token: &str) -> Platform {
        let (p, welcome) = Platform::hello(addr, token);
        assert_eq!(welcome["cmd"], "welcome", "{welcome}");
        p
    }

    /// Connects and says `hello` with `token`: the connection and the daemon's answer.
    pub fn hello(addr: SocketAddr, token: &str) -> (Platform, Value) {
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

    pub fn write(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("write line");
    }

    pub fn read(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read line");
        assert!(n > 0, "the daemon closed the connection");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"))
    }

    /// Sends `msg` with a `seq` and waits for its `ok` (commands before it are kept);
    /// `Err` with the `error` line.
    pub fn try_send(&mut self, mut msg: Value) -> Result<(), Value> {
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

    pub fn send(&mut self, msg: Value) {
        let shown = msg.to_string();
        if let Err(e) = self.try_send(msg) {
            panic!("{shown} refused: {e}");
        }
    }

    pub fn command(&self, cmd: &str, call: &str) -> Option<&Value> {
        self.commands
            .iter()
            .find(|c| c["cmd"] == cmd && c["call"] == call)
    }
}

pub fn group<'a>(snap: &'a Value, id: &str) -> &'a Value {
    snap["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["id"] == id))
        .unwrap_or_else(|| panic!("no group {id} in {snap}"))
}

pub fn agent<'a>(snap: &'a Value, id: &str) -> &'a Value {
    snap["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == id))
        .unwrap_or_else(|| panic!("no agent {id} in {snap}"))
}

/// Agent a1 logged in and paused with a note; calls c1 (at T0+1 s) and c2 (T0+2 s) waiting
/// in `bygglov`; engine time T0+31 s.
pub fn two_waiting(p: &mut Platform) {
    p.send(json!({"ev":"agent.login","agent":"a1","at":T0}));
    p.send(json!({"ev":"agent.pause","agent":"a1","reason":"lunch","note":"Lunch, back 13:00","at":T0}));
    p.send(json!({"ev":"call.arrived","call":"c1","to":"+4685550000","from":"+46701234561","at":T0 + 1000}));
    p.send(json!({"ev":"call.arrived","call":"c2","to":"+4685550000","from":"+46701234562","at":T0 + 2000}));
    p.send(json!({"ev":"tick","at":T0 + 31_000}));
}
