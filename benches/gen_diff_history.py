#!/usr/bin/env python3
"""History and rule sets for benchmarking `tocsin diff` (benches/README.md, "tocsin diff").

Writes, into --out DIR:
  history.om   OpenMetrics text: `bench_latency_seconds{job, instance}` for --series series,
               one sample every --scrape seconds over --days days ending at --end (Unix
               seconds, default: now rounded down to the hour). Values are a deterministic
               random walk with bursts, so rules fire now and then.
  old.yaml     --rules alerting rules in groups of 10 (interval 1m): thresholds, `for`
               and instance subsets vary by rule.
  new.yaml     the same rules with every tenth threshold lowered by 0.15 (the candidate).

Load the history with
  promtool tsdb create-blocks-from openmetrics DIR/history.om DIR/data
and start Prometheus on DIR/data. Stdlib only; deterministic for a given --seed.
"""

import argparse
import os
import random
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--series", type=int, default=40)
    p.add_argument("--days", type=float, default=1.0)
    p.add_argument("--scrape", type=int, default=30)
    p.add_argument("--rules", type=int, default=100)
    p.add_argument("--end", type=int, default=int(time.time()) // 3600 * 3600)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rnd = random.Random(a.seed)

    start = a.end - int(a.days * 86400)
    steps = (a.end - start) // a.scrape + 1
    with open(os.path.join(a.out, "history.om"), "w") as f:
        f.write("# TYPE bench_latency_seconds gauge\n")
        for i in range(a.series):
            v = 0.3
            burst = 0
            for k in range(steps):
                if burst > 0:
                    burst -= 1
                    x = 0.95
                else:
                    v = min(0.8, max(0.05, v + rnd.uniform(-0.03, 0.03)))
                    x = v
                    if rnd.random() < 0.0015:
                        burst = rnd.randint(2, 60)
                f.write(
                    'bench_latency_seconds{job="bench",instance="i%d"} %.4f %d\n'
                    % (i, x, start + k * a.scrape)
                )
        f.write("# EOF\n")

    def rules(lowered):
        out = ["groups:"]
        for r in range(a.rules):
            if r % 10 == 0:
                out.append("  - name: bench-%d" % (r // 10))
                out.append("    interval: 1m")
                out.append("    rules:")
            threshold = 0.7 + (r % 5) * 0.05
            if lowered and r % 10 == 0:
                threshold -= 0.15
            out.append("      - alert: BenchLatency%d" % r)
            out.append(
                '        expr: bench_latency_seconds{job="bench",instance=~"i%d.*"} > %.2f'
                % (r % 10, threshold)
            )
            out.append("        for: %dm" % (r % 4))
            out.append("        labels: {severity: page, rule: r%d}" % r)
            out.append('        annotations: {summary: "{{ $labels.instance }} at {{ $value }}"}')
        return "\n".join(out) + "\n"

    with open(os.path.join(a.out, "old.yaml"), "w") as f:
        f.write(rules(False))
    with open(os.path.join(a.out, "new.yaml"), "w") as f:
        f.write(rules(True))


if __name__ == "__main__":
    main()
