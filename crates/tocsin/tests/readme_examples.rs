//! The README's example outputs stay true: every fenced block of README.md that starts with
//! `$ tocsin check …` is run with the real binary, from the repository root (the README's
//! paths are relative to it), and must print exactly the lines the block shows — stdout
//! and stderr interleaved as a terminal shows them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tocsin_testkit::TempDir;

/// One example: where it is, the arguments after `tocsin`, and the output it shows.
struct Example {
    line: usize,
    args: Vec<String>,
    expected: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The README's fenced blocks whose first line is `$ tocsin check …`.
fn check_examples(readme: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut lines = readme.lines().enumerate();
    while let Some((_, line)) = lines.next() {
        if !line.trim_start().starts_with("```") {
            continue;
        }
        let block: Vec<(usize, &str)> = lines
            .by_ref()
            .take_while(|(_, l)| !l.trim_start().starts_with("```"))
            .collect();
        let Some(((i, first), rest)) = block.split_first() else {
            continue;
        };
        let Some(command) = first.strip_prefix("$ tocsin ") else {
            continue;
        };
        if !command.starts_with("check") {
            continue;
        }
        assert!(
            !command.contains(['\'', '"', '$', '*', '?', '\\', '|', '>', '<']),
            "README.md:{}: the example command needs a shell to run; keep it to plain words: {first}",
            i + 1
        );
        out.push(Example {
            line: i + 1,
            args: command.split_whitespace().map(str::to_owned).collect(),
            expected: rest.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n"),
        });
    }
    out
}

/// What `tocsin ARGS` prints, stdout and stderr into one file in the order written.
fn run_combined(args: &[String]) -> String {
    let dir = TempDir::new("readme-example").expect("temp dir");
    let path = dir.path().join("output");
    let file = File::create(&path).expect("create output file");
    let status = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("dup output file"))
        .stderr(file)
        .status()
        .expect("run tocsin");
    assert!(
        status.code().is_some(),
        "tocsin {} was killed: {status}",
        args.join(" ")
    );
    std::fs::read_to_string(&path).expect("read output")
}

#[test]
fn readme_check_examples_show_what_tocsin_check_prints() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("read README.md");
    let examples = check_examples(&readme);
    assert!(
        !examples.is_empty(),
        "README.md has no ```-block starting with `$ tocsin check`"
    );
    for ex in &examples {
        let actual = run_combined(&ex.args);
        assert_eq!(
            actual.trim_end(),
            ex.expected.trim_end(),
            "README.md:{}: `tocsin {}` prints something else than the README shows \
             (left: the binary, right: README.md)",
            ex.line,
            ex.args.join(" ")
        );
    }
}

#[test]
fn the_example_extractor_reads_commands_and_output_of_check_blocks_only() {
    let readme = "text\n```\n$ tocsin check a.yaml b.yaml\nChecking a.yaml\n  FAILED:\n```\n\
                  ```sh\n$ tocsin run --config x\nlog\n```\n```yaml\ngroups: []\n```\n";
    let ex = check_examples(readme);
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].line, 3);
    assert_eq!(ex[0].args, ["check", "a.yaml", "b.yaml"]);
    assert_eq!(ex[0].expected, "Checking a.yaml\n  FAILED:");
}
