//! Hostile rule files: `tocsin check` stays within bounded memory and stack, and gives the
//! verdict and message the real `promtool check rules` (Prometheus 2.42) gives.

use std::path::Path;
use std::process::{Command, Output};

use common::{normalise, text};
use tocsin_testkit::TempDir;

mod common;

/// The address space `tocsin check` may use in these tests: far more than any honest rule
/// file needs, far less than an expanded alias bomb.
const ADDRESS_SPACE_LIMIT: &str = "--as=1073741824";

/// `tocsin ARGS…` run under [`ADDRESS_SPACE_LIMIT`] with util-linux's `prlimit`.
fn tocsin_limited(args: &[&str]) -> Output {
    tocsin_limited_to(ADDRESS_SPACE_LIMIT, args)
}

/// `tocsin ARGS…` run under the address-space limit `limit` (`--as=BYTES`).
fn tocsin_limited_to(limit: &str, args: &[&str]) -> Output {
    Command::new("prlimit")
        .arg(limit)
        .arg(env!("CARGO_BIN_EXE_tocsin"))
        .args(args)
        .output()
        .expect("run prlimit (util-linux)")
}

fn promtool(args: &[&str]) -> Output {
    Command::new("promtool")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool: {e}. It comes with Debian's prometheus package: \
             apt-get install -y --no-install-recommends prometheus"
            )
        })
}

/// A "billion laughs" made of sequences: level n is nine aliases of level n-1.
fn sequence_bomb() -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let items = vec![format!("*{}", pair[0]); 9].join(",");
        text.push_str(&format!("{}: &{} [{items}]\n", pair[1], pair[1]));
    }
    text.push_str("groups: []\n");
    text
}

#[test]
fn a_merge_key_alias_bomb_fails_in_bounded_memory_with_yaml_v3s_message() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/rules/bad/yaml_alias_bomb.yaml");
    let file = file.to_string_lossy().into_owned();
    let theirs = promtool(&["check", "rules", &file]);
    let ours = tocsin_limited(&["check", &file]);
    assert_eq!(theirs.status.code(), Some(1), "{}", text(&theirs.stderr));
    assert_eq!(ours.status.code(), Some(1), "{}", text(&ours.stderr));
    let expected = normalise(&theirs.stderr, &file);
    assert_eq!(expected, ["yaml: document contains excessive aliasing"]);
    assert_eq!(normalise(&ours.stderr, &file), expected);
}

#[test]
fn a_sequence_alias_bomb_is_rejected_in_bounded_memory() {
    let dir = TempDir::new("alias-bomb").expect("temp dir");
    let path = dir.path().join("bomb.yaml");
    std::fs::write(&path, sequence_bomb()).expect("write");
    let file = path.to_string_lossy().into_owned();
    let theirs = promtool(&["check", "rules", &file]);
    let ours = tocsin_limited(&["check", &file]);
    // promtool never expands these aliases (they sit in unknown fields), so it reports the
    // fields; tocsin refuses the expansion first. Both reject the file.
    assert_eq!(theirs.status.code(), Some(1), "{}", text(&theirs.stderr));
    assert_eq!(ours.status.code(), Some(1), "{}", text(&ours.stderr));
    assert_eq!(
        normalise(&ours.stderr, &file),
        ["yaml: document contains excessive aliasing"]
    );
}

/// A file with one recording rule whose expression is `expr`.
fn one_rule(dir: &TempDir, name: &str, expr: &str) -> String {
    let path = dir.path().join(name);
    let text = format!("groups:\n- name: g\n  rules:\n  - record: r\n    expr: '{expr}'\n");
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn long_operator_chains_and_deep_parentheses_get_promtools_verdict() {
    let dir = TempDir::new("promql-depth").expect("temp dir");
    let nested = |n: usize| format!("{}up{}", "(".repeat(n), ")".repeat(n));
    let cases = [
        ("or_201.yaml", vec!["up"; 201].join(" or ")),
        ("or_5000.yaml", vec!["up"; 5000].join(" or ")),
        ("plus_5000.yaml", vec!["1"; 5000].join(" + ")),
        ("parens_201.yaml", nested(201)),
        ("parens_900.yaml", nested(900)),
        ("pow_201.yaml", vec!["up"; 201].join(" ^ ")),
    ];
    for (name, expr) in cases {
        let file = one_rule(&dir, name, &expr);
        let theirs = promtool(&["check", "rules", &file]);
        let ours = tocsin_limited(&["check", &file]);
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{name}: promtool said {}, tocsin said {}",
            text(&theirs.stderr),
            text(&ours.stderr)
        );
    }
}

#[test]
fn nesting_beyond_the_limit_is_a_clear_error_not_a_crash() {
    let dir = TempDir::new("promql-depth").expect("temp dir");
    let file = one_rule(
        &dir,
        "parens_100000.yaml",
        &format!("{}up{}", "(".repeat(100_000), ")".repeat(100_000)),
    );
    let out = tocsin_limited(&["check", &file]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("nests too deeply (more than 1000 levels)"),
        "{}",
        text(&out.stderr)
    );
}

/// What `promtool check config` says about each rule file of `rule_files: [GLOB]`: the
/// `FILE: reason` lines, trimmed.
fn promtool_rule_file_errors(dir: &Path, glob: &str) -> Vec<String> {
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, format!("rule_files:\n  - {glob}\n")).expect("write config");
    let out = promtool(&["check", "config", &config.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    text(&out.stderr)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "FAILED:")
        .map(str::to_string)
        .collect()
}

#[test]
fn symlink_loops_and_dangling_links_fail_check_with_prometheus_reasons() {
    let dir = TempDir::new("symlinks").expect("temp dir");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(
        rules.join("a.yaml"),
        "groups:\n- name: g\n  rules:\n  - record: r\n    expr: up\n",
    )
    .expect("write");
    std::os::unix::fs::symlink(rules.join("loop2.yaml"), rules.join("loop1.yaml")).expect("ln");
    std::os::unix::fs::symlink(rules.join("loop1.yaml"), rules.join("loop2.yaml")).expect("ln");
    std::os::unix::fs::symlink(rules.join("missing.yaml"), rules.join("dangling.yaml"))
        .expect("ln");
    let glob = format!("{}/*.yaml", rules.display());
    let expected = promtool_rule_file_errors(dir.path(), &glob);
    assert_eq!(expected.len(), 3, "{expected:?}");

    for args in [
        vec!["check", glob.as_str()],
        vec!["check", &*rules.to_string_lossy()],
    ] {
        let args: Vec<String> = args.into_iter().map(str::to_string).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = tocsin_limited(&args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let ours: Vec<String> = text(&out.stderr)
            .lines()
            .filter(|l| *l != "  FAILED:")
            .map(str::to_string)
            .collect();
        assert_eq!(ours, expected, "{args:?}");
    }

    // One looping path named directly: the reason, not "does not exist".
    let loop1 = rules.join("loop1.yaml").to_string_lossy().into_owned();
    let out = tocsin_limited(&["check", &loop1]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "{loop1}: open {loop1}: too many levels of symbolic links"
        )),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn utf16_rule_files_with_a_byte_order_mark_get_promtools_verdict_and_message() {
    let dir = TempDir::new("utf16").expect("temp dir");
    let good =
        "groups:\n- name: g\n  rules:\n  - record: r\n    expr: up\n    labels:\n      x: \"é\"\n";
    let bad = "groups:\n- name: g\n  rules:\n  - record: r\n    expr: rate(up)\n";
    let le = |t: &str| {
        t.encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<u8>>()
    };
    let be = |t: &str| {
        t.encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>()
    };
    let with = |bom: &[u8], body: Vec<u8>, tail: &[u8]| [bom, &body, tail].concat();
    let cases: [(&str, Vec<u8>); 8] = [
        ("le.yaml", with(&[0xff, 0xfe], le(good), &[])),
        ("be.yaml", with(&[0xfe, 0xff], be(good), &[])),
        (
            "utf8_bom.yaml",
            with(&[0xef, 0xbb, 0xbf], good.as_bytes().to_vec(), &[]),
        ),
        ("le_invalid_rule.yaml", with(&[0xff, 0xfe], le(bad), &[])),
        ("le_odd_length.yaml", with(&[0xff, 0xfe], le(good), b"a")),
        (
            "le_lone_surrogate.yaml",
            with(&[0xff, 0xfe], le(good), &[0x00, 0xd8, b'a', 0]),
        ),
        (
            "le_lone_low_surrogate.yaml",
            with(&[0xff, 0xfe], le(good), &[0x00, 0xdc, b'a', 0]),
        ),
        (
            "le_cut_surrogate_pair.yaml",
            with(&[0xff, 0xfe], le(good), &[0x00, 0xd8]),
        ),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let file = path.to_string_lossy().into_owned();
        let theirs = promtool(&["check", "rules", &file]);
        let ours = tocsin_limited(&["check", &file]);
        assert_eq!(
            ours.status.code(),
            theirs.status.code(),
            "{name}: {}",
            text(&ours.stderr)
        );
        let expected = normalise(&theirs.stderr, &file);
        assert_eq!(normalise(&ours.stderr, &file), expected, "{name}");
    }
}

/// A file with one alerting rule whose `summary` annotation is `template`.
fn one_alert(dir: &TempDir, name: &str, template: &str) -> String {
    let path = dir.path().join(name);
    let text = format!(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations:\n      summary: '{template}'\n"
    );
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

/// `n` levels of each way templates nest.
fn nested_templates(n: usize) -> Vec<(&'static str, String)> {
    let calls = (1..n).fold(r#"{{define "t0"}}x{{end}}"#.to_string(), |mut s, i| {
        s.push_str(&format!(
            r#"{{{{define "t{i}"}}}}{{{{template "t{}"}}}}{{{{end}}}}"#,
            i - 1
        ));
        s
    }) + &format!(r#"{{{{template "t{}"}}}}"#, n - 1);
    vec![
        (
            "if",
            format!("{}x{}", "{{if true}}".repeat(n), "{{end}}".repeat(n)),
        ),
        (
            "range",
            format!("{}x{}", "{{range args 1}}".repeat(n), "{{end}}".repeat(n)),
        ),
        (
            "with",
            format!("{}x{}", "{{with 1}}".repeat(n), "{{end}}".repeat(n)),
        ),
        (
            "parens",
            format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n)),
        ),
        ("calls", calls),
    ]
}

/// What `tocsin check` of a template nested 100,000 deep holds at its peak in an unoptimised
/// build: about 9 KiB of (growable) stack per level, plus mimalloc's 1 GiB arena reservation.
const DEEP_TEMPLATE_ADDRESS_SPACE: &str = "--as=4294967296";

#[test]
fn templates_nested_as_deep_as_promtool_accepts_get_its_verdict() {
    let dir = TempDir::new("template-depth").expect("temp dir");
    for n in [101, 10_001, 100_000] {
        for (what, template) in nested_templates(n) {
            let name = format!("{what}_{n}.yaml");
            let file = one_alert(&dir, &name, &template);
            let theirs = promtool(&["check", "rules", &file]);
            let ours = tocsin_limited_to(DEEP_TEMPLATE_ADDRESS_SPACE, &["check", &file]);
            assert_eq!(
                theirs.status.code(),
                Some(0),
                "{name}: {}",
                text(&theirs.stderr)
            );
            assert_eq!(
                ours.status.code(),
                Some(0),
                "{name}: {}",
                text(&ours.stderr)
            );
            assert_eq!(text(&ours.stdout), text(&theirs.stdout), "{name}");
        }
    }
}

#[test]
fn templates_nested_past_the_limit_get_gos_error_not_a_crash() {
    let dir = TempDir::new("template-depth").expect("temp dir");
    for (what, template) in nested_templates(100_001) {
        if what == "calls" {
            continue; // parsed flat; the call depth is bounded when rendering
        }
        let name = format!("{what}_100001.yaml");
        let file = one_alert(&dir, &name, &template);
        let ours = tocsin_limited_to(DEEP_TEMPLATE_ADDRESS_SPACE, &["check", &file]);
        assert_eq!(
            ours.status.code(),
            Some(1),
            "{name}: {}",
            text(&ours.stderr)
        );
        assert!(
            text(&ours.stderr).contains(
                "annotation \"summary\": template: __alert_A:1: max expression depth exceeded"
            ),
            "{name}: {}",
            text(&ours.stderr)
        );
    }
}
