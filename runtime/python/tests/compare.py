"""ward-spark against `ward scan`: the same alert lines, stateful rules included.

Run by runtime/python/test.sh, with ward_spark installed and pyspark in the
same Python:

    python compare.py --ward target/release/ward --samples tests/samples --work /tmp/x

Two inputs: the bundled JSON-lines samples, and a generated corpus (Kubernetes
audit events and CloudTrail records, one file gzipped, one large enough for
Spark to split). Each goes through `ward scan` and through the Spark job in
local[2]; the alert lines must be the same multiset, byte for byte (the same
absolute file names are given to both). Prints the throughput of both.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import subprocess
import sys
import time

from ward_spark import Rules, corpus
from ward_spark import job


def generate(work: str, events: int) -> list[str]:
    """The corpus: k8s audit events in two files (the second gzipped) and
    CloudTrail records in a third; in time order within each source."""
    d = os.path.join(work, "corpus")
    os.makedirs(d, exist_ok=True)
    n_ct = events // 5
    n_k8s = events - n_ct
    k8s = corpus("k8s", n_k8s, 7)
    cut = n_k8s * 3 // 5
    a = os.path.join(d, "a-k8s.jsonl")
    b = os.path.join(d, "b-k8s.jsonl.gz")
    c = os.path.join(d, "c-cloudtrail.jsonl")
    with open(a, "w") as f:
        f.write("\n".join(k8s[:cut]) + "\n")
    with gzip.open(b, "wt") as f:
        f.write("\n".join(k8s[cut:]) + "\n")
    with open(c, "w") as f:
        f.write("\n".join(corpus("cloudtrail", n_ct, 7)) + "\n")
    return [a, b, c]


def ward_scan(ward: str, files: list[str], lateness: str, work: str, name: str):
    """Alert lines of `ward scan`, its summary, and its wall time."""
    summary = os.path.join(work, f"{name}.summary.json")
    cmd = [ward, "scan", "--rules", "bundled", "--lateness", lateness, "--allow-problems",
           "--exit-zero", "--summary-json", summary, *files]
    t = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    secs = time.monotonic() - t
    if r.returncode != 0:
        sys.stderr.write(r.stderr.decode(errors="replace"))
        raise SystemExit(f"ward scan exited {r.returncode}")
    with open(summary) as f:
        s = json.load(f)
    return r.stdout.decode().splitlines(), s, secs


def spark_job(spark, files: list[str], lateness: str, work: str, name: str, transfer: str):
    """Alert lines of the Spark job, its summary, and its time (the job,
    without starting Spark)."""
    out = os.path.join(work, f"{name}.spark")
    summary = os.path.join(work, f"{name}.spark.json")
    args = job.parse_args(["--rules", "bundled", "-v", "--lateness", lateness, "--overwrite",
                           "--transfer", transfer,
                           "--summary-json", summary, "-o", out, *files])
    t = time.monotonic()
    code = job.run(spark, args)
    secs = time.monotonic() - t
    if code != 0:
        raise SystemExit(f"the Spark job returned {code}")
    lines = []
    for part in sorted(glob.glob(os.path.join(out, "part-*"))):
        with open(part) as f:
            lines.extend(line.rstrip("\n") for line in f if line.strip())
    with open(summary) as f:
        s = json.load(f)
    return lines, s, secs


def compare(name: str, ref: list[str], got: list[str], stateful_ids: set[str]) -> bool:
    a, b = collections.Counter(ref), collections.Counter(got)
    rule = lambda line: json.loads(line).get("rule", json.loads(line).get("diagnostic"))
    n_stateful = sum(n for line, n in a.items() if rule(line) in stateful_ids)
    if a == b:
        print(f"{name}: the same {len(ref)} alert line(s) from ward scan and Spark "
              f"({n_stateful} of stateful rules)")
        return True
    missing, extra = a - b, b - a
    print(f"{name}: ALERTS DIFFER: ward scan {len(ref)}, Spark {len(got)}; "
          f"{sum(missing.values())} only from ward scan, {sum(extra.values())} only from Spark")
    for what, c in (("only from ward scan", missing), ("only from Spark", extra)):
        per_rule = collections.Counter()
        for line, n in c.items():
            per_rule[rule(line)] += n
        for r, n in sorted(per_rule.items()):
            print(f"  {what}: {n:>6}  {r}")
        for line in list(c)[:3]:
            print(f"  {what}: {line[:400]}")
    return False


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--ward", required=True)
    p.add_argument("--samples", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--events", type=int, default=50000)
    p.add_argument("--transfer", choices=["arrow", "rows"], default="arrow")
    args = p.parse_args()

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    t = time.monotonic()
    spark = (SparkSession.builder.master("local[2]").appName("ward-spark-test")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "4")
             # Small splits, so that the large corpus file is read in several
             # and line numbers are carried across them.
             .config("spark.sql.files.maxPartitionBytes", str(8 << 20))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    print(f"Spark {spark.version} local[2] started in {time.monotonic() - t:.1f} s; "
          f"--transfer {args.transfer}")

    rules = Rules(["bundled"])
    stateful_ids = {rules.rule_ids[i] for i in rules.stateful}
    passed = failed = 0
    samples = sorted(os.path.abspath(f) for f in
                     glob.glob(os.path.join(args.samples, "**", "*.jsonl"), recursive=True))
    files = generate(args.work, args.events)
    runs = [("samples", samples, "30d"), ("corpus", files, "1d")]
    if os.environ.get("ONLY"):
        runs = [r for r in runs if r[0] == os.environ["ONLY"]]
    for name, inputs, lateness in runs:
        ref, ref_summary, ref_secs = ward_scan(args.ward, inputs, lateness, args.work, name)
        got, got_summary, got_secs = spark_job(spark, inputs, lateness, args.work,
                                                 name, args.transfer)
        ok = compare(name, ref, got, stateful_ids)
        events = ref_summary["counts"]["known"]
        if got_summary["counts"]["events"] != events:
            print(f"{name}: EVENTS DIFFER: ward scan {events}, Spark "
                  f"{got_summary['counts']['events']}")
            ok = False
        late = ref_summary["state"]["late"]
        if name == "corpus":
            if late:
                print(f"{name}: ward scan counted {late} late event(s): the corpus must be in "
                      "order within the lateness for the comparison of stateful rules")
                ok = False
            if not any(json.loads(line)["rule"] in stateful_ids for line in ref):
                print(f"{name}: no alert of a stateful rule: the comparison proves nothing")
                ok = False
        mb = sum(os.path.getsize(f) for f in inputs) / 1e6
        print(f"{name}: {events} events ({mb:.1f} MB on disk): ward scan {ref_secs:.2f} s "
              f"({events / ref_secs:,.0f} events/s); Spark local[2] {got_secs:.2f} s "
              f"({events / got_secs:,.0f} events/s)")
        passed, failed = passed + ok, failed + (not ok)
    spark.stop()
    print(f"ward-spark: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
