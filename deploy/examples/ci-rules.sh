#!/usr/bin/env bash
# A CI job for a repository of Prometheus rule files, as the Flink pod loads them: run it on
# every merge request (GitLab CI `script: [bash ci-rules.sh rules/]`, a GitHub Actions `run:`
# step, a Jenkins `sh` step). It fails the job on any finding promtool would reject, with
# file:line:column, and on files the pod would skip or misfile.
#
#   bash deploy/examples/ci-rules.sh RULES_DIR [BASE_REF]
#
# TOCSIN names the binary (default: tocsin on PATH).
set -euo pipefail
tocsin=${TOCSIN:-tocsin}
rules=${1:?usage: ci-rules.sh RULES_DIR [BASE_REF]}

# 1. Validate as `promtool check rules` (Prometheus 2.42) does, plus the ACK pod's layout:
#    only alerting_rule*.yaml / recording_rule*.yaml are loaded, each with its own kind.
#    --strict makes warnings (duplicate rules, layout) fail too; --format github would print
#    them as GitHub Actions annotations. Exit 1 on an invalid file or any warning.
"$tocsin" check --strict --layout ack "$rules"

#    With the production Prometheus reachable from CI, the online checks too (selectors
#    matching nothing, rate windows under two scrape intervals, rate of gauges, labels no
#    series carries, missing recording dependencies; docs/check.md); a datasource that does
#    not answer fails the job:
#    "$tocsin" check --strict --layout ack --datasource http://prometheus:9090 "$rules"

# 2. Unit tests of the rules, in promtool's format (identical output and exit codes):
#    shopt -s nullglob; tests=("$rules"/tests/*.yaml); ((${#tests[@]})) && "$tocsin" test rules "${tests[@]}"

# 3. What the change does to alerts, against the production Prometheus's last week: exit 1
#    when alerts are added or removed, an alert's identity changes, or a selector matches
#    nothing (old rules checked out of BASE_REF into old/):
#    git worktree add old "${2:-origin/main}"
#    "$tocsin" diff --datasource http://prometheus:9090 --old old/"$rules" --new "$rules" \
#      --range 7d --format markdown > diff.md

echo "ci-rules.sh: $rules: valid, no warnings"
