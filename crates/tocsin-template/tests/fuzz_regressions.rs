//! Inputs that once crashed parse+render (found by the cargo-fuzz target in
//! fuzz/ or by probing its bounds), replayed from tests/fuzz_regressions/,
//! and the Go behaviour each fix restores.

use tocsin_template::{
    parse_alert_template, AlertTemplateData, Sample, TemplateContext, MAX_OUTPUT,
};

struct Fixed;

impl TemplateContext for Fixed {
    fn query(&self, _expr: &str) -> Result<Vec<Sample>, String> {
        Ok(vec![Sample {
            labels: [("job".to_string(), "a".to_string())].into_iter().collect(),
            value: 1.5,
        }])
    }
}

fn data() -> AlertTemplateData {
    AlertTemplateData {
        labels: [("instance".to_string(), "h:1".to_string())]
            .into_iter()
            .collect(),
        value: 2.5,
        ..Default::default()
    }
}

fn render(text: &str) -> String {
    let t = parse_alert_template("__alert_F", text).expect("parses");
    t.render(&data(), &Fixed).expect("renders")
}

fn render_err(text: &str) -> String {
    let t = parse_alert_template("__alert_F", text).expect("parses");
    t.render(&data(), &Fixed).expect_err("fails").to_string()
}

#[test]
fn every_saved_fuzz_input_parses_and_renders_within_bounds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz_regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Ok(text) = String::from_utf8(std::fs::read(&path).unwrap()) else {
            continue;
        };
        if let Ok(t) = parse_alert_template("__alert_F", &text) {
            if let Ok(out) = t.render(&data(), &Fixed) {
                assert!(out.len() <= MAX_OUTPUT, "{}", path.display());
            }
        }
        n += 1;
    }
    assert!(n >= 9, "only {n} regression inputs found");
}

#[test]
fn printf_star_width_beyond_a_million_is_badwidth() {
    assert_eq!(
        render(r#"{{ printf "%*d" 9223372036854775807 1 }}"#),
        "%!(BADWIDTH)1"
    );
    assert_eq!(
        render(r#"{{ printf "%*d" -9223372036854775808 1 }}"#),
        "%!(BADWIDTH)1"
    );
    assert_eq!(render(r#"{{ printf "%*d" 1000001 1 }}"#), "%!(BADWIDTH)1");
    // Go writes BADWIDTH even when the verb is bad (fuzz-found).
    assert_eq!(
        render(r#"{{ printf "%0*+" 4544262 65 }}"#),
        "%!(BADWIDTH)%!+(int=65)"
    );
    assert_eq!(render(r#"{{ printf "%*d" -3 1 }}"#), "1  ");
    assert_eq!(render(r#"{{ printf "%*d" 1000000 1 }}"#).len(), 1_000_000);
}

#[test]
fn printf_star_precision_beyond_a_million_is_badprec() {
    assert_eq!(
        render(r#"{{ printf "%.*f" 2000000000 1.0 }}"#),
        "%!(BADPREC)1.000000"
    );
    assert_eq!(
        render(r#"{{ printf "%.*e" 100000000 1.0 }}"#),
        "%!(BADPREC)1.000000e+00"
    );
}

#[test]
fn printf_precision_past_rusts_fmt_limit_pads_exact_digits() {
    // Rust's formatter panics on precisions over 65535; Go prints them.
    let f = render(r#"{{ printf "%.70000f" 1.0 }}"#);
    assert_eq!(f.len(), 70002);
    assert!(f.starts_with("1.000") && f.bytes().skip(2).all(|b| b == b'0'));
    let e = render(r#"{{ printf "%.*e" 100000 1.5 }}"#);
    assert_eq!(e, format!("1.5{}e+00", "0".repeat(99_999)));
    // 0.1's exact expansion has 55 significant digits; %g trims zeros.
    assert_eq!(
        render(r#"{{ printf "%.70000g" 0.1 }}"#),
        "0.1000000000000000055511151231257827021181583404541015625"
    );
    let tiny = render(r#"{{ printf "%.70000f" 5e-324 }}"#);
    assert!(tiny.starts_with("0.000") && tiny.len() == 70002);
}

#[test]
fn building_big_strings_in_loops_hits_the_step_limit() {
    // 10^6 iterations each building a 1 MB string ran for minutes; one
    // step per 64 bytes produced stops it after about sixty.
    let ranges = "{{ range (args 1 2 3 4 5 6 7 8 9 0) }}".repeat(6);
    let ends = "{{ end }}".repeat(6);
    let text = format!(r#"{ranges}{{{{ $x := printf "%1000000d" 1 }}}}{ends}"#);
    assert!(render_err(&text).ends_with("template execution exceeded 1000000 steps"));
}

#[test]
fn doubling_a_string_stops_at_the_result_cap() {
    let loops = "1 2 3 4 5 6 7 8 9 0 ".repeat(4);
    let text = format!(
        r#"{{{{ $x := "ab" }}}}{{{{ range (args {loops}) }}}}{{{{ $x = printf "%s%s" $x $x }}}}{{{{ end }}}}"#
    );
    let err = render_err(&text);
    assert!(
        err.ends_with(
            r#"at <printf "%s%s" $x $x>: template function result exceeds 1048576 bytes"#
        ),
        "{err}"
    );
    // Results up to the cap are fine.
    assert_eq!(render(r#"{{ printf "%1000000d" 1 | len }}"#), "1000000");
}

#[test]
fn regex_replacement_cannot_build_more_than_the_result_cap() {
    let err = render_err(r#"{{ reReplaceAll "" (printf "%1000000d" 1) (printf "%1000000d" 1) }}"#);
    assert!(
        err.ends_with("error calling reReplaceAll: result exceeds 1048576 bytes"),
        "{err}"
    );
    // Ordinary replacements are Regex::replace_all's, expansions included.
    assert_eq!(
        render(r#"{{ reReplaceAll "(h):(\\d+)" "$2@${1}x$$" "h:1 h:22" }}"#),
        "1@hx$ 22@hx$"
    );
    assert_eq!(render(r#"{{ reReplaceAll "" "-" "ab" }}"#), "-a-b-");
}
