//! Alertmanager's own versions of template functions where they differ from
//! Prometheus's (Alertmanager 0.25 `template/template.go`).

/// `cases.Title(language.AmericanEnglish).String`: in every word (Unicode
/// word segmentation, simplified: letters, digits and `_` joined, with `.`,
/// `:`, `'` and `’` kept inside between letters and `.`, `,`, `;` between
/// digits) the first cased letter is title-cased and the rest lowercased:
/// `hello wORLD o'neil 3rd` → `Hello World O'neil 3Rd` (Prometheus's `title`,
/// Go's `strings.Title`, leaves the rest as it is).
pub(crate) fn title(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    let mut need_title = true;
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        if c.is_alphanumeric() || c == '_' {
            in_word = true;
            if is_cased(c) {
                if need_title {
                    push_title(&mut out, c);
                    need_title = false;
                } else {
                    out.extend(c.to_lowercase());
                }
            } else {
                out.push(c);
            }
            continue;
        }
        out.push(c);
        let between = |f: fn(char) -> bool| prev.is_some_and(f) && next.is_some_and(f);
        let mid_letter = matches!(c, '.' | ':' | '\'' | '’' | '·') && between(char::is_alphabetic);
        let mid_num = matches!(c, '.' | ',' | ';' | '\'' | '’') && between(char::is_numeric);
        if !(in_word && (mid_letter || mid_num)) {
            in_word = false;
            need_title = true;
        }
    }
    out
}

fn is_cased(c: char) -> bool {
    c.is_lowercase() || c.is_uppercase() || matches!(c, 'ǅ' | 'ǈ' | 'ǋ' | 'ǲ')
}

/// Unicode title case: the digraphs' own title forms, else the upper-case
/// mapping with any further letters lowered (`ß` → `Ss`, `ﬀ` → `Ff`).
fn push_title(out: &mut String, c: char) {
    let t = match c {
        'Ǆ' | 'ǅ' | 'ǆ' => 'ǅ',
        'Ǉ' | 'ǈ' | 'ǉ' => 'ǈ',
        'Ǌ' | 'ǋ' | 'ǌ' => 'ǋ',
        'Ǳ' | 'ǲ' | 'ǳ' => 'ǲ',
        _ => {
            let mut up = c.to_uppercase();
            if let Some(first) = up.next() {
                out.push(first);
            }
            for rest in up {
                out.extend(rest.to_lowercase());
            }
            return;
        }
    };
    out.push(t);
}

#[cfg(test)]
mod tests {
    use super::title;

    /// Outputs of Alertmanager 0.25's `amtool template render` for these inputs.
    #[test]
    fn title_matches_alertmanager() {
        assert_eq!(
            title("foo_bar baz-qux 3rd x.y ÄBC élan it’s HTTP_server mIxEd-CASE a1b2 o'neil's"),
            "Foo_bar Baz-Qux 3Rd X.y Äbc Élan It’s Http_server Mixed-Case A1b2 O'neil's"
        );
        assert_eq!(title(""), "");
        assert_eq!(title("  two  spaces"), "  Two  Spaces");
        assert_eq!(
            title("x:y/z@w a.b.c 1.5x e.g. u.s.a"),
            "X:y/Z@W A.b.c 1.5X E.g. U.s.a"
        );
        assert_eq!(title("ǆemal ß straße ﬀ"), "ǅemal Ss Straße Ff");
        assert_eq!(title("high cpu"), "High Cpu");
    }
}
