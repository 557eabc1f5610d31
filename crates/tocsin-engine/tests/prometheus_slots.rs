//! The slot grid against a real Prometheus 2.42 (Debian's `prometheus` package).
//!
//! Starts `/usr/bin/prometheus` on a free loopback port with a temporary TSDB and a rule
//! file of groups at 10s and 3s, waits for two evaluations of each, and checks that
//! `GroupSchedule` puts every evaluation Prometheus made on its grid: the pending alerts'
//! `activeAt` (the slot time, to the nanosecond), the recorded samples' timestamps (to the
//! millisecond) and each group's `lastEvaluation` (wall time, which falls just after the
//! slot we predict).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tocsin_engine::schedule::{group_hash, GroupSchedule};
use tocsin_engine::Timestamp;

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A running Prometheus, killed and cleaned up on drop.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr").port()
}

const RULES: &str = r#"groups:
  - name: slots-a
    interval: 10s
    rules:
      - record: tocsin:slot_a
        expr: vector(1)
      - alert: SlotA
        expr: vector(1)
        for: 1h
  - name: slots-b
    interval: 10s
    rules:
      - alert: SlotB
        expr: vector(1)
        for: 1h
  - name: fast
    interval: 3s
    rules:
      - record: tocsin:slot_fast
        expr: vector(1)
      - alert: SlotFast
        expr: vector(1)
        for: 1h
"#;

impl Prometheus {
    fn start() -> Prometheus {
        if !std::path::Path::new(PROMETHEUS).exists() {
            panic!(
                "{PROMETHEUS} not found: install Debian's `prometheus` package \
                 (apt-get install -y --no-install-recommends prometheus)"
            );
        }
        let dir = std::env::temp_dir().join(format!(
            "tocsin-engine-slots-{}-{}",
            std::process::id(),
            Timestamp::now().as_nanos()
        ));
        std::fs::create_dir_all(dir.join("data")).expect("temp dir");
        std::fs::write(dir.join("rules.yml"), RULES).expect("rule file");
        std::fs::write(
            dir.join("prometheus.yml"),
            "global:\n  evaluation_interval: 10s\nrule_files:\n  - rules.yml\n",
        )
        .expect("config");
        let port = free_port();
        let child = Command::new(PROMETHEUS)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {PROMETHEUS} (Debian package `prometheus`): {e}"));
        Prometheus { child, dir, port }
    }

    fn get(&self, path_and_query: &str) -> Option<Value> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(
            s,
            "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let body = text.split_once("\r\n\r\n")?.1;
        serde_json::from_str(body).ok()
    }
}

/// RFC 3339 UTC time as Prometheus prints it (`2026-11-25T06:26:18.826202645Z`).
fn parse_rfc3339(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap_or_else(|| panic!("bad time {s}"))
}

struct GroupSeen {
    file: String,
    name: String,
    interval: Duration,
    last_evaluation: Timestamp,
    active_at: Timestamp,
}

fn groups(rules: &Value) -> Vec<GroupSeen> {
    let mut out = Vec::new();
    for g in rules["data"]["groups"].as_array().into_iter().flatten() {
        let active_at = g["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["alerts"].as_array().into_iter().flatten())
            .filter_map(|a| a["activeAt"].as_str())
            .next();
        let (Some(file), Some(name), Some(interval), Some(last), Some(active_at)) = (
            g["file"].as_str(),
            g["name"].as_str(),
            g["interval"].as_f64(),
            g["lastEvaluation"].as_str(),
            active_at,
        ) else {
            continue;
        };
        out.push(GroupSeen {
            file: file.to_string(),
            name: name.to_string(),
            interval: Duration::from_secs_f64(interval),
            last_evaluation: parse_rfc3339(last),
            active_at: parse_rfc3339(active_at),
        });
    }
    out
}

#[test]
fn eval_timestamps_match_a_live_prometheus() {
    let prom = Prometheus::start();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait until every group has evaluated at least twice (lastEvaluation is past the slot
    // of the alert's first sighting).
    let seen = loop {
        assert!(
            Instant::now() < deadline,
            "Prometheus on port {} did not evaluate all groups twice within 60s",
            prom.port
        );
        std::thread::sleep(Duration::from_millis(250));
        let Some(rules) = prom.get("/api/v1/rules") else {
            continue;
        };
        let seen = groups(&rules);
        if seen.len() == 3
            && seen
                .iter()
                .all(|g| g.last_evaluation.since(g.active_at) >= g.interval.as_nanos() as i64)
        {
            break seen;
        }
    };

    for g in &seen {
        let schedule = GroupSchedule::new(&g.file, &g.name, g.interval);
        assert!(g.file.ends_with("/rules.yml"), "file string {}", g.file);
        // activeAt is the slot of the first evaluation: on our grid to the nanosecond.
        assert_eq!(
            schedule.eval_timestamp(g.active_at),
            g.active_at,
            "{};{}: activeAt {} is not on the grid with offset {:?}",
            g.file,
            g.name,
            g.active_at,
            schedule.offset()
        );
        // lastEvaluation is wall time taken just after the slot it evaluated, and that
        // slot is on the same grid, a whole number of intervals after activeAt.
        let slot = schedule.eval_timestamp(g.last_evaluation);
        let steps = slot.since(g.active_at) / g.interval.as_nanos() as i64;
        assert!(steps >= 1, "{}: evaluated twice", g.name);
        assert_eq!(slot.since(g.active_at) % g.interval.as_nanos() as i64, 0);
        eprintln!(
            "{}: offset {:?}, lastEvaluation {} = predicted slot {} + {:.3} ms",
            g.name,
            schedule.offset(),
            g.last_evaluation,
            slot,
            g.last_evaluation.since(slot) as f64 / 1e6
        );

        // The 2.42 hash input is the slicelabels encoding; the length-prefixed
        // (stringlabels) encoding of newer official builds would put this group elsewhere.
        let mut prefixed = Vec::new();
        for s in ["file", &g.file, "name", &g.name] {
            prefixed.push(s.len() as u8);
            prefixed.extend_from_slice(s.as_bytes());
        }
        let other = xxhash_rust::xxh64::xxh64(&prefixed, 0) % g.interval.as_nanos() as u64;
        assert_ne!(
            other,
            group_hash(&g.file, &g.name) % g.interval.as_nanos() as u64,
            "the test would not tell the encodings apart"
        );
    }

    // Recorded samples carry the slot time in milliseconds.
    for (metric, group) in [("tocsin:slot_a", "slots-a"), ("tocsin:slot_fast", "fast")] {
        let g = seen.iter().find(|g| g.name == group).expect("group seen");
        let schedule = GroupSchedule::new(&g.file, &g.name, g.interval);
        let q = prom
            .get(&format!("/api/v1/query?query=timestamp({metric})"))
            .expect("query answered");
        let secs = q["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .expect("a timestamp sample");
        let millis = (secs * 1000.0).round() as i64;
        let slot =
            schedule.eval_timestamp(Timestamp::from_millis(millis) + Duration::from_millis(1));
        assert_eq!(
            slot.unix_millis(),
            millis,
            "{metric} written at {millis} ms"
        );
    }
}
