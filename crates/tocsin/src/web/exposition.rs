//! Prometheus text exposition format (0.0.4), written by hand: tocsin's own counters sit
//! beside recording-rule results and `ALERTS` series whose label sets are only known at run
//! time, which typed metric libraries don't model.

use std::fmt::Write as _;

/// Builds one `/metrics` page.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a metric family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    /// One sample of the current family; `labels` are written in the order given.
    pub fn sample<'a>(
        &mut self,
        name: &str,
        labels: impl IntoIterator<Item = (&'a str, &'a str)>,
        value: f64,
    ) -> &mut Self {
        self.out.push_str(name);
        let mut first = true;
        for (k, v) in labels {
            self.out.push(if first { '{' } else { ',' });
            first = false;
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_label_value(&mut self.out, v);
            self.out.push('"');
        }
        if !first {
            self.out.push('}');
        }
        self.out.push(' ');
        self.out.push_str(&format_value(value));
        self.out.push('\n');
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn escape_label_value(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Values as the text format spells them: `+Inf`, `-Inf`, `NaN`, otherwise shortest form.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_samples_and_escapes() {
        let mut e = Exposition::default();
        e.family("tocsin_x_total", "counter", "Things.")
            .sample("tocsin_x_total", [("a", "q\"\\\n")], 2.0)
            .sample("tocsin_x_total", [], f64::INFINITY);
        assert_eq!(
            e.finish(),
            "# HELP tocsin_x_total Things.\n# TYPE tocsin_x_total counter\n\
             tocsin_x_total{a=\"q\\\"\\\\\\n\"} 2\ntocsin_x_total +Inf\n"
        );
    }
}
