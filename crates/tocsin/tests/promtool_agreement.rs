//! `tocsin check` and the real `promtool check rules` (Prometheus 2.42) give the same verdict
//! on every rule file we have: our testdata and the real-world corpus in testdata/corpus (vendored, CC BY 4.0).

use std::path::{Path, PathBuf};
use std::process::Command;

use tocsin_testkit::rule_files;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Exit status of a checker on one file: true when it accepts the file.
/// `args` is `["check", "rules"]` for promtool and `["check"]` for tocsin.
fn accepts(program: &str, args: &[&str], file: &Path) -> bool {
    let output = Command::new(program)
        .args(args)
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
                            let promtool = accepts("promtool", &["check", "rules"], f);
                            let ours = accepts(tocsin, &["check"], f);
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

/// Every file of `dirs` gets the same verdict from both; at least `min_files` are checked.
fn assert_agreement(dirs: &[PathBuf], min_files: usize) {
    let files: Vec<PathBuf> = dirs.iter().flat_map(|d| rule_files(d)).collect();
    assert!(files.len() >= min_files, "only {} files", files.len());
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
fn verdicts_agree_with_promtool_on_testdata() {
    let root = repo().join("testdata/rules");
    assert_agreement(
        &[root.join("good"), root.join("bad"), root.join("layout")],
        100,
    );
}

#[test]
fn verdicts_agree_with_promtool_on_the_corpus() {
    let corpus = repo().join("testdata/corpus/awesome-prometheus-alerts");
    assert_agreement(&[corpus], 100);
}
