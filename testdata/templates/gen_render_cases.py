#!/usr/bin/env python3
"""Regenerate render_cases.json: each case (template, labels, value) rendered
by a real Prometheus 2.42 as an alert annotation.

Each case becomes one alerting rule (for: 0s) whose expr yields one sample
with the case's labels and value; Prometheus runs with evaluation_interval
1s, external labels {cluster: prod, region: eu} and external URL
http://prom.example.com:9090/prefix; the annotations are read back from
/api/v1/alerts. Queries used by templates must be listed in queries.json
(the Rust test answers them from there).

Usage: python3 testdata/templates/gen_render_cases.py   (needs `prometheus` on PATH)
"""
import json, os, socket, subprocess, sys, tempfile, time, urllib.request

here = os.path.dirname(os.path.abspath(__file__))
DEFAULT_LABELS = {"instance": "host1.example.com:9100", "job": "node"}


def cases_from_sources():
    cases = [dict(c) for c in json.load(open(os.path.join(here, "render_templates.json")))]
    values = json.load(open(os.path.join(here, "render_values.json")))
    for fn in ["{{ $value }}", "{{ humanize $value }}", "{{ humanize1024 $value }}",
               "{{ humanizeDuration $value }}", "{{ humanizePercentage $value }}",
               "{{ humanizeTimestamp $value }}", "{{ printf \"%.2f\" $value }}",
               "{{ printf \"%v|%e|%g|%8.3f|%-6.1f|\" $value $value $value $value $value }}"]:
        for v in values:
            cases.append({"template": fn, "value": v})
    return cases


def promql_number(v):
    return {"NaN": "NaN", "+Inf": "+Inf", "-Inf": "-Inf"}.get(v, v)


def expr_for(labels, value):
    e = f"vector({promql_number(value)})"
    for k, v in labels.items():
        e = f'label_replace({e}, {json.dumps(k)}, {json.dumps(v)}, "", "")'
    return e


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def alert_annotations(rule_lines, count, timeout):
    """Loads `rule_lines` (one group of alerting rules) into a real Prometheus with the
    external labels and URL the tables assume, and returns {alertname: annotations} once
    `count` alerts are active or `timeout` seconds have passed."""
    with tempfile.TemporaryDirectory() as d:
        open(os.path.join(d, "rules.yml"), "w").write("\n".join(rule_lines) + "\n")
        open(os.path.join(d, "prom.yml"), "w").write(
            "global:\n  evaluation_interval: 1s\n  external_labels: {cluster: prod, region: eu}\n"
            "rule_files: [rules.yml]\n")
        port = free_port()
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={d}/prom.yml", f"--storage.tsdb.path={d}/data",
             f"--web.listen-address=127.0.0.1:{port}",
             "--web.external-url=http://prom.example.com:9090/prefix", "--log.level=error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            got = {}
            deadline = time.time() + timeout
            while time.time() < deadline and len(got) < count:
                time.sleep(1)
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/prefix/api/v1/alerts") as r:
                        alerts = json.load(r)["data"]["alerts"]
                except OSError:
                    continue
                for a in alerts:
                    got[a["labels"]["alertname"]] = a["annotations"]
            return got
        finally:
            proc.terminate()
            proc.wait()


def main():
    cases = cases_from_sources()
    lines = ["groups:", "- name: g", "  rules:"]
    for i, c in enumerate(cases):
        labels = c.get("labels", DEFAULT_LABELS)
        value = str(c.get("value", "2.5"))
        lines += [f"  - alert: T{i}", f"    expr: {json.dumps(expr_for(labels, value))}",
                  "    for: 0s", "    annotations:", f"      out: {json.dumps(c['template'])}"]
    got = {name: ann.get("out", "") for name, ann in alert_annotations(lines, len(cases), 60).items()}
    out = []
    for i, c in enumerate(cases):
        if f"T{i}" not in got:
            print(f"no alert for case {i}: {c}", file=sys.stderr)
            continue
        out.append({"template": c["template"], "labels": c.get("labels", DEFAULT_LABELS),
                    "value": str(c.get("value", "2.5")), "output": got[f"T{i}"]})
    json.dump(out, open(os.path.join(here, "render_cases.json"), "w"), indent=1, ensure_ascii=False)
    print(f"{len(out)} of {len(cases)} cases captured", file=sys.stderr)


if __name__ == "__main__":
    main()
