//! The sink's own check of a signed request, written independently of the sender's
//! signing code so that a bug in one is not mirrored by the other: decode the `sign`
//! query value from Base64 and verify it as an HMAC-SHA256 tag (constant-time) over
//! `timestamp + "\n" + secret`, keyed with the secret.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from the sink's clock.
pub const TIMESTAMP_TOLERANCE_MS: u64 = 60 * 60 * 1000;

#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// `timestamp` or `sign` is missing, or the tag does not verify.
    Mismatch,
    /// `timestamp` is not a millisecond count within an hour of now.
    Timestamp,
}

/// Checks the `timestamp` and (already percent-decoded) `sign` query values.
pub fn verify(
    secret: &str,
    timestamp: Option<&str>,
    sign: Option<&str>,
    now_ms: u64,
) -> Result<(), SignatureError> {
    let (Some(timestamp), Some(sign)) = (timestamp, sign) else {
        return Err(SignatureError::Mismatch);
    };
    let ts: u64 = timestamp.parse().map_err(|_| SignatureError::Timestamp)?;
    if ts.abs_diff(now_ms) > TIMESTAMP_TOLERANCE_MS {
        return Err(SignatureError::Timestamp);
    }
    let tag = base64::engine::general_purpose::STANDARD
        .decode(sign)
        .map_err(|_| SignatureError::Mismatch)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    let mut message = Vec::with_capacity(timestamp.len() + 1 + secret.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(secret.as_bytes());
    mac.update(&message);
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "SEC0123456789abcdef";
    const NOW: u64 = 1_700_000_000_500;

    #[test]
    fn the_spec_vector_verifies() {
        let sign = "VGvd0brDJp/nMZtR+XnA3yBIlhowT+TwkRPua0q1/jg=";
        assert_eq!(
            verify(SECRET, Some("1700000000002"), Some(sign), NOW),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_sign_or_other_secret_is_a_mismatch() {
        let sign = "VGvd0brDJp/nMZtR+XnA3yBIlhowT+TwkRPua0q1/jg=";
        assert_eq!(
            verify("SECother", Some("1700000000002"), Some(sign), NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some("1700000000003"), Some(sign), NOW),
            Err(SignatureError::Mismatch)
        );
        // An unencoded '+' arrives as a space: no longer valid Base64.
        let spaced = sign.replace('+', " ");
        assert_eq!(
            verify(SECRET, Some("1700000000002"), Some(&spaced), NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, None, Some(sign), NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn timestamps_over_an_hour_away_or_in_seconds_are_refused() {
        let sign = "VGvd0brDJp/nMZtR+XnA3yBIlhowT+TwkRPua0q1/jg=";
        let later = NOW + TIMESTAMP_TOLERANCE_MS + 1000;
        assert_eq!(
            verify(SECRET, Some("1700000000002"), Some(sign), later),
            Err(SignatureError::Timestamp)
        );
        assert_eq!(
            verify(SECRET, Some("1700000000"), Some(sign), NOW),
            Err(SignatureError::Timestamp)
        );
    }
}
