//! One module per subcommand.

pub mod check;
pub mod diff;
pub mod gateway;
pub mod loadtest;
pub mod run;
pub mod sink;
pub mod test_rules;
