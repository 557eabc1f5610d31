#!/usr/bin/env python3
"""Regenerate parse_cases.json: for each template in parse_templates.json,
the error `promtool check rules` (Prometheus 2.42) reports, or null.

Usage: python3 testdata/templates/gen_parse_cases.py  (needs promtool on PATH)
"""
import json, os, re, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
templates = json.load(open(os.path.join(here, "parse_templates.json")))
lines = ["groups:", "- name: g", "  rules:"]
for i, t in enumerate(templates):
    lines += [f"  - alert: T{i}", "    expr: vector(1)", "    annotations:",
              f"      summary: {json.dumps(t)}"]
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "rules.yml")
    open(path, "w").write("\n".join(lines) + "\n")
    p = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
errors = {}
pat = re.compile(r'^.*?: group "g", rule (\d+), "T\d+": annotation "summary": (.*)$')
cur = None
for line in (p.stdout + p.stderr).splitlines():
    m = pat.match(line)
    if m:
        cur = int(m.group(1)) - 1
        errors[cur] = m.group(2)
    elif cur is not None and line and not line.startswith("Checking"):
        errors[cur] += "\n" + line
        # multi-line messages are not expected; keep them verbatim
out = [{"template": t, "error": errors.get(i)} for i, t in enumerate(templates)]
json.dump(out, open(os.path.join(here, "parse_cases.json"), "w"), indent=1, ensure_ascii=False)
print(f"{len(out)} cases, {len(errors)} errors", file=sys.stderr)
