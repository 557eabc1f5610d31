//! The configuration file: Prometheus-style names and durations (`30s`, `5m`).
//!
//! Unknown fields are errors, as in Prometheus's own config, so a typo never silently turns
//! a setting off. Secrets are never inline-only: every secret can come from a file or an
//! environment variable, and no secret value is ever printed (see `Secret` in tocsin-query).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Deserializer};
use tocsin_engine::runner::EngineOptions;
use tocsin_notify::zoned::TimeZone;
use tocsin_query::{
    Auth, BasicAuth, HttpClientConfig, RemoteWriteConfig, Secret, SecretSource, TlsConfig,
};
use tocsin_rules::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub global: Global,
    pub datasource: Option<HttpClient>,
    /// Globs, relative to the config file's directory (as in Prometheus).
    pub rule_files: Vec<String>,
    pub state: State,
    pub remote_write: Option<HttpClient>,
    pub notify: Option<tocsin_notify::config::NotifyConfig>,
    pub web: Web,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Global {
    #[serde(deserialize_with = "duration")]
    pub evaluation_interval: Duration,
    pub external_labels: BTreeMap<String, String>,
    pub external_url: Option<String>,
    /// How often a firing alert is re-sent (Prometheus's `--rules.alert.resend-delay`).
    #[serde(deserialize_with = "duration")]
    pub resend_delay: Duration,
    /// Bound on queries in flight across all groups.
    pub max_concurrent_queries: usize,
    /// The zone notification messages show times in (an IANA name such as
    /// `Asia/Shanghai`), with its offset; also the zone of `.StartsAt`/`.EndsAt` in
    /// message templates. UTC by default.
    #[serde(deserialize_with = "time_zone")]
    pub time_zone: TimeZone,
}

/// The engine's defaults (Prometheus's), so they are written down once, in the engine.
impl Default for Global {
    fn default() -> Self {
        let engine = EngineOptions::default();
        let ms = |d: std::time::Duration| Duration::from_millis(d.as_millis() as u64);
        Global {
            evaluation_interval: ms(engine.default_interval),
            external_labels: BTreeMap::new(),
            external_url: None,
            resend_delay: ms(engine.resend_delay),
            max_concurrent_queries: engine.max_concurrent_queries,
            time_zone: TimeZone::UTC,
        }
    }
}

/// `datasource:` and `remote_write:`, which take the same options: where the server is
/// and how to talk to it. Parsed here and turned into tocsin-query's `HttpClientConfig`,
/// which owns the defaults and the behaviour. Its `Debug` shows no header value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpClient {
    /// For `datasource`, the base URL; for `remote_write`, the write endpoint.
    pub url: String,
    #[serde(default, deserialize_with = "opt_duration")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub basic_auth: Option<BasicAuthFile>,
    pub bearer_token_file: Option<PathBuf>,
    pub bearer_token_env: Option<String>,
    #[serde(default)]
    pub tls: Tls,
    /// The largest query answer read (`64MiB`, `512KB`, bytes; base 2 as Prometheus's
    /// `body_size_limit`); larger answers fail the query with an error naming the limit.
    /// Datasource only.
    #[serde(default, deserialize_with = "opt_byte_size")]
    pub max_response_size: Option<u64>,
}

impl HttpClient {
    /// Only `url`, every other option at its default: the datasource of `--datasource`.
    pub fn from_url(url: String) -> HttpClient {
        HttpClient {
            url,
            timeout: None,
            headers: BTreeMap::new(),
            basic_auth: None,
            bearer_token_file: None,
            bearer_token_env: None,
            tls: Tls::default(),
            max_response_size: None,
        }
    }

    /// The query client's settings. `*_env` variables are read now; secret files are read
    /// by the client when it sends (and again when they change).
    pub fn datasource_config(&self) -> anyhow::Result<HttpClientConfig> {
        self.apply(HttpClientConfig::new(self.url.clone()))
    }

    /// The remote-write client's settings, from remote write's defaults.
    pub fn remote_write_config(&self) -> anyhow::Result<RemoteWriteConfig> {
        let defaults = RemoteWriteConfig::new(self.url.clone());
        Ok(RemoteWriteConfig {
            http: self.apply(defaults.http)?,
            ..defaults
        })
    }

    /// `base` with the options given here.
    fn apply(&self, mut c: HttpClientConfig) -> anyhow::Result<HttpClientConfig> {
        if let Some(t) = self.timeout {
            c = c.with_timeout(t.as_std());
        }
        c.headers = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        c.auth = self.auth()?;
        c.tls = TlsConfig {
            ca_file: self.tls.ca_file.clone(),
            cert_file: self.tls.cert_file.clone(),
            key_file: self.tls.key_file.clone(),
            insecure_skip_verify: self.tls.insecure_skip_verify,
        };
        if let Some(max) = self.max_response_size {
            c.max_response_size = max;
        }
        Ok(c)
    }

    fn auth(&self) -> anyhow::Result<Auth> {
        let bearer = (
            self.bearer_token_file.as_ref(),
            self.bearer_token_env.as_deref(),
        );
        Ok(match (&self.basic_auth, bearer) {
            (Some(_), (Some(_), _) | (_, Some(_))) => {
                bail!("basic_auth and a bearer token are mutually exclusive")
            }
            (Some(b), _) => Auth::Basic(BasicAuth {
                username: b.username.clone(),
                password: secret_source(b.password_file.as_deref(), b.password_env.as_deref())?,
            }),
            (None, (Some(_), Some(_))) => {
                bail!("give bearer_token_file or bearer_token_env, not both")
            }
            (None, (Some(file), None)) => Auth::Bearer(SecretSource::File(file.clone())),
            (None, (None, Some(env))) => Auth::Bearer(
                secret_source(None, Some(env))?
                    .context("bearer_token_env names an empty variable")?,
            ),
            (None, (None, None)) => Auth::None,
        })
    }
}

/// A secret from a file (re-read when it changes) or an environment variable (read now).
fn secret_source(file: Option<&Path>, env: Option<&str>) -> anyhow::Result<Option<SecretSource>> {
    match (file, env) {
        (Some(_), Some(_)) => bail!("give a secret as a file or an environment variable, not both"),
        (Some(f), None) => Ok(Some(SecretSource::File(f.to_path_buf()))),
        (None, Some(name)) => {
            let value = std::env::var(name)
                .with_context(|| format!("environment variable {name} is not set"))?;
            Ok(Some(SecretSource::Value(Secret::new(value))))
        }
        (None, None) => Ok(None),
    }
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password, header values may be tokens.
        let headers: Vec<(&str, &str)> = self
            .headers
            .keys()
            .map(|k| (k.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("HttpClient")
            .field("url", &tocsin_query::redact_url(&self.url))
            .field("timeout", &self.timeout)
            .field("headers", &headers)
            .field("basic_auth", &self.basic_auth)
            .field("bearer_token_file", &self.bearer_token_file)
            .field("bearer_token_env", &self.bearer_token_env)
            .field("tls", &self.tls)
            .field("max_response_size", &self.max_response_size)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthFile {
    pub username: String,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct State {
    /// Where alert state and the notification outbox live; none keeps state in memory only.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Web {
    pub listen_address: String,
}

impl Default for Web {
    fn default() -> Self {
        Web {
            listen_address: "127.0.0.1:9096".to_string(),
        }
    }
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    Duration::parse(&text).map_err(serde::de::Error::custom)
}

/// An IANA zone name of the tz database compiled into tocsin; an unknown one is an error
/// at its place in the file.
fn time_zone<'de, D: Deserializer<'de>>(d: D) -> Result<TimeZone, D::Error> {
    let name = String::deserialize(d)?;
    if name.is_empty() {
        return Err(serde::de::Error::custom(
            "global.time_zone is empty: give an IANA name such as Asia/Shanghai, or leave it out for UTC",
        ));
    }
    TimeZone::named(&name).map_err(|e| {
        serde::de::Error::custom(format!(
            "global.time_zone: {e} (an IANA name such as Asia/Shanghai or Europe/Berlin)"
        ))
    })
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| Duration::parse(&text).map_err(serde::de::Error::custom))
        .transpose()
}

/// A size as Prometheus's `units.Base2Bytes` writes it: a number of bytes, or a number
/// with `B`, `KB`/`KiB`, `MB`/`MiB`, `GB`/`GiB` (all powers of 1024); more than 0.
fn opt_byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    let Some(size) = Option::<Size>::deserialize(d)? else {
        return Ok(None);
    };
    let n = match size {
        Size::Bytes(n) => n,
        Size::Text(text) => parse_byte_size(&text).map_err(serde::de::Error::custom)?,
    };
    if n == 0 {
        return Err(serde::de::Error::custom("a size must be more than 0 bytes"));
    }
    Ok(Some(n))
}

fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KB" | "KiB" => 10,
        "MB" | "MiB" => 20,
        "GB" | "GiB" => 30,
        _ => {
            return Err(format!(
                "invalid size {text:?}: use a number of bytes or e.g. 64MiB"
            ))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("invalid size {text:?}"))
}

impl Config {
    /// Reads and validates `path`; errors name the file, line and column.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        let config: Config = serde_saphyr::from_str_with_options(&text, options).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            anyhow::anyhow!("{}{at}: {}", path.display(), e.without_snippet())
        })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> anyhow::Result<()> {
        if self.global.evaluation_interval.is_zero() {
            bail!(
                "{}: global.evaluation_interval must be greater than 0",
                path.display()
            );
        }
        if self.global.max_concurrent_queries == 0 {
            bail!(
                "{}: global.max_concurrent_queries must be at least 1",
                path.display()
            );
        }
        for name in self.global.external_labels.keys() {
            if !tocsin_rules::is_valid_label_name(name) {
                bail!("{}: invalid external label name {name:?}", path.display());
            }
        }
        if self
            .remote_write
            .as_ref()
            .is_some_and(|rw| rw.max_response_size.is_some())
        {
            bail!(
                "{}: remote_write.max_response_size: a datasource setting; remote write reads no answers",
                path.display()
            );
        }
        if let Some(notify) = &self.notify {
            // Message templates are parsed here too, so a bad one stops the load (or a
            // reload) with the file named, before anything is sent.
            if let Err(e) = notify.message_templates() {
                bail!("{}: {e}", path.display());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> anyhow::Result<Config> {
        let dir = std::env::temp_dir().join(format!("tocsin-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!(
            "{:x}.yaml",
            text.len() * 31 + text.bytes().map(usize::from).sum::<usize>()
        ));
        std::fs::write(&path, text)?;
        let result = Config::load(&path);
        let _ = std::fs::remove_file(&path);
        result
    }

    #[test]
    fn max_response_size_takes_bytes_or_base2_units() {
        let ds = |v: &str| {
            load(&format!(
                "datasource: {{url: 'http://p:9090', max_response_size: {v}}}\n"
            ))
            .map(|c| c.datasource.and_then(|d| d.max_response_size))
        };
        assert_eq!(ds("1000").unwrap(), Some(1000));
        assert_eq!(ds("64MiB").unwrap(), Some(64 << 20));
        assert_eq!(ds("512KB").unwrap(), Some(512 << 10));
        assert_eq!(ds("'2GB'").unwrap(), Some(2 << 30));
        for bad in ["0", "12 parsecs", "-1", "99999999999GB"] {
            assert!(ds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_match_prometheus() {
        let c = load("rule_files: [a.yaml]\n").expect("config");
        assert_eq!(c.global.evaluation_interval.to_string(), "1m");
        assert_eq!(c.global.resend_delay.to_string(), "1m");
        assert_eq!(c.web.listen_address, "127.0.0.1:9096");
        // Prometheus's --query.max-concurrency and --query.timeout.
        assert_eq!(c.global.max_concurrent_queries, 20);
        let ds = HttpClient::from_url("http://p:9090".into());
        let query = ds.datasource_config().expect("datasource");
        assert_eq!(query.timeout, std::time::Duration::from_secs(120));
        // Prometheus's remote_write remote_timeout.
        let rw = ds.remote_write_config().expect("remote write");
        assert_eq!(rw.http.timeout, std::time::Duration::from_secs(30));
    }

    #[test]
    fn remote_write_takes_the_datasources_auth_tls_and_header_options() {
        let options = "timeout: 5s, headers: {X-Scope-OrgID: tenant-SECRET}, \
            bearer_token_file: /run/token, \
            tls: {ca_file: /etc/ca.pem, insecure_skip_verify: true}";
        let c = load(&format!(
            "datasource: {{url: 'http://p:9090', {options}}}\n\
             remote_write: {{url: 'http://u:pw-SECRET@p:9090/api/v1/write', {options}}}\n"
        ))
        .expect("config");
        let ds = c.datasource.expect("datasource");
        let rw = c.remote_write.expect("remote_write");
        let (q, w) = (
            ds.datasource_config().expect("datasource"),
            rw.remote_write_config().expect("remote_write").http,
        );
        for h in [&q, &w] {
            assert_eq!(h.timeout, std::time::Duration::from_secs(5));
            assert_eq!(h.deadline, std::time::Duration::from_secs(10));
            assert_eq!(
                h.headers,
                [("X-Scope-OrgID".into(), "tenant-SECRET".into())]
            );
            assert!(
                matches!(&h.auth, Auth::Bearer(SecretSource::File(p)) if p == Path::new("/run/token"))
            );
            assert_eq!(h.tls.ca_file.as_deref(), Some(Path::new("/etc/ca.pem")));
            assert!(h.tls.insecure_skip_verify);
        }
        for text in [format!("{rw:?}"), format!("{w:?}"), format!("{ds:?}")] {
            assert!(!text.contains("SECRET"), "{text}");
        }
        let err = load("remote_write: {url: 'http://p/api/v1/write', max_response_size: 1MiB}\n")
            .expect_err("a datasource-only option");
        assert!(
            err.to_string().contains("remote_write.max_response_size"),
            "{err}"
        );
    }

    #[test]
    fn durations_use_prometheus_syntax() {
        let c = load("global: {evaluation_interval: 15s}\ndatasource: {url: 'http://p:9090', timeout: 1m30s}\n")
            .expect("config");
        assert_eq!(c.global.evaluation_interval.as_millis(), 15_000);
        assert_eq!(
            c.datasource
                .and_then(|d| d.timeout)
                .map(Duration::as_millis),
            Some(90_000)
        );
        let err = load("global: {evaluation_interval: 1.5m}\n").expect_err("bad duration");
        assert!(
            err.to_string().contains("not a valid duration string"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_errors_with_a_position() {
        let err = load("global:\n  evaluation_interval: 15s\n  evalution_interval: 1m\n")
            .expect_err("typo");
        let text = err.to_string();
        assert!(text.contains(":3:"), "{text}");
        assert!(text.contains("evalution_interval"), "{text}");
    }

    #[test]
    fn time_zone_is_utc_unless_an_iana_name_is_given() {
        assert!(load("rule_files: []\n").unwrap().global.time_zone.is_utc());
        let c = load("global:\n  time_zone: Asia/Shanghai\n").expect("config");
        assert_eq!(c.global.time_zone.name(), "Asia/Shanghai");
    }

    #[test]
    fn an_unknown_time_zone_is_an_error_naming_file_line_column_and_value() {
        for (zone, column) in [
            ("Asia/Shangai", 14),
            ("asia/shanghai", 14),
            ("'+08:00'", 14),
        ] {
            let text = format!("global:\n  evaluation_interval: 15s\n  time_zone: {zone}\n");
            let err = load(&text).expect_err("unknown zone").to_string();
            let value = zone.trim_matches('\'');
            assert!(err.contains(&format!(".yaml:3:{column}: ")), "{err}");
            assert!(
                err.contains(&format!("global.time_zone: unknown time zone {value}")),
                "{err}"
            );
        }
    }

    #[test]
    fn a_bad_message_template_is_a_config_error_naming_receiver_and_position() {
        let err = load(concat!(
            "notify:\n",
            "  route: {receiver: oncall}\n",
            "  receivers:\n",
            "    - name: oncall\n",
            "      dingtalk:\n",
            "        access_token_env: T\n",
            "        title: '{{ .Status | toUpper }}'\n",
            "        text: \"a\\n{{ humanize 1 }}\"\n",
        ))
        .expect_err("bad template");
        let text = err.to_string();
        assert!(
            text.contains(
                "receiver \"oncall\": dingtalk.text template, line 2, column 4: function \"humanize\" not defined"
            ),
            "{text}"
        );
    }

    /// Every tocsin config shipped under deploy/ (examples and Kubernetes overlays) loads
    /// through the loader `tocsin run` and `tocsin gateway` use.
    #[test]
    fn every_config_under_deploy_loads() {
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        let configs = [
            "examples/dingtalk-direct-ack.yml",
            "examples/shadow.yml",
            "examples/load-test.yml",
            "kubernetes/overlays/standalone/tocsin.yml",
            "kubernetes/overlays/sidecar/tocsin.yml",
            "kubernetes/overlays/gateway/gateway.yml",
        ];
        for name in configs {
            let config = Config::load(&deploy.join(name)).unwrap_or_else(|e| panic!("{e:#}"));
            let gateway = name.ends_with("gateway.yml");
            assert_eq!(config.datasource.is_none(), gateway, "{name}: datasource");
            assert_eq!(
                config.notify.is_some(),
                !name.ends_with("shadow.yml"),
                "{name}: notify"
            );
        }
        // Nothing under deploy/examples is left out of the list above.
        let mut listed = 0;
        for entry in std::fs::read_dir(deploy.join("examples")).expect("deploy/examples") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yml") {
                let name = format!(
                    "examples/{}",
                    path.file_name().unwrap_or_default().to_string_lossy()
                );
                assert!(configs.contains(&name.as_str()), "{name} is not checked");
                listed += 1;
            }
        }
        assert_eq!(listed, 3);
    }
}
