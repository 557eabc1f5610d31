//! Reads JSON-encoded PromQL expressions, one per line, and prints each
//! followed by a tab and `ok` or the error text, the format of
//! `testdata/promql/cases.txt`. Used to compare with `promtool check rules`.

use std::io::{self, BufRead, Write};

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    let mut out = io::BufWriter::new(io::stdout());
    for line in stdin.lock().lines() {
        let line = line?;
        let json = line.split('\t').next().unwrap_or("");
        if json.trim().is_empty() || json.starts_with('#') {
            continue;
        }
        let Ok(expr) = serde_json::from_str::<String>(json) else {
            writeln!(out, "{json}\tBAD JSON")?;
            continue;
        };
        let verdict = match tocsin_promql::parse(&expr) {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        writeln!(out, "{json}\t{verdict}")?;
    }
    Ok(())
}
