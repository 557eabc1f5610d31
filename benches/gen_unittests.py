#!/usr/bin/env python3
"""Writes a rule file and a promtool unit-test file with N test groups (default 1,000) for
comparing `tocsin test rules` with `promtool test rules`. Every test passes.

    python3 benches/gen_unittests.py --groups 1000 --out /tmp/ut   # writes /tmp/ut/{rules,tests}.yml
"""
import argparse
import os

RULES = """groups:
  - name: availability
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - record: job:requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "Instance {{ $labels.instance }} down"
          description: "{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes."
      - alert: HighErrorRate
        expr: sum by (job) (rate(http_requests_total{code="500"}[5m])) / sum by (job) (rate(http_requests_total[5m])) > 0.1
        for: 2m
        labels:
          severity: ticket
        annotations:
          summary: "{{ $labels.job }}: {{ $value | humanizePercentage }} errors"
"""

GROUP = """  - name: group-{k}
    interval: 1m
    input_series:
      - series: 'up{{job="job-{k}", instance="host-{k}:9100"}}'
        values: '1x30 0x30'
      - series: 'http_requests_total{{job="job-{k}", code="200"}}'
        values: '0+60x60'
      - series: 'http_requests_total{{job="job-{k}", code="500"}}'
        values: '0+0x30 0+30x30'
    alert_rule_test:
      - eval_time: 10m
        alertname: InstanceDown
        exp_alerts: []
      - eval_time: 40m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels:
              severity: page
              job: job-{k}
              instance: host-{k}:9100
            exp_annotations:
              summary: "Instance host-{k}:9100 down"
              description: "host-{k}:9100 of job job-{k} has been down for more than 5 minutes."
      - eval_time: 50m
        alertname: HighErrorRate
        exp_alerts:
          - exp_labels:
              severity: ticket
              job: job-{k}
            exp_annotations:
              summary: "job-{k}: 33.33% errors"
    promql_expr_test:
      - expr: job:up:sum
        eval_time: 10m
        exp_samples:
          - labels: 'job:up:sum{{job="job-{k}"}}'
            value: 1
      - expr: job:requests:rate5m
        eval_time: 20m
        exp_samples:
          - labels: 'job:requests:rate5m{{job="job-{k}"}}'
            value: 1
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "rules.yml"), "w") as f:
        f.write(RULES)
    with open(os.path.join(args.out, "tests.yml"), "w") as f:
        f.write("rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n")
        for k in range(args.groups):
            f.write(GROUP.format(k=k))


if __name__ == "__main__":
    main()
