#!/usr/bin/env python3
"""A scrape target for benches/e2e/run.sh (stdlib only): GET /metrics serves the series the
rules of benches/gen_rules.py select on, so their queries do real work and some alerts fire.

    python3 benches/e2e/exporter.py --port 9999 [--series 40]

Every metric name gen_rules.py uses gets --series series carrying all the labels its rules
group and match on (job, job_name, namespace, pod, instance, task_name, topic). Counters grow
at 1-7 per second, gauges move slowly between 0 and ~2000 (so thresholds from 0 to 1e3 are
crossed both ways), histograms get 8 buckets plus _sum and _count. Values are functions of the
wall clock, so a scrape at any time is consistent with the last one. Series carry their own
`job`/`instance`, so scrape with `honor_labels: true`.
"""

import argparse
import math
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from gen_rules import METRICS, NAMESPACES  # noqa: E402  (the same names the rules use)

JOB_NAMES = ["etl", "orders", "ingest", "clicks", "sessions"]
BUCKETS = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
START = time.time()


def labels(i):
    ns = NAMESPACES[i % len(NAMESPACES)]
    role = "jobmanager" if i % 10 == 0 else "taskmanager"
    return (
        'job="flink-%s",job_name="%s-%d",namespace="%s",pod="flink-%s-%d-7d9f",'
        'instance="10.0.%d.%d:9249",task_name="task-%d",topic="topic-%d"'
        % (ns, JOB_NAMES[i % len(JOB_NAMES)], i, ns, role, i, i // 10, i % 10, i % 4, i % 3)
    )


def exposition(n):
    now = time.time()
    up = now - START
    out = []
    for m, (name, kind, _) in enumerate(METRICS):
        out.append("# TYPE %s %s\n" % (name, kind))
        for i in range(n):
            ls = labels(i)
            rate = 1 + (i + m) % 7
            if kind == "counter":
                out.append("%s{%s} %.3f\n" % (name, ls, rate * up))
            elif kind == "gauge":
                level = (i * 37 + m * 11) % 1000
                out.append("%s{%s} %.3f\n" % (name, ls, level * (1 + math.sin(now / 30 + i))))
            else:
                total = rate * up
                for b, le in enumerate(BUCKETS):
                    share = min(1.0, (b + 1) / (len(BUCKETS) - 1))
                    out.append('%s_bucket{%s,le="%s"} %.3f\n' % (name, ls, le, total * share))
                out.append("%s_sum{%s} %.3f\n" % (name, ls, total * 0.7))
                out.append("%s_count{%s} %.3f\n" % (name, ls, total))
    return "".join(out).encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--series", type=int, default=40, help="series per metric (default 40; run.sh passes 4)")
    a = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = exposition(a.series)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
