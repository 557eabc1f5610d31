//! Running `promtool test rules` and `tocsin test rules` side by side, and the one place
//! where promtool's own output is not deterministic.

#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs `program args...` in `dir`; a missing promtool fails loudly with how to get it.
pub fn run_in(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program}: {e}. promtool comes with Debian's prometheus package: \
                 apt-get install -y --no-install-recommends prometheus"
            )
        })
}

/// promtool names the two series of a many-to-many error in the order its TSDB created
/// them, which follows Go's random map order; put them in a fixed order.
pub fn order_many_to_many_pair(text: &str) -> String {
    text.lines()
        .map(|line| {
            let (Some(open), Some(close)) = (line.find(": [{"), line.find("}];")) else {
                return line.to_owned();
            };
            let inner = &line[open + 3..close + 1];
            let Some((left, right)) = inner.split_once("}, {") else {
                return line.to_owned();
            };
            let mut pair = [format!("{left}}}"), format!("{{{right}")];
            pair.sort();
            format!(
                "{}[{}, {}]{}",
                &line[..open + 2],
                pair[0],
                pair[1],
                &line[close + 2..]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
