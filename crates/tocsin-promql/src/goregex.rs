//! Validation of label-matcher regexes with Go `regexp/syntax` (RE2, Perl
//! flags) rules and error texts, as Prometheus compiles them: anchored as
//! `^(?:<value>)$`. It also works out whether the regex matches the empty
//! string, which the "non-empty matcher" check needs, without building an
//! automaton: validation is a single pass and costs far less than compiling.

/// Go's message for an invalid regex, e.g.
/// ``error parsing regexp: missing closing ): `^(?:()$` ``.
pub fn validate(value: &str) -> Result<(), String> {
    analyze(value).map(|_| ())
}

/// Whether the anchored regex matches `""` (false for invalid regexes).
pub fn matches_empty(value: &str) -> bool {
    analyze(value).unwrap_or(false)
}

fn err(code: &str, expr: &str) -> String {
    format!("error parsing regexp: {code}: `{expr}`")
}

#[derive(Clone, Copy)]
struct Atom {
    nullable: bool,
    /// Product of nested `{n,m}` bounds below this atom (Go caps it at 1000).
    rep: u64,
}

struct Frame {
    alt_nullable: bool,
    concat_nullable: bool,
    rep: u64,
    last: Option<Atom>,
}

impl Frame {
    fn new() -> Frame {
        Frame {
            alt_nullable: false,
            concat_nullable: true,
            rep: 1,
            last: None,
        }
    }

    fn commit(&mut self) {
        if let Some(a) = self.last.take() {
            self.concat_nullable &= a.nullable;
            self.rep = self.rep.max(a.rep);
        }
    }

    fn push(&mut self, a: Atom) {
        self.commit();
        self.last = Some(a);
    }

    fn finish(mut self) -> Atom {
        self.commit();
        Atom {
            nullable: self.alt_nullable || self.concat_nullable,
            rep: self.rep,
        }
    }
}

const MAX_NESTING: usize = 1000;

/// Returns whether the regex matches the empty string.
fn analyze(value: &str) -> Result<bool, String> {
    let mut s = String::with_capacity(value.len() + 6);
    s.push_str("^(?:");
    s.push_str(value);
    s.push_str(")$");
    let s = s.as_str();
    let b = s.as_bytes();
    let mut stack: Vec<Frame> = vec![Frame::new()];
    let mut pos = 0;
    let mut last_repeat: Option<usize> = None;
    while pos < b.len() {
        let mut repeat: Option<usize> = None;
        let c = b[pos];
        let top = stack.len() - 1;
        match c {
            b'(' => {
                if b.get(pos + 1) == Some(&b'?') {
                    let (next, opens) = perl_flags(s, pos)?;
                    if opens {
                        stack.push(Frame::new());
                    }
                    pos = next;
                } else {
                    stack.push(Frame::new());
                    pos += 1;
                }
                if stack.len() > MAX_NESTING {
                    return Err(err("expression nests too deeply", s));
                }
            }
            b'|' => {
                let f = &mut stack[top];
                f.commit();
                f.alt_nullable |= f.concat_nullable;
                f.concat_nullable = true;
                pos += 1;
            }
            b')' => {
                if stack.len() < 2 {
                    return Err(err("unexpected )", s));
                }
                let done = stack.pop().map(Frame::finish);
                if let (Some(a), Some(parent)) = (done, stack.last_mut()) {
                    parent.push(a);
                }
                pos += 1;
            }
            b'^' | b'$' => {
                stack[top].push(Atom {
                    nullable: true,
                    rep: 1,
                });
                pos += 1;
            }
            b'.' => {
                stack[top].push(Atom {
                    nullable: false,
                    rep: 1,
                });
                pos += 1;
            }
            b'[' => {
                pos = class(s, pos)?;
                stack[top].push(Atom {
                    nullable: false,
                    rep: 1,
                });
            }
            b'*' | b'+' | b'?' | b'{' => {
                let (min, max, after) = if c == b'{' {
                    match parse_repeat(s, pos) {
                        None => {
                            // Not a valid repetition: a literal brace.
                            stack[top].push(Atom {
                                nullable: false,
                                rep: 1,
                            });
                            pos += 1;
                            last_repeat = None;
                            continue;
                        }
                        Some((min, max, after)) => {
                            if !(0..=1000).contains(&min) || max > 1000 || (max >= 0 && min > max) {
                                return Err(err("invalid repeat count", &s[pos..after]));
                            }
                            (min, max, after)
                        }
                    }
                } else {
                    let (min, max) = match c {
                        b'*' => (0, -1),
                        b'+' => (1, -1),
                        _ => (0, 1),
                    };
                    (min, max, pos + 1)
                };
                let mut after = after;
                if b.get(after) == Some(&b'?') {
                    after += 1;
                }
                if let Some(lr) = last_repeat {
                    return Err(err("invalid nested repetition operator", &s[lr..after]));
                }
                let f = &mut stack[top];
                let Some(mut atom) = f.last else {
                    return Err(err(
                        "missing argument to repetition operator",
                        &s[pos..after],
                    ));
                };
                if min == 0 {
                    atom.nullable = true;
                }
                if c == b'{' {
                    let m = if max < 0 { min } else { max } as u64;
                    if (min >= 2 || max >= 2) && m > 0 && (m > 1000 || atom.rep * m > 1000) {
                        return Err(err("invalid repeat count", &s[pos..after]));
                    }
                    atom.rep = if m == 0 { 1 } else { atom.rep * m };
                }
                f.last = Some(atom);
                repeat = Some(pos);
                pos = after;
            }
            b'\\' => {
                pos = escape_atom(s, pos, &mut stack[top])?;
            }
            _ => {
                let len = s[pos..].chars().next().map_or(1, char::len_utf8);
                stack[top].push(Atom {
                    nullable: false,
                    rep: 1,
                });
                pos += len;
            }
        }
        last_repeat = repeat;
    }
    if stack.len() != 1 {
        return Err(err("missing closing )", s));
    }
    Ok(stack.pop().map(Frame::finish).is_some_and(|a| a.nullable))
}

/// `(?flags)`, `(?flags:` or `(?P<name>` at `pos`. Returns the position after
/// it and whether it opens a group.
fn perl_flags(s: &str, pos: usize) -> Result<(usize, bool), String> {
    let t = &s[pos..];
    let tb = t.as_bytes();
    if tb.len() > 4 && tb[2] == b'P' && tb[3] == b'<' {
        let Some(end) = t.find('>') else {
            return Err(err("invalid named capture", t));
        };
        let name = &t[4..end];
        if name.is_empty() || !name.bytes().all(|c| c == b'_' || c.is_ascii_alphanumeric()) {
            return Err(err("invalid named capture", &t[..end + 1]));
        }
        return Ok((pos + end + 1, true));
    }
    let mut i = 2;
    let mut negated = false;
    let mut saw_flag = false;
    while let Some(c) = t[i..].chars().next() {
        i += c.len_utf8();
        match c {
            'i' | 'm' | 's' | 'U' => saw_flag = true,
            '-' => {
                if negated {
                    break;
                }
                negated = true;
                saw_flag = false;
            }
            ':' | ')' => {
                if negated && !saw_flag {
                    break;
                }
                return Ok((pos + i, c == ':'));
            }
            _ => break,
        }
    }
    Err(err("invalid or unsupported Perl syntax", &t[..i]))
}

/// Go's `parseRepeat`: `{n}`, `{n,}`, `{n,m}`. Returns (min, max, end) with
/// -1 for "no max" and for numbers too large to matter.
fn parse_repeat(s: &str, pos: usize) -> Option<(i64, i64, usize)> {
    let b = s.as_bytes();
    let mut i = pos + 1;
    let (mut min, ni) = parse_int(b, i)?;
    i = ni;
    let max;
    match b.get(i)? {
        b',' => {
            i += 1;
            if *b.get(i)? == b'}' {
                max = -1;
            } else {
                let (m, ni) = parse_int(b, i)?;
                i = ni;
                if m < 0 {
                    min = -1;
                }
                max = m;
            }
        }
        _ => max = min,
    }
    if *b.get(i)? != b'}' {
        return None;
    }
    Some((min, max, i + 1))
}

fn parse_int(b: &[u8], start: usize) -> Option<(i64, usize)> {
    let mut i = start;
    if !b.get(i)?.is_ascii_digit() {
        return None;
    }
    if b[i] == b'0' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let digits = &b[start..i];
    let n = if digits.len() >= 8 {
        -1
    } else {
        digits
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
    };
    Some((n, i))
}

/// A backslash sequence outside a class; pushes the atom it denotes.
fn escape_atom(s: &str, pos: usize, frame: &mut Frame) -> Result<usize, String> {
    let b = s.as_bytes();
    if let Some(&c) = b.get(pos + 1) {
        match c {
            b'A' | b'z' | b'B' => {
                frame.push(Atom {
                    nullable: true,
                    rep: 1,
                });
                return Ok(pos + 2);
            }
            b'b' => {
                // A word boundary never holds in the empty string.
                frame.push(Atom {
                    nullable: false,
                    rep: 1,
                });
                return Ok(pos + 2);
            }
            b'C' => return Err(err("invalid escape sequence", &s[pos..pos + 2])),
            b'Q' => {
                let rest = &s[pos + 2..];
                let (lit, next) = match rest.find("\\E") {
                    Some(i) => (&rest[..i], pos + 2 + i + 2),
                    None => (rest, s.len()),
                };
                for _ in lit.chars() {
                    frame.push(Atom {
                        nullable: false,
                        rep: 1,
                    });
                }
                return Ok(next);
            }
            b'p' | b'P' => {
                let next = unicode_class(s, pos)?;
                frame.push(Atom {
                    nullable: false,
                    rep: 1,
                });
                return Ok(next);
            }
            b'd' | b'D' | b's' | b'S' | b'w' | b'W' => {
                frame.push(Atom {
                    nullable: false,
                    rep: 1,
                });
                return Ok(pos + 2);
            }
            _ => {}
        }
    }
    let (_, next) = escape_char(s, pos)?;
    frame.push(Atom {
        nullable: false,
        rep: 1,
    });
    Ok(next)
}

fn unhex(c: char) -> Option<u32> {
    c.to_digit(16)
}

/// Go's `parseEscape` for a single-character escape at `pos` (the `\`).
fn escape_char(s: &str, pos: usize) -> Result<(u32, usize), String> {
    let t = &s[pos + 1..];
    let mut chars = t.char_indices();
    let Some((_, c)) = chars.next() else {
        return Err(err("trailing backslash at end of expression", ""));
    };
    let mut end = pos + 1 + c.len_utf8();
    let bad = |end: usize| Err(err("invalid escape sequence", &s[pos..end]));
    match c {
        '1'..='7' | '0' => {
            let b = s.as_bytes();
            if c != '0' && !matches!(b.get(end), Some(b'0'..=b'7')) {
                return bad(end);
            }
            let mut r = c as u32 - '0' as u32;
            for _ in 1..3 {
                match b.get(end) {
                    Some(&d @ b'0'..=b'7') => {
                        r = r * 8 + u32::from(d - b'0');
                        end += 1;
                    }
                    _ => break,
                }
            }
            Ok((r, end))
        }
        'x' => {
            let rest = &s[end..];
            let mut it = rest.chars();
            let Some(c1) = it.next() else {
                return bad(end);
            };
            end += c1.len_utf8();
            if c1 == '{' {
                let mut n = 0;
                let mut r: u32 = 0;
                loop {
                    let Some(d) = s[end..].chars().next() else {
                        return bad(end);
                    };
                    end += d.len_utf8();
                    if d == '}' {
                        break;
                    }
                    let Some(v) = unhex(d) else {
                        return bad(end);
                    };
                    r = r.saturating_mul(16).saturating_add(v);
                    if r > 0x10ffff {
                        return bad(end);
                    }
                    n += 1;
                }
                if n == 0 {
                    return bad(end);
                }
                return Ok((r, end));
            }
            let x = unhex(c1);
            let c2 = s[end..].chars().next();
            if let Some(c2) = c2 {
                end += c2.len_utf8();
            }
            match (x, c2.and_then(unhex)) {
                (Some(x), Some(y)) => Ok((x * 16 + y, end)),
                _ => bad(end),
            }
        }
        'a' => Ok((7, end)),
        'f' => Ok((12, end)),
        'n' => Ok((10, end)),
        'r' => Ok((13, end)),
        't' => Ok((9, end)),
        'v' => Ok((11, end)),
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c as u32, end)),
        _ => bad(end),
    }
}

const CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N",
    "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So",
    "Z", "Zl", "Zp", "Zs",
];

/// Unicode 13 script names, as Go 1.19's `unicode.Scripts` (sorted).
const SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Ugaritic",
    "Vai",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

fn known_unicode_table(name: &str) -> bool {
    if name == "Any" || CATEGORIES.contains(&name) {
        return true;
    }
    SCRIPTS.binary_search(&name).is_ok()
}

/// `\pX`, `\p{Name}`, `\P{^Name}` at `pos`; returns the position after it.
fn unicode_class(s: &str, pos: usize) -> Result<usize, String> {
    let t = &s[pos + 2..];
    let (seq_end, name) = match t.chars().next() {
        None => (pos + 2, ""),
        Some('{') => {
            let Some(close) = s[pos..].find('}') else {
                return Err(err("invalid character class range", &s[pos..]));
            };
            (pos + close + 1, &s[pos + 3..pos + close])
        }
        Some(c) => (pos + 2 + c.len_utf8(), &t[..c.len_utf8()]),
    };
    let name = name.strip_prefix('^').unwrap_or(name);
    if !known_unicode_table(name) {
        return Err(err("invalid character class range", &s[pos..seq_end]));
    }
    Ok(seq_end)
}

const POSIX: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// A `[...]` class at `pos`; returns the position after `]`.
fn class(s: &str, pos: usize) -> Result<usize, String> {
    let b = s.as_bytes();
    let whole = &s[pos..];
    let missing = || err("missing closing ]", whole);
    let mut t = pos + 1;
    if b.get(t) == Some(&b'^') {
        t += 1;
    }
    let mut first = true;
    while t >= b.len() || b[t] != b']' || first {
        first = false;
        if t >= b.len() {
            return Err(missing());
        }
        if b[t] == b'[' && b.get(t + 1) == Some(&b':') && t + 2 < b.len() {
            if let Some(i) = s[t + 2..].find(":]") {
                let name = &s[t..t + 2 + i + 2];
                let inner = &name[2..name.len() - 2];
                let inner = inner.strip_prefix('^').unwrap_or(inner);
                if !POSIX.contains(&inner) {
                    return Err(err("invalid character class range", name));
                }
                t += name.len();
                continue;
            }
        }
        if b[t] == b'\\' {
            match b.get(t + 1) {
                Some(b'p' | b'P') => {
                    t = unicode_class(s, t)?;
                    continue;
                }
                Some(b'd' | b'D' | b's' | b'S' | b'w' | b'W') => {
                    t += 2;
                    continue;
                }
                _ => {}
            }
        }
        let range_start = t;
        let (lo, next) = class_char(s, t, whole)?;
        t = next;
        if b.get(t) == Some(&b'-') && b.get(t + 1).is_some_and(|&c| c != b']') {
            t += 1;
            let (hi, next) = class_char(s, t, whole)?;
            t = next;
            if hi < lo {
                return Err(err("invalid character class range", &s[range_start..t]));
            }
        }
    }
    Ok(t + 1)
}

fn class_char(s: &str, t: usize, whole: &str) -> Result<(u32, usize), String> {
    match s[t..].chars().next() {
        None => Err(err("missing closing ]", whole)),
        Some('\\') => escape_char(s, t),
        Some(c) => Ok((c as u32, t + c.len_utf8())),
    }
}
