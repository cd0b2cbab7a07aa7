//! `vaxel serve` under faults and abuse (docs/operations.md, "Failure modes"): clients
//! that hold connections without speaking, an open-file limit, silent platforms. The
//! daemon runs in process where the test needs no process (no `ulimit`, no exit status of
//! a failed start, no log).

mod serve_support;

use serve_support::{
    Daemon, InProcess, SITE, output_within, site_and_data, temp_dir, wait_records, write_site,
};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

/// One `GET` on a fresh connection: the status line, `None` if the connection failed.
fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(serve_support::WAIT)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.lines().next().map(str::to_owned)
}

/// Whether the daemon closes `s` (end of stream) within [`serve_support::WAIT`].
fn closed_by_daemon(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(serve_support::WAIT))
        .expect("timeout");
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// Issue 12 #3: with a soft limit of 1,024 open files, 1,100 idle HTTP connections made
/// the next journal open fail and the daemon exit. Here the limit is 256, every input
/// makes a checkpoint (a new journal and snapshot each), and 300 idle connections are
/// open: the connection cap keeps the descriptors the daemon needs.
#[test]
fn idle_http_connections_cannot_make_a_journal_write_fail() {
    let (site, data) = site_and_data("http-nofile");
    let d = Daemon::start_with_nofile(
        &site,
        &data,
        256,
        &[
            "--max-connections",
            "16",
            "--http-max-connections",
            "64",
            "--checkpoint-every",
            "1",
        ],
    );
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(d.http).expect("connect (the listen backlog takes it)"))
        .collect();
    let mut p = d.platform("pbx-1");
    p.one_answered_call("+4670");
    wait_records(&data, |r| r.len() == 1);
    let log = d.log_text();
    assert!(
        !log.contains("Too many open files") && !log.contains("skipped"),
        "{log}"
    );
    drop(idle);
    assert_eq!(
        http_get(d.http, "/healthz").as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    let log = d.log.clone();
    assert!(
        d.term().success(),
        "{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Caps that do not fit under the open-file limit are refused at start, naming the flags.
#[test]
fn connection_caps_beyond_the_open_file_limit_are_refused_at_start() {
    let dir = temp_dir("http-caps");
    let site = write_site(&dir, SITE);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_vaxel"))
        .args(["serve", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--config")
        .arg(&site)
        .arg("--data-dir")
        .arg(dir.join("data"));
    let out = output_within(&mut cmd, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--http-max-connections 512") && stderr.contains("open-file limit 256"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it never listened");
}

/// Issue 12 #5: connections that never say `hello` held the platforms' slots (10 s each):
/// with 300 of them trickling in, a real platform waited up to 9 s for `welcome`. Now
/// they have their own small set, the oldest pushed out when it is full, and a platform
/// is welcomed at once, even with every session slot's worth of them open.
#[test]
fn connections_without_hello_never_delay_a_platform() {
    let dir = temp_dir("pre-hello");
    let site = write_site(&dir, SITE);
    let d = InProcess::start_with(
        &site,
        &dir.join("data"),
        &[
            "--max-connections",
            "4",
            "--max-pending-hellos",
            "8",
            "--hello-timeout-s",
            "60",
        ],
    );
    let mut silent: Vec<TcpStream> = (0..40)
        .map(|_| TcpStream::connect(d.tcp).expect("connect"))
        .collect();
    // The first ones were pushed out by the later ones.
    assert!(closed_by_daemon(&mut silent[0]), "the oldest stays");
    // `welcome` within the client's read timeout (5 s), while the silent ones have 60 s.
    let mut p = d.platform("pbx-1");
    p.acked(r#"{"ev":"agent.login","agent":"a1","at":1000,"seq":1}"#);
    drop(silent);
    // Dropping it stops it, and a stop that is not clean fails the test.
    drop(d);
}

/// Issue 12 #4: the slow-consumer bound counted batches, not bytes (a platform that
/// sends but never reads grew the daemon by ~300 MB), and a connection went on being
/// counted after it was dropped. Now a byte bound closes it, once.
#[test]
fn a_platform_that_never_reads_is_dropped_by_bytes_and_counted_once() {
    let dir = temp_dir("silent");
    let site = write_site(&dir, SITE);
    let d = Daemon::start_with(
        &site,
        &dir.join("data"),
        &[],
        &["--outbound-limit-bytes", "65536"],
    );
    let mut p = d.platform("pbx-1");
    // Calls greeted, queued and hung up at once, each line answered; nothing is read.
    let mut lines = String::new();
    for i in 0..20_000 {
        let at = 1000 + 2 * i;
        lines.push_str(&format!(
            "{{\"ev\":\"call.arrived\",\"call\":\"c{i}\",\"to\":\"+4610100\",\"from\":\"+4670\",\"at\":{at},\"seq\":{}}}\n\
             {{\"ev\":\"call.hangup\",\"call\":\"c{i}\",\"at\":{},\"seq\":{}}}\n",
            2 * i,
            at + 1,
            2 * i + 1
        ));
    }
    // The daemon may close the connection while this is being written.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        p.send_raw(lines.as_bytes());
    }));
    let until = std::time::Instant::now() + Duration::from_secs(20);
    let metric = |m: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix("vaxel_slow_consumers_total "))
            .map(str::to_owned)
    };
    loop {
        let m = serve_support::http_get_all(d.http, "/metrics");
        if metric(&m).as_deref() == Some("1") {
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "never counted once: {:?}",
            metric(&m)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Every line it had sent is applied by now or soon: still counted once.
    wait_records(&d.data, |r| !r.is_empty());
    std::thread::sleep(Duration::from_millis(500));
    let m = serve_support::http_get_all(d.http, "/metrics");
    assert_eq!(metric(&m).as_deref(), Some("1"));
    let log = d.log_text();
    assert_eq!(log.matches("slow_consumer:").count(), 1, "{log}");
    drop(p);
    assert!(d.term().success());
}

/// Issue 12 #11: the smaller defects, each over the wire.
#[test]
fn a_refused_hello_echoes_its_seq() {
    let (site, data) = site_and_data("hello-seq");
    let d = InProcess::start(&site, &data);
    let mut c = d.connect();
    c.send(r#"{"ev":"hello","platform":"p","protocol":3,"seq":7}"#);
    let e = c.expect_error("unsupported_protocol");
    assert!(e.contains(r#""seq":7"#) && !e.contains(r#""line""#), "{e}");
    c.expect_closed();
    // Without a seq, the line.
    let mut c = d.connect();
    c.send(r#"{"ev":"hello","platform":"p","protocol":3}"#);
    let e = c.expect_error("unsupported_protocol");
    assert!(e.contains(r#""line":1"#), "{e}");
    drop(d);
}

#[test]
fn a_directory_query_that_is_not_utf8_is_a_400_and_a_get_on_a_post_route_a_json_405() {
    let (site, data) = site_and_data("http-small");
    let d = InProcess::start(&site, &data);
    let r = serve_support::http_get_all(d.http, "/api/v1/directory?q=%FF%FE");
    assert!(
        r.starts_with("HTTP/1.1 400") && r.contains(r#""field":"q""#) && r.contains("UTF-8"),
        "{r}"
    );
    let r = serve_support::http_get_all(d.http, "/api/v1/directory?q=r%C3%A5d");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let r = serve_support::http_get_all(d.http, "/api/v1/crisis");
    assert!(
        r.starts_with("HTTP/1.1 405")
            && r.contains("application/json")
            && r.contains(r#""code":"method_not_allowed""#),
        "{r}"
    );
    drop(d);
}

#[test]
fn listen_takes_a_host_name() {
    use std::io::BufRead as _;
    let dir = temp_dir("localhost");
    let site = write_site(&dir, SITE);
    let mut child = Command::new(env!("CARGO_BIN_EXE_vaxel"))
        .args(["serve", "--listen", "localhost:0", "--http", "localhost:0"])
        .arg("--config")
        .arg(&site)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("listening tcp=127.0.0.1:") && line.contains(" http=127.0.0.1:"),
        "{line:?}"
    );
}

#[test]
fn a_daemon_that_cannot_listen_leaves_no_data_dir() {
    let dir = temp_dir("bind-fails");
    let site = write_site(&dir, SITE);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").to_string();
    let data = dir.join("data");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaxel"));
    cmd.args([
        "serve",
        "--listen",
        &port,
        "--http",
        "127.0.0.1:0",
        "--config",
    ])
    .arg(&site)
    .arg("--data-dir")
    .arg(&data);
    let out = output_within(&mut cmd, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert!(!data.exists(), "an empty data dir was left behind");
}

/// A refused reload's warnings are logged as warnings, not errors.
#[test]
fn warnings_are_logged_at_warn() {
    let (site, data) = site_and_data("warn-level");
    let d = Daemon::start_with(&site, &data, &[], &["--allow-unknown-keys"]);
    // One error (an unknown group) and one warning (an unknown key, allowed).
    let broken = SITE.replacen("wrapup_s = 0", "wraup_s = 30", 1).replacen(
        "route = \"group:sales\"",
        "route = \"group:sals\"",
        1,
    );
    std::fs::write(&site, broken).expect("write site");
    d.hup();
    d.wait_log("reload refused", 1);
    let log = d.log_text();
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("wraup_s").contains("WARN"), "{log}");
    assert!(line("sals").contains("ERROR"), "{log}");
    assert!(d.term().success());
}
