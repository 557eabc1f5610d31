#!/usr/bin/env python3
"""Regenerate corpus_cases.json: every label and annotation template of every
alerting rule in testdata/corpus/awesome-prometheus-alerts/*.yml (or the
directory given as argument), rendered by a real Prometheus 2.42 for a
synthetic sample: labels instance, job and every `$labels.X` / `.Labels.X`
the rule's templates mention, and a value that varies by rule.

Label templates are rendered as extra annotations (`label_<name>`) so they
cannot change alert identity. Templates calling `query` would need the
rule's real data; none of the corpus uses it, and the script refuses
(lists) any that do.

Usage: python3 testdata/templates/gen_corpus_cases.py [CORPUS_DIR]   (needs prometheus and PyYAML)
"""
import glob, json, os, re, sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_render_cases import alert_annotations, expr_for  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
corpus = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "corpus", "awesome-prometheus-alerts")
VALUES = ["0.5", "42", "1234567.891", "0.000123", "99.9", "3600", "-3", "0"]
LABEL_REF = re.compile(r"(?:\$labels|\.Labels)\.([A-Za-z_][A-Za-z0-9_]*)")


def main():
    rules = []
    for path in sorted(glob.glob(os.path.join(corpus, "*.yml"))):
        doc = yaml.safe_load(open(path)) or {}
        for g in doc.get("groups", []):
            for r in g.get("rules", []) or []:
                if "alert" not in r:
                    continue
                templates = {f"label_{k}": str(v) for k, v in (r.get("labels") or {}).items()}
                templates.update({k: str(v) for k, v in (r.get("annotations") or {}).items()})
                rules.append({"file": os.path.basename(path), "alert": r["alert"], "templates": templates})
    excluded = [r for r in rules if any(re.search(r"\{\{[^}]*\bquery\b", t) for t in r["templates"].values())]
    for r in excluded:
        print(f"excluded (uses query): {r['file']} {r['alert']}", file=sys.stderr)
    rules = [r for r in rules if r not in excluded]
    lines = ["groups:", "- name: corpus", "  rules:"]
    for i, r in enumerate(rules):
        refs = sorted(set(m for t in r["templates"].values() for m in LABEL_REF.findall(t)))
        labels = {"instance": "host1.example.com:9100", "job": "node-exporter"}
        for ref in refs:
            labels.setdefault(ref, f"{ref}-1")
        r["labels"] = labels
        r["value"] = VALUES[i % len(VALUES)]
        lines += [f"  - alert: C{i}", f"    expr: {json.dumps(expr_for(labels, r['value']))}", "    for: 0s",
                  "    annotations:"]
        for k, t in r["templates"].items():
            lines.append(f"      {json.dumps(k)}: {json.dumps(t)}")
    got = alert_annotations(lines, len(rules), 90)
    out = []
    for i, r in enumerate(rules):
        if f"C{i}" not in got:
            print(f"no alert for {r['file']} {r['alert']}", file=sys.stderr)
            continue
        r["outputs"] = got[f"C{i}"]
        out.append(r)
    json.dump(out, open(os.path.join(here, "corpus_cases.json"), "w"), indent=1, ensure_ascii=False)
    print(f"{len(out)} of {len(rules)} rules captured ({len(excluded)} excluded)", file=sys.stderr)


if __name__ == "__main__":
    main()
