//! `tocsin check` and the real `promtool check rules` (Prometheus 2.42) give the same verdict
//! on every rule file we have: our testdata and the real-world corpus in ../shared/corpus.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rule_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    files
}

/// Exit status of a checker on one file: true when it accepts the file.
fn accepts(program: &str, file: &Path) -> bool {
    let output = Command::new(program)
        .args(
            ["check", "rules"]
                .iter()
                .skip(usize::from(program != "promtool")),
        )
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program}: {e}. promtool comes with Debian's prometheus package: \
                 apt-get install -y --no-install-recommends prometheus"
            )
        });
    match output.status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!(
            "{program} on {}: unexpected exit {other:?}\n{}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn disagreements(files: &[PathBuf]) -> Vec<String> {
    let tocsin = env!("CARGO_BIN_EXE_tocsin");
    let chunks: Vec<&[PathBuf]> = files.chunks(files.len().div_ceil(4).max(1)).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|f| {
                            let promtool = accepts("promtool", f);
                            let ours = accepts(tocsin, f);
                            (promtool != ours).then(|| {
                                format!(
                                    "{}: promtool valid={promtool}, tocsin valid={ours}",
                                    f.display()
                                )
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    })
}

#[test]
fn verdicts_agree_with_promtool_on_testdata() {
    let root = repo().join("testdata/rules");
    let mut files = Vec::new();
    for dir in ["good", "bad", "layout"] {
        files.extend(rule_files(&root.join(dir)));
    }
    assert!(files.len() > 100, "testdata has only {} files", files.len());
    let diff = disagreements(&files);
    assert!(
        diff.is_empty(),
        "{} of {} files disagree:\n{}",
        diff.len(),
        files.len(),
        diff.join("\n")
    );
}

#[test]
fn verdicts_agree_with_promtool_on_the_corpus() {
    let corpus = repo().join("../shared/corpus/awesome-prometheus-alerts");
    let files = rule_files(&corpus);
    assert!(files.len() >= 100, "corpus has only {} files", files.len());
    let diff = disagreements(&files);
    assert!(
        diff.is_empty(),
        "{} of {} files disagree:\n{}",
        diff.len(),
        files.len(),
        diff.join("\n")
    );
}
