//! A real Alertmanager server for tests.

use std::path::{Path, PathBuf};

use crate::process::{find_binary, Server};
use crate::tempdir::TempDir;

/// A minimal config: one receiver that sends nowhere.
pub const NULL_RECEIVER_CONFIG: &str =
    "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n";

/// A running `prometheus-alertmanager` on `127.0.0.1:<free port>`, clustering disabled,
/// with config, storage and log in a temp dir. Dropping it kills the process, waits for it
/// and removes the dir.
#[derive(Debug)]
pub struct Alertmanager {
    server: Server,
    config_path: PathBuf,
}

impl Alertmanager {
    /// Writes `config_yaml` (e.g. [`NULL_RECEIVER_CONFIG`]), starts Alertmanager and waits
    /// until `/-/ready` answers. Panics (with the log tail) when the binary is missing or
    /// the server does not come up.
    pub fn start(config_yaml: &str) -> Alertmanager {
        let binary = find_binary("prometheus-alertmanager", "TOCSIN_ALERTMANAGER_BIN");
        let dir = TempDir::new("alertmanager")
            .unwrap_or_else(|e| panic!("cannot create a temp dir for Alertmanager: {e}"));
        let config_path = dir.path().join("alertmanager.yml");
        if let Err(e) = std::fs::write(&config_path, config_yaml) {
            panic!("cannot write {}: {e}", config_path.display());
        }
        let storage = dir.path().join("data");
        let args = |port: u16| {
            vec![
                format!("--config.file={}", config_path.display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                format!("--storage.path={}", storage.display()),
                "--cluster.listen-address=".to_string(),
            ]
        };
        let server = Server::start("alertmanager", &binary, dir, |_| {}, args);
        Alertmanager {
            server,
            config_path,
        }
    }

    /// Base URL, e.g. `http://127.0.0.1:40124` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The config file written at start; rewrite it and call [`Alertmanager::reload`].
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The captured stdout+stderr.
    pub fn log_path(&self) -> &Path {
        &self.server.log_path
    }

    /// `POST /-/reload`; panics unless it answers 200.
    pub fn reload(&self) {
        self.server.reload();
    }

    /// The process id, or `None` after [`Alertmanager::stop`].
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// Kills the process and waits for it (idempotent).
    pub fn stop(&mut self) {
        self.server.stop();
    }
}
