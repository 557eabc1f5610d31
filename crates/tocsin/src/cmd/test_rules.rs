//! `tocsin test rules FILE...`: promtool 2.42's rule unit tests, offline, with promtool's
//! output and exit codes (0 all passed, 1 a test failed or a file is broken).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use crate::unittest::run_file;

#[derive(Args)]
pub struct TestArgs {
    #[command(subcommand)]
    what: TestWhat,
}

#[derive(Subcommand)]
enum TestWhat {
    /// Unit tests for rules, in promtool's test file format (`promtool test rules`).
    Rules(RulesArgs),
}

#[derive(Args)]
struct RulesArgs {
    /// The unit-test files.
    #[arg(required = true, value_name = "test-rule-file")]
    files: Vec<String>,
    /// `text` prints what promtool prints; `json` one result object per file.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Only run test groups whose `name` matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    run: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let TestWhat::Rules(args) = args.what;
    let run = args
        .run
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .context("--run")?;
    let mut failed = false;
    let mut results = Vec::new();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    for file in &args.files {
        if args.format == Format::Text {
            writeln!(stdout.lock(), "Unit Testing:  {file}")?;
        }
        let outcome = run_file(file, run.as_ref());
        failed |= !outcome.errors.is_empty();
        if args.format == Format::Json {
            results.push(serde_json::json!({
                "file": file,
                "success": outcome.errors.is_empty(),
                "warnings": outcome.warnings,
                "errors": outcome.errors,
            }));
            continue;
        }
        for w in &outcome.warnings {
            writeln!(stderr.lock(), "{w}")?;
        }
        if outcome.errors.is_empty() {
            writeln!(stdout.lock(), "  SUCCESS")?;
        } else {
            writeln!(stderr.lock(), "  FAILED:")?;
            for e in &outcome.errors {
                writeln!(stderr.lock(), "{e}")?;
                writeln!(stdout.lock())?;
            }
        }
        writeln!(stdout.lock())?;
    }
    if args.format == Format::Json {
        let doc = serde_json::json!({ "success": !failed, "files": results });
        writeln!(stdout.lock(), "{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(ExitCode::from(u8::from(failed)))
}
