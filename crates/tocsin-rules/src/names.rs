//! Metric and label name rules of Prometheus 2.42 (the "legacy" scheme; UTF-8 names came in 3.0).

/// `^[a-zA-Z_][a-zA-Z0-9_]*$`
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `^[a-zA-Z_:][a-zA-Z0-9_:]*$`
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_follow_the_legacy_scheme() {
        assert!(is_valid_label_name("instance"));
        assert!(is_valid_label_name("_x1"));
        assert!(!is_valid_label_name("1a"));
        assert!(!is_valid_label_name("ins-tance"));
        assert!(!is_valid_label_name("a:b"));
        assert!(!is_valid_label_name(""));
        assert!(!is_valid_label_name("é"));
    }

    #[test]
    fn metric_names_also_allow_colons() {
        assert!(is_valid_metric_name("job:requests:rate5m"));
        assert!(!is_valid_metric_name("strawberry{flavor=\"sweet\"}"));
        assert!(!is_valid_metric_name("9lives"));
        assert!(!is_valid_metric_name(""));
    }
}
