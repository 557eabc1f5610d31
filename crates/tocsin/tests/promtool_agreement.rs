//! `tocsin check` and the real `promtool check rules` (Prometheus 2.42) give the same verdict
//! on every rule file we have: our testdata and the real-world corpus in testdata/corpus
//! (vendored, CC BY 4.0); and, on invalid files (testdata/rules/bad/ and mutations of the
//! corpus generated here), the same messages once both outputs are normalised (see
//! `common::normalise`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::normalise;
use tocsin_testkit::{rule_files, TempDir};

mod common;

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

fn run(program: &str, args: &[&str], file: &Path) -> Output {
    Command::new(program)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// For each file: promtool's verdict and, when it rejects the file, whether the normalised
/// messages match. Returns the disagreements.
fn message_disagreements(files: &[PathBuf]) -> Vec<String> {
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
                            let name = f.to_string_lossy();
                            let theirs = run("promtool", &["check", "rules"], f);
                            let ours = run(tocsin, &["check"], f);
                            if theirs.status.code() != ours.status.code() {
                                return Some(format!(
                                    "{name}: promtool exit {:?}, tocsin exit {:?}\n{}",
                                    theirs.status.code(),
                                    ours.status.code(),
                                    String::from_utf8_lossy(&ours.stderr)
                                ));
                            }
                            if theirs.status.code() != Some(1) {
                                return None;
                            }
                            let expected = normalise(&theirs.stderr, &name);
                            let got = normalise(&ours.stderr, &name);
                            (expected != got).then(|| {
                                format!("{name}:\n  promtool: {expected:?}\n  tocsin:   {got:?}")
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
fn messages_agree_with_promtool_on_the_invalid_testdata() {
    let files = rule_files(&repo().join("testdata/rules/bad"));
    assert!(files.len() >= 70, "only {} files", files.len());
    let diff = message_disagreements(&files);
    assert!(
        diff.is_empty(),
        "{} of {} files disagree:\n{}",
        diff.len(),
        files.len(),
        diff.join("\n")
    );
}

/// Ways to break a real-world rule file, each the kind of mistake people make: on the
/// first line that matches `applies`, `mutate` rewrites it (or inserts after it).
struct Mutation {
    name: &'static str,
    applies: fn(&str) -> bool,
    mutate: fn(&str) -> String,
}

fn indent_of(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

const MUTATIONS: &[Mutation] = &[
    Mutation {
        name: "expr_instant_vector_to_rate",
        applies: |l| l.trim_start().starts_with("expr:"),
        mutate: |l| format!("{}expr: rate(up)", indent_of(l)),
    },
    Mutation {
        name: "unknown_rule_field",
        applies: |l| l.trim_start().starts_with("expr:"),
        mutate: |l| format!("{l}\n{}annotation: {{}}", indent_of(l)),
    },
    Mutation {
        name: "tab_after_plain_value",
        applies: |l| l.trim_start().starts_with("for:"),
        mutate: |l| format!("{l}\n\tkeep_firing_for: 1m"),
    },
    Mutation {
        name: "duplicate_label",
        applies: |l| l.trim_start().starts_with("severity:"),
        mutate: |l| format!("{l}\n{l}"),
    },
    Mutation {
        name: "bad_duration",
        applies: |l| l.trim_start().starts_with("for:"),
        mutate: |l| format!("{}for: 5", indent_of(l)),
    },
    Mutation {
        name: "unclosed_template_action",
        applies: |l| l.trim_start().starts_with("summary:"),
        mutate: |l| format!("{}summary: \"{{{{ $labels.instance\"", indent_of(l)),
    },
    Mutation {
        name: "unclosed_flow_sequence",
        applies: |l| l.trim_start().starts_with("severity:"),
        mutate: |l| format!("{}severity: [critical, page", indent_of(l)),
    },
    Mutation {
        name: "duplicate_groups_key",
        applies: |l| l.starts_with("groups:"),
        mutate: |l| format!("{l}\ngroups: []"),
    },
    Mutation {
        name: "misspelled_alert_key",
        applies: |l| l.trim_start().starts_with("- alert:"),
        mutate: |l| l.replacen("- alert:", "- alrt:", 1),
    },
    Mutation {
        name: "unclosed_quote",
        applies: |l| l.trim_start().starts_with("expr:"),
        mutate: |l| format!("{}expr: \"up == 0", indent_of(l)),
    },
];

fn mutate(text: &str, m: &Mutation) -> Option<String> {
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if !done && (m.applies)(l) {
                done = true;
                (m.mutate)(l)
            } else {
                l.to_string()
            }
        })
        .collect();
    done.then(|| lines.join("\n") + "\n")
}

#[test]
fn messages_agree_with_promtool_on_mutations_of_the_corpus() {
    let corpus = rule_files(&repo().join("testdata/corpus/awesome-prometheus-alerts"));
    let dir = TempDir::new("mutations").expect("temp dir");
    let mut files = Vec::new();
    // Every file gets three of the mutations, in rotation, so each mutation meets many files.
    for (i, source) in corpus.iter().enumerate() {
        let text = std::fs::read_to_string(source).expect("read corpus file");
        for k in 0..3 {
            let m = &MUTATIONS[(i + k * 3) % MUTATIONS.len()];
            if let Some(mutated) = mutate(&text, m) {
                let path = dir.path().join(format!("{i:03}_{}.yaml", m.name));
                std::fs::write(&path, mutated).expect("write mutation");
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 250, "only {} mutations", files.len());
    let diff = message_disagreements(&files);
    assert!(
        diff.is_empty(),
        "{} of {} mutations disagree:\n{}",
        diff.len(),
        files.len(),
        diff.join("\n")
    );
}
