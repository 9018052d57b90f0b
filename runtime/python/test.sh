#!/usr/bin/env bash
# Integration test of ward-spark (spec/spark.md): builds the Python package
# with maturin, runs the Spark job in local[2] over the bundled JSON-lines
# samples and a generated corpus of 50,000 events, and compares its alert
# lines with `ward scan`'s on the same files (stateful rules included).
# Prints both throughputs; exits non-zero when the alerts differ.
#
# Needs python3 (3.9+) with venv, Java 17+, and cargo. The virtualenv (pyspark,
# pyarrow, pandas, maturin) and the cargo target are kept under ~/.cache/ward/
# (WARD_CACHE), keyed by the versions below, so that a second run is quick.
# WARD_SPARK_EVENTS=N: the size of the corpus; WARD_SPARK_TRANSFER=rows: the
# job's --transfer rows (pickled rows) instead of arrow.
set -euo pipefail

PYSPARK_VERSION=4.1.1
MATURIN_VERSION=1.9.6
# DataFrame.mapInArrow (the job's default --transfer arrow) needs pyarrow on
# the driver and the executors, and pandas on the driver (pyspark checks it).
PYARROW_VERSION=22.0.0
PANDAS_VERSION=2.3.3

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${WARD_CACHE:-$HOME/.cache/ward}
events=${WARD_SPARK_EVENTS:-50000}

command -v java >/dev/null || { echo "ward-spark test: java not found (Spark needs Java 17+)" >&2; exit 2; }
java -version 2>&1 | head -1

py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv="$cache/spark-venv-py$py-pyspark$PYSPARK_VERSION-pyarrow$PYARROW_VERSION-pandas$PANDAS_VERSION-maturin$MATURIN_VERSION"
if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "pyspark==$PYSPARK_VERSION" "pyarrow==$PYARROW_VERSION" "pandas==$PANDAS_VERSION" \
        "maturin==$MATURIN_VERSION"
    touch "$venv/.complete"
fi

export CARGO_TARGET_DIR="${WARD_PY_TARGET:-$cache/target-python}"
work=$(mktemp -d "${TMPDIR:-/tmp}/ward-spark-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The wheel (abi3) and the reference `ward`, both release builds, in one
# target directory: the runtime is compiled once for both.
(cd "$here" && "$venv/bin/maturin" build --release --locked --quiet \
    --interpreter "$venv/bin/python" --out "$work/wheels")
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps \
    "$work"/wheels/ward_spark-*.whl
cargo build --release --locked --quiet --manifest-path "$here/Cargo.toml" -p ward --bin ward

"$venv/bin/python" "$here/tests/compare.py" \
    --ward "$CARGO_TARGET_DIR/release/ward" \
    --samples "$root/tests/samples" \
    --work "$work" \
    --events "$events" \
    --transfer "${WARD_SPARK_TRANSFER:-arrow}"
