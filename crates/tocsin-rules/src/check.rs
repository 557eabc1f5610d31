//! Checking whole files, as `promtool check rules` does, and fast on huge ones.
//!
//! One thread reads YAML and decodes groups one at a time (so a 100,000-rule file never sits
//! in memory as a tree); the per-rule work (PromQL and template parsing) runs on the other
//! cores, fed through a bounded channel. Findings come back in file order whatever thread
//! produced them.

use std::collections::{BTreeMap, HashSet};
use std::sync::mpsc::{channel, sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use crate::decode::{
    decode_group, repeated_keys, type_error, DecodeError, TYPE_FILE, TYPE_GROUP_LIST,
};
use crate::diag::{Diagnostic, RuleRef};
use crate::layout::{self, AckRole};
use crate::lint::DuplicateRules;
use crate::model::RuleGroup;
use crate::pos::Pos;
use crate::validate::validate_group;
use crate::yaml::{GroupStream, Node, NodeKind, SyntaxError, TopLevel};

#[derive(Clone, Copy, Debug)]
pub struct CheckOptions {
    /// promtool's `--lint=duplicate-rules` (its default).
    pub lint_duplicates: bool,
    /// Also warn where the Flink-on-ACK pod's rule globs would skip or misfile rules.
    pub ack_layout: bool,
    /// Note what each file records and which recording-rule-like series its rules read,
    /// for [`missing_recordings`].
    pub dependencies: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            lint_duplicates: true,
            ack_layout: false,
            dependencies: false,
        }
    }
}

/// A rule reading a series named like a recording rule's output (`level:metric:op`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesRead {
    /// The rule's `expr`.
    pub pos: Pos,
    pub rule: RuleRef,
    pub metric: String,
}

/// Warns (`rules/missing-recording`) about every rule reading a series named like a
/// recording rule (`level:metric:op`) that no rule of `reports` records: across files, as
/// Prometheus loads them together. Needs reports checked with `dependencies` on.
pub fn missing_recordings(reports: &mut [FileReport]) {
    unrecorded_reads(
        reports,
        &HashSet::new(),
        crate::diag::checks::MISSING_RECORDING,
        "which no checked file records",
    );
}

/// The online form of [`missing_recordings`] (`rule/dependency`): warns about every rule
/// reading a recording-rule-like series that neither the checked files nor
/// `server_records` (the names the server's own recording rules record) produce. A
/// `# tocsin disable` of either check name turns it off.
pub fn missing_dependencies(reports: &mut [FileReport], server_records: &HashSet<String>) {
    unrecorded_reads(
        reports,
        server_records,
        crate::diag::checks::DEPENDENCY,
        "which no checked file records and no recording rule of the server produces",
    );
}

fn unrecorded_reads(
    reports: &mut [FileReport],
    also_recorded: &HashSet<String>,
    check: &'static str,
    why: &str,
) {
    let recorded: HashSet<String> = reports
        .iter()
        .flat_map(|r| r.dependencies.records.iter().cloned())
        .collect();
    for report in reports.iter_mut() {
        let mut found = Vec::new();
        for read in &report.dependencies.reads {
            if recorded.contains(&read.metric) || also_recorded.contains(&read.metric) {
                continue;
            }
            let offline = crate::diag::checks::MISSING_RECORDING;
            if report.is_disabled(check, Some(read.pos))
                || report.is_disabled(offline, Some(read.pos))
            {
                continue;
            }
            found.push(
                Diagnostic::warning(
                    check,
                    Some(read.pos),
                    format!(
                        "reads {}, named like a recording rule's output, {why}",
                        read.metric
                    ),
                )
                .in_rule(read.rule.clone()),
            );
        }
        report.diagnostics.extend(found);
    }
}

/// What checking one file found.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    pub path: String,
    pub groups: usize,
    pub rules: usize,
    pub alerting_rules: usize,
    pub recording_rules: usize,
    /// In file order; lint warnings last.
    pub diagnostics: Vec<Diagnostic>,
    /// The checks `# tocsin disable <check>` comments turn off, and where.
    pub disabled: Vec<Disabled>,
    /// With [`CheckOptions::dependencies`]: what the file records and reads.
    pub dependencies: Box<Dependencies>,
}

/// What a file's rules record, and the recording-rule-like series they read.
#[derive(Clone, Debug, Default)]
pub struct Dependencies {
    /// The names the file's recording rules record.
    pub records: Vec<String>,
    /// The series named like recording rules (`level:metric:op`) its rules read.
    pub reads: Vec<SeriesRead>,
}

/// A `# tocsin disable <check>` comment: inside a rule (or on the comment lines right
/// above it) it turns the check off for that rule, lines `from..to`; elsewhere for the
/// whole file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disabled {
    pub check: String,
    pub lines: std::ops::Range<usize>,
}

impl FileReport {
    /// Whether a finding of `check` at `pos` (`None`: about the whole file) is turned off.
    pub fn is_disabled(&self, check: &str, pos: Option<Pos>) -> bool {
        self.disabled.iter().any(|d| {
            d.check == check
                && match pos {
                    Some(p) => d.lines.contains(&p.line),
                    None => d.lines == WHOLE_FILE,
                }
        })
    }
}

const WHOLE_FILE: std::ops::Range<usize> = 0..usize::MAX;

/// The `# tocsin disable <check>` comments of `text`, given the first lines of its rules
/// (sorted).
fn disable_comments(text: &str, rule_lines: &[usize]) -> Vec<Disabled> {
    let lines: Vec<&str> = text.lines().collect();
    let is_comment = |l: &str| l.trim_start().starts_with('#');
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let line_no = i + 1;
        let Some(hash) = line.find('#') else { continue };
        let Some(rest) = line[hash + 1..].trim().strip_prefix("tocsin disable ") else {
            continue;
        };
        let check = rest.split_whitespace().next().unwrap_or("").to_string();
        let next = rule_lines.partition_point(|&s| s <= line_no);
        // Directly above a rule: only comment lines between the comment and the rule.
        let above = rule_lines.get(next).filter(|&&s| {
            is_comment(line)
                && (line_no + 1..s).all(|n| lines.get(n - 1).is_some_and(|l| is_comment(l)))
        });
        let rule = match above {
            Some(_) => Some(next),
            None => next.checked_sub(1),
        };
        let lines = match rule {
            Some(r) => rule_lines[r]..rule_lines.get(r + 1).copied().unwrap_or(usize::MAX),
            None => WHOLE_FILE,
        };
        out.push(Disabled { check, lines });
    }
    out
}

impl FileReport {
    /// Valid as promtool judges it: no errors (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    fn failed(path: &str, diagnostic: Diagnostic) -> Self {
        FileReport {
            path: path.to_string(),
            diagnostics: vec![diagnostic],
            ..FileReport::default()
        }
    }

    fn unreadable(path: &str, message: String) -> Self {
        let diagnostic = Diagnostic {
            pos: None,
            ..Diagnostic::error(Pos::default(), message)
        };
        Self::failed(path, diagnostic)
    }
}

/// Checks one file's text on the calling thread.
pub fn check_text(path: &str, text: &str, options: CheckOptions) -> FileReport {
    let mut validated = BTreeMap::new();
    let scan = scan(path, text, options, |index, group| {
        validated.insert(index, validate_group(&group));
    });
    assemble(path, scan, validated)
}

/// Loads a rule file for evaluation: its groups when the file is valid (warnings allowed),
/// otherwise the report with every error. The same decoder and checks as `tocsin check`,
/// so the engine runs exactly the files the checker accepts.
pub fn load_file(path: &str) -> Result<(Vec<RuleGroup>, FileReport), FileReport> {
    let text = read_text(path).map_err(|message| FileReport::unreadable(path, message))?;
    let mut groups = Vec::new();
    let mut validated = BTreeMap::new();
    let scan = scan(path, &text, CheckOptions::default(), |index, group| {
        validated.insert(index, validate_group(&group));
        groups.push(group);
    });
    let report = assemble(path, scan, validated);
    if report.is_valid() {
        Ok((groups, report))
    } else {
        Err(report)
    }
}

/// Checks a file's bytes (UTF-8, or UTF-16 with a byte order mark) on the calling thread.
pub fn check_bytes(path: &str, bytes: &[u8], options: CheckOptions) -> FileReport {
    match decode_text(bytes.to_vec()) {
        Ok(text) => check_text(path, &text, options),
        Err(message) => FileReport::unreadable(path, message),
    }
}

/// Reads `path` and checks it on the calling thread.
pub fn check_file(path: &str, options: CheckOptions) -> FileReport {
    match read_text(path) {
        Ok(text) => check_text(path, &text, options),
        Err(message) => FileReport::unreadable(path, message),
    }
}

/// The stack of a checking thread: room for PromQL nested to `tocsin_promql::MAX_DEPTH` even
/// in an unoptimised build (the default 2 MiB is not).
const WORKER_STACK: usize = 16 << 20;

/// Checks `paths` in order with `threads` threads in all.
pub fn check_files(paths: &[String], options: CheckOptions, threads: usize) -> Vec<FileReport> {
    if threads <= 1 {
        return paths.iter().map(|p| check_file(p, options)).collect();
    }
    struct Job {
        file: usize,
        group: usize,
        rules: RuleGroup,
    }
    let (job_tx, job_rx) = sync_channel::<Job>(threads * 8);
    let job_rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = channel::<(usize, usize, Vec<Diagnostic>)>();

    std::thread::scope(|scope| {
        for _ in 0..threads {
            let job_rx = Arc::clone(&job_rx);
            let done_tx = done_tx.clone();
            let worker = std::thread::Builder::new().stack_size(WORKER_STACK);
            let spawned = worker.spawn_scoped(scope, move || loop {
                let job = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                let findings = validate_group(&job.rules);
                drop(job.rules);
                if done_tx.send((job.file, job.group, findings)).is_err() {
                    return;
                }
            });
            // As `scope.spawn` does: a thread that cannot start is a panic.
            spawned.expect("cannot start a checking thread");
        }
        drop(done_tx);

        let scans: Vec<Result<Scan, String>> = paths
            .iter()
            .enumerate()
            .map(|(file, path)| {
                let text = read_text(path)?;
                Ok(scan(path, &text, options, |group, rules| {
                    // A send fails only if every worker died; the file then reports no
                    // rule findings rather than hanging.
                    let _ = job_tx.send(Job { file, group, rules });
                }))
            })
            .collect();
        drop(job_tx);

        let mut validated: Vec<BTreeMap<usize, Vec<Diagnostic>>> =
            paths.iter().map(|_| BTreeMap::new()).collect();
        for (file, group, findings) in done_rx {
            validated[file].insert(group, findings);
        }
        scans
            .into_iter()
            .zip(validated)
            .zip(paths)
            .map(|((scan, validated), path)| match scan {
                Ok(scan) => assemble(path, scan, validated),
                Err(message) => FileReport::unreadable(path, message),
            })
            .collect()
    })
}

/// A file's text, or the message of a finding about the whole file.
fn read_text(path: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| read_error(path, &e))?;
    decode_text(bytes)
}

/// The text of a rule file's bytes, decoded as yaml.v3 decodes them: UTF-16 (little or big
/// endian) when the file starts with its byte order mark, UTF-8 otherwise. Errors are
/// yaml.v3's words.
fn decode_text(bytes: Vec<u8>) -> Result<String, String> {
    let utf16 = match bytes.get(..2) {
        Some([0xff, 0xfe]) => Some(u16::from_le_bytes as fn([u8; 2]) -> u16),
        Some([0xfe, 0xff]) => Some(u16::from_be_bytes as fn([u8; 2]) -> u16),
        _ => None,
    };
    let Some(unit) = utf16 else {
        return String::from_utf8(bytes).map_err(|e| {
            format!(
                "yaml: invalid UTF-8 at byte {}",
                e.utf8_error().valid_up_to()
            )
        });
    };
    let body = &bytes[2..];
    if body.len() % 2 == 1 {
        return Err("yaml: incomplete UTF-16 character".into());
    }
    let units: Vec<u16> = body.chunks_exact(2).map(|p| unit([p[0], p[1]])).collect();
    let mut text = String::with_capacity(body.len());
    let mut i = 0;
    while i < units.len() {
        let u = u32::from(units[i]);
        let c = match u {
            0xd800..=0xdbff => {
                let Some(&low) = units.get(i + 1) else {
                    return Err("yaml: incomplete UTF-16 surrogate pair".into());
                };
                let low = u32::from(low);
                if !(0xdc00..=0xdfff).contains(&low) {
                    return Err("yaml: expected low surrogate area".into());
                }
                i += 1;
                0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00)
            }
            0xdc00..=0xdfff => return Err("yaml: unexpected low surrogate area".into()),
            _ => u,
        };
        text.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
        i += 1;
    }
    Ok(text)
}

/// A file that cannot be read, as Go's `os.ReadFile` words it in Prometheus's logs and
/// promtool's output: `open rules/a.yaml: too many levels of symbolic links`, or
/// `read rules/d.yaml: is a directory`.
fn read_error(path: &str, e: &std::io::Error) -> String {
    let op = if e.kind() == std::io::ErrorKind::IsADirectory {
        "read"
    } else {
        "open"
    };
    let text = e.to_string();
    // Rust appends ` (os error N)` to the C library's text; Go prints it in lower case.
    let text = match text.rfind(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    let text: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{op} {path}: {text}")
}

/// What the reading thread learns about a file.
#[derive(Default)]
struct Scan {
    groups: usize,
    rules: usize,
    alerting_rules: usize,
    recording_rules: usize,
    /// Findings before any group (top-level keys and types).
    top: Vec<Diagnostic>,
    /// Findings about group `i` that need the reading thread (decoding, repeated names).
    per_group: BTreeMap<usize, Vec<Diagnostic>>,
    lint: Vec<Diagnostic>,
    /// A YAML syntax error ends the file: only it is reported, as promtool does.
    syntax: Option<SyntaxError>,
    /// The top-level mapping repeats a key: only `top` is reported, as promtool does.
    undecoded: bool,
    /// The first line of every rule, in file order.
    rule_lines: Vec<usize>,
    /// `# tocsin disable` comments.
    disabled: Vec<Disabled>,
    dependencies: Dependencies,
}

/// Reads groups one by one, hands each decodable group to `validate`, and keeps the
/// findings that need the whole file.
fn scan(
    path: &str,
    text: &str,
    options: CheckOptions,
    mut validate: impl FnMut(usize, RuleGroup),
) -> Scan {
    let mut scan = Scan::default();
    let role = options.ack_layout.then(|| layout::ack_role(path));
    if let Err(e) = scan_groups(text, options, role.flatten(), &mut scan, &mut validate) {
        scan.syntax = Some(e);
    }
    if text.contains("tocsin disable ") {
        scan.rule_lines.sort_unstable();
        scan.disabled = disable_comments(text, &scan.rule_lines);
    }
    if role == Some(None) {
        let message = layout::not_loaded_message(path, scan.alerting_rules, scan.recording_rules);
        scan.lint.insert(
            0,
            Diagnostic::warning(crate::diag::checks::LAYOUT_NOT_LOADED, None, message),
        );
    }
    scan
}

fn scan_groups(
    text: &str,
    options: CheckOptions,
    role: Option<AckRole>,
    scan: &mut Scan,
    validate: &mut impl FnMut(usize, RuleGroup),
) -> Result<(), SyntaxError> {
    let (mut stream, top) = GroupStream::open(text)?;
    match top {
        TopLevel::Empty | TopLevel::Groups => {}
        TopLevel::Other(node) => {
            let error = match &node.kind {
                NodeKind::Map(entries) => type_error(&entries[0].1, TYPE_GROUP_LIST),
                _ => type_error(&node, TYPE_FILE),
            };
            scan.top.push(decode_diagnostic(error));
        }
    }
    let mut names = HashSet::new();
    let mut duplicates = DuplicateRules::default();
    let mut index = 0;
    while let Some(node) = stream.next_group()? {
        let mut errors = Vec::new();
        let group = decode_group(&node, &mut errors);
        let mut findings: Vec<Diagnostic> = errors.into_iter().map(decode_diagnostic).collect();
        let decoded = findings.is_empty();
        if decoded {
            if group.name.value.is_empty() {
                findings.push(Diagnostic::error(group.pos, "Groupname must not be empty"));
            }
            if !names.insert(group.name.value.clone()) {
                findings.push(Diagnostic::error(
                    group.pos,
                    format!(
                        "groupname: \"{}\" is repeated in the same file",
                        group.name.value
                    ),
                ));
            }
        }
        scan.groups += 1;
        scan.rules += group.rules.len();
        for (i, rule) in group.rules.iter().enumerate() {
            scan.rule_lines.push(rule.pos.line);
            if options.dependencies {
                note_dependencies(scan, &group, i, rule);
            }
            match rule.kind() {
                crate::model::RuleKind::Alerting => scan.alerting_rules += 1,
                crate::model::RuleKind::Recording => scan.recording_rules += 1,
            }
            if options.lint_duplicates {
                duplicates.observe(rule);
            }
            if let Some(warning) = role.and_then(|role| layout::misfiled_rule(role, rule)) {
                scan.lint.push(warning);
            }
        }
        if !findings.is_empty() {
            scan.per_group.insert(index, findings);
        }
        if decoded {
            validate(index, group);
        }
        index += 1;
    }
    stream.finish()?;
    let other_keys = std::mem::take(&mut stream.other_top_keys);
    let mut keys: Vec<&Node> = stream
        .groups_key
        .iter()
        .chain(other_keys.iter().map(|(k, _)| k))
        .collect();
    keys.sort_by_key(|k| (k.pos.line, k.pos.col));
    let mut repeats = Vec::new();
    if repeated_keys(keys.into_iter(), &mut repeats) {
        // yaml.v3 decodes nothing of a mapping with a repeated key: these are the only
        // findings, as in promtool.
        scan.top = repeats.into_iter().map(decode_diagnostic).collect();
        scan.undecoded = true;
        return Ok(());
    }
    for (key, _) in other_keys {
        let name = key
            .as_scalar()
            .map(|s| s.value.to_string())
            .unwrap_or_default();
        scan.top.push(decode_diagnostic(DecodeError {
            pos: key.pos,
            message: format!("field {name} not found in type {TYPE_FILE}"),
        }));
    }
    scan.lint.extend(duplicates.into_findings());
    Ok(())
}

/// What `rule` (the `index`th of `group`) records, and the recording-rule-like series its
/// expression reads.
fn note_dependencies(scan: &mut Scan, group: &RuleGroup, index: usize, rule: &crate::model::Rule) {
    if rule.kind() == crate::model::RuleKind::Recording {
        scan.dependencies
            .records
            .push(rule.record_name().to_string());
    }
    let Some(expr) = &rule.expr else { return };
    // Only names with a colon look like recording rules; most expressions have none.
    if !may_name_a_recording(&expr.value) {
        return;
    }
    let Ok(parsed) = tocsin_promql::parse(&expr.value) else {
        return;
    };
    let mut seen = HashSet::new();
    for selector in parsed.selectors() {
        let Some(metric) = selector.metric_name() else {
            continue;
        };
        if metric.contains(':') && seen.insert(metric.to_string()) {
            scan.dependencies.reads.push(SeriesRead {
                pos: expr.pos,
                rule: RuleRef {
                    group: group.name.value.clone(),
                    index: index + 1,
                    name: rule.name().to_string(),
                },
                metric: metric.to_string(),
            });
        }
    }
}

/// Whether `expr` may hold a name like `job:metric:op`: a colon between word characters
/// outside quotes. A cheap filter before parsing (`instance!~".*:9100"` does not count).
fn may_name_a_recording(expr: &str) -> bool {
    let bytes = expr.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut quote = None;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if b == b'\\' && q != b'`' {
                    escaped = true;
                } else if b == q {
                    quote = None;
                }
            }
            None if matches!(b, b'"' | b'\'' | b'`') => quote = Some(b),
            None if b == b':' => {
                let before = i > 0 && word(bytes[i - 1]);
                let after = bytes.get(i + 1).is_some_and(|&n| word(n) || n == b':');
                if before && after {
                    return true;
                }
            }
            None => {}
        }
    }
    false
}

fn decode_diagnostic(e: DecodeError) -> Diagnostic {
    Diagnostic::error(e.pos, e.message)
}

fn assemble(path: &str, scan: Scan, mut validated: BTreeMap<usize, Vec<Diagnostic>>) -> FileReport {
    if let Some(syntax) = scan.syntax {
        return FileReport::failed(
            path,
            Diagnostic::error(syntax.pos, format!("yaml: {}", syntax.message)),
        );
    }
    if scan.undecoded {
        return FileReport {
            path: path.to_string(),
            diagnostics: scan.top,
            ..FileReport::default()
        };
    }
    let mut diagnostics = scan.top;
    let mut per_group = scan.per_group;
    for index in 0..scan.groups {
        diagnostics.extend(per_group.remove(&index).unwrap_or_default());
        diagnostics.extend(validated.remove(&index).unwrap_or_default());
    }
    diagnostics.extend(scan.lint);
    let mut report = FileReport {
        path: path.to_string(),
        groups: scan.groups,
        rules: scan.rules,
        alerting_rules: scan.alerting_rules,
        recording_rules: scan.recording_rules,
        diagnostics,
        disabled: scan.disabled,
        dependencies: Box::new(scan.dependencies),
    };
    if !report.disabled.is_empty() {
        let findings = std::mem::take(&mut report.diagnostics);
        report.diagnostics = findings
            .into_iter()
            .filter(|d| !d.check.is_some_and(|c| report.is_disabled(c, d.pos)))
            .collect();
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_names_are_told_from_colons_in_strings() {
        assert!(may_name_a_recording("job:flink_records:rate5m < 1"));
        assert!(may_name_a_recording("sum(a) / on(x) b:c"));
        assert!(!may_name_a_recording(r#"up{instance!~".*:9100"} == 0"#));
        assert!(!may_name_a_recording(r#"up{a="x\":y"}"#));
        assert!(!may_name_a_recording("rate(x[5m])"));
    }

    #[test]
    fn disable_comments_cover_their_rule_or_the_file() {
        let text = "# tocsin disable a/file\ngroups:\n- name: g\n  rules:\n  # tocsin disable b/above\n  - record: x\n    expr: y # tocsin disable c/inside\n  - record: z\n    expr: w\n";
        let d = disable_comments(text, &[6, 8]);
        assert_eq!(
            d,
            [
                Disabled {
                    check: "a/file".into(),
                    lines: WHOLE_FILE
                },
                Disabled {
                    check: "b/above".into(),
                    lines: 6..8
                },
                Disabled {
                    check: "c/inside".into(),
                    lines: 6..8
                },
            ]
        );
    }
}
