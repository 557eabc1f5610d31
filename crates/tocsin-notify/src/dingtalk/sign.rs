//! Request signing for robots with the "加签" security setting.
//!
//! `sign = urlencode(base64(HMAC-SHA256(key = secret, msg = timestamp + "\n" + secret)))`,
//! with `timestamp` the current Unix time in milliseconds. Both go in the query string.
//! DingTalk rejects timestamps more than an hour from its clock, so sign every request.

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Secret;

/// A computed signature: the timestamp it covers and the Base64 MAC.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    timestamp_ms: u64,
    base64: String,
}

impl Signature {
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The raw Base64 value: what to hand to a URL builder that encodes query values itself
    /// (encoding it twice is the classic cause of `sign not match`).
    pub fn base64(&self) -> &str {
        &self.base64
    }

    /// The value percent-encoded once, for building a query string by hand.
    pub fn url_encoded(&self) -> String {
        let mut out = String::with_capacity(self.base64.len() + 12);
        for c in self.base64.chars() {
            match c {
                '+' => out.push_str("%2B"),
                '/' => out.push_str("%2F"),
                '=' => out.push_str("%3D"),
                c => out.push(c),
            }
        }
        out
    }
}

/// The signature shows its timestamp but not the MAC: with the timestamp, a leaked MAC
/// lets anyone post to the robot for an hour.
impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field("timestamp_ms", &self.timestamp_ms)
            .field("sign", &"***")
            .finish()
    }
}

/// Signs `timestamp_ms` with the robot's secret.
pub fn sign(secret: &Secret, timestamp_ms: u64) -> Signature {
    let key = secret.expose().as_bytes();
    // HMAC takes keys of any length (long ones are hashed), so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC-SHA256 accepts keys of every length")
    };
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(key);
    let base64 = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Signature {
        timestamp_ms,
        base64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_spec_test_vector() {
        let s = sign(&Secret::new("SEC0123456789abcdef"), 1_700_000_000_002);
        assert_eq!(s.base64(), "VGvd0brDJp/nMZtR+XnA3yBIlhowT+TwkRPua0q1/jg=");
        assert_eq!(
            s.url_encoded(),
            "VGvd0brDJp%2FnMZtR%2BXnA3yBIlhowT%2BTwkRPua0q1%2Fjg%3D"
        );
        assert_eq!(s.timestamp_ms(), 1_700_000_000_002);
    }

    #[test]
    fn matches_the_second_spec_vector() {
        let s = sign(&Secret::new("SEC0123456789abcdef"), 1_700_000_000_000);
        assert_eq!(s.base64(), "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk=");
        assert!(s.url_encoded().ends_with("b2%2FLcQAP3wOvwZIzBZk%3D"));
    }

    #[test]
    fn debug_hides_the_mac() {
        let s = sign(&Secret::new("SEC0123456789abcdef"), 1_700_000_000_002);
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("VGvd0brDJp"), "{dbg}");
        assert!(dbg.contains("1700000000002"), "{dbg}");
    }
}
