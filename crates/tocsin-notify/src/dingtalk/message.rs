//! Message bodies (`text`, `markdown`) with `at` mentions, and what every message must
//! carry before it goes out: the `@mobile` tokens in its text (DingTalk only rings a
//! mentioned phone when the text holds `@138…` too) and the robot's keyword (robots secured
//! by keywords reject messages without one).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Which DingTalk message type a receiver sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageFormat {
    #[default]
    Markdown,
    Text,
}

/// Who a message mentions (`at`). `all` makes DingTalk ignore the lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mention {
    #[serde(default)]
    pub all: bool,
    /// Group members' mobiles; overseas numbers as `+852-12345678`.
    #[serde(default)]
    pub mobiles: Vec<String>,
    /// DingTalk user ids (staff ids), not display names.
    #[serde(default)]
    pub user_ids: Vec<String>,
}

impl Mention {
    pub fn is_empty(&self) -> bool {
        !self.all && self.mobiles.is_empty() && self.user_ids.is_empty()
    }

    /// Everyone either mentions: a digest of several groups mentions each group's people.
    pub fn union(&self, other: &Mention) -> Mention {
        let mut out = self.clone();
        out.all |= other.all;
        for m in &other.mobiles {
            if !out.mobiles.contains(m) {
                out.mobiles.push(m.clone());
            }
        }
        for u in &other.user_ids {
            if !out.user_ids.contains(u) {
                out.user_ids.push(u.clone());
            }
        }
        out
    }

    /// Trims entries, drops empty ones and duplicates, keeping the first occurrence's order.
    fn normalized(&self) -> Mention {
        fn clean(list: &[String]) -> Vec<String> {
            let mut out: Vec<String> = Vec::with_capacity(list.len());
            for item in list {
                let item = item.trim();
                if !item.is_empty()
                    && !item.contains(char::is_whitespace)
                    && !out.iter().any(|o| o == item)
                {
                    out.push(item.to_owned());
                }
            }
            out
        }
        Mention {
            all: self.all,
            mobiles: clean(&self.mobiles),
            user_ids: clean(&self.user_ids),
        }
    }
}

/// The content of a message, by `msgtype`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    Text {
        content: String,
    },
    /// `title` only shows in the conversation list and push preview, not in the bubble.
    Markdown {
        title: String,
        text: String,
    },
}

/// One DingTalk robot message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub body: Body,
    pub mention: Mention,
}

impl Message {
    pub fn text(content: impl Into<String>) -> Self {
        Message {
            body: Body::Text {
                content: content.into(),
            },
            mention: Mention::default(),
        }
    }

    pub fn markdown(title: impl Into<String>, text: impl Into<String>) -> Self {
        Message {
            body: Body::Markdown {
                title: title.into(),
                text: text.into(),
            },
            mention: Mention::default(),
        }
    }

    /// A message in the receiver's format; a `text` message gets the title as first line.
    pub fn with_format(format: MessageFormat, title: &str, text: &str) -> Self {
        match format {
            MessageFormat::Markdown => Message::markdown(title, text),
            MessageFormat::Text if title.is_empty() => Message::text(text),
            MessageFormat::Text => Message::text(format!("{title}\n{text}")),
        }
    }

    pub fn with_mention(mut self, mention: Mention) -> Self {
        self.mention = mention;
        self
    }

    pub fn msgtype(&self) -> &'static str {
        match self.body {
            Body::Text { .. } => "text",
            Body::Markdown { .. } => "markdown",
        }
    }

    /// The markdown title, or the first line of a text message.
    pub fn title(&self) -> &str {
        match &self.body {
            Body::Text { content } => content.lines().next().unwrap_or(""),
            Body::Markdown { title, .. } => title,
        }
    }

    /// The markdown text or the text content.
    pub fn content(&self) -> &str {
        match &self.body {
            Body::Text { content } => content,
            Body::Markdown { text, .. } => text,
        }
    }

    pub(crate) fn content_mut(&mut self) -> &mut String {
        match &mut self.body {
            Body::Text { content } => content,
            Body::Markdown { text, .. } => text,
        }
    }

    /// The message as it must be sent: mentions cleaned up and written into the text as
    /// `@mobile` / `@userid` where the text lacks them, and `keyword` present in the text
    /// (and in a markdown title) when it was not already. Applying it twice changes nothing.
    pub fn prepared(&self, keyword: Option<&str>) -> Message {
        let mut out = self.clone();
        out.mention = self.mention.normalized();
        let keyword = keyword.map(str::trim).filter(|k| !k.is_empty());
        if let Some(k) = keyword {
            if !out.content().contains(k) {
                append_paragraph(out.content_mut(), k);
            }
            if let Body::Markdown { title, .. } = &mut out.body {
                if !title.contains(k) {
                    if title.is_empty() {
                        title.push_str(k);
                    } else {
                        title.push_str(" [");
                        title.push_str(k);
                        title.push(']');
                    }
                }
            }
        }
        let missing: Vec<String> = out
            .mention
            .mobiles
            .iter()
            .chain(&out.mention.user_ids)
            .filter(|m| !mentions_in(out.content(), m))
            .map(|m| format!("@{m}"))
            .collect();
        if !missing.is_empty() {
            append_paragraph(out.content_mut(), &missing.join(" "));
        }
        out
    }

    /// The JSON DingTalk expects, exactly as sent.
    pub fn to_json(&self) -> Value {
        let mut v = match &self.body {
            Body::Text { content } => json!({"msgtype": "text", "text": {"content": content}}),
            Body::Markdown { title, text } => {
                json!({"msgtype": "markdown", "markdown": {"title": title, "text": text}})
            }
        };
        if !self.mention.is_empty() {
            v["at"] = json!({
                "atMobiles": self.mention.mobiles,
                "atUserIds": self.mention.user_ids,
                "isAtAll": self.mention.all,
            });
        }
        v
    }

    /// The serialized request body.
    pub fn to_body(&self) -> String {
        self.to_json().to_string()
    }

    /// The size DingTalk's 20,000-byte limit applies to: the serialized body in bytes.
    pub fn body_len(&self) -> usize {
        self.to_body().len()
    }
}

/// Whether `text` holds `@id` not followed by more of a longer id (so `@1380` is not
/// taken for `@13800000000`'s neighbour `@138000000001`).
fn mentions_in(text: &str, id: &str) -> bool {
    let needle = format!("@{id}");
    text.match_indices(&needle).any(|(at, _)| {
        text[at + needle.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'))
    })
}

fn append_paragraph(text: &mut String, para: &str) {
    let trimmed = text.trim_end_matches(['\n', ' ']).len();
    text.truncate(trimmed);
    if !text.is_empty() {
        text.push_str("\n\n");
    }
    text.push_str(para);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oncall() -> Mention {
        Mention {
            all: false,
            mobiles: vec!["13800000000".into(), " 13800000000 ".into(), "".into()],
            user_ids: vec!["manager4756".into()],
        }
    }

    #[test]
    fn markdown_body_has_dingtalk_field_names_and_at_block() {
        let m = Message::markdown("[FIRING:1] HighCPU", "#### HighCPU").with_mention(oncall());
        let v = m.prepared(None).to_json();
        assert_eq!(v["msgtype"], "markdown");
        assert_eq!(v["markdown"]["title"], "[FIRING:1] HighCPU");
        assert_eq!(v["at"]["atMobiles"], json!(["13800000000"]));
        assert_eq!(v["at"]["atUserIds"], json!(["manager4756"]));
        assert_eq!(v["at"]["isAtAll"], false);
    }

    #[test]
    fn mentioned_mobiles_are_written_into_the_text_once() {
        let m = Message::markdown("t", "body").with_mention(oncall());
        let p = m.prepared(None);
        assert_eq!(p.content(), "body\n\n@13800000000 @manager4756");
        assert_eq!(p.prepared(None), p, "preparing twice changes nothing");
    }

    #[test]
    fn a_mention_already_in_the_text_is_not_repeated() {
        let m = Message::text("disk full @13800000000").with_mention(oncall());
        assert_eq!(
            m.prepared(None).content(),
            "disk full @13800000000\n\n@manager4756"
        );
    }

    #[test]
    fn a_longer_number_does_not_count_as_the_mention() {
        assert!(!mentions_in("@138000000001", "13800000000"));
        assert!(mentions_in("x @13800000000.", "13800000000"));
    }

    #[test]
    fn text_without_mentions_has_no_at_block() {
        let v = Message::text("hello").prepared(None).to_json();
        assert_eq!(v, json!({"msgtype": "text", "text": {"content": "hello"}}));
    }

    #[test]
    fn keyword_is_added_to_text_and_title_when_missing() {
        let p = Message::markdown("HighCPU", "cpu at 97%").prepared(Some("alert"));
        assert_eq!(p.content(), "cpu at 97%\n\nalert");
        assert_eq!(p.title(), "HighCPU [alert]");
        let present = Message::markdown("alert: HighCPU", "alert cpu").prepared(Some("alert"));
        assert_eq!(present.content(), "alert cpu");
        assert_eq!(present.title(), "alert: HighCPU");
    }

    #[test]
    fn text_format_puts_the_title_on_the_first_line() {
        let m = Message::with_format(MessageFormat::Text, "HighCPU", "node-1");
        assert_eq!(m.content(), "HighCPU\nnode-1");
        assert_eq!(m.title(), "HighCPU");
    }

    #[test]
    fn body_len_counts_utf8_bytes_and_json_escapes() {
        let m = Message::text("告警\n\"x\"");
        assert_eq!(m.body_len(), m.to_body().len());
        assert_eq!(
            m.to_body(),
            "{\"msgtype\":\"text\",\"text\":{\"content\":\"告警\\n\\\"x\\\"\"}}"
        );
    }
}
