//! What DingTalk checks in a message body: JSON, the shape `msgtype` demands, the
//! optional `at` block, and the robot's keywords.

use serde_json::{Map, Value};

/// A DingTalk error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub errcode: i64,
    pub errmsg: String,
}

impl Reject {
    pub fn new(errcode: i64, errmsg: impl Into<String>) -> Self {
        Reject {
            errcode,
            errmsg: errmsg.into(),
        }
    }
}

/// A body that passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub msgtype: String,
    /// The markdown/link/actionCard title, a text message's first line, a feedCard's
    /// first link title.
    pub title: String,
    pub body: Value,
}

fn missing(what: &str) -> Reject {
    Reject::new(40035, format!("缺少参数 {what}"))
}

/// Checks a request body against the message shapes and the keywords (any one of
/// `keywords` must appear in the message's text fields; none configured = no check).
pub fn check_body(body: &[u8], keywords: &[String]) -> Result<Checked, Reject> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| Reject::new(40035, "缺少参数 json"))?;
    let obj = value.as_object().ok_or_else(|| missing("json"))?;
    let msgtype = obj
        .get("msgtype")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("msgtype"))?
        .to_owned();
    let inner = obj
        .get(&msgtype)
        .and_then(Value::as_object)
        .ok_or_else(|| missing(&msgtype))?;
    let title = match msgtype.as_str() {
        "text" => {
            let content = non_empty(inner, "text", "content")?;
            content.lines().next().unwrap_or("").to_owned()
        }
        "markdown" => {
            non_empty(inner, "markdown", "text")?;
            non_empty(inner, "markdown", "title")?.to_owned()
        }
        "link" => {
            non_empty(inner, "link", "text")?;
            non_empty(inner, "link", "messageUrl")?;
            non_empty(inner, "link", "title")?.to_owned()
        }
        "actionCard" => {
            non_empty(inner, "actionCard", "text")?;
            let single = inner.get("singleTitle").is_some() || inner.get("singleURL").is_some();
            if single {
                non_empty(inner, "actionCard", "singleTitle")?;
                non_empty(inner, "actionCard", "singleURL")?;
            } else {
                let btns = inner
                    .get("btns")
                    .and_then(Value::as_array)
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| missing("actionCard.btns"))?;
                for b in btns {
                    let b = b.as_object().ok_or_else(|| missing("actionCard.btns"))?;
                    non_empty(b, "actionCard.btns", "title")?;
                    non_empty(b, "actionCard.btns", "actionURL")?;
                }
            }
            non_empty(inner, "actionCard", "title")?.to_owned()
        }
        "feedCard" => {
            let links = inner
                .get("links")
                .and_then(Value::as_array)
                .filter(|l| !l.is_empty())
                .ok_or_else(|| missing("feedCard.links"))?;
            let mut first = None;
            for l in links {
                let l = l.as_object().ok_or_else(|| missing("feedCard.links"))?;
                let t = non_empty(l, "feedCard.links", "title")?;
                non_empty(l, "feedCard.links", "messageURL")?;
                non_empty(l, "feedCard.links", "picURL")?;
                first.get_or_insert_with(|| t.to_owned());
            }
            first.unwrap_or_default()
        }
        other => {
            return Err(Reject::new(
                40035,
                format!("不支持的消息类型 msgtype {other}"),
            ))
        }
    };
    if let Some(at) = obj.get("at") {
        check_at(at)?;
    }
    if !keywords.is_empty() {
        let mut texts = Vec::new();
        strings(&obj[&msgtype], &mut texts);
        let found = keywords
            .iter()
            .any(|k| texts.iter().any(|t| t.contains(k.as_str())));
        if !found {
            return Err(Reject::new(310000, "keywords not in content"));
        }
    }
    Ok(Checked {
        msgtype,
        title,
        body: value,
    })
}

fn non_empty<'a>(obj: &'a Map<String, Value>, parent: &str, key: &str) -> Result<&'a str, Reject> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing(&format!("{parent}.{key}")))
}

fn check_at(at: &Value) -> Result<(), Reject> {
    let at = at.as_object().ok_or_else(|| missing("at"))?;
    for list in ["atMobiles", "atUserIds"] {
        if let Some(v) = at.get(list) {
            let ok = v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
            if !ok {
                return Err(missing(&format!("at.{list}")));
            }
        }
    }
    if at.get("isAtAll").is_some_and(|v| !v.is_boolean()) {
        return Err(missing("at.isAtAll"));
    }
    Ok(())
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, keywords: &[&str]) -> Result<Checked, Reject> {
        let kw: Vec<String> = keywords.iter().map(|s| s.to_string()).collect();
        check_body(body.as_bytes(), &kw)
    }

    #[test]
    fn a_markdown_message_with_mentions_passes_and_keeps_its_title() {
        let c = check(
            r#"{"msgtype":"markdown","markdown":{"title":"T","text":"alert @138"},"at":{"atMobiles":["138"],"isAtAll":false}}"#,
            &["alert"],
        )
        .unwrap();
        assert_eq!((c.msgtype.as_str(), c.title.as_str()), ("markdown", "T"));
    }

    #[test]
    fn shape_errors_are_40035() {
        for body in [
            "not json",
            "[]",
            r#"{"text":{"content":"x"}}"#,
            r#"{"msgtype":"text","text":{}}"#,
            r#"{"msgtype":"markdown","markdown":{"text":"x"}}"#,
            r#"{"msgtype":"image","image":{}}"#,
            r#"{"msgtype":"text","text":{"content":"x"},"at":{"atMobiles":"138"}}"#,
            r#"{"msgtype":"actionCard","actionCard":{"title":"t","text":"x"}}"#,
            r#"{"msgtype":"feedCard","feedCard":{"links":[{"title":"t"}]}}"#,
        ] {
            assert_eq!(check(body, &[]).unwrap_err().errcode, 40035, "{body}");
        }
    }

    #[test]
    fn other_types_pass_with_their_fields() {
        let link = r#"{"msgtype":"link","link":{"title":"t","text":"x","messageUrl":"http://a"}}"#;
        assert!(check(link, &[]).is_ok());
        let card = r#"{"msgtype":"actionCard","actionCard":{"title":"t","text":"x","btns":[{"title":"b","actionURL":"http://a"}]}}"#;
        assert!(check(card, &[]).is_ok());
    }

    #[test]
    fn a_message_without_any_keyword_is_310000() {
        let body = r#"{"msgtype":"text","text":{"content":"disk full"}}"#;
        assert_eq!(
            check(body, &["alert", "告警"]).unwrap_err(),
            Reject::new(310000, "keywords not in content")
        );
        assert!(check(body, &["disk", "告警"]).is_ok());
    }
}
