//! Notification templates over Alertmanager's `template.Data`: fields,
//! methods, Alertmanager's functions and Go's printing of its types.
//! Expected outputs are those of Alertmanager 0.25 (`amtool template render`
//! over the same data; `notification_amtool.rs` checks many more against it
//! live), except `.Receiver`'s regexp quoting and `*template.Data` in error
//! text, which `amtool` (data read from JSON, passed by value) does not show.

use tocsin_template::{parse_notification_template, NotificationAlert, NotificationData};

fn labels(pairs: &[(&str, &str)]) -> tocsin_template::Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// 2026-08-20 08:21:00 UTC.
const START: i64 = 1_787_214_060 * 1_000_000_000;

fn data() -> NotificationData {
    let a = NotificationAlert {
        status: "firing".into(),
        labels: labels(&[
            ("alertname", "HighCPU"),
            ("instance", "node-1:9100"),
            ("severity", "critical"),
            ("job", "node"),
        ]),
        annotations: labels(&[("summary", "CPU above 90%")]),
        starts_at: START,
        ends_at: None,
        generator_url: "http://prom:9090/graph?g0.expr=up".into(),
        fingerprint: "0123456789abcdef".into(),
        time_zone: Default::default(),
    };
    let mut b = a.clone();
    b.status = "resolved".into();
    b.labels.insert("instance".into(), "node-2:9100".into());
    b.labels.insert("severity".into(), "warning".into());
    b.annotations
        .insert("summary".into(), "CPU above 80%".into());
    b.ends_at = Some(START + 3_723_500_000_000);
    NotificationData {
        receiver: "flink-oncall".into(),
        status: "firing".into(),
        alerts: vec![a, b],
        group_labels: labels(&[("alertname", "HighCPU")]),
        common_labels: labels(&[("alertname", "HighCPU"), ("job", "node")]),
        common_annotations: labels(&[]),
        external_url: "http://tocsin:9096".into(),
    }
}

fn render(text: &str) -> String {
    let t = parse_notification_template("ding", text).expect("parses");
    t.render_notification(&data())
        .unwrap_or_else(|e| format!("ERROR: {e}"))
}

#[test]
fn issue_title_template_counts_firing_alerts() {
    let t = r#"{{ define "ding.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}{{ end }}{{ template "ding.title" . }}"#;
    assert_eq!(render(t), "[FIRING:1] HighCPU");
}

#[test]
fn range_over_firing_alerts_formats_start_time() {
    let t = r#"{{ range .Alerts.Firing }}- **{{ .Labels.severity }}** {{ .Annotations.summary }} (since {{ .StartsAt.Format "2006-01-02 15:04:05" }}){{ end }}"#;
    assert_eq!(
        render(t),
        "- **critical** CPU above 90% (since 2026-08-20 08:21:00)"
    );
    assert_eq!(
        render(
            r#"{{ range .Alerts.Resolved }}{{ .Labels.instance }} {{ .EndsAt.Format "Jan _2 3:04PM MST" }}{{ end }}"#
        ),
        "node-2:9100 Aug 20 9:23AM UTC"
    );
}

#[test]
fn sorted_pairs_put_alertname_first() {
    let t = r#"{{ range .Alerts }}{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}|{{ end }}"#;
    assert_eq!(
        render(t),
        "alertname=HighCPU instance=node-1:9100 job=node severity=critical |alertname=HighCPU instance=node-2:9100 job=node severity=warning |"
    );
}

#[test]
fn kv_methods_names_values_remove_and_printing() {
    assert_eq!(
        render(r#"{{ .CommonLabels.Names | join "," }};{{ join "/" .CommonLabels.Values }}"#),
        "alertname,job;HighCPU/node"
    );
    assert_eq!(
        render(r#"{{ (index .Alerts 0).Labels.Remove (stringSlice "alertname" "job") }}"#),
        "map[instance:node-1:9100 severity:critical]"
    );
    // Alertmanager 0.25's KV and Pairs have no String methods: Go prints a map and a
    // slice of structs.
    assert_eq!(
        render("{{ .CommonLabels }}"),
        "map[alertname:HighCPU job:node]"
    );
    assert_eq!(
        render("{{ .CommonLabels.SortedPairs }}"),
        "[{alertname HighCPU} {job node}]"
    );
    assert_eq!(
        render("{{ index .CommonLabels.SortedPairs 1 }}"),
        "{job node}"
    );
    // Ranging a map directly goes in key order; a missing key is empty.
    assert_eq!(
        render(
            "{{ range $k, $v := .GroupLabels }}{{ $k }}:{{ $v }}{{ end }}[{{ .GroupLabels.nope }}]"
        ),
        "alertname:HighCPU[]"
    );
    assert_eq!(
        render("{{ len .CommonAnnotations }}{{ if .CommonAnnotations }}x{{ else }}empty{{ end }}"),
        "0empty"
    );
}

#[test]
fn data_fields_and_alert_fields() {
    assert_eq!(
        render("{{ .Receiver }} {{ .Status }} {{ .ExternalURL }} {{ len .Alerts }}"),
        "flink-oncall firing http://tocsin:9096 2"
    );
    assert_eq!(
        render("{{ with index .Alerts 1 }}{{ .Status }} {{ .Fingerprint }} {{ .GeneratorURL }}{{ end }}"),
        "resolved 0123456789abcdef http://prom:9090/graph?g0.expr=up"
    );
}

#[test]
fn times_print_as_go_time_and_zero_end_is_year_one() {
    assert_eq!(
        render("{{ (index .Alerts 0).StartsAt }}|{{ (index .Alerts 0).EndsAt }}"),
        "2026-08-20 08:21:00 +0000 UTC|0001-01-01 00:00:00 +0000 UTC"
    );
    assert_eq!(
        render("{{ (index .Alerts 1).EndsAt }} {{ (index .Alerts 1).EndsAt.Unix }}"),
        "2026-08-20 09:23:03.5 +0000 UTC 1787217783"
    );
    assert_eq!(
        render(r#"{{ (index .Alerts 0).EndsAt.Format "2006-01-02T15:04:05Z07:00" }}"#),
        "0001-01-01T00:00:00Z"
    );
}

#[test]
fn alertmanager_string_functions() {
    assert_eq!(
        render(r#"{{ "high cpu" | title }} {{ toLower "ABC" }} {{ title "wORLD o'neil" }}"#),
        "High Cpu abc World O'neil"
    );
    assert_eq!(
        render(r#"{{ if match "^node-[0-9]" (index .Alerts 0).Labels.instance }}yes{{ end }}"#),
        "yes"
    );
    assert_eq!(
        render(r#"{{ reReplaceAll ":[0-9]+$" "" (index .Alerts 0).Labels.instance }}"#),
        "node-1"
    );
    assert_eq!(render(r#"{{ stringSlice "a" "b" }}"#), "[a b]");
    assert_eq!(render(r#"{{ "<b>" | safeHtml }}"#), "<b>");
}

#[test]
fn receiver_is_regexp_quoted_like_alertmanager() {
    let mut d = data();
    d.receiver = "team.a+b".into();
    let t = parse_notification_template("r", "{{ .Receiver }}").unwrap();
    assert_eq!(t.render_notification(&d).unwrap(), r"team\.a\+b");
}

#[test]
fn prometheus_only_functions_are_not_defined() {
    for f in ["humanize 1", "query \"up\"", "externalURL"] {
        let e =
            parse_notification_template("ding.title", &format!("a\n{{{{ {f} }}}}")).unwrap_err();
        let name = f.split(' ').next().unwrap();
        assert_eq!(
            e.to_string(),
            format!("template: ding.title:2: function \"{name}\" not defined")
        );
        assert_eq!(e.line(), 2);
        assert_eq!(e.column(), Some(4));
    }
}

#[test]
fn alert_templates_do_not_gain_alertmanager_functions() {
    let e = tocsin_template::parse_alert_template("__alert_X", "{{ join \",\" nil }}").unwrap_err();
    assert_eq!(e.message(), "function \"join\" not defined");
    for f in ["date", "tz"] {
        let e = tocsin_template::parse_alert_template("__alert_X", &format!("{{{{ {f} }}}}"))
            .unwrap_err();
        assert_eq!(e.message(), format!("function \"{f}\" not defined"));
    }
}

/// Alertmanager 0.28's `tz` (`time.LoadLocation` + `Time.In`) and `date` (`Time.Format`),
/// with the zones' own abbreviations and summer time.
#[test]
fn tz_and_date_show_times_in_a_named_zone() {
    assert_eq!(
        render(
            r#"{{ (index .Alerts 0).StartsAt | tz "Asia/Shanghai" | date "2006-01-02 15:04:05 -07:00 MST" }}"#
        ),
        "2026-08-20 16:21:00 +08:00 CST"
    );
    assert_eq!(
        render(
            r#"{{ with index .Alerts 0 }}{{ (tz "America/New_York" .StartsAt).Format "3:04PM Z07:00 MST -0700 -07" }}{{ end }}"#
        ),
        "4:21AM -04:00 EDT -0400 -04"
    );
    assert_eq!(
        render(r#"{{ tz "Asia/Kolkata" (index .Alerts 0).StartsAt }}"#),
        "2026-08-20 13:51:00 +0530 IST"
    );
    assert_eq!(
        render(r#"{{ date "15:04 Z07:00 MST" (index .Alerts 0).StartsAt }}"#),
        "08:21 Z UTC"
    );
    assert_eq!(
        render(r#"{{ (tz "Asia/Shanghai" (index .Alerts 0).StartsAt).Hour }}"#),
        "16"
    );
}

#[test]
fn tz_with_an_unknown_zone_or_a_non_time_is_an_execution_error() {
    let unknown = render(r#"{{ tz "Mars/Olympus_Mons" (index .Alerts 0).StartsAt }}"#);
    assert!(
        unknown.starts_with("ERROR: template: ding:1:")
            && unknown.ends_with("error calling tz: unknown time zone Mars/Olympus_Mons"),
        "{unknown}"
    );
    let not_time = render(r#"{{ date "15:04" .Status }}"#);
    assert!(
        not_time.ends_with("wrong type for value; expected time.Time; got string"),
        "{not_time}"
    );
}

/// An alert's times in the zone the data carries (`global.time_zone`): printing, `Format`
/// and accessors follow it; `.UTC` and Go's zero time do not.
#[test]
fn alert_times_are_in_the_data_zone() {
    let mut d = data();
    let sh = tocsin_template::TimeZone::named("Asia/Shanghai").unwrap();
    for a in &mut d.alerts {
        a.time_zone = sh;
    }
    let t = parse_notification_template(
        "ding",
        r#"{{ with index .Alerts 0 }}{{ .StartsAt }}|{{ .StartsAt.Format "15:04 MST" }}|{{ .StartsAt.Hour }}|{{ .StartsAt.UTC.Hour }}|{{ .EndsAt }}{{ end }}"#,
    )
    .unwrap();
    assert_eq!(
        t.render_notification(&d).unwrap(),
        "2026-08-20 16:21:00 +0800 CST|16:21 CST|16|8|0001-01-01 00:00:00 +0000 UTC"
    );
}

#[test]
fn execution_errors_name_the_template_and_position() {
    assert_eq!(
        render("{{ .Alerts.Firing.Firing }}"),
        "ERROR: template: ding:1:10: executing \"ding\" at <.Alerts.Firing.Firing>: can't evaluate field Firing in type []template.Alert"
    );
    assert_eq!(
        render("{{ .Nope }}"),
        "ERROR: template: ding:1:3: executing \"ding\" at <.Nope>: can't evaluate field Nope in type *template.Data"
    );
}

#[test]
fn printing_an_alert_shows_its_fields() {
    assert_eq!(
        render("{{ index .Alerts.Firing 0 }}"),
        "{firing map[alertname:HighCPU instance:node-1:9100 job:node severity:critical] map[summary:CPU above 90%] 2026-08-20 08:21:00 +0000 UTC 0001-01-01 00:00:00 +0000 UTC http://prom:9090/graph?g0.expr=up 0123456789abcdef}"
    );
}
