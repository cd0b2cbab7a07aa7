//! A `vaxel serve` process for tests: started on `127.0.0.1:0` with `--clock event` on a
//! test site and a fresh data dir, and a line-oriented platform client. Every wait is
//! bounded.
#![allow(dead_code)]

pub mod api;
pub mod cluster;
mod data_dir;
pub mod http;
pub mod metrics;
pub mod nats;
mod steps;

// Not every test target reads the data dir (as with the dead code allowed above).
#[allow(unused_imports)]
pub use data_dir::{data_files, records};

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any single expectation may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// The test site: two entries, two groups, three agents (`a3` only in `SITE_PLUS`), a
/// one-second grace period. A file of its own, which `vaxel-serve`'s in-process tests
/// (`tests/deadlines.rs`) read too.
pub const SITE: &str = include_str!("site.toml");

/// [`SITE`] with a third agent.
pub fn site_plus() -> String {
    format!(
        "{SITE}\n[[agents]]\nid = \"a3\"\nname = \"Cecilia\"\nextension = \"1003\"\nskills = {{ sales = 1 }}\n"
    )
}

/// A fresh directory under the target's temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("serve-{name}"));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// A fresh directory `name` with [`SITE`] written in it: the site file and the data dir
/// (not made yet) a test starts the daemon on.
pub fn site_and_data(name: &str) -> (PathBuf, PathBuf) {
    let dir = temp_dir(name);
    (write_site(&dir, SITE), dir.join("data"))
}

/// The `vaxel` that [`Daemon`] runs: this build's, or the one the environment variable
/// `VAXEL_TEST_DAEMON` names (a release build, for figures of docs/benchmarks.md that tests
/// measure, such as the cluster's fail-over times).
pub fn daemon_bin() -> PathBuf {
    std::env::var_os("VAXEL_TEST_DAEMON")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_vaxel")), PathBuf::from)
}

/// A running daemon.
pub struct Daemon {
    child: Child,
    pub tcp: SocketAddr,
    pub http: SocketAddr,
    pub data: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `vaxel serve --clock event` on `site` (a file) with data in `data`.
    pub fn start(site: &Path, data: &Path, extra_env: &[(&str, &str)]) -> Daemon {
        Daemon::start_with(site, data, extra_env, &[])
    }

    /// [`start`](Self::start) with more arguments.
    pub fn start_with(
        site: &Path,
        data: &Path,
        extra_env: &[(&str, &str)],
        args: &[&str],
    ) -> Daemon {
        Daemon::spawn(
            Command::new(daemon_bin()),
            "127.0.0.1",
            site,
            data,
            extra_env,
            args,
        )
    }

    /// [`start_with`](Self::start_with) under an open-file limit of `nofile` (soft and
    /// hard, through the shell's `ulimit`).
    pub fn start_with_nofile(site: &Path, data: &Path, nofile: u32, args: &[&str]) -> Daemon {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(daemon_bin());
        Daemon::spawn(cmd, "127.0.0.1", site, data, &[], args)
    }

    /// Starts `cmd` (the binary, [`daemon_bin`], or a wrapper that execs it, such as `ip
    /// netns exec NAME vaxel`, so that the child is the daemon itself) with `serve` and its
    /// arguments, listening on `host` (port 0).
    pub fn spawn(
        mut cmd: Command,
        host: &str,
        site: &Path,
        data: &Path,
        extra_env: &[(&str, &str)],
        args: &[&str],
    ) -> Daemon {
        let log = data.with_extension("log");
        let err = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        cmd.args([
            "serve",
            "--clock",
            "event",
            "--listen",
            &format!("{host}:0"),
        ])
        .args(["--http", &format!("{host}:0"), "--config"])
        .arg(site)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("VAXEL_PLATFORM_TOKENS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(err));
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn vaxel serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no listening line; log:\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                )
            }
        };
        let addr = |key: &str| -> SocketAddr {
            let Some(v) = line.split_whitespace().find_map(|w| w.strip_prefix(key)) else {
                let _ = fs::read_to_string(&log).map(|l| eprintln!("{l}"));
                panic!("bad listening line {line:?}");
            };
            v.parse().expect("address")
        };
        Daemon {
            tcp: addr("tcp="),
            http: addr("http="),
            child,
            data: data.to_owned(),
            log,
        }
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.tcp)
    }

    /// A connection that has said `hello` as `platform` and got `welcome`.
    pub fn platform(&self, platform: &str) -> Client {
        Client::hello_as(self.tcp, platform)
    }

    /// Sends `sig` (`-STOP`, `-CONT`, …) to the daemon.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill {sig}");
    }

    pub fn hup(&self) {
        self.signal("-HUP");
    }

    /// SIGTERM, and the exit status (bounded wait).
    pub fn term(mut self) -> ExitStatus {
        self.signal("-TERM");
        self.wait()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.wait();
    }

    /// Waits (bounded) for the daemon to exit by itself.
    pub fn wait(&mut self) -> ExitStatus {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!("daemon did not exit; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until the log holds `text` at least `times` times.
    #[track_caller]
    pub fn wait_log(&self, text: &str, times: usize) {
        let until = Instant::now() + WAIT;
        while self.log_text().matches(text).count() < times {
            assert!(
                Instant::now() < until,
                "{text:?} not {times} times in the log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) until `/metrics` has the line `line` (`name{labels} value`).
    #[track_caller]
    pub fn wait_metric(&self, line: &str) {
        wait_metric(self.http, line);
    }
}

/// Waits (bounded) until the `/metrics` at `http` has the line `line` (`name{labels}
/// value`).
#[track_caller]
pub fn wait_metric(http: SocketAddr, line: &str) {
    let until = Instant::now() + WAIT;
    loop {
        let m = http_get_all(http, "/metrics");
        if m.lines().any(|l| l == line) {
            return;
        }
        assert!(Instant::now() < until, "no {line:?} in:\n{m}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The daemon in process (`vaxel_serve::serve` on a thread and runtime of its own, through
/// `vaxel_serve::in_process`), on the event clock with its ports picked by the OS, as
/// [`Daemon`] runs the binary: for the tests that need no process (no signal, no kill, no
/// exit code, no log). Stopped when dropped.
pub struct InProcess {
    /// Taken when dropped, to stop it.
    daemon: Option<vaxel_serve::in_process::Daemon>,
    pub tcp: SocketAddr,
    pub http: SocketAddr,
    pub data: PathBuf,
}

impl InProcess {
    /// Starts it on `site` (a file) with data in `data`.
    pub fn start(site: &Path, data: &Path) -> InProcess {
        InProcess::start_with(site, data, &[])
    }

    /// [`start`](Self::start) with more arguments.
    pub fn start_with(site: &Path, data: &Path, more: &[&str]) -> InProcess {
        let (site_arg, data_arg) = (site.display().to_string(), data.display().to_string());
        let mut all = vec!["--config", &site_arg, "--data-dir", &data_arg];
        all.extend_from_slice(more);
        let args = vaxel_serve::in_process::serve_args(&all).expect("arguments");
        let daemon = vaxel_serve::in_process::Daemon::start(args).expect("the daemon starts");
        InProcess {
            tcp: daemon.at.tcp,
            http: daemon.at.http,
            daemon: Some(daemon),
            data: data.to_owned(),
        }
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.tcp)
    }

    /// A connection that has said `hello` as `platform` and got `welcome`.
    pub fn platform(&self, platform: &str) -> Client {
        Client::hello_as(self.tcp, platform)
    }

    /// Waits (bounded) until `/metrics` has the line `line`.
    #[track_caller]
    pub fn wait_metric(&self, line: &str) {
        wait_metric(self.http, line);
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(d) = self.daemon.take()
            && let Err(e) = d.stop()
            && !std::thread::panicking()
        {
            panic!("the daemon did not stop cleanly: {e}");
        }
    }
}

/// A platform connection: write lines, read lines with a timeout.
pub struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    seen: Vec<String>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client::try_connect(addr).expect("connect")
    }

    /// [`connect`](Self::connect), or the error (nobody listens: a daemon that exited).
    /// A connection to `addr` that has said `hello` as `platform` and got `welcome`.
    pub fn hello_as(addr: SocketAddr, platform: &str) -> Client {
        let mut c = Client::connect(addr);
        c.send(&format!(
            r#"{{"ev":"hello","platform":"{platform}","protocol":1}}"#
        ));
        c.expect(r#"{"cmd":"welcome","protocol":1,"server":"vaxel/0.1.0"}"#);
        c
    }

    pub fn try_connect(addr: SocketAddr) -> std::io::Result<Client> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(WAIT))?;
        Ok(Client {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
            seen: Vec::new(),
        })
    }

    pub fn send(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).expect("write");
        self.writer.write_all(b"\n").expect("write");
    }

    /// The raw reading side (to read what is left after a close).
    pub fn reader_mut(&mut self) -> &mut BufReader<TcpStream> {
        &mut self.reader
    }

    /// Sends `line`; `false` when the connection is gone (a daemon killed under traffic).
    pub fn try_send(&mut self, line: &str) -> bool {
        writeln!(self.writer, "{line}").is_ok()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// The next line, `None` at end of stream or after [`WAIT`].
    pub fn recv(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                let l = line.trim_end().to_owned();
                self.seen.push(l.clone());
                Some(l)
            }
        }
    }

    /// The next line must be `want`.
    #[track_caller]
    pub fn expect(&mut self, want: &str) {
        let got = self.recv();
        assert_eq!(got.as_deref(), Some(want), "lines so far: {:#?}", self.seen);
    }

    /// The next lines must be `want`, in order.
    #[track_caller]
    pub fn expect_all(&mut self, want: &[&str]) {
        for w in want {
            self.expect(w);
        }
    }

    /// Sends `line` and expects exactly `want` back.
    #[track_caller]
    pub fn call(&mut self, line: &str, want: &[&str]) {
        self.send(line);
        self.expect_all(want);
    }

    /// The next line must be an `error` with `code`; returns it.
    #[track_caller]
    pub fn expect_error(&mut self, code: &str) -> String {
        let got = self.recv().unwrap_or_default();
        assert!(
            got.starts_with(r#"{"cmd":"error""#) && got.contains(&format!(r#""code":"{code}""#)),
            "expected error {code}, got {got:?}; lines so far: {:#?}",
            self.seen
        );
        got
    }

    /// The connection is closed by the daemon (within [`WAIT`]).
    #[track_caller]
    pub fn expect_closed(&mut self) {
        let got = self.recv();
        assert_eq!(got, None, "expected the connection to close");
    }

    /// Nothing arrives within `d`.
    #[track_caller]
    pub fn expect_silence(&mut self, d: Duration) {
        self.reader
            .get_ref()
            .set_read_timeout(Some(d))
            .expect("timeout");
        let mut line = String::new();
        let r = self.reader.read_line(&mut line);
        self.reader
            .get_ref()
            .set_read_timeout(Some(WAIT))
            .expect("timeout");
        match r {
            Ok(n) if n > 0 => panic!("expected silence, got {line:?}"),
            _ => {}
        }
    }
}

/// Polls `f` (every 20 ms) until it gives a value, for at most `within`; then fails with
/// `what` (made only then).
#[track_caller]
pub fn wait_for<T>(
    within: Duration,
    what: impl Fn() -> String,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let until = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "{}", what());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `pred` holds for the records (bounded).
#[track_caller]
pub fn wait_records(
    data: &Path,
    pred: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let until = Instant::now() + WAIT;
    loop {
        let r = records(data);
        if pred(&r) {
            return r;
        }
        assert!(Instant::now() < until, "records never matched: {r:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` (stdin empty, stdout and stderr captured) to its end; a watchdog kills it
/// after `limit`, so a command that hangs fails its test instead of hanging it.
pub fn output_within(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vaxel");
    let id = child.id();
    let (tx, rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(limit).is_err() {
            let _ = Command::new("kill").arg(id.to_string()).status();
        }
    });
    let out = child.wait_with_output().expect("vaxel output");
    let _ = tx.send(());
    let _ = watchdog.join();
    out
}

/// Runs `vaxel serve` on `site` and `data` for a start that must fail: waits for it to
/// exit (a daemon that starts is killed after 20 s).
pub fn serve_expecting_failure(site: &Path, data: &Path) -> std::process::Output {
    serve_expecting_failure_with(site, data, &[])
}

/// [`serve_expecting_failure`] with more arguments.
pub fn serve_expecting_failure_with(
    site: &Path,
    data: &Path,
    args: &[&str],
) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaxel"));
    cmd.args(["serve", "--clock", "event", "--listen", "127.0.0.1:0"])
        .args(["--http", "127.0.0.1:0", "--config"])
        .arg(site)
        .arg("--data-dir")
        .arg(data)
        .args(args);
    output_within(&mut cmd, Duration::from_secs(20))
}

/// The whole HTTP/1.1 answer to a `GET` (status line, headers and body), on a fresh
/// connection the daemon closes after it.
pub fn http_get_all(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Runs `vaxel serve` on `site` and `data` for a start that must be refused: it fails,
/// never listens, and says each of `wants` on stderr, which it returns.
#[track_caller]
pub fn refuses_to_start(site: &Path, data: &Path, wants: &[&str]) -> String {
    let out = serve_expecting_failure(site, data);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "it never listened: {stderr}");
    for w in wants {
        assert!(stderr.contains(w), "{w:?} not in:\n{stderr}");
    }
    stderr
}

/// Writes `text` as `site.toml` in `dir`.
pub fn write_site(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("site.toml");
    fs::write(&p, text).expect("write site");
    p
}
