//! From a byte offset inside a rule's expression to a `line:column` in its file, for the
//! ways an expression is usually written: a plain or quoted scalar on one line, or a
//! literal block (`|`). Anything else (folded or multi-line flow scalars, escapes inside
//! quotes) keeps the expression's own position.

use tocsin_rules::{Pos, Spanned};

/// Where byte `offset` of `expr` is in the file whose lines are `lines`.
pub fn locate(lines: &[&str], expr: &Spanned<String>, offset: usize) -> Pos {
    find(lines, expr, offset).unwrap_or(expr.pos)
}

fn find(lines: &[&str], expr: &Spanned<String>, offset: usize) -> Option<Pos> {
    let value = expr.value.as_str();
    let before = value.get(..offset)?;
    let line = lines.get(expr.pos.line.checked_sub(1)?)?;
    let rest: String = line.chars().skip(expr.pos.col.checked_sub(1)?).collect();
    if !value.contains('\n') {
        let chars = before.chars().count();
        if rest.starts_with(value) {
            return Some(Pos::new(expr.pos.line, expr.pos.col + chars));
        }
        for quote in ['"', '\''] {
            let quoted = rest.strip_prefix(quote);
            if quoted.is_some_and(|q| q.starts_with(value)) && !value.contains([quote, '\\']) {
                return Some(Pos::new(expr.pos.line, expr.pos.col + 1 + chars));
            }
        }
        return None;
    }
    if !rest.starts_with('|') {
        return None;
    }
    // A literal block keeps its lines: line k of the value is file line pos + 1 + k.
    let k = before.matches('\n').count();
    let within = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let value_line = value.split('\n').nth(k)?;
    let file_line = lines.get(expr.pos.line + k)?;
    let indent = file_line.strip_suffix(value_line)?;
    if !indent.chars().all(|c| c == ' ') {
        return None;
    }
    Some(Pos::new(
        expr.pos.line + 1 + k,
        indent.chars().count() + 1 + within.chars().count(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, line: usize, col: usize, value: &str, offset: usize) -> Pos {
        let lines: Vec<&str> = text.lines().collect();
        let expr = Spanned {
            value: value.to_string(),
            pos: Pos::new(line, col),
        };
        locate(&lines, &expr, offset)
    }

    #[test]
    fn offsets_map_into_plain_quoted_and_literal_block_scalars() {
        let plain = "    expr: 100 < rate(x[1m])\n";
        assert_eq!(at(plain, 1, 11, "100 < rate(x[1m])", 6), Pos::new(1, 17));
        let quoted = "    expr: \"100 < rate(x[1m])\"\n";
        assert_eq!(at(quoted, 1, 11, "100 < rate(x[1m])", 6), Pos::new(1, 18));
        let block = "    expr: |\n      sum(a)\n        / sum(b)\n";
        assert_eq!(
            at(block, 1, 11, "sum(a)\n  / sum(b)\n", 11),
            Pos::new(3, 11)
        );
        // Escapes inside quotes: the expression's own position.
        let escaped = "    expr: \"x{a=\\\"b\\\"} > 1\"\n";
        assert_eq!(at(escaped, 1, 11, "x{a=\"b\"} > 1", 9), Pos::new(1, 11));
    }
}
