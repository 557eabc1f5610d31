//! Spawning a server binary on a free loopback port, waiting for `/-/ready`, and stopping
//! it (kill + wait) on drop.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::http_request;
use crate::tempdir::TempDir;

/// The Debian packages that provide the servers.
pub const INSTALL_HINT: &str =
    "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager";

/// How long a server may take to answer `/-/ready` (they need well under a second; this
/// leaves room for a loaded 2-core machine running tests in parallel).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Startup attempts when the port turned out to be taken.
const PORT_ATTEMPTS: usize = 8;

/// Finds `name` on `PATH` (or `/usr/bin`), or the path in the environment variable `env`
/// when set. Panics, naming the Debian packages, when it is missing: tests that need a real
/// server must fail, not skip.
pub(crate) fn find_binary(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return p;
        }
        panic!(
            "{env}={} does not name a file; install the servers with `{INSTALL_HINT}`",
            p.display()
        );
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]);
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{name}` was not found on PATH or in /usr/bin. Tests run real servers; install them with \
         `{INSTALL_HINT}` (or point {env} at the binary)"
    );
}

/// Picks a port that is free right now: bind 127.0.0.1:0, read the port, drop the
/// listener. Another process can still take it before the server binds, so callers retry
/// startup on "address already in use".
pub fn free_port() -> u16 {
    match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("cannot bind 127.0.0.1:0 to find a free port: {e}"),
    }
}

/// The last `n` lines of a file (empty when unreadable).
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A running server process with its temp dir.
#[derive(Debug)]
pub(crate) struct Server {
    pub name: &'static str,
    pub child: Option<Child>,
    pub port: u16,
    pub log_path: PathBuf,
    /// The binary and the arguments it was started with, for [`Server::restart`].
    binary: PathBuf,
    args: Vec<String>,
    // Declared last: the process is killed (in Drop) before the dir is removed.
    pub dir: TempDir,
}

/// What a startup attempt produced.
enum Attempt {
    Ready(Child),
    PortTaken,
}

impl Server {
    /// Starts `binary` with the arguments `args(port)` (re-made per attempt, along with
    /// any files `prepare(port)` writes), waits for `GET /-/ready` to answer 200.
    pub fn start(
        name: &'static str,
        binary: &Path,
        dir: TempDir,
        mut prepare: impl FnMut(u16),
        args: impl Fn(u16) -> Vec<String>,
    ) -> Server {
        let log_path = dir.path().join(format!("{name}.log"));
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            prepare(port);
            let args = args(port);
            match Self::attempt(name, binary, &log_path, port, &args) {
                Attempt::Ready(child) => {
                    return Server {
                        name,
                        child: Some(child),
                        port,
                        log_path,
                        binary: binary.to_path_buf(),
                        args,
                        dir,
                    }
                }
                Attempt::PortTaken => continue,
            }
        }
        panic!(
            "{name}: every one of {PORT_ATTEMPTS} free ports was taken before it could bind; \
             last log:\n{}",
            tail(&log_path, 30)
        );
    }

    fn attempt(name: &str, binary: &Path, log_path: &Path, port: u16, args: &[String]) -> Attempt {
        let log = match File::create(log_path) {
            Ok(f) => f,
            Err(e) => panic!("{name}: cannot create {}: {e}", log_path.display()),
        };
        let log2 = match log.try_clone() {
            Ok(f) => f,
            Err(e) => panic!("{name}: cannot clone log file handle: {e}"),
        };
        let mut child = match Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log2)
            .stderr(log)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!(
                "{name}: cannot run {}: {e}; install the servers with `{INSTALL_HINT}`",
                binary.display()
            ),
        };
        let ready_url = format!("http://127.0.0.1:{port}/-/ready");
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let log_tail = tail(log_path, 40);
                    if log_tail.contains("address already in use") {
                        return Attempt::PortTaken;
                    }
                    panic!(
                        "{name} exited during startup ({status}) with args {args:?}; log tail:\n{log_tail}"
                    );
                }
                Ok(None) => {}
                Err(e) => panic!("{name}: cannot poll the child process: {e}"),
            }
            if let Ok(resp) = http_request("GET", &ready_url, &[], b"") {
                if resp.status == 200 {
                    return Attempt::Ready(child);
                }
            }
            if started.elapsed() > READY_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{name} did not become ready on port {port} within {READY_TIMEOUT:?}; log tail:\n{}",
                    tail(log_path, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process and waits for it; idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again, stopped first if it runs, with the same arguments (so the
    /// same port, config and data), and waits for `/-/ready`. The port was this server's
    /// until the stop; if another process took it since, this retries for a while and
    /// then panics.
    pub fn restart(&mut self) {
        self.stop();
        let started = Instant::now();
        loop {
            match Self::attempt(
                self.name,
                &self.binary,
                &self.log_path,
                self.port,
                &self.args,
            ) {
                Attempt::Ready(child) => {
                    self.child = Some(child);
                    return;
                }
                Attempt::PortTaken if started.elapsed() < READY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Attempt::PortTaken => panic!(
                    "{}: port {} is taken by another process; cannot restart on it",
                    self.name, self.port
                ),
            }
        }
    }

    /// POSTs `/-/reload` and panics unless it answers 200.
    pub fn reload(&self) {
        let url = format!("{}/-/reload", self.url());
        match http_request("POST", &url, &[], b"") {
            Ok(r) if r.status == 200 => {}
            Ok(r) => panic!(
                "{}: reload answered {}: {}; log tail:\n{}",
                self.name,
                r.status,
                r.text(),
                tail(&self.log_path, 30)
            ),
            Err(e) => panic!(
                "{}: reload failed: {e}; log tail:\n{}",
                self.name,
                tail(&self.log_path, 30)
            ),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
