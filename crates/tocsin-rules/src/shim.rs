pub struct E;
impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("x")
    }
}
pub fn promql_parse(_: &str) -> Result<(), E> {
    Ok(())
}
