//! The PromQL lexer, following the state machine of Prometheus 2.42's
//! `lex.go` (including its quirks: keywords lexed case-insensitively, any
//! letter inside `[...]` lexed as a colon, errors positioned where the
//! offending token starts).

use crate::strutil::{quote, quote_item, quote_rune, unicode_hash_u};

/// Token kinds. Operators, aggregators and keywords keep Prometheus's
/// grouping, which decides how an unexpected token is described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Eof,
    Comment,
    Identifier,
    MetricIdentifier,
    Number,
    Duration,
    String,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Comma,
    Eql,
    Colon,
    // Operators.
    Add,
    Div,
    Eqlc,
    EqlRegex,
    Gte,
    Gtr,
    Land,
    Lor,
    Lss,
    Lte,
    Lunless,
    Mod,
    Mul,
    Neq,
    NeqRegex,
    Pow,
    Sub,
    At,
    Atan2,
    // Aggregators.
    Avg,
    Bottomk,
    Count,
    CountValues,
    Group,
    Max,
    Min,
    Quantile,
    Stddev,
    Stdvar,
    Sum,
    Topk,
    // Keywords.
    Bool,
    By,
    GroupLeft,
    GroupRight,
    Ignoring,
    Offset,
    On,
    Without,
    // Preprocessors.
    Start,
    End,
}

impl Kind {
    pub fn is_operator(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Add | Div
                | Eqlc
                | EqlRegex
                | Gte
                | Gtr
                | Land
                | Lor
                | Lss
                | Lte
                | Lunless
                | Mod
                | Mul
                | Neq
                | NeqRegex
                | Pow
                | Sub
                | At
                | Atan2
        )
    }

    pub fn is_aggregator(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Avg | Bottomk
                | Count
                | CountValues
                | Group
                | Max
                | Min
                | Quantile
                | Stddev
                | Stdvar
                | Sum
                | Topk
        )
    }

    pub fn is_keyword(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Bool | By | GroupLeft | GroupRight | Ignoring | Offset | On | Without
        )
    }

    /// Tokens usable as a metric name (`metric_identifier` in the grammar).
    pub fn is_metric_identifier(self) -> bool {
        use Kind::*;
        self.is_aggregator()
            || matches!(
                self,
                By | Identifier
                    | Land
                    | Lor
                    | Lunless
                    | MetricIdentifier
                    | Offset
                    | Without
                    | Start
                    | End
            )
    }

    /// Tokens accepted as a label in grouping lists (`maybe_label`).
    pub fn is_maybe_label(self) -> bool {
        use Kind::*;
        self.is_aggregator()
            || matches!(
                self,
                Bool | By
                    | GroupLeft
                    | GroupRight
                    | Identifier
                    | Ignoring
                    | Land
                    | Lor
                    | Lunless
                    | MetricIdentifier
                    | Offset
                    | On
                    | Start
                    | End
                    | Atan2
            )
    }
}

fn keyword(word: &str) -> Option<Kind> {
    use Kind::*;
    if word.len() > 12 {
        return None;
    }
    let mut buf = [0u8; 12];
    let lower = &mut buf[..word.len()];
    lower.copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    Some(match &*lower {
        b"and" => Land,
        b"or" => Lor,
        b"unless" => Lunless,
        b"atan2" => Atan2,
        b"sum" => Sum,
        b"avg" => Avg,
        b"count" => Count,
        b"min" => Min,
        b"max" => Max,
        b"group" => Group,
        b"stddev" => Stddev,
        b"stdvar" => Stdvar,
        b"topk" => Topk,
        b"bottomk" => Bottomk,
        b"count_values" => CountValues,
        b"quantile" => Quantile,
        b"offset" => Offset,
        b"by" => By,
        b"without" => Without,
        b"on" => On,
        b"ignoring" => Ignoring,
        b"group_left" => GroupLeft,
        b"group_right" => GroupRight,
        b"bool" => Bool,
        b"start" => Start,
        b"end" => End,
        b"inf" | b"nan" => Number,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
}

impl Token {
    pub fn text<'a>(&self, input: &'a str) -> &'a str {
        input
            .get(self.start as usize..self.end as usize)
            .unwrap_or("")
    }

    /// How Prometheus describes this token after "unexpected ".
    pub fn describe(&self, input: &str) -> String {
        use Kind::*;
        let val = self.text(input);
        match self.kind {
            Eof => "end of input".to_owned(),
            Identifier => format!("identifier {}", quote(val)),
            MetricIdentifier => format!("metric identifier {}", quote(val)),
            Number => format!("number {}", quote_item(val)),
            Duration => format!("duration {}", quote_item(val)),
            String => format!("string {}", quote_item(val)),
            Comment => format!("comment {}", quote_item(val)),
            // Prometheus forgot `@` in its token names and prints yacc's number.
            At => format!("\"<Item 57385>\" <op:{val}>"),
            k if k.is_keyword() => format!("<{val}>"),
            k if k.is_operator() => format!("<op:{val}>"),
            k if k.is_aggregator() => format!("<aggr:{val}>"),
            _ => quote_item(val),
        }
    }
}

/// A lexer error: message and the byte offset Prometheus reports it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub offset: usize,
    pub message: String,
}

pub struct Lexer<'a> {
    input: &'a str,
    bytes: &'a [u8],
    pos: usize,
    start: usize,
    paren_depth: i32,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    /// Set right after `[`: the next token is lexed as a duration.
    want_duration: bool,
    done: bool,
}

fn is_alpha(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_alnum(b: u8) -> bool {
    is_alpha(b) || b.is_ascii_digit()
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

type LexResult = Result<Token, LexError>;

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str) -> Lexer<'a> {
        Lexer {
            input,
            bytes: input.as_bytes(),
            pos: 0,
            start: 0,
            paren_depth: 0,
            brace_open: false,
            bracket_open: false,
            got_colon: false,
            want_duration: false,
            done: false,
        }
    }

    fn peek_byte(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The char at the current position (for error messages).
    fn char_at(&self, pos: usize) -> Option<char> {
        self.input.get(pos..).and_then(|s| s.chars().next())
    }

    fn emit(&mut self, kind: Kind) -> LexResult {
        let tok = Token {
            kind,
            start: self.start as u32,
            end: self.pos as u32,
        };
        self.start = self.pos;
        Ok(tok)
    }

    fn error(&mut self, message: String) -> LexResult {
        self.done = true;
        Err(LexError {
            offset: self.start,
            message,
        })
    }

    /// The next token, comments included. After an error or EOF it keeps
    /// returning EOF.
    pub fn next_token(&mut self) -> LexResult {
        if self.done {
            return Ok(Token {
                kind: Kind::Eof,
                start: self.pos as u32,
                end: self.pos as u32,
            });
        }
        if self.want_duration {
            self.want_duration = false;
            return self.lex_duration();
        }
        loop {
            if self.brace_open {
                return self.lex_inside_braces();
            }
            match self.peek_byte() {
                Some(b) if is_space(b) => {
                    while matches!(self.peek_byte(), Some(b) if is_space(b)) {
                        self.pos += 1;
                    }
                    self.start = self.pos;
                }
                _ => return self.lex_statement(),
            }
        }
    }

    fn lex_comment(&mut self) -> LexResult {
        while let Some(b) = self.peek_byte() {
            if b == b'\n' || b == b'\r' {
                break;
            }
            self.pos += 1;
        }
        self.emit(Kind::Comment)
    }

    fn lex_statement(&mut self) -> LexResult {
        use Kind::*;
        let Some(b) = self.peek_byte() else {
            if self.paren_depth != 0 {
                return self.error("unclosed left parenthesis".to_owned());
            }
            if self.bracket_open {
                return self.error("unclosed left bracket".to_owned());
            }
            self.done = true;
            return self.emit(Eof);
        };
        if b == b'#' {
            return self.lex_comment();
        }
        self.pos += 1;
        match b {
            b',' => self.emit(Comma),
            b'*' => self.emit(Mul),
            b'/' => self.emit(Div),
            b'%' => self.emit(Mod),
            b'+' => self.emit(Add),
            b'-' => self.emit(Sub),
            b'^' => self.emit(Pow),
            b'=' => match self.peek_byte() {
                Some(b'=') => {
                    self.pos += 1;
                    self.emit(Eqlc)
                }
                Some(b'~') => self.error("unexpected character after '=': '~'".to_owned()),
                _ => self.emit(Eql),
            },
            b'!' => {
                let next = self.char_at(self.pos);
                if next == Some('=') {
                    self.pos += 1;
                    self.emit(Neq)
                } else {
                    self.error(format!(
                        "unexpected character after '!': {}",
                        quote_rune(next)
                    ))
                }
            }
            b'<' => {
                if self.peek_byte() == Some(b'=') {
                    self.pos += 1;
                    self.emit(Lte)
                } else {
                    self.emit(Lss)
                }
            }
            b'>' => {
                if self.peek_byte() == Some(b'=') {
                    self.pos += 1;
                    self.emit(Gte)
                } else {
                    self.emit(Gtr)
                }
            }
            b'0'..=b'9' => {
                self.pos -= 1;
                self.lex_number_or_duration()
            }
            b'.' if matches!(self.peek_byte(), Some(b'0'..=b'9')) => {
                self.pos -= 1;
                self.lex_number_or_duration()
            }
            b'"' | b'\'' => self.lex_string(b),
            b'`' => self.lex_raw_string(),
            b if is_alpha(b) || b == b':' => {
                if !self.bracket_open {
                    self.pos -= 1;
                    return self.lex_keyword_or_identifier();
                }
                if self.got_colon {
                    return self.error(format!("unexpected colon {}", quote_rune(Some(b as char))));
                }
                self.got_colon = true;
                self.emit(Colon)
            }
            b'(' => {
                self.paren_depth += 1;
                self.emit(LeftParen)
            }
            b')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    // Prometheus emits the paren first, so the error sits after it.
                    self.start = self.pos;
                    return self.error("unexpected right parenthesis ')'".to_owned());
                }
                self.emit(RightParen)
            }
            b'{' => {
                self.brace_open = true;
                self.emit(LeftBrace)
            }
            b'[' => {
                if self.bracket_open {
                    return self.error("unexpected left bracket '['".to_owned());
                }
                self.got_colon = false;
                let tok = self.emit(LeftBracket);
                while matches!(self.peek_byte(), Some(b) if is_space(b)) {
                    self.pos += 1;
                }
                self.start = self.pos;
                self.bracket_open = true;
                self.want_duration = true;
                tok
            }
            b']' => {
                if !self.bracket_open {
                    return self.error("unexpected right bracket ']'".to_owned());
                }
                self.bracket_open = false;
                self.emit(RightBracket)
            }
            b'@' => self.emit(At),
            _ => {
                let c = self.char_at(self.start);
                self.error(format!("unexpected character: {}", quote_rune(c)))
            }
        }
    }

    fn lex_inside_braces(&mut self) -> LexResult {
        use Kind::*;
        loop {
            let Some(b) = self.peek_byte() else {
                return self.error("unexpected end of input inside braces".to_owned());
            };
            if b == b'#' {
                return self.lex_comment();
            }
            if is_space(b) {
                while matches!(self.peek_byte(), Some(b) if is_space(b)) {
                    self.pos += 1;
                }
                self.start = self.pos;
                continue;
            }
            self.pos += 1;
            return match b {
                b if is_alpha(b) => {
                    while matches!(self.peek_byte(), Some(b) if is_alnum(b)) {
                        self.pos += 1;
                    }
                    self.emit(Identifier)
                }
                b',' => self.emit(Comma),
                b'"' | b'\'' => self.lex_string(b),
                b'`' => self.lex_raw_string(),
                b'=' => {
                    if self.peek_byte() == Some(b'~') {
                        self.pos += 1;
                        self.emit(EqlRegex)
                    } else {
                        self.emit(Eql)
                    }
                }
                b'!' => {
                    let next = self.char_at(self.pos);
                    match next {
                        Some('~') => {
                            self.pos += 1;
                            self.emit(NeqRegex)
                        }
                        Some('=') => {
                            self.pos += 1;
                            self.emit(Neq)
                        }
                        _ => self.error(format!(
                            "unexpected character after '!' inside braces: {}",
                            quote_rune(next)
                        )),
                    }
                }
                b'{' => self.error("unexpected left brace '{'".to_owned()),
                b'}' => {
                    self.brace_open = false;
                    self.emit(RightBrace)
                }
                _ => {
                    let c = self.char_at(self.start);
                    self.error(format!(
                        "unexpected character inside braces: {}",
                        quote_rune(c)
                    ))
                }
            };
        }
    }

    /// Scans the rest of a quoted string; the opening quote is consumed.
    fn lex_string(&mut self, quote_byte: u8) -> LexResult {
        loop {
            let Some(c) = self.char_at(self.pos) else {
                return self.error("unterminated quoted string".to_owned());
            };
            self.pos += c.len_utf8();
            match c {
                '\\' => self.lex_escape(quote_byte)?,
                '\u{fffd}' => return self.error("invalid UTF-8 rune".to_owned()),
                '\n' => return self.error("unterminated quoted string".to_owned()),
                c if c as u32 == quote_byte as u32 => return self.emit(Kind::String),
                _ => {}
            }
        }
    }

    fn next_char(&mut self) -> Option<char> {
        let c = self.char_at(self.pos)?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn lex_escape(&mut self, quote_byte: u8) -> Result<(), LexError> {
        let mut ch = self.next_char();
        let (mut n, base, max) = match ch {
            Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => return Ok(()),
            Some(c) if c as u32 == quote_byte as u32 => return Ok(()),
            Some('0'..='7') => (3u32, 8u32, 255u32),
            Some('x') => {
                ch = self.next_char();
                (2, 16, 255)
            }
            Some('u') => {
                ch = self.next_char();
                (4, 16, 0x10ffff)
            }
            Some('U') => {
                ch = self.next_char();
                (8, 16, 0x10ffff)
            }
            None => {
                return self
                    .error("escape sequence not terminated".to_owned())
                    .map(|_| ())
            }
            Some(c) => {
                return self
                    .error(format!(
                        "unknown escape sequence {}",
                        unicode_hash_u(Some(c))
                    ))
                    .map(|_| ())
            }
        };
        let mut x: u32 = 0;
        while n > 0 {
            let d = ch.and_then(|c| c.to_digit(16)).unwrap_or(16);
            if d >= base {
                let msg = match ch {
                    None => "escape sequence not terminated".to_owned(),
                    Some(c) => format!(
                        "illegal character {} in escape sequence",
                        unicode_hash_u(Some(c))
                    ),
                };
                return self.error(msg).map(|_| ());
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            n -= 1;
            if n > 0 {
                ch = self.next_char();
            }
        }
        if x > max || (0xd800..0xe000).contains(&x) {
            return self
                .error("escape sequence is an invalid Unicode code point".to_owned())
                .map(|_| ());
        }
        Ok(())
    }

    fn lex_raw_string(&mut self) -> LexResult {
        loop {
            let Some(c) = self.next_char() else {
                return self.error("unterminated raw string".to_owned());
            };
            match c {
                '\u{fffd}' => return self.error("invalid UTF-8 rune".to_owned()),
                '`' => return self.emit(Kind::String),
                _ => {}
            }
        }
    }

    fn accept(&mut self, set: &[u8]) -> bool {
        match self.peek_byte() {
            Some(b) if set.contains(&b) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, set: &[u8]) {
        while self.accept(set) {}
    }

    /// Go's `scanNumber`: true when the scanned text is not followed by an
    /// alphanumeric character.
    fn scan_number(&mut self) -> bool {
        const DEC: &[u8] = b"0123456789";
        const HEX: &[u8] = b"0123456789abcdefABCDEF";
        let mut digits = DEC;
        if self.accept(b"0") && self.accept(b"xX") {
            digits = HEX;
        }
        self.accept_run(digits);
        if self.accept(b".") {
            self.accept_run(digits);
        }
        if self.accept(b"eE") {
            self.accept(b"+-");
            self.accept_run(DEC);
        }
        !matches!(self.peek_byte(), Some(b) if is_alnum(b))
    }

    /// Go's `acceptRemainingDuration`. Like Go, a failure leaves the
    /// position after the offending character when one was read.
    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept(b"smhdwy") {
            return false;
        }
        self.accept(b"s");
        while self.accept(b"0123456789") {
            self.accept_run(b"0123456789");
            if !self.accept(b"smhdw") {
                return false;
            }
            self.accept(b"s");
        }
        match self.peek_byte() {
            Some(b) if is_alnum(b) => {
                self.pos += 1;
                false
            }
            _ => true,
        }
    }

    fn lex_number_or_duration(&mut self) -> LexResult {
        if self.scan_number() {
            return self.emit(Kind::Number);
        }
        if self.accept_remaining_duration() {
            return self.emit(Kind::Duration);
        }
        let text = &self.input[self.start..self.pos];
        self.error(format!("bad number or duration syntax: {}", quote(text)))
    }

    fn lex_duration(&mut self) -> LexResult {
        if self.scan_number() {
            return self.error("missing unit character in duration".to_owned());
        }
        if !self.accept_remaining_duration() {
            let text = &self.input[self.start..self.pos];
            return self.error(format!("bad duration syntax: {}", quote(text)));
        }
        self.emit(Kind::Duration)
    }

    fn lex_keyword_or_identifier(&mut self) -> LexResult {
        while matches!(self.peek_byte(), Some(b) if is_alnum(b) || b == b':') {
            self.pos += 1;
        }
        let word = &self.input[self.start..self.pos];
        if let Some(kind) = keyword(word) {
            return self.emit(kind);
        }
        if word.contains(':') {
            self.emit(Kind::MetricIdentifier)
        } else {
            self.emit(Kind::Identifier)
        }
    }
}
