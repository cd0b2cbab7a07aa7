//! A PostgreSQL server for tests: Debian's `postgresql` binaries (`initdb`, `postgres`,
//! `psql`, `pg_isready` in `/usr/lib/postgresql/<version>/bin`), a cluster in its own temp
//! dir, listening on a free loopback port and a unix socket in that dir, stopped by the
//! test (and on drop).
//!
//! PostgreSQL refuses to run as root, and tests run as root in CI: then the cluster's dir
//! is given to the `postgres` user (which the package creates) and every server binary is
//! run as that user through `setpriv`, which execs (the child is the server itself, so
//! signals reach it). As any other user the binaries run as that user.
//!
//! A missing PostgreSQL fails the test, saying how to install it.
#![allow(dead_code)]

pub mod tables;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The password of the cluster's superuser `vaxel`.
pub const PASSWORD: &str = "test-password-4f1c9a";
/// The superuser.
pub const USER: &str = "vaxel";

/// How long a server may take to start or stop.
const START: Duration = Duration::from_secs(30);

/// A running (or stopped) PostgreSQL cluster.
pub struct Postgres {
    bin: PathBuf,
    /// The cluster's directory, removed when this drops (after [`Drop`] stopped the server).
    pub dir: tempfile::TempDir,
    pub port: u16,
    server: Option<Child>,
    /// `Some(uid:gid)` of `postgres` when the test runs as root.
    run_as: Option<String>,
}

/// The directory of the newest installed PostgreSQL's binaries.
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .filter(|b| b.join("initdb").exists() && b.join("postgres").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL is missing: no /usr/lib/postgresql/*/bin/initdb. Install it with \
             `apt-get install -y postgresql` (scripts/test does when run as root)"
        )
    })
}

fn output(cmd: &mut Command) -> Output {
    let name = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
}

fn id(args: &[&str]) -> String {
    let out = output(Command::new("id").args(args));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Postgres {
    /// A fresh cluster (superuser [`USER`] with [`PASSWORD`], scram-sha-256 over TCP),
    /// started.
    pub fn start(name: &str) -> Postgres {
        let bin = bin_dir();
        // Under /tmp: the target dir's parents may not be open to the `postgres` user.
        let dir = tempfile::Builder::new()
            .prefix(&format!("vaxel-pg-{name}-"))
            .tempdir()
            .expect("create the cluster dir");
        fs::create_dir_all(dir.path().join("run")).expect("create the cluster dir");
        let run_as = (id(&["-u"]) == "0").then(|| {
            let (uid, gid) = (id(&["-u", "postgres"]), id(&["-g", "postgres"]));
            assert!(
                !uid.is_empty(),
                "running as root, PostgreSQL needs the `postgres` user: install the \
                 `postgresql` package (apt-get install -y postgresql)"
            );
            format!("{uid}:{gid}")
        });
        fs::write(dir.path().join("pwfile"), PASSWORD).expect("write the password file");
        if let Some(ids) = &run_as {
            let ok = output(Command::new("chown").args(["-R", ids]).arg(dir.path()));
            assert!(
                ok.status.success(),
                "chown {}: {ok:?}",
                dir.path().display()
            );
        }
        let mut pg = Postgres {
            bin,
            dir,
            port: free_port(),
            server: None,
            run_as,
        };
        let data = pg.dir.path().join("data");
        let out = output(
            pg.command("initdb")
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    USER,
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                ])
                .arg(format!(
                    "--pwfile={}",
                    pg.dir.path().join("pwfile").display()
                ))
                .args(["-E", "UTF8", "--locale=C", "--no-sync"]),
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The port was free when picked, but another test's server may take it before
        // postgres binds it: then pick another (a few times), as a user would.
        for _ in 0..5 {
            match pg.try_resume() {
                Ok(()) => return pg,
                Err(log) if log.contains("Address already in use") => pg.port = free_port(),
                Err(log) => panic!("{log}"),
            }
        }
        pg.resume();
        pg
    }

    /// `program` of the PostgreSQL binaries, as the user the cluster belongs to.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(ids) => {
                let (uid, gid) = ids.split_once(':').unwrap_or((ids, ids));
                let mut c = Command::new("setpriv");
                c.args(["--reuid", uid, "--regid", gid, "--clear-groups", "--"])
                    .arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// Starts the server (again) on the same port and data, and waits until it accepts
    /// connections.
    pub fn resume(&mut self) {
        if let Err(why) = self.try_resume() {
            panic!("{why}");
        }
    }

    /// [`resume`](Self::resume), saying why it failed (the server's log) instead of
    /// panicking when postgres exits at start.
    fn try_resume(&mut self) -> Result<(), String> {
        assert!(self.server.is_none(), "already running");
        let log = fs::File::create(self.dir.path().join("server.log")).expect("server log");
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().join("run").display()
            ))
            .args(["-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start postgres");
        self.server = Some(child);
        let until = Instant::now() + START;
        loop {
            let ready = output(Command::new(self.bin.join("pg_isready")).args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-q",
            ]));
            if ready.status.success() {
                return Ok(());
            }
            if let Some(Ok(Some(s))) = self.server.as_mut().map(Child::try_wait) {
                self.server = None;
                return Err(format!("postgres exited ({s}): {}", self.log()));
            }
            assert!(
                Instant::now() < until,
                "postgres never became ready: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (a fast shutdown: clients are disconnected) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let until = Instant::now() + START;
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            if Instant::now() > until {
                let _ = child.kill();
                let _ = child.wait();
                panic!("postgres did not stop: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The URL the daemon is given (no password: that comes from a file).
    pub fn url(&self) -> String {
        format!("postgresql://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs `sql` with psql; the rows, fields separated by `\u{1f}`. Panics on an error.
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        let out = output(
            Command::new(self.bin.join("psql"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
                .args(["-d", "postgres", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
                .args(["-F", "\u{1f}", "-c", sql])
                .env("PGPASSWORD", PASSWORD),
        );
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('\u{1f}').map(str::to_owned).collect())
            .collect()
    }

    /// One number from `sql`; 0 when the table is not there yet.
    pub fn count(&self, sql: &str) -> i64 {
        let exists = self.query("SELECT to_regclass('vaxel_calls') IS NOT NULL");
        if exists.first().and_then(|r| r.first()).map(String::as_str) != Some("t") {
            return 0;
        }
        self.query(sql)
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = Command::new("kill")
                .args(["-QUIT", &child.id().to_string()])
                .status();
            let until = Instant::now() + Duration::from_secs(5);
            while !matches!(child.try_wait(), Ok(Some(_))) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // The directory goes when `self.dir` drops, after this.
    }
}

/// A loopback port free now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Writes the cluster's password into `dir/pg-password` for the daemon, returning its path.
pub fn password_file(dir: &Path, password: &str) -> PathBuf {
    let p = dir.join("pg-password");
    fs::write(&p, format!("{password}\n")).expect("write the password file");
    p
}
