//! `tocsin sink`: stand-in receivers that speak a notification service's protocol, so
//! tests, demos and load tests never post to a real group.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};

use tocsin_core::duration::parse_duration;

use crate::sink::dingtalk::{self, SinkConfig};

#[derive(Args)]
pub struct SinkArgs {
    #[command(subcommand)]
    kind: SinkKind,
}

#[derive(Subcommand)]
enum SinkKind {
    /// A DingTalk-compatible group robot: `POST /robot/send?access_token=…` answered with
    /// DingTalk's errcodes; `GET /messages` lists accepted messages, `GET /metrics` counts.
    Dingtalk(DingtalkArgs),
}

#[derive(Args)]
struct DingtalkArgs {
    /// Address to listen on, e.g. 127.0.0.1:8060 (port 0 picks a free one; the bound
    /// address is printed on the first line).
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// Signing secret: requests must then be signed (timestamp + sign).
    #[arg(long, value_name = "S", conflicts_with = "secret_file")]
    secret: Option<String>,
    /// Read the signing secret from a file.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// A custom keyword; messages must contain one of them (repeat for up to 10).
    #[arg(long = "keyword", value_name = "K")]
    keywords: Vec<String>,
    /// Accept only this access token (repeatable; default: any token).
    #[arg(long = "token", value_name = "T")]
    tokens: Vec<String>,
    /// Append each accepted message as a JSON line to this file.
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// Messages allowed per rolling minute per token.
    #[arg(long, value_name = "N", default_value_t = 20)]
    rate_limit: usize,
    /// How long a robot stays throttled after exceeding the rate limit (e.g. 10m, 30s).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    throttle: Duration,
    /// Print each accepted message's text under its summary line.
    #[arg(long)]
    show_text: bool,
}

pub fn run(args: SinkArgs) -> anyhow::Result<ExitCode> {
    match args.kind {
        SinkKind::Dingtalk(a) => run_dingtalk(a),
    }
}

fn run_dingtalk(a: DingtalkArgs) -> anyhow::Result<ExitCode> {
    let secret = match (a.secret, &a.secret_file) {
        (Some(s), _) => Some(s),
        (None, Some(path)) => {
            let raw = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the signing secret from {}", path.display())
            })?;
            let s = raw.trim();
            anyhow::ensure!(!s.is_empty(), "the secret file {} is empty", path.display());
            Some(s.to_owned())
        }
        (None, None) => None,
    };
    anyhow::ensure!(
        a.keywords.len() <= 10,
        "DingTalk robots take at most 10 keywords; {} given",
        a.keywords.len()
    );
    anyhow::ensure!(a.rate_limit > 0, "--rate-limit must be at least 1");
    let config = SinkConfig {
        secret,
        keywords: a.keywords,
        tokens: a.tokens,
        rate_limit: a.rate_limit,
        window: Duration::from_secs(60),
        throttle: a.throttle,
        show_text: a.show_text,
    };
    dingtalk::run(config, &a.listen, a.store)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "10", "m", "10x", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
