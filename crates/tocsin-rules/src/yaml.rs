//! A small YAML node layer over `granit-parser`'s event stream.
//!
//! Rule files are decoded the way Go's `yaml.v3` decodes them into Prometheus's `rulefmt`
//! structs, and that needs things serde-based loaders hide: the position of every node
//! (mapping nodes included), the YAML tag a plain scalar resolves to (for `cannot unmarshal
//! !!str into int`), and all unmarshal errors of a file rather than the first. So we build
//! our own light tree, and only one group at a time: [`GroupStream`] yields the items of the
//! top-level `groups:` sequence as they are parsed, which keeps memory flat on huge files.

use std::borrow::Cow;
use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, ScanError, Span};

use crate::pos::Pos;

/// How deep collections may nest before we give up: rule files are four levels deep, and a
/// bound keeps hostile input from overflowing the stack.
const MAX_DEPTH: usize = 64;

/// A YAML node with the position of its first character.
#[derive(Clone, Debug)]
pub struct Node<'a> {
    pub pos: Pos,
    pub kind: NodeKind<'a>,
}

#[derive(Clone, Debug)]
pub enum NodeKind<'a> {
    Scalar(Scalar<'a>),
    Seq(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>),
}

#[derive(Clone, Debug)]
pub struct Scalar<'a> {
    pub value: Cow<'a, str>,
    /// The resolved tag, as yaml.v3 prints it in errors (`!!str`, `!!int`, …).
    pub tag: Tag,
}

/// The YAML core-schema tags yaml.v3 names in its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    Null,
    Bool,
    Int,
    Float,
    Str,
    /// The plain `<<` key.
    Merge,
    /// `!!binary`: base64 text that yaml.v3 decodes to bytes.
    Binary,
    Other,
}

impl Tag {
    pub fn short(self) -> &'static str {
        match self {
            Tag::Null => "!!null",
            Tag::Bool => "!!bool",
            Tag::Int => "!!int",
            Tag::Float => "!!float",
            Tag::Merge => "!!merge",
            Tag::Binary => "!!binary",
            Tag::Str | Tag::Other => "!!str",
        }
    }
}

impl<'a> Node<'a> {
    /// The tag yaml.v3 would name for this node in a type error.
    pub fn short_tag(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar(s) => s.tag.short(),
            NodeKind::Seq(_) => "!!seq",
            NodeKind::Map(_) => "!!map",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s) if s.tag == Tag::Null)
    }

    pub fn as_scalar(&self) -> Option<&Scalar<'a>> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// A YAML syntax error, with the position the parser reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

impl SyntaxError {
    /// A parser error of `text`, in the words yaml.v3 uses for the same mistake.
    fn from_scan(text: &str, e: &ScanError) -> Self {
        let m = e.marker();
        let mut pos = Pos::new(m.line(), m.col() + 1);
        let offset = m.index();
        let info = e.info();
        if info.ends_with("found a tab") {
            // Our parser points at the end of the scalar; the tab is further on.
            let mut at = pos;
            for c in text.chars().skip(offset) {
                if c == '\t' {
                    pos = at;
                    break;
                }
                at = if c == '\n' {
                    Pos::new(at.line + 1, 1)
                } else {
                    Pos::new(at.line, at.col + 1)
                };
            }
        }
        SyntaxError {
            pos,
            message: yaml_v3_problem(text, offset, &info),
        }
    }
}

/// yaml.v3 (a port of libyaml) prints only the problem of a syntax error, after
/// `line N:`; our parser words some problems differently and prefixes a context
/// (`while parsing a block mapping, …`). The mistakes people make most are translated;
/// the rest keep the parser's problem text. `offset` is the character offset of the error.
fn yaml_v3_problem(text: &str, offset: usize, info: &str) -> String {
    let problem = match info.split_once(", ") {
        Some((context, problem)) if context.starts_with("while ") => problem,
        _ => info,
    };
    let rest = || text.chars().skip(offset + 1);
    // Whether a flow collection opened at `offset` holds anything before the text ends.
    let has_entries = || {
        let mut in_comment = false;
        for c in rest() {
            match c {
                '\n' => in_comment = false,
                '#' => in_comment = true,
                c if in_comment || c.is_whitespace() => {}
                ']' | '}' => return false,
                _ => return true,
            }
        }
        false
    };
    match problem {
        "simple key expected ':'" => "could not find expected ':'".into(),
        "unclosed quote" => "found unexpected end of stream".into(),
        "found a tab" => "found a tab character that violates indentation".into(),
        "tabs disallowed within this context (block indentation)" => {
            "found character that cannot start any token".into()
        }
        "the handle wasn't declared" => "found undefined tag handle".into(),
        "found unknown anchor" | "unknown anchor" => {
            let name: String = rest()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | ']' | '}' | '[' | '{'))
                .collect();
            format!("unknown anchor '{name}' referenced")
        }
        p if p.starts_with("unclosed bracket '") || p.starts_with("mismatched bracket '") => {
            let open = p.chars().nth(p.find('\'').map_or(0, |i| i + 1));
            match open {
                Some('[') if has_entries() => "did not find expected ',' or ']'".into(),
                Some('{') if has_entries() => "did not find expected ',' or '}'".into(),
                _ => "did not find expected node content".into(),
            }
        }
        "illegal placement of ':' indicator" => match open_flow_collection(text, offset) {
            Some('[') => "did not find expected ',' or ']'".into(),
            Some(_) => "did not find expected ',' or '}'".into(),
            None => "mapping values are not allowed in this context".into(),
        },
        p if p.starts_with("invalid trailing content after") => {
            // yaml.v3 reads what follows the closing quote as the next token: a key
            // (`x: …`) where no mapping may start, or a stray scalar where a key belongs.
            let line: String = text
                .chars()
                .skip(offset)
                .take_while(|&c| c != '\n')
                .collect();
            let line = line.split(" #").next().unwrap_or("").trim_end();
            if line.contains(": ") || line.ends_with(':') {
                "mapping values are not allowed in this context".into()
            } else {
                "did not find expected key".into()
            }
        }
        p => p.into(),
    }
}

/// The bracket of the innermost flow collection still open at character `offset`, quotes
/// and comments skipped.
fn open_flow_collection(text: &str, offset: usize) -> Option<char> {
    let mut open = Vec::new();
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = ' ';
    for c in text.chars().take(offset) {
        match (quote, c) {
            (_, '\n') if comment => comment = false,
            _ if comment => {}
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if prev.is_whitespace() => comment = true,
            (None, '[' | '{') => open.push(c),
            (None, ']' | '}') => {
                open.pop();
            }
            _ => {}
        }
        prev = c;
    }
    open.pop()
}

/// Pulls nodes out of the event stream, resolving aliases against the anchors seen so far.
struct Reader<'a> {
    text: &'a str,
    parser: Parser<'a, granit_parser::StrInput<'a>>,
    /// Each anchored node, with the number of nodes in it.
    anchors: HashMap<usize, (Node<'a>, u64)>,
    peeked: Option<(Event<'a>, Span)>,
    budget: AliasBudget,
}

/// yaml.v3's guard against alias bombs ("billion laughs"), counted over the nodes we build.
///
/// yaml.v3 counts every node it decodes and, separately, those it reaches through an alias;
/// once more than 100 came through aliases and more than 1,000 were decoded, the share that
/// came through aliases may not exceed 99% (up to 400,000 nodes), falling linearly to 10%
/// (from 4,000,000 nodes on). Aliases are expanded by copying the anchored node, so the
/// check runs *before* each copy with the counts it would reach: since both ratios only grow
/// while the copy is walked, that is where yaml.v3's per-node check would first fail too.
/// The counts cover every node of the first document, where yaml.v3 counts only the nodes
/// Prometheus's structs visit; the two differ only for aliases in places that are errors
/// anyway (unknown fields, a mapping where a string belongs).
#[derive(Default)]
struct AliasBudget {
    decoded: u64,
    aliased: u64,
}

const EXCESSIVE_ALIASING: &str = "document contains excessive aliasing";

impl AliasBudget {
    /// Counts a copy of `size` nodes made for an alias, or refuses it.
    fn alias(&mut self, size: u64) -> Result<(), &'static str> {
        let decoded = self.decoded + size;
        let aliased = self.aliased + size;
        if aliased > 100
            && decoded > 1000
            && aliased as f64 / decoded as f64 > allowed_alias_ratio(decoded)
        {
            return Err(EXCESSIVE_ALIASING);
        }
        self.decoded = decoded;
        self.aliased = aliased;
        Ok(())
    }
}

/// yaml.v3's `allowedAliasRatio`.
fn allowed_alias_ratio(decoded: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if decoded <= LOW {
        0.99
    } else if decoded >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decoded - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

/// What sits at the top of a rule file, before its groups.
pub enum TopLevel<'a> {
    /// An empty document (or none): a valid file with no groups.
    Empty,
    /// A `groups:` sequence whose items [`GroupStream::next_group`] will yield.
    Groups,
    /// A top level that is not a mapping, or whose `groups` is not a sequence.
    Other(Node<'a>),
}

/// Streams the items of a rule file's `groups:` sequence one at a time.
pub struct GroupStream<'a> {
    reader: Reader<'a>,
    /// Keys of the top-level mapping other than the first `groups`, with their values:
    /// unknown fields or repeated keys for the decoder.
    pub other_top_keys: Vec<(Node<'a>, Node<'a>)>,
    in_groups: bool,
    /// The first `groups` key.
    pub groups_key: Option<Node<'a>>,
}

impl<'a> Reader<'a> {
    fn next_event(&mut self) -> Result<Option<(Event<'a>, Span)>, SyntaxError> {
        if let Some(ev) = self.peeked.take() {
            return Ok(Some(ev));
        }
        match self.parser.next_event() {
            None => Ok(None),
            Some(Ok(ev)) => Ok(Some(ev)),
            Some(Err(e)) => Err(SyntaxError::from_scan(self.text, &e)),
        }
    }

    fn peek(&mut self) -> Result<Option<&(Event<'a>, Span)>, SyntaxError> {
        if self.peeked.is_none() {
            self.peeked = self.next_event()?;
        }
        Ok(self.peeked.as_ref())
    }

    fn read_node(&mut self, depth: usize) -> Result<Node<'a>, SyntaxError> {
        let (event, span) = self.next_event()?.ok_or_else(|| SyntaxError {
            pos: Pos::new(0, 0),
            message: "unexpected end of YAML stream".into(),
        })?;
        self.node_from(event, span, depth)
    }

    fn node_from(
        &mut self,
        event: Event<'a>,
        span: Span,
        depth: usize,
    ) -> Result<Node<'a>, SyntaxError> {
        let pos = pos_of(&span);
        let counted_before = self.budget.decoded;
        self.budget.decoded += 1;
        if depth > MAX_DEPTH {
            return Err(SyntaxError {
                pos,
                message: format!("YAML nested deeper than {MAX_DEPTH} levels"),
            });
        }
        let (node, anchor) = match event {
            Event::Scalar(value, style, anchor, tag) => {
                let tag = resolve_tag(&value, style, tag.as_deref());
                let pos = if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    block_indicator(self.text, &span).unwrap_or(pos)
                } else {
                    pos
                };
                let node = Node {
                    pos,
                    kind: NodeKind::Scalar(Scalar { value, tag }),
                };
                (node, anchor)
            }
            Event::SequenceStart(_, anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, sp) = self.next_event()?.ok_or_else(|| eof(pos))?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node_from(ev, sp, depth + 1)?);
                }
                let node = Node {
                    pos,
                    kind: NodeKind::Seq(items),
                };
                (node, anchor)
            }
            Event::MappingStart(_, anchor, _) => {
                let mut entries = Vec::new();
                loop {
                    let (ev, sp) = self.next_event()?.ok_or_else(|| eof(pos))?;
                    if matches!(ev, Event::MappingEnd) {
                        break;
                    }
                    let key = self.node_from(ev, sp, depth + 1)?;
                    let value = self.read_node(depth + 1)?;
                    entries.push((key, value));
                }
                // yaml.v3 puts a mapping at its first key; an empty one at its `{`.
                let pos = entries.first().map_or(pos, |(k, _)| k.pos);
                let node = Node {
                    pos,
                    kind: NodeKind::Map(entries),
                };
                (node, anchor)
            }
            Event::Alias(id) => {
                let (anchored, size) = self.anchors.get(&id).ok_or_else(|| SyntaxError {
                    pos,
                    message: "unknown anchor".into(),
                })?;
                self.budget.alias(*size).map_err(|message| SyntaxError {
                    pos,
                    message: message.into(),
                })?;
                let mut node = anchored.clone();
                node.pos = pos;
                return Ok(node);
            }
            other => {
                return Err(SyntaxError {
                    pos,
                    message: format!("unexpected YAML event {other:?}"),
                })
            }
        };
        if anchor != 0 {
            // Every node counted since this one began is inside it, aliases expanded.
            let size = self.budget.decoded - counted_before;
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok(node)
    }
}

fn eof(pos: Pos) -> SyntaxError {
    SyntaxError {
        pos,
        message: "unexpected end of YAML stream".into(),
    }
}

/// The `|`/`>` of a block scalar whose span starts at its text: the last non-blank line
/// above the text, with any trailing comment and chomping/indent indicators removed, ends
/// with it.
fn block_indicator(text: &str, span: &Span) -> Option<Pos> {
    let start = span.start.byte_offset()?;
    let before = text.get(..start)?;
    let mut line_no = span.start.line();
    for line in before.rsplit('\n').skip(1) {
        line_no -= 1;
        let code = match line.find(" #") {
            Some(i) => &line[..i],
            None => line,
        };
        let code = code
            .trim_end()
            .trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
        if code.is_empty() {
            continue;
        }
        if code.ends_with(['|', '>']) {
            let col = code.chars().count();
            return Some(Pos::new(line_no, col));
        }
        return None;
    }
    None
}

/// Where a node starts: at its tag when it has one, as yaml.v3 counts it.
fn pos_of(span: &Span) -> Pos {
    let start = span.tag_start.as_ref().unwrap_or(&span.start);
    Pos::new(start.line(), start.col() + 1)
}

impl<'a> GroupStream<'a> {
    /// Starts reading `text`; returns what the top level holds.
    pub fn open(text: &'a str) -> Result<(Self, TopLevel<'a>), SyntaxError> {
        let text = before_document_end(text);
        let mut stream = GroupStream {
            reader: Reader {
                text,
                parser: Parser::new_from_str(text),
                anchors: HashMap::new(),
                peeked: None,
                budget: AliasBudget::default(),
            },
            other_top_keys: Vec::new(),
            in_groups: false,
            groups_key: None,
        };
        loop {
            let top = match stream.reader.next_event()? {
                None | Some((Event::StreamEnd, _)) => TopLevel::Empty,
                Some((Event::StreamStart, _)) | Some((Event::DocumentStart(..), _)) => continue,
                Some((Event::MappingStart(_, 0, _), span)) => {
                    stream.enter_top_mapping(pos_of(&span))?
                }
                Some((ev, span)) => {
                    let node = stream.reader.node_from(ev, span, 0)?;
                    if node.is_null() {
                        TopLevel::Empty
                    } else {
                        TopLevel::Other(node)
                    }
                }
            };
            return Ok((stream, top));
        }
    }

    /// Reads top-level keys until the `groups` sequence starts (or the mapping ends).
    fn enter_top_mapping(&mut self, map_pos: Pos) -> Result<TopLevel<'a>, SyntaxError> {
        loop {
            let Some((ev, span)) = self.reader.next_event()? else {
                return Err(eof(map_pos));
            };
            if matches!(ev, Event::MappingEnd) {
                return Ok(TopLevel::Empty);
            }
            let key = self.reader.node_from(ev, span, 1)?;
            let is_groups = matches!(&key.kind, NodeKind::Scalar(s) if s.value == "groups");
            if is_groups && self.groups_key.is_none() {
                self.groups_key = Some(key.clone());
                let next_is_seq = matches!(
                    self.reader.peek()?,
                    Some((Event::SequenceStart(_, 0, _), _))
                );
                if next_is_seq {
                    self.reader.next_event()?;
                    self.in_groups = true;
                    return Ok(TopLevel::Groups);
                }
                let value = self.reader.read_node(1)?;
                if value.is_null() {
                    continue;
                }
                return Ok(TopLevel::Other(Node {
                    pos: map_pos,
                    kind: NodeKind::Map(vec![(key, value)]),
                }));
            }
            let value = self.reader.read_node(1)?;
            self.other_top_keys.push((key, value));
        }
    }

    /// The next item of `groups:`, or `None` once the sequence (and the rest of the top-level
    /// mapping) has been read.
    pub fn next_group(&mut self) -> Result<Option<Node<'a>>, SyntaxError> {
        if !self.in_groups {
            return Ok(None);
        }
        let Some((ev, span)) = self.reader.next_event()? else {
            return Err(eof(Pos::new(0, 0)));
        };
        if matches!(ev, Event::SequenceEnd) {
            self.in_groups = false;
            self.finish_top_mapping()?;
            return Ok(None);
        }
        let node = self.reader.node_from(ev, span, 1)?;
        // yaml.v3 drops null items when decoding into a slice of structs.
        if node.is_null() {
            return self.next_group();
        }
        Ok(Some(node))
    }

    /// Reads the top-level keys after `groups`, so unknown ones are still reported.
    fn finish_top_mapping(&mut self) -> Result<(), SyntaxError> {
        loop {
            let Some((ev, span)) = self.reader.next_event()? else {
                return Ok(());
            };
            match ev {
                Event::MappingEnd => return Ok(()),
                ev => {
                    let key = self.reader.node_from(ev, span, 1)?;
                    let value = self.reader.read_node(1)?;
                    self.other_top_keys.push((key, value));
                }
            }
        }
    }

    /// Reads the rest of the first document, so a syntax error after the groups is reported.
    /// Later documents are ignored, as Prometheus ignores them.
    pub fn finish(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.reader.next_event() {
                Ok(None | Some((Event::StreamEnd, _)) | Some((Event::DocumentEnd, _))) => {
                    return Ok(())
                }
                Ok(Some(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The text up to the first document end marker (`...` at the start of a line): yaml.v3
/// reads the first document only and never looks at what follows the marker on its line,
/// where our parser would reject any text.
fn before_document_end(text: &str) -> &str {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("...") {
            if rest.starts_with([' ', '\t', '\r', '\n']) || rest.is_empty() {
                return &text[..start];
            }
        }
        start += line.len();
    }
    text
}

/// Resolves the tag of a scalar the way yaml.v3 does for the types rule files use.
fn resolve_tag(value: &str, style: ScalarStyle, explicit: Option<&granit_parser::Tag>) -> Tag {
    if let Some(tag) = explicit {
        if tag.handle() == "tag:yaml.org,2002:" {
            return match tag.suffix() {
                "null" => Tag::Null,
                "bool" => Tag::Bool,
                "int" => Tag::Int,
                "float" => Tag::Float,
                "str" => Tag::Str,
                "binary" => Tag::Binary,
                _ => Tag::Other,
            };
        }
        return Tag::Other;
    }
    if style != ScalarStyle::Plain {
        return Tag::Str;
    }
    resolve_plain(value)
}

/// yaml.v3's resolution of plain scalars (YAML 1.2 core schema plus its 1.1 leftovers).
pub fn resolve_plain(value: &str) -> Tag {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Tag::Null,
        "<<" => return Tag::Merge,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return Tag::Bool,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Tag::Float,
        _ => {}
    }
    let first = value.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
        return Tag::Str;
    }
    if parse_int(value).is_some() {
        return Tag::Int;
    }
    if is_float(value) {
        return Tag::Float;
    }
    Tag::Str
}

/// Parses a YAML integer as yaml.v3 does (underscores ignored; 0x, 0o, 0b and leading-0 octal).
pub fn parse_int(value: &str) -> Option<i64> {
    let plain: String = value.chars().filter(|&c| c != '_').collect();
    let (neg, digits) = match plain.as_bytes().first()? {
        b'-' => (true, &plain[1..]),
        b'+' => (false, &plain[1..]),
        _ => (false, &plain[..]),
    };
    if digits.is_empty() {
        return None;
    }
    let (radix, body) = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, h)
    } else if let Some(o) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, o)
    } else if let Some(b) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, b)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    let signed = if neg { -magnitude } else { magnitude };
    i64::try_from(signed).ok()
}

fn is_float(value: &str) -> bool {
    let body = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    let mantissa_ok = match frac {
        Some(f) => digits(int_part) && digits(f) && !(int_part.is_empty() && f.is_empty()),
        None => !int_part.is_empty() && digits(int_part),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(text: &str) -> Vec<Node<'_>> {
        let (mut s, top) = GroupStream::open(text).expect("yaml");
        assert!(matches!(top, TopLevel::Groups));
        let mut out = Vec::new();
        while let Some(g) = s.next_group().expect("group") {
            out.push(g);
        }
        out
    }

    #[test]
    fn group_mapping_sits_at_its_first_key() {
        let g = groups("groups:\n  - name: a\n    rules: []\n  - name: b\n");
        assert_eq!(g[0].pos, Pos::new(2, 5));
        assert_eq!(g[1].pos, Pos::new(4, 5));
    }

    #[test]
    fn plain_scalars_resolve_like_yaml_v3() {
        assert_eq!(resolve_plain("abc"), Tag::Str);
        assert_eq!(resolve_plain("12"), Tag::Int);
        assert_eq!(resolve_plain("0x1f"), Tag::Int);
        assert_eq!(resolve_plain("-1"), Tag::Int);
        assert_eq!(resolve_plain("1.5"), Tag::Float);
        assert_eq!(resolve_plain("1e3"), Tag::Float);
        assert_eq!(resolve_plain("~"), Tag::Null);
        assert_eq!(resolve_plain("true"), Tag::Bool);
        assert_eq!(resolve_plain("5m"), Tag::Str);
        assert_eq!(resolve_plain("1.2.3"), Tag::Str);
    }

    #[test]
    fn aliases_resolve_to_the_anchored_node() {
        let g = groups("groups:\n  - name: &n a\n  - name: *n\n");
        let NodeKind::Map(entries) = &g[1].kind else {
            panic!("map expected")
        };
        assert_eq!(entries[0].1.as_scalar().map(|s| &*s.value), Some("a"));
    }

    #[test]
    fn block_scalars_sit_at_their_indicator() {
        let g = groups("groups:\n  - name: |-  # c\n\n      abc\n    x: >\n      d\n");
        let NodeKind::Map(entries) = &g[0].kind else {
            panic!("map expected")
        };
        assert_eq!(entries[0].1.pos, Pos::new(2, 11));
        assert_eq!(entries[1].1.pos, Pos::new(5, 8));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("groups:\n  - {}{}", "[".repeat(200), "]".repeat(200));
        let (mut s, _) = GroupStream::open(&text).expect("open");
        assert!(s.next_group().is_err());
    }

    #[test]
    fn alias_bombs_stop_at_yaml_v3s_budget() {
        let mut text = String::from("groups:\n- name: g\n  x: &a {k: v}\n");
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for pair in names.windows(2) {
            let items = vec![format!("*{}", pair[0]); 9].join(",");
            text.push_str(&format!("  {}: &{} [{items}]\n", pair[1], pair[1]));
        }
        let (mut s, _) = GroupStream::open(&text).expect("open");
        let error = s.next_group().expect_err("bomb refused");
        assert_eq!(error.message, "document contains excessive aliasing");
    }

    #[test]
    fn anchors_shared_by_thousands_of_rules_are_within_the_budget() {
        let mut text = String::from("groups:\n- name: g\n  rules:\n");
        text.push_str("  - alert: A0\n    expr: up\n    labels: &l {team: sre, severity: page}\n");
        for i in 1..5000 {
            text.push_str(&format!("  - alert: A{i}\n    expr: up\n    labels: *l\n"));
        }
        assert_eq!(groups(&text).len(), 1);
    }
}
