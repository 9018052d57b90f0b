"""ward-spark: Ward rules over files of JSON lines, on Apache Spark.

    spark-submit ward_spark/job.py --rules bundled --output out/ 's3a://logs/2024/*/*.gz'
    python -m ward_spark --master 'local[*]' --rules rules/ --output out/ logs/*.jsonl

Alerts are those `ward scan --rules ... FILES` writes, the same JSON lines,
for stateful rules too (spec/spark.md says how the work is split).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import struct
import sys
import time
from urllib.parse import unquote, urlparse

# Each Python worker loads and checks the rules once; keyed by the settings.
_RULES: dict = {}

# Sort key of an event without a time: before any other.
NO_TIME = -(2**63)

_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}


def duration_ns(text: str) -> int:
    """`5m`, `90s`, `250ms`, `2h`, `7d` in nanoseconds (as `ward scan --lateness`)."""
    m = _DURATION.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 5m, 90s, 250ms, 2h, 7d)")
    return int(m.group(1)) * _UNIT_NS[m.group(2)]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="ward-spark",
        description="Run Ward rules over files of JSON lines on Apache Spark; alerts as "
        "`ward scan` writes them (spec/spark.md).",
    )
    p.add_argument("inputs", nargs="+", help="files, directories or globs: local paths or any "
                   "Hadoop-compatible URI (s3a://, gs://, abfss://, hdfs://); text files of "
                   "JSON lines, .gz and other Hadoop codecs read by Spark")
    p.add_argument("--rules", action="append", default=[], metavar="PATH",
                   help="rule file or directory, or `bundled` for the embedded library; repeat "
                   "to layer (as `ward scan --rules`); default: bundled")
    p.add_argument("--output", "-o", required=True, metavar="DIR",
                   help="directory the alerts are written to (any Hadoop-compatible URI)")
    p.add_argument("--format", choices=["json", "parquet"], default="json",
                   help="json: text files of alert JSON lines; parquet: columns rule, severity, "
                   "time, file, line and alert (the JSON line)")
    p.add_argument("--no-event", action="store_true", help="alerts without the event")
    p.add_argument("--source", help="take every event as of this source (`ward scan --source`)")
    p.add_argument("--lateness", type=duration_ns, default=duration_ns("5m"), metavar="DURATION",
                   help="the --lateness of the single scan the job stands for: where event time "
                   "stands at the end of input (default 5m)")
    p.add_argument("--max-keys", type=int, default=None, help="live keys per rule (--max-keys)")
    p.add_argument("--partitions", type=int, default=None,
                   help="partitions of the stateful stage (default: Spark's default parallelism)")
    p.add_argument("--batch-lines", type=int, default=20000,
                   help="lines per call into Ward (default 20000); with --transfer arrow, "
                   "Spark's Arrow batch size (spark.sql.execution.arrow.maxRecordsPerBatch)")
    p.add_argument("--transfer", choices=["arrow", "rows"], default="arrow",
                   help="arrow: lines and records move between Spark and Ward as Arrow batches "
                   "(DataFrame.mapInArrow; the executors need pyarrow); rows: as pickled rows "
                   "(RDD API; slower, no pyarrow)")
    p.add_argument("--file-names", choices=["path", "uri"], default="path",
                   help="`file` of alerts: path (local files as paths, as `ward scan` names "
                   "them; other URIs whole) or uri")
    p.add_argument("--master", help="Spark master when not run by spark-submit (e.g. local[*])")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                   help="a Spark setting, e.g. spark.sql.files.maxPartitionBytes=64m")
    p.add_argument("--summary-json", metavar="FILE", help="write the counts as JSON (local file)")
    p.add_argument("--overwrite", action="store_true", help="replace the output directory")
    p.add_argument("--verbose", "-v", action="store_true", help="time each stage")
    return p.parse_args(argv)


def _rules(conf):
    """The worker's rule set for `conf` (paths, with_event, source, lateness, max_keys)."""
    r = _RULES.get(conf)
    if r is None:
        from ward_spark._ward import Rules

        paths, with_event, source, lateness, max_keys = conf
        r = Rules([_local_rules(p) for p in paths], with_event=with_event, source=source,
                  lateness_ns=lateness, max_keys=max_keys)
        _RULES[conf] = r
    return r


def _local_rules(path: str) -> str:
    """Where a rule path shipped with `SparkContext.addFile` is on this worker."""
    if not path.startswith("spark-file:"):
        return path
    from pyspark import SparkFiles

    return SparkFiles.get(path[len("spark-file:"):])


def file_name(uri: str, mode: str) -> str:
    if mode == "path" and uri.startswith("file:"):
        return unquote(urlparse(uri).path)
    return uri


def stage_one(conf, first_lines, batch_lines, names):
    """Per partition of lines: stateless alerts ("A", line), stateful records
    ("K", (sort key, (file, payload))), and one ("T", totals) at the end."""

    def run(rows):
        rules = _rules(conf)
        totals = {"max_time": None, "max_keyed": None, "events": 0, "unknown": 0,
                  "malformed": 0, "too_long": 0, "lines": 0}
        split, lines, first = None, [], 1

        def flush():
            name, ford = names[split[0]]
            out = rules.batch(name, first, lines)
            for k in ("events", "unknown", "malformed", "too_long"):
                totals[k] += out[k]
            totals["lines"] += len(lines)
            for k in ("max_time", "max_keyed"):
                if out[k] is not None and (totals[k] is None or out[k] > totals[k]):
                    totals[k] = out[k]
            for a in out["alerts"]:
                yield ("A", a)
            for seq, (rule, key, t, line, payload) in enumerate(out["keyed"]):
                sort = (rule, NO_TIME if t is None else t, ford, line, seq, key)
                yield ("K", (sort, (name, payload)))

        for value, path, start in rows:
            here = (path, start)
            if here != split or len(lines) >= batch_lines:
                if lines:
                    yield from flush()
                    first += len(lines)
                if here != split:
                    split, first = here, first_lines[here]
                lines = []
            lines.append(value)
        if lines:
            yield from flush()
        yield ("T", totals)

    return run


def stage_two(conf, end):
    """Per partition of (rule, key) groups, sorted by rule then time: each
    rule's records through a scan of that rule alone."""

    def run(records):
        rules = _rules(conf)
        scan, rule, buf = None, None, []
        for (r, _t, _ford, line, _seq, _key), (name, payload) in records:
            if r != rule:
                if scan is not None:
                    yield from scan.feed(buf)
                    yield from scan.finish()
                scan, rule, buf = rules.rule_scan(r, end), r, []
            buf.append((name, line, payload))
            if len(buf) >= 5000:
                yield from scan.feed(buf)
                buf = []
        if scan is not None:
            yield from scan.feed(buf)
            yield from scan.finish()

    return run


# Arrow stage 1's rows: stateless alerts (tag A, `alert`), stateful records
# (tag K: rule, key, time, file order, line, order within the batch,
# payload) and each task's totals (tag T, JSON in `alert`).
_STAGE_ONE_SCHEMA = ("tag string, alert binary, rule int, key string, t long, ford int, "
                     "line long, seq long, payload binary")


def _fixed(arr, width):
    """The values of a fixed-width Arrow array without nulls, as bytes."""
    return arr.buffers()[1].slice(arr.offset * width, len(arr) * width).to_pybytes()


def _varlen(arr):
    """(offsets, data, large) of an Arrow string or binary array without
    nulls, as `Rules.batch_arrow` takes them: the offsets of its values
    and the part of the data buffer they span (offsets relative to the
    first)."""
    import pyarrow as pa

    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    w = 8 if large else 4
    _, offsets, data = arr.buffers()
    offs = offsets.slice(arr.offset * w, (len(arr) + 1) * w).to_pybytes()
    fmt = "<q" if large else "<i"
    lo, hi = struct.unpack_from(fmt, offs, 0)[0], struct.unpack_from(fmt, offs, len(arr) * w)[0]
    return offs, (data.slice(lo, hi - lo).to_pybytes() if hi > lo else b""), large


def _binary(pa, n, offsets, data, type_=None):
    return pa.Array.from_buffers(type_ or pa.binary(), n,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def stage_one_arrow(conf, first_lines, names):
    """mapInArrow over batches of (value, path, start): one call into Ward per
    run of lines of one split in a batch; rows of _STAGE_ONE_SCHEMA."""

    def run(batches):
        import pyarrow as pa

        rules = _rules(conf)
        schema = _stage_one_pa_schema()
        totals = {"max_time": None, "max_keyed": None, "events": 0, "unknown": 0,
                  "malformed": 0, "too_long": 0, "lines": 0}
        next_line = {}
        seq = 0
        for b in batches:
            values, paths, starts = b.column(0), b.column(1), b.column(2)
            n = len(values)
            if n == 0:
                continue
            # Runs of one split: a task reads its splits one after another.
            if paths[0] == paths[n - 1] and starts[0] == starts[n - 1]:
                runs = [(0, n, paths[0].as_py(), starts[0].as_py())]
            else:
                ps, ss = paths.to_pylist(), starts.to_pylist()
                runs, i = [], 0
                for j in range(1, n + 1):
                    if j == n or ps[j] != ps[i] or ss[j] != ss[i]:
                        runs.append((i, j, ps[i], ss[i]))
                        i = j
            for i, j, path, start in runs:
                here = (path, start)
                first = next_line.get(here) or first_lines.get(here, 1)
                next_line[here] = first + (j - i)
                name, ford = names[path]
                offs, data, large = _varlen(values.slice(i, j - i))
                out = rules.batch_arrow(name, first, offs, data, large)
                for k in ("events", "unknown", "malformed", "too_long"):
                    totals[k] += out[k]
                totals["lines"] += j - i
                for k in ("max_time", "max_keyed"):
                    if out[k] is not None and (totals[k] is None or out[k] > totals[k]):
                        totals[k] = out[k]
                na = out["alerts"][0]
                if na:
                    yield pa.RecordBatch.from_arrays([
                        pa.array(["A"] * na, pa.string()),
                        _binary(pa, *out["alerts"]),
                        pa.nulls(na, pa.int32()), pa.nulls(na, pa.string()),
                        pa.nulls(na, pa.int64()), pa.nulls(na, pa.int32()),
                        pa.nulls(na, pa.int64()), pa.nulls(na, pa.int64()),
                        pa.nulls(na, pa.binary()),
                    ], schema=schema)
                nk = out["keyed"]
                if nk:
                    yield pa.RecordBatch.from_arrays([
                        pa.array(["K"] * nk, pa.string()),
                        pa.nulls(nk, pa.binary()),
                        pa.Array.from_buffers(pa.int32(), nk, [None, pa.py_buffer(out["rule"])]),
                        _binary(pa, *out["key"], type_=pa.string()),
                        pa.Array.from_buffers(pa.int64(), nk, [None, pa.py_buffer(out["time"])]),
                        pa.array([ford] * nk, pa.int32()),
                        pa.Array.from_buffers(pa.int64(), nk, [None, pa.py_buffer(out["line"])]),
                        pa.array(range(seq, seq + nk), pa.int64()),
                        _binary(pa, *out["payload"]),
                    ], schema=schema)
                    seq += nk
        yield pa.RecordBatch.from_arrays([
            pa.array(["T"], pa.string()), pa.array([json.dumps(totals).encode()], pa.binary()),
            pa.nulls(1, pa.int32()), pa.nulls(1, pa.string()), pa.nulls(1, pa.int64()),
            pa.nulls(1, pa.int32()), pa.nulls(1, pa.int64()), pa.nulls(1, pa.int64()),
            pa.nulls(1, pa.binary()),
        ], schema=schema)

    return run


def _stage_one_pa_schema():
    import pyarrow as pa

    return pa.schema([("tag", pa.string()), ("alert", pa.binary()), ("rule", pa.int32()),
                          ("key", pa.string()), ("t", pa.int64()), ("ford", pa.int32()),
                          ("line", pa.int64()), ("seq", pa.int64()), ("payload", pa.binary())])


def stage_two_arrow(conf, end, files):
    """mapInArrow over batches of (rule, ford, line, payload), sorted by rule
    then time: each rule's records through a scan of that rule alone; rows
    of (alert binary)."""

    def run(batches):
        import pyarrow as pa

        rules = _rules(conf)
        scan, rule = None, None
        schema = pa.schema([("alert", pa.binary())])

        def out(col):
            return pa.RecordBatch.from_arrays([_binary(pa, *col)], schema=schema)

        for b in batches:
            n = len(b)
            if n == 0:
                continue
            rs = b.column(0).to_pylist()
            i = 0
            for j in range(1, n + 1):
                if j < n and rs[j] == rs[i]:
                    continue
                if rs[i] != rule:
                    if scan is not None:
                        yield out(scan.finish_arrow())
                    scan, rule = rules.rule_scan(rs[i], end), rs[i]
                offs, data, _ = _varlen(b.column(3).slice(i, j - i))
                got = scan.feed_arrow(files, _fixed(b.column(1).slice(i, j - i), 4),
                                      _fixed(b.column(2).slice(i, j - i), 8), offs, data)
                if got[0]:
                    yield out(got)
                i = j
        if scan is not None:
            yield out(scan.finish_arrow())

    return run


def _partition_of(n):
    from pyspark.rdd import portable_hash

    # By (rule, key): every event of a key of a rule in one partition.
    return lambda k: portable_hash((k[0], k[5])) % n


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from ward_spark._ward import Rules, WardError

    rule_paths = args.rules or ["bundled"]
    # Checked on the driver first: errors end the job before Spark starts.
    try:
        driver_rules = Rules(rule_paths, with_event=not args.no_event, source=args.source,
                             lateness_ns=args.lateness, max_keys=args.max_keys)
    except WardError as e:
        print(str(e), file=sys.stderr)
        return 2
    for rule, lists in driver_rules.inactive:
        print(f"ward-spark: rule {rule} inactive until its lists are filled: {', '.join(lists)}",
              file=sys.stderr)

    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("ward-spark")
    if args.master:
        builder = builder.master(args.master)
        # Local workers run this Python, which has ward_spark installed.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for kv in args.conf:
        key, _, value = kv.partition("=")
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        return run(spark, args, driver_rules)
    finally:
        spark.stop()


def run(spark, args, driver_rules=None) -> int:
    """The job on a running session; `args` from `parse_args`. Returns 0, or
    2 when the rules do not check."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from ward_spark._ward import Rules, WardError

    rule_paths = args.rules or ["bundled"]
    if driver_rules is None:
        try:
            driver_rules = Rules(rule_paths, with_event=not args.no_event, source=args.source,
                                 lateness_ns=args.lateness, max_keys=args.max_keys)
        except WardError as e:
            print(str(e), file=sys.stderr)
            return 2
    sc = spark.sparkContext
    last = [time.monotonic()]

    def lap(what):
        if args.verbose:
            now = time.monotonic()
            print(f"ward-spark: {now - last[0]:6.2f} s  {what}", file=sys.stderr)
            last[0] = now
    start = time.monotonic()

    # Rule files go to the workers with the job.
    shipped = []
    for p in rule_paths:
        if p == "bundled" or "://" in p:
            shipped.append(p)
            continue
        full = os.path.abspath(p)
        sc.addFile(full, recursive=os.path.isdir(full))
        shipped.append("spark-file:" + os.path.basename(full.rstrip("/")))
    conf = (tuple(shipped), not args.no_event, args.source, args.lateness, args.max_keys)

    df = spark.read.text(args.inputs).select(
        F.col("value"),
        F.col("_metadata.file_path").alias("path"),
        F.col("_metadata.file_block_start").alias("start"),
    )
    if args.transfer == "arrow":
        counts, per_rule, lines_total, n_files, cached = _arrow_stages(
            spark, args, conf, df, driver_rules, lap)
    else:
        counts, per_rule, lines_total, n_files, cached = _row_stages(
            spark, args, conf, df, driver_rules, lap)
    secs = time.monotonic() - start
    n_alerts = sum(per_rule.values())
    problems = counts["unknown"] + counts["malformed"] + counts["too_long"]
    print(f"ward-spark: {counts['events']} event(s) in {lines_total} line(s) of {n_files} "
          f"file(s), {n_alerts} alert(s), {problems} problem line(s) "
          f"({counts['unknown']} of unknown source, {counts['malformed']} not JSON, "
          f"{counts['too_long']} too long), {secs:.1f} s, "
          f"{counts['events'] / max(secs, 1e-9):.0f} events/s", file=sys.stderr)
    for rule, n in per_rule.items():
        print(f"  {n:>8}  {rule}", file=sys.stderr)
    if args.summary_json:
        with open(args.summary_json, "w") as f:
            json.dump({"counts": dict(counts, alerts=n_alerts, lines=lines_total,
                                      files=n_files),
                       "alerts": per_rule, "seconds": secs}, f, indent=2)
            f.write("\n")
    for c in cached:
        c.unpersist()
    return 0


def _first_lines(splits, mode):
    """Each split's first line number and each file's (name, order) from
    sorted (path, start, lines) of splits: one more than the lines of the
    splits of the file before it."""
    first_lines, names, seen = {}, {}, 0
    for path, split_start, count in splits:
        if path not in names:
            names[path] = (file_name(path, mode), len(names))
            seen = 0
        first_lines[(path, split_start)] = seen + 1
        seen += count
    return first_lines, names


def _row_stages(spark, args, conf, df, driver_rules, lap):
    """The job over pickled rows (`--transfer rows`): no pyarrow needed."""
    from pyspark import StorageLevel

    sc = spark.sparkContext
    # Line numbers: Spark splits large uncompressed files; each split's first
    # line number is one more than the lines of the splits before it.
    splits = sorted((r["path"], r["start"], r["count"])
                    for r in df.groupBy("path", "start").count().collect())
    first_lines, names = _first_lines(splits, args.file_names)
    lines_total = sum(c for _, _, c in splits)

    lap("lines counted per split")
    tagged = df.rdd.mapPartitions(
        stage_one(conf, first_lines, args.batch_lines, names)
    ).persist(StorageLevel.MEMORY_AND_DISK)
    totals = tagged.filter(lambda t: t[0] == "T").map(lambda t: t[1]).collect()
    max_time = max((t["max_time"] for t in totals if t["max_time"] is not None), default=None)
    max_keyed = max((t["max_keyed"] for t in totals if t["max_keyed"] is not None), default=None)
    counts = {k: sum(t[k] for t in totals) for k in ("events", "unknown", "malformed", "too_long")}
    end = driver_rules.end_time(max_time, max_keyed)
    lap("stage 1: stateless alerts, stateful records")

    stateless = tagged.filter(lambda t: t[0] == "A").map(lambda t: t[1])
    alerts = stateless
    if driver_rules.stateful:
        n = args.partitions or sc.defaultParallelism
        keyed = tagged.filter(lambda t: t[0] == "K").map(lambda t: t[1])
        grouped = keyed.repartitionAndSortWithinPartitions(n, _partition_of(n))
        alerts = stateless.union(grouped.mapPartitions(stage_two(conf, end)))
    # Alerts per rule, counted as they are written.
    per_rule_acc = sc.accumulator(collections.Counter(), _CounterParam())

    def counted(lines):
        seen = collections.Counter()
        for b in lines:
            seen[_rule_of(b)] += 1
            yield b.decode("utf-8")
        per_rule_acc.add(seen)

    alerts = alerts.mapPartitions(counted)
    if args.format == "json":
        if args.overwrite:
            _remove(sc, args.output)
        alerts.saveAsTextFile(args.output)
    else:
        mode = "overwrite" if args.overwrite else "errorifexists"
        spark.createDataFrame(alerts.map(_columns), _PARQUET_SCHEMA) \
            .write.mode(mode).parquet(args.output)
    lap("stage 2: stateful rules; alerts written")
    per_rule = dict(sorted(per_rule_acc.value.items()))
    return counts, per_rule, lines_total, len(names), [tagged]


def _planned_splits(df):
    """{path: [split start, ...]} of the splits Spark plans for reading `df`
    (no data read), or None where the plan does not tell."""
    try:
        leaves = df._jdf.queryExecution().executedPlan().collectLeaves()
        out = {}
        for i in range(leaves.size()):
            for part in leaves.apply(i).inputRDD().partitions():
                for f in part.files():
                    # As `_metadata.file_path` names it (a Hadoop Path).
                    out.setdefault(f.toPath().toString(), []).append(f.start())
        return out or None
    except Exception:
        return None


def _arrow_stages(spark, args, conf, df, driver_rules, lap):
    """The job over Arrow batches (`--transfer arrow`): lines to Ward a
    batch at a time (`DataFrame.mapInArrow`), records grouped and sorted by
    Spark SQL. Executors need pyarrow."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    sc = spark.sparkContext
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(args.batch_lines))
    # Line numbers: Spark splits large uncompressed files; each split's first
    # line number is one more than the lines of the splits before it. Only
    # the files read in more than one split are counted.
    planned = _planned_splits(df)
    if planned is None:
        split = df
    else:
        many = sorted(p for p, starts in planned.items() if len(set(starts)) > 1)
        split = df.where(F.col("path").isin(many)) if many else None
    splits = [] if split is None else sorted(
        (r["path"], r["start"], r["count"]) for r in split.groupBy("path", "start").count().collect())
    paths = sorted(set(planned or ()) | {p for p, _, _ in splits})
    counted = {p for p, _, _ in splits}
    splits = sorted(splits + [(p, 0, 0) for p in paths if p not in counted])
    first_lines, names = _first_lines(splits, args.file_names)
    files = [names[p][0] for p in sorted(names, key=lambda p: names[p][1])]
    lap(f"lines counted in {len(counted)} split file(s) of {len(paths)}")

    tagged = df.mapInArrow(stage_one_arrow(conf, first_lines, names), _STAGE_ONE_SCHEMA) \
        .persist(StorageLevel.MEMORY_AND_DISK)
    totals = [json.loads(r["alert"]) for r in
              tagged.where(F.col("tag") == "T").select("alert").collect()]
    max_time = max((t["max_time"] for t in totals if t["max_time"] is not None), default=None)
    max_keyed = max((t["max_keyed"] for t in totals if t["max_keyed"] is not None), default=None)
    counts = {k: sum(t[k] for t in totals) for k in ("events", "unknown", "malformed", "too_long")}
    lines_total = sum(t["lines"] for t in totals)
    end = driver_rules.end_time(max_time, max_keyed)
    lap("stage 1: stateless alerts, stateful records")

    alerts = tagged.where(F.col("tag") == "A").select("alert")
    if driver_rules.stateful:
        n = args.partitions or sc.defaultParallelism
        keyed = tagged.where(F.col("tag") == "K") \
            .repartition(n, "rule", "key") \
            .sortWithinPartitions("rule", "t", "ford", "line", "seq", "key") \
            .select("rule", "ford", "line", "payload")
        alerts = alerts.unionByName(keyed.mapInArrow(stage_two_arrow(conf, end, files),
                                                     "alert binary"))
    text = F.col("alert").cast("string")
    rule = F.regexp_extract(text, r'^\{"rule":"([^"\\]*)"', 1)
    alerts = alerts.select(
        text.alias("value"),
        F.when(rule != "", rule).otherwise(F.concat(
            F.lit("diagnostic "), F.get_json_object(text, "$.diagnostic"))).alias("rule"),
    ).persist(StorageLevel.MEMORY_AND_DISK)
    mode = "overwrite" if args.overwrite else "errorifexists"
    if args.format == "json":
        alerts.select("value").write.mode(mode).text(args.output)
    else:
        spark.createDataFrame(alerts.rdd.map(lambda r: _columns(r["value"])), _PARQUET_SCHEMA) \
            .write.mode(mode).parquet(args.output)
    per_rule = {r["rule"]: r["count"] for r in alerts.groupBy("rule").count().collect()}
    per_rule = dict(sorted(per_rule.items()))
    lap("stage 2: stateful rules; alerts written")
    return counts, per_rule, lines_total, len(names), [alerts, tagged]


def _rule_of(alert: bytes) -> str:
    """The rule of an alert line (`{"rule":"ID",...`), or a diagnostic's kind."""
    if alert.startswith(b'{"rule":"'):
        end = alert.find(b'"', 9)
        if end > 0 and b"\\" not in alert[9:end]:
            return alert[9:end].decode("utf-8")
    a = json.loads(alert)
    if "diagnostic" in a:
        return f"diagnostic {a['diagnostic']}"
    return a.get("rule") or "?"


class _CounterParam:
    """An accumulator of per-rule counts."""

    def zero(self, value):
        return collections.Counter()

    def addInPlace(self, a, b):
        a.update(b)
        return a


def _remove(sc, uri: str) -> None:
    """Deletes the output directory `uri` (--overwrite), on any Hadoop file system."""
    jvm = sc._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(sc._jsc.hadoopConfiguration())
    if fs.exists(path):
        fs.delete(path, True)


_PARQUET_SCHEMA = "rule string, severity string, time string, file string, line long, alert string"


def _columns(line: str):
    a = json.loads(line)
    t = a.get("time")
    where = a.get("input") or {}
    return (a.get("rule"), a.get("severity"), t if isinstance(t, str) else None,
            where.get("file"), where.get("line"), line)


if __name__ == "__main__":
    sys.exit(main())
