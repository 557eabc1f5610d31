//! Keeping messages under DingTalk's size limit (20,000 bytes of request body), without
//! ever cutting one silently.
//!
//! [`fit`] is a pure function. A message that fits is returned as is (prepared). One that
//! does not is split at paragraph boundaries (blank lines: the renderer writes one paragraph
//! per alert), then at line boundaries, and only for a single over-long line at character
//! boundaries, into parts numbered `(i/n)` in title and text. Each part carries the keyword;
//! the first carries the mentions. When more than `max_parts` parts would be needed, the last
//! part ends with "…and N more alerts" (and a link, when one is configured) instead.

use super::message::{Body, Mention, Message};

/// DingTalk's limit on a request body, in bytes.
pub const MAX_BODY_BYTES: usize = 20_000;

/// How [`fit`] splits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitOptions {
    /// Upper bound for each part's serialized body. Keep some headroom below
    /// [`MAX_BODY_BYTES`]; the default is 18,000.
    pub max_bytes: usize,
    /// Most parts one message becomes (every part counts against the 20-a-minute limit).
    pub max_parts: usize,
    /// Where the reader finds the rest when parts run out (tocsin's alert list).
    pub more_link: Option<String>,
    /// What the omitted items are called in "…and N more {noun}".
    pub noun: String,
    /// A paragraph starting with this begins a new item (alert): parts break between items
    /// where they can, and "N more" counts items. `None`: every paragraph is an item.
    pub item_marker: Option<String>,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            max_bytes: 18_000,
            max_parts: 5,
            more_link: None,
            noun: "alerts".to_owned(),
            item_marker: None,
        }
    }
}

/// Floor under `max_bytes` so that parts always have room for content.
const MIN_CONTENT_BYTES: usize = 256;
/// Titles longer than this are shortened (with a visible "…") when a message is split.
const MAX_SPLIT_TITLE_BYTES: usize = 512;

/// A piece of content, the separator that stood before it in the original text, and the
/// item (alert) it belongs to.
#[derive(Debug, Clone, Copy)]
struct Unit<'a> {
    sep: &'static str,
    text: &'a str,
    item: usize,
}

/// Prepares `message` (keyword, mentions) and returns it as one or more messages whose
/// serialized bodies are each at most `opts.max_bytes` (floored at a size that leaves room
/// for content).
pub fn fit(message: &Message, keyword: Option<&str>, opts: &SplitOptions) -> Vec<Message> {
    let whole = message.prepared(keyword);
    if whole.body_len() <= opts.max_bytes {
        return vec![whole];
    }
    let max_parts = opts.max_parts.max(1);
    let title = shorten(message.title(), MAX_SPLIT_TITLE_BYTES);
    let base = match &message.body {
        Body::Text { .. } => Message::text(""),
        Body::Markdown { .. } => Message::markdown(title.as_str(), ""),
    }
    .with_mention(message.mention.clone());

    let content = message.content();
    let (counted, paragraphs) = items(content, opts.item_marker.as_deref());
    // The largest decorations any part can get: the widest "(i/n)", the summary line with
    // the widest count, the keyword footer and every mention.
    let widest = max_parts.max(paragraphs.len()).max(99);
    let shell = decorate(&base, "", widest, widest, Some(widest), opts, keyword);
    let avail = opts
        .max_bytes
        .saturating_sub(shell.body_len())
        .max(MIN_CONTENT_BYTES);
    let units = units(&paragraphs, avail);

    // Pack whole items where they fit; an item larger than a part starts a fresh part and
    // is packed unit by unit.
    let mut parts: Vec<Vec<Unit>> = Vec::new();
    let mut cur: Vec<Unit> = Vec::new();
    let mut cur_len = 0;
    let mut rest = units.as_slice();
    while let Some(first) = rest.first() {
        let item_units = rest.iter().take_while(|u| u.item == first.item).count();
        let (item, tail) = rest.split_at(item_units);
        rest = tail;
        let item_len: usize = item
            .iter()
            .map(|u| escaped_len(u.sep) + escaped_len(u.text))
            .sum();
        let lead = escaped_len(first.sep);
        if !cur.is_empty() && cur_len + item_len > avail {
            parts.push(std::mem::take(&mut cur));
            cur_len = 0;
        }
        if item_len - if cur.is_empty() { lead } else { 0 } <= avail {
            cur_len += item_len - if cur.is_empty() { lead } else { 0 };
            cur.extend_from_slice(item);
            continue;
        }
        for u in item {
            let add = if cur.is_empty() {
                escaped_len(u.text)
            } else {
                escaped_len(u.sep) + escaped_len(u.text)
            };
            if !cur.is_empty() && cur_len + add > avail {
                parts.push(std::mem::take(&mut cur));
                cur_len = escaped_len(u.text);
            } else {
                cur_len += add;
            }
            cur.push(*u);
        }
    }
    if !cur.is_empty() {
        parts.push(cur);
    }

    let omitted = if parts.len() > max_parts {
        let mut dropped: Vec<usize> = parts[max_parts..]
            .iter()
            .flatten()
            .map(|u| u.item)
            .filter(|i| counted[*i])
            .collect();
        dropped.dedup();
        dropped.len()
    } else {
        0
    };
    parts.truncate(max_parts);
    let n = parts.len();
    parts
        .iter()
        .enumerate()
        .map(|(i, units)| {
            let mut text = String::new();
            for (j, u) in units.iter().enumerate() {
                if j > 0 {
                    text.push_str(u.sep);
                }
                text.push_str(u.text);
            }
            let mut part = base.clone();
            if i > 0 {
                part.mention = Mention::default();
            }
            let summary = (i + 1 == n && omitted > 0).then_some(omitted);
            decorate(&part, &text, i + 1, n, summary, opts, keyword)
        })
        .collect()
}

/// The paragraphs of `content` with the item each belongs to, and for each item whether it
/// counts in "N more" (it starts with the marker, or there is no marker).
fn items<'a>(content: &'a str, marker: Option<&str>) -> (Vec<bool>, Vec<(usize, &'a str)>) {
    let mut counted = Vec::new();
    let mut paragraphs = Vec::new();
    for (pi, para) in content.split("\n\n").enumerate() {
        let starts_item = match marker {
            None => true,
            Some(m) => para.starts_with(m),
        };
        if pi == 0 || starts_item {
            counted.push(starts_item);
        }
        paragraphs.push((counted.len() - 1, para));
    }
    (counted, paragraphs)
}

/// Part `i` of `n` with `content`: numbered title and text, the summary line when given,
/// then keyword and mentions.
fn decorate(
    base: &Message,
    content: &str,
    i: usize,
    n: usize,
    omitted: Option<usize>,
    opts: &SplitOptions,
    keyword: Option<&str>,
) -> Message {
    let mut m = base.clone();
    let label = format!("({i}/{n})");
    let mut text = String::from(content);
    if let Some(count) = omitted {
        text.push_str(&format!("\n\n…and {count} more {}", opts.noun));
        if let Some(link) = &opts.more_link {
            match m.body {
                Body::Markdown { .. } => text.push_str(&format!(": [see all]({link})")),
                Body::Text { .. } => text.push_str(&format!(": {link}")),
            }
        }
    }
    text.push_str("\n\n");
    text.push_str(&label);
    match &mut m.body {
        Body::Text { content } => *content = text,
        Body::Markdown { title, text: t } => {
            *t = text;
            title.push(' ');
            title.push_str(&label);
        }
    }
    m.prepared(keyword)
}

/// Cuts paragraphs into units no longer than `avail` escaped bytes: whole paragraphs, lines
/// of over-long paragraphs, character runs of over-long lines.
fn units<'a>(paragraphs: &[(usize, &'a str)], avail: usize) -> Vec<Unit<'a>> {
    let mut out = Vec::new();
    for (pi, &(item, para)) in paragraphs.iter().enumerate() {
        let psep = if pi == 0 { "" } else { "\n\n" };
        if escaped_len(para) <= avail {
            out.push(Unit {
                sep: psep,
                text: para,
                item,
            });
            continue;
        }
        for (li, line) in para.split('\n').enumerate() {
            let lsep = if li == 0 { psep } else { "\n" };
            if escaped_len(line) <= avail {
                out.push(Unit {
                    sep: lsep,
                    text: line,
                    item,
                });
                continue;
            }
            let mut start = 0;
            let mut len = 0;
            let mut sep = lsep;
            for (idx, c) in line.char_indices() {
                let cl = escaped_char_len(c);
                if len + cl > avail && idx > start {
                    out.push(Unit {
                        sep,
                        text: &line[start..idx],
                        item,
                    });
                    sep = "";
                    start = idx;
                    len = 0;
                }
                len += cl;
            }
            out.push(Unit {
                sep,
                text: &line[start..],
                item,
            });
        }
    }
    out
}

/// `s` cut to at most `max` bytes at a character boundary, with "…" when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Bytes `s` takes inside a JSON string as serde_json writes it.
pub(crate) fn escaped_len(s: &str) -> usize {
    s.chars().map(escaped_char_len).sum()
}

fn escaped_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts(n: usize, each: usize) -> String {
        (0..n)
            .map(|i| format!("#### alert {i}\n\n{}", "x".repeat(each)))
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    /// The parts' texts with the decorations removed, joined back.
    fn rejoin(parts: &[Message], keyword: &str) -> String {
        let n = parts.len();
        let mut out = String::new();
        for (i, p) in parts.iter().enumerate() {
            let suffix = format!("\n\n({}/{n})\n\n{keyword}", i + 1);
            let body = p.content().strip_suffix(&suffix).unwrap_or_else(|| {
                panic!(
                    "part {i} lacks its suffix: {:?}",
                    &p.content()[p.content().len() - 40..]
                )
            });
            out.push_str(body);
        }
        out
    }

    #[test]
    fn a_message_that_fits_is_returned_whole_and_prepared() {
        let m = Message::markdown("t", "small");
        let out = fit(&m, Some("alert"), &SplitOptions::default());
        assert_eq!(out, vec![m.prepared(Some("alert"))]);
    }

    #[test]
    fn oversized_markdown_splits_between_alerts_into_numbered_parts_under_the_limit() {
        let text = alerts(100, 400);
        let m = Message::markdown("[FIRING:100] Disk", text.clone());
        let opts = SplitOptions {
            max_parts: 10,
            item_marker: Some("#### ".into()),
            ..SplitOptions::default()
        };
        let parts = fit(&m, Some("tocsin"), &opts);
        assert!(parts.len() >= 3, "{}", parts.len());
        for (i, p) in parts.iter().enumerate() {
            assert!(p.body_len() <= opts.max_bytes, "part {i}: {}", p.body_len());
            assert_eq!(
                p.title(),
                format!("[FIRING:100] Disk ({}/{}) [tocsin]", i + 1, parts.len())
            );
            assert!(
                p.content().starts_with("#### alert"),
                "parts start at an alert"
            );
        }
        // Between parts only the blank line separating two alerts is dropped.
        let rejoined = rejoin(&parts, "tocsin");
        assert!(rejoined.replace("\n\n", "") == text.replace("\n\n", ""));
    }

    #[test]
    fn nothing_is_lost_when_all_parts_fit() {
        let text = alerts(60, 700);
        let parts = fit(
            &Message::text(text.clone()),
            Some("kw"),
            &SplitOptions {
                max_parts: 20,
                ..SplitOptions::default()
            },
        );
        assert!(parts.len() > 1);
        // Paragraph separators between parts are dropped; the content is all there in order.
        let joined = rejoin(&parts, "kw");
        assert!(joined.replace("\n\n", "") == text.replace("\n\n", ""));
    }

    #[test]
    fn past_max_parts_the_last_part_summarises_the_rest_with_a_link() {
        let text = alerts(200, 300);
        let opts = SplitOptions {
            max_parts: 2,
            more_link: Some("http://tocsin:9096/api/v1/alerts".into()),
            item_marker: Some("#### ".into()),
            ..SplitOptions::default()
        };
        let parts = fit(&Message::markdown("storm", text), None, &opts);
        assert_eq!(parts.len(), 2);
        let last = parts[1].content();
        let shown: usize = parts
            .iter()
            .map(|p| p.content().matches("#### alert").count())
            .sum();
        let expected = format!(
            "…and {} more alerts: [see all](http://tocsin:9096/api/v1/alerts)\n\n(2/2)",
            200 - shown
        );
        assert!(last.ends_with(&expected), "{}", &last[last.len() - 120..]);
        assert!(parts.iter().all(|p| p.body_len() <= opts.max_bytes));
        assert!(!parts[0].content().contains("more alerts"));
    }

    #[test]
    fn a_single_huge_line_is_split_at_character_boundaries_not_dropped() {
        let line = "告警".repeat(10_000); // 60,000 bytes, no newline
        let parts = fit(
            &Message::text(line.clone()),
            None,
            &SplitOptions {
                max_parts: 10,
                ..SplitOptions::default()
            },
        );
        assert!(parts.len() >= 4);
        assert!(parts.iter().all(|p| p.body_len() <= 18_000));
        let joined: String = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.content()
                    .strip_suffix(&format!("\n\n({}/{})", i + 1, parts.len()))
                    .map(str::to_owned)
                    .unwrap_or_default()
            })
            .collect();
        assert!(joined == line, "content lost or reordered");
    }

    #[test]
    fn only_the_first_part_mentions() {
        let m = Message::markdown("t", alerts(80, 500)).with_mention(Mention {
            mobiles: vec!["13800000000".into()],
            ..Mention::default()
        });
        let parts = fit(&m, None, &SplitOptions::default());
        assert!(parts.len() > 1);
        assert!(parts[0].content().ends_with("@13800000000"));
        assert_eq!(parts[0].mention.mobiles, vec!["13800000000".to_owned()]);
        assert!(parts[1..].iter().all(|p| p.mention.is_empty()));
        assert!(parts.iter().all(|p| p.body_len() <= 18_000));
    }

    #[test]
    fn escapes_are_counted_like_serde_json() {
        let s = "a\"b\\c\nd\u{1}é告";
        let json = serde_json::to_string(s).unwrap();
        assert_eq!(escaped_len(s), json.len() - 2);
    }
}
