//! Secrets (robot access tokens, signing secrets) and where they are read from.
//!
//! A [`Secret`] prints as `***` through both `Debug` and `Display`, so a secret that ends
//! up in a log line, an error or a `{:?}` of a larger struct shows nothing.

use std::fmt;
use std::path::{Path, PathBuf};

/// A string that must never be shown: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value that is already in memory (tests, values from the command line).
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a secret from a file, dropping surrounding whitespace (the trailing newline
    /// editors and `echo` add). An empty file is an error.
    pub fn from_file(what: &'static str, path: &Path) -> Result<Self, SecretError> {
        let raw = std::fs::read_to_string(path).map_err(|source| SecretError::File {
            what,
            path: path.to_path_buf(),
            source,
        })?;
        Self::non_empty(what, raw, || format!("file {}", path.display()))
    }

    /// Reads a secret from an environment variable, dropping surrounding whitespace.
    pub fn from_env(what: &'static str, name: &str) -> Result<Self, SecretError> {
        let raw = std::env::var(name).map_err(|e| match e {
            std::env::VarError::NotPresent => SecretError::EnvMissing {
                what,
                name: name.to_owned(),
            },
            std::env::VarError::NotUnicode(_) => SecretError::EnvNotUnicode {
                what,
                name: name.to_owned(),
            },
        })?;
        Self::non_empty(what, raw, || format!("environment variable {name}"))
    }

    fn non_empty(
        what: &'static str,
        raw: String,
        origin: impl FnOnce() -> String,
    ) -> Result<Self, SecretError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(SecretError::Empty {
                what,
                origin: origin(),
            });
        }
        Ok(Secret(trimmed.to_owned()))
    }

    /// The value itself, for the few places that must use it (signing, the request URL).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a secret comes from. Exactly one source per secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

impl SecretSource {
    /// Picks the one source given as a `*_file` / `*_env` pair; `Ok(None)` when neither is.
    pub fn from_pair(
        what: &'static str,
        file: Option<&Path>,
        env: Option<&str>,
    ) -> Result<Option<Self>, SecretError> {
        match (file, env) {
            (Some(_), Some(_)) => Err(SecretError::TwoSources { what }),
            (Some(path), None) => Ok(Some(SecretSource::File(path.to_path_buf()))),
            (None, Some(name)) => Ok(Some(SecretSource::Env(name.to_owned()))),
            (None, None) => Ok(None),
        }
    }

    pub fn load(&self, what: &'static str) -> Result<Secret, SecretError> {
        match self {
            SecretSource::File(path) => Secret::from_file(what, path),
            SecretSource::Env(name) => Secret::from_env(what, name),
        }
    }
}

/// Why a secret could not be read. Never contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the {what} from {}: {source}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the {what} environment variable {name} is not set")]
    EnvMissing { what: &'static str, name: String },
    #[error("the {what} environment variable {name} is not valid UTF-8")]
    EnvNotUnicode { what: &'static str, name: String },
    #[error("the {what} in {origin} is empty")]
    Empty { what: &'static str, origin: String },
    #[error("the {what} is given both as a file and as an environment variable; give one")]
    TwoSources { what: &'static str },
    #[error("no {what} configured: {hint}")]
    Missing {
        what: &'static str,
        hint: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("SECverysecret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "SECverysecret");
    }

    #[test]
    fn file_secret_is_trimmed_and_empty_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("tocsin-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("token");
        std::fs::write(&good, "abc123\n").unwrap();
        assert_eq!(
            Secret::from_file("token", &good).unwrap().expose(),
            "abc123"
        );
        let empty = dir.join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let err = Secret::from_file("token", &empty).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
        let missing = Secret::from_file("token", &dir.join("nope")).unwrap_err();
        assert!(
            missing.to_string().contains("cannot read the token"),
            "{missing}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_env_var_is_named_in_the_error() {
        let err = Secret::from_env("signing secret", "TOCSIN_TEST_SURELY_UNSET_VAR").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the signing secret environment variable TOCSIN_TEST_SURELY_UNSET_VAR is not set"
        );
    }

    #[test]
    fn both_file_and_env_is_an_error() {
        let err = SecretSource::from_pair("access token", Some(Path::new("/x")), Some("X"));
        assert!(matches!(err, Err(SecretError::TwoSources { .. })));
        assert_eq!(
            SecretSource::from_pair("access token", None, None).unwrap(),
            None
        );
    }
}
