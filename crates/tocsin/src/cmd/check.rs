//! `tocsin check`: validate rule files, directories or globs; with `--datasource`, also
//! against a live Prometheus (the checks are in `tocsin-online`).

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use tocsin_rules::{CheckOptions, Diagnostic, FileReport};

#[derive(Args)]
pub struct CheckArgs {
    /// Rule files, directories (their *.yaml and *.yml files) or glob patterns.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    /// Also warn where a rules-directory layout would skip or misfile rules.
    #[arg(long, value_enum)]
    layout: Option<Layout>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// promtool's lint: `duplicate-rules` (default, reported as warnings), `all` (the same
    /// in 2.42) or `none`.
    #[arg(long, value_enum, default_value_t = Lint::DuplicateRules)]
    lint: Lint,
    /// As promtool's: exit 3 when the lint finds something (and nothing is invalid).
    #[arg(long)]
    lint_fatal: bool,
    /// Fail (exit 1) on any warning, layout warnings included.
    #[arg(long)]
    strict: bool,
    /// Threads to use (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Also run the online checks against this Prometheus (base URL; userinfo becomes
    /// basic auth and never appears in output).
    #[arg(long, value_name = "URL")]
    datasource: Option<String>,
    /// With --datasource: how far back "had series" and the alert estimate reach
    /// (Prometheus duration).
    #[arg(long, default_value = "1d", requires = "datasource")]
    lookback: String,
    /// As promtool's (which prints nothing more for rule files in 2.42): with
    /// --datasource, each rule's series count now, as a cardinality table per file.
    #[arg(long)]
    extended: bool,
    /// With --datasource: timeout of one request.
    #[arg(long, default_value = "30s", requires = "datasource")]
    query_timeout: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Layout {
    /// Flink on ACK: the pod loads only alerting_rule*.yaml and recording_rule*.yaml.
    Ack,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    /// GitHub Actions workflow commands: `::error file=…,line=…,col=…::message`.
    Github,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Lint {
    All,
    DuplicateRules,
    None,
}

pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let files = expand_paths(&args.paths)?;
    let options = CheckOptions {
        lint_duplicates: args.lint != Lint::None,
        ack_layout: args.layout.is_some(),
        dependencies: true,
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let mut reports = tocsin_rules::check_files(&files, options, threads);
    let online = match &args.datasource {
        Some(url) => Some(online(&args, url, &mut reports)?),
        None => {
            tocsin_rules::missing_recordings(&mut reports);
            None
        }
    };
    match args.format {
        Format::Text => print_text(&reports)?,
        Format::Json => print_json(&reports, online.as_ref())?,
        Format::Github => print_github(&reports)?,
    }
    let mut code = exit_code(&reports, args.strict, args.lint_fatal);
    if let Some(online) = online {
        if args.format == Format::Text {
            print_cardinality(&reports, &online.cardinality)?;
        }
        // Checks that did not run must not read as rules that passed them.
        let mut err = std::io::stderr().lock();
        for problem in &online.problems {
            writeln!(err, "tocsin check: --datasource {}: {problem}", online.url)?;
        }
        if online.failures > 0 {
            writeln!(
                err,
                "tocsin check: {} online check(s) could not run against {}",
                online.failures, online.url
            )?;
        }
        if !online.problems.is_empty() || online.failures > 0 {
            code = 1;
        }
    }
    Ok(ExitCode::from(code))
}

/// What the online checks left to print after the findings.
struct Online {
    /// The datasource without userinfo.
    url: String,
    /// Why some or all online checks did not run.
    problems: Vec<String>,
    failures: usize,
    /// `--extended`: per report, each rule's series now.
    cardinality: Vec<Vec<(tocsin_rules::RuleRef, Result<u64, String>)>>,
}

/// Runs the online checks on the valid files and adds their findings (and
/// `rule/dependency`, which replaces the offline `rules/missing-recording`) to `reports`.
fn online(args: &CheckArgs, url: &str, reports: &mut [FileReport]) -> anyhow::Result<Online> {
    let lookback = tocsin_rules::Duration::parse(&args.lookback)
        .map_err(|e| anyhow!("--lookback: {e}"))?
        .as_std();
    let timeout = tocsin_rules::Duration::parse(&args.query_timeout)
        .map_err(|e| anyhow!("--query-timeout: {e}"))?
        .as_std();
    if lookback.is_zero() || timeout.is_zero() {
        bail!("--lookback and --query-timeout must be more than 0");
    }
    let client = super::datasource_client(url, timeout)?;
    let mut indices = Vec::new();
    let mut files = Vec::new();
    for (i, report) in reports.iter().enumerate() {
        if !report.is_valid() {
            continue;
        }
        if let Ok((groups, _)) = tocsin_rules::load_file(&report.path) {
            indices.push(i);
            files.push(tocsin_online::FileRules {
                path: report.path.clone(),
                // Only to place findings inside expressions: unreadable now, at their start.
                text: std::fs::read_to_string(&report.path).unwrap_or_default(),
                groups,
            });
        }
    }
    let recorded: HashSet<String> = reports
        .iter()
        .flat_map(|r| r.dependencies.records.iter().cloned())
        .collect();
    let options = tocsin_online::OnlineOptions {
        lookback,
        now: tocsin_engine::Timestamp::now(),
        concurrency: 4,
        cardinality: args.extended,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(tocsin_online::check(&client, &files, &recorded, options));
    let mut online = Online {
        url: client.url().to_string(),
        problems: Vec::new(),
        failures: 0,
        cardinality: vec![Vec::new(); reports.len()],
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            tocsin_rules::missing_recordings(reports);
            online.problems.push(format!("{e}; no online check ran"));
            return Ok(online);
        }
    };
    match &outcome.server_records {
        Ok(records) => tocsin_rules::missing_dependencies(reports, records),
        Err(e) => {
            tocsin_rules::missing_recordings(reports);
            online.problems.push(format!(
                "reading the server's recording rules: {e}; rule/dependency did not run"
            ));
        }
    }
    online.failures = outcome.failures;
    for (k, findings) in outcome.findings.into_iter().enumerate() {
        let report = &mut reports[indices[k]];
        for d in findings {
            if !d.check.is_some_and(|c| report.is_disabled(c, d.pos)) {
                report.diagnostics.push(d);
            }
        }
    }
    for (k, rows) in outcome.cardinality.into_iter().enumerate() {
        online.cardinality[indices[k]] = rows;
    }
    Ok(online)
}

/// `--extended`: promtool's cardinality table (`check metrics --extended`), one per file,
/// with rules for metrics: the series each rule's expression returns now.
fn print_cardinality(
    reports: &[FileReport],
    tables: &[Vec<(tocsin_rules::RuleRef, Result<u64, String>)>],
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for (report, rows) in reports.iter().zip(tables) {
        if rows.is_empty() {
            continue;
        }
        let total: u64 = rows.iter().filter_map(|(_, r)| r.as_ref().ok()).sum();
        let width = rows
            .iter()
            .map(|(r, _)| r.name.len())
            .chain([4, 5])
            .max()
            .unwrap_or(4)
            + 4;
        writeln!(out, "Cardinality of {} (series now)", report.path)?;
        writeln!(
            out,
            "{:<width$}{:<15}{:<14}",
            "Rule", "Cardinality", "Percentage"
        )?;
        for (rule, count) in rows {
            match count {
                Ok(n) => {
                    let pct = if total == 0 {
                        0.0
                    } else {
                        *n as f64 * 100.0 / total as f64
                    };
                    writeln!(
                        out,
                        "{:<width$}{:<15}{:<14}",
                        rule.name,
                        n,
                        format!("{pct:.0}%")
                    )?;
                }
                Err(e) => writeln!(out, "{:<width$}error: {e}", rule.name)?,
            }
        }
        writeln!(out, "{:<width$}{:<15}{:<14}", "Total", total, "100%")?;
        writeln!(out)?;
    }
    Ok(())
}

/// 1 when a file is invalid (or, with `--strict`, has any warning; infos never count); else 3 when
/// `--lint-fatal` and the lint found something, as promtool exits; else 0.
fn exit_code(reports: &[FileReport], strict: bool, lint_fatal: bool) -> u8 {
    let diagnostics = || reports.iter().flat_map(|r| &r.diagnostics);
    let warned = || diagnostics().any(|d| d.severity == tocsin_rules::Severity::Warning);
    if !reports.iter().all(FileReport::is_valid) || (strict && warned()) {
        1
    } else if lint_fatal
        && diagnostics().any(|d| d.check == Some(tocsin_rules::checks::DUPLICATE_RULES))
    {
        3
    } else {
        0
    }
}

/// One GitHub Actions annotation per finding (`::error file=F,line=L,col=C,title=T::M`),
/// so a workflow run shows them on the pull request's diff.
fn print_github(reports: &[FileReport]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for report in reports {
        for d in &report.diagnostics {
            let level = match d.severity {
                tocsin_rules::Severity::Error => "error",
                tocsin_rules::Severity::Warning => "warning",
                tocsin_rules::Severity::Info => "notice",
            };
            let mut props = format!("file={}", github_property(&report.path));
            if let Some(pos) = d.pos {
                props.push_str(&format!(",line={},col={}", pos.line, pos.col));
            }
            if let Some(check) = d.check {
                props.push_str(&format!(",title={}", github_property(check)));
            }
            writeln!(
                out,
                "::{level} {props}::{}",
                github_data(&d.body().to_string())
            )?;
        }
    }
    Ok(())
}

/// A workflow command's message: `%`, CR and LF escaped.
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,` escaped.
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Files as given, directories as their rule files (sorted, not recursive: Prometheus's
/// `rule_files` globs are not recursive either), anything else as a glob expanded as
/// `tocsin run` expands `rule_files`. A symbolic link that leads nowhere (dangling, or a
/// loop) is checked like any file, so it fails with the reason Prometheus gives when
/// loading it, rather than being skipped or called missing.
fn expand_paths(paths: &[String]) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    for path in paths {
        let p = Path::new(path);
        if p.is_dir() {
            let mut found: Vec<String> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {path}"))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| !f.is_dir())
                .filter(|f| matches!(f.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                .map(|f| f.to_string_lossy().into_owned())
                .collect();
            found.sort();
            files.extend(found);
        } else if p.exists() || leads_nowhere(p) {
            files.push(path.clone());
        } else if path.contains(['*', '?', '[']) {
            let matched = crate::cmd::run::expand_rule_globs(std::slice::from_ref(path))?;
            if matched.is_empty() {
                bail!("no file matches {path:?}");
            }
            files.extend(matched);
        } else {
            bail!("path {path:?} does not exist");
        }
    }
    Ok(files)
}

/// A path that is there but cannot be followed: a dangling symbolic link, or one whose
/// resolution loops (`too many levels of symbolic links`) or is refused.
fn leads_nowhere(p: &Path) -> bool {
    match std::fs::metadata(p) {
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::symlink_metadata(p).is_ok(),
        Err(_) => true,
    }
}

/// promtool's layout: `Checking F` and `  SUCCESS: N rules found` on stdout; `  FAILED:`
/// and one line per error on stderr. Each finding reads `FILE:LINE:COL: …`.
fn print_text(reports: &[FileReport]) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    for report in reports {
        writeln!(out, "Checking {}", report.path)?;
        out.flush()?;
        let (errors, warnings): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
            report.diagnostics.iter().partition(|d| d.is_error());
        if errors.is_empty() {
            writeln!(out, "  SUCCESS: {} rules found", report.rules)?;
        } else {
            writeln!(err, "  FAILED:")?;
            for d in &errors {
                writeln!(err, "{}", d.located(&report.path))?;
            }
        }
        for d in &warnings {
            writeln!(err, "{}", d.located(&report.path))?;
        }
        err.flush()?;
        writeln!(out)?;
    }
    Ok(())
}

fn print_json(reports: &[FileReport], online: Option<&Online>) -> anyhow::Result<()> {
    let files: Vec<serde_json::Value> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let diagnostics: Vec<serde_json::Value> = r
                .diagnostics
                .iter()
                .map(|d| {
                    serde_json::json!({
                        "severity": d.severity.as_str(),
                        "line": d.pos.map(|p| p.line),
                        "column": d.pos.map(|p| p.col),
                        "group": d.rule.as_ref().map(|r| r.group.as_str()).or(d.group.as_deref()),
                        "rule_index": d.rule.as_ref().map(|r| r.index),
                        "rule": d.rule.as_ref().map(|r| r.name.as_str()),
                        "message": d.body().to_string(),
                        "check": d.check,
                    })
                })
                .collect();
            let mut file = serde_json::json!({
                "path": r.path,
                "valid": r.is_valid(),
                "groups": r.groups,
                "rules": r.rules,
                "alerting_rules": r.alerting_rules,
                "recording_rules": r.recording_rules,
                "diagnostics": diagnostics,
            });
            let rows = online.and_then(|o| o.cardinality.get(i)).filter(|r| !r.is_empty());
            if let Some(rows) = rows {
                file["cardinality"] = rows
                    .iter()
                    .map(|(rule, count)| match count {
                        Ok(n) => serde_json::json!({"group": rule.group, "rule_index": rule.index, "rule": rule.name, "series": n}),
                        Err(e) => serde_json::json!({"group": rule.group, "rule_index": rule.index, "rule": rule.name, "error": e}),
                    })
                    .collect();
            }
            file
        })
        .collect();
    let mut doc = serde_json::json!({
        "valid": reports.iter().all(FileReport::is_valid),
        "files": files,
    });
    if let Some(o) = online {
        doc["online"] = serde_json::json!({
            "datasource": o.url,
            "failures": o.failures,
            "problems": o.problems,
        });
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &doc)?;
    writeln!(out)?;
    Ok(())
}
