#!/usr/bin/env bash
# okrflow's benchmarks, beside DuckDB, in one run (never part of `cargo test`).
#
#   bench/run.sh            # 1M and 10M Tallyfy rows, memory at 10M and 20M rows of the 1M
#                           # rows' processes, the API pull, the whole nightly run
#   bench/run.sh 1          # only the 1M-row Tallyfy comparison (and the API and nightly runs)
#   bench/run.sh 1 10 30 100  # the scale table (BENCHMARKS.md): 30M rows in 900 files, 100M in
#                           # 3,000 (the 100M set takes about 12 minutes to generate)
#
# Builds the dev profile (the one the tests use; OKRFLOW_BENCH_PROFILE=release for the deployed
# one, about 43 minutes from nothing here), installs DuckDB from PyPI into a virtualenv
# and generates the data sets once under $OKRFLOW_BENCH_DATA (default ~/.cache/okrflow-bench),
# then prints one JSON line per measurement. BENCHMARKS.md holds the numbers of a run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/okrflow-target}"
data="${OKRFLOW_BENCH_DATA:-$HOME/.cache/okrflow-bench}"
sizes=("${@:-1 10}")
mkdir -p "$data"

if [ "${OKRFLOW_BENCH_PROFILE:-dev}" = release ]; then
  cargo build --quiet --release --bins --examples
  bin="$CARGO_TARGET_DIR/release"
else
  cargo build --quiet --bins --examples
  bin="$CARGO_TARGET_DIR/debug"
fi
if [ ! -x "$data/venv/bin/python" ]; then
  python3 -m venv "$data/venv"
  "$data/venv/bin/pip" install --quiet "duckdb==2.0.0"
fi

# One copy of the demo organisation is 806 export rows.
for millions in ${sizes[*]}; do
  dir="$data/tallyfy-${millions}m"
  if [ ! -f "$dir.complete" ]; then
    rm -rf "$dir"
    # Files of the 10M set's size: 300 files up to 10M rows, then 30 per million.
    files=$(( millions > 10 ? millions * 30 : 300 ))
    "$bin/okrflow" demo-data --out "$dir" --copies $(( millions * 1000000 / 806 )) --files "$files" >&2
    touch "$dir.complete"
  fi
  echo "# Tallyfy, ${millions}M rows: DuckDB (dedup materialised once; the rows copied first;"
  echo "# views re-run per query), DataFusion running DuckDB's first form, then okrflow (3"
  echo "# repetitions each, same files), then two okrflow runs, the second after 1% new files,"
  echo "# with the state the first kept"
  "$data/venv/bin/python" bench/tallyfy_duckdb.py "$dir" 3
  "$data/venv/bin/python" bench/tallyfy_duckdb.py "$dir" 3 --copy
  "$data/venv/bin/python" bench/tallyfy_duckdb.py "$dir" 3 --views
  "$bin/examples/bench" engine-baseline "$dir" 3
  "$bin/examples/bench" tallyfy "$dir" 3
  "$bin/examples/bench" incremental "$dir" 3
done

# Memory against rows alone: the 1M-row organisation (29,760 processes) with each snapshot
# written R times, to R times the rows in R times the files (30 files a repeat, the 10M-row
# set's file size). Peak memory should not grow with R.
for repeats in 10 20; do
  dir="$data/tallyfy-$(( repeats ))m-r${repeats}"
  if [ ! -f "$dir.complete" ]; then
    rm -rf "$dir"
    "$bin/okrflow" demo-data --out "$dir" --copies 1240 --files $(( 30 * repeats )) --repeats "$repeats" >&2
    touch "$dir.complete"
  fi
  echo "# Tallyfy, the 1M-row processes with every snapshot written $repeats times (okrflow, once)"
  "$bin/examples/bench" tallyfy "$dir" 1
done

echo "# History: 3 years of daily kr_snapshots for 1,000 key results on the loopback S3 server,"
echo "# every day's partition read, then the kept history and the day after it"
"$bin/examples/bench" history 1000 1095

echo "# API pull: 500 Looker and 500 Jira key results, 100 ms per request"
"$bin/examples/bench" api 500 500 100

largest="$data/tallyfy-$(printf '%s\n' ${sizes[*]} | sort -n | tail -1)m"
echo "# Whole nightly run: 450 Looker, 450 Jira and 100 Tallyfy key results over $(basename "$largest")"
"$bin/examples/bench" nightly "$largest" 450 450 100 100
