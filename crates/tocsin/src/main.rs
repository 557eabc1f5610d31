//! The `tocsin` binary: command-line parsing and wiring. Each subcommand lives in `cmd/`;
//! the work itself lives in the library crates.

mod cmd;
mod config;
mod http;
mod loadtest;
mod logging;
mod notify;
mod query_string;
mod remote;
mod shadow;
mod sink;
mod unittest;
mod watch;
mod web;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Checking a large rule file makes millions of small allocations from several threads;
/// mimalloc halves the time glibc's allocator takes for them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Evaluate Prometheus rule files against Prometheus's HTTP API and notify DingTalk.
#[derive(Parser)]
#[command(name = "tocsin", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate rule files as `promtool check rules` does (exit 0 valid, 1 invalid, 2 usage).
    Check(cmd::check::CheckArgs),
    /// Backtest two rule sets over Prometheus's history (or evaluate them live with --live)
    /// and compare them alert by alert (exit 0 nothing regressed, 1 regressed, 2 usage).
    Diff(Box<cmd::diff::DiffArgs>),
    /// Load-test the notification pipeline or a chain (`alerts`) with a scenario.
    Loadtest(cmd::loadtest::LoadtestArgs),
    /// Evaluate rule files against Prometheus and notify: the daemon.
    Run(cmd::run::RunArgs),
    /// Only deliver Alertmanager webhook posts to DingTalk robots (POST /dingtalk/<receiver>/send).
    Gateway(cmd::gateway::GatewayArgs),
    /// Run a stand-in receiver (`tocsin sink dingtalk`) for tests, demos and load tests.
    Sink(cmd::sink::SinkArgs),
    /// Run rule unit tests offline, as `promtool test rules` does (exit 0 passed, 1 failed).
    Test(cmd::test_rules::TestArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Diff(args) => cmd::diff::run(*args),
        Command::Loadtest(args) => cmd::loadtest::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Gateway(args) => cmd::gateway::run(args),
        Command::Sink(args) => cmd::sink::run(args),
        Command::Test(args) => cmd::test_rules::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tocsin: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
