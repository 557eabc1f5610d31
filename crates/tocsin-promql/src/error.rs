//! The error type, printed exactly as Prometheus 2.42's `ParseErr.Error()`.

use std::fmt;

/// A line/column position as Prometheus prints it in parse errors.
///
/// Lines count from 1. On the first line the column is the byte offset plus
/// one; on later lines it is the byte offset from the preceding `\n`. Columns
/// count bytes, not characters, just as Prometheus does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u32,
    pub column: u32,
    /// Byte offset into the input.
    pub offset: usize,
}

impl Position {
    /// Computes the Prometheus line and column of byte `offset` in `input`.
    pub fn at(input: &str, offset: usize) -> Position {
        let offset = offset.min(input.len());
        let before = &input.as_bytes()[..offset];
        let mut line = 1u32;
        let mut last_break: isize = -1;
        for (i, &b) in before.iter().enumerate() {
            if b == b'\n' {
                line += 1;
                last_break = i as isize;
            }
        }
        let column = (offset as isize - last_break) as u32;
        Position {
            line,
            column,
            offset,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A PromQL parse or type-check error. `Display` yields Prometheus's text,
/// e.g. `1:6: parse error: unexpected end of input`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position}: parse error: {message}")]
pub struct ParseError {
    pub position: Position,
    pub message: String,
}
