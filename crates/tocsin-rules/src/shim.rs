pub struct E;
impl E {
    pub fn line(&self) -> usize {
        1
    }
}
impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("x")
    }
}
pub fn promql_parse(_: &str) -> Result<(), E> {
    Ok(())
}
pub fn parse_alert_template(_: &str, t: &str) -> Result<(), E> {
    if t.contains("{{") && !t.contains("}}") {
        Err(E)
    } else {
        Ok(())
    }
}
