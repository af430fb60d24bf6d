"""DuckDB's side of the Tallyfy benchmark, and an independent check of the demo's numbers: the
demo key results' SQL (bench/tallyfy_baseline.sql, shared with `examples/bench
engine-baseline`), with DuckDB's own deduplication of snapshots, over a folder of exports
(jobs/demo/tallyfy, or one `okrflow demo-data --copies N` wrote), as of the end of 30 April
2026. Prints one JSON line: seconds per repetition, the values, and the rows read.

The baseline is what a competent analyst writes: the deduplication's results materialised once,
as temporary tables (the newest file of each process, the rows of those snapshots with only the
columns the seven queries read, one row per process), over a view of the exports that the two
passes read directly (okrflow materialises the same layers). `--copy` also materialises that
view first, a copy of every row's 16 columns, which costs more than it saves. `--views` runs
the oldest form, every step a view, so that every query re-reads and re-deduplicates all the
files: kept to show what materialising buys.
Usage: python3 bench/tallyfy_duckdb.py DIR [REPEAT] [--views | --copy]
"""
import json
import os
import sys
import time

import duckdb

args = [a for a in sys.argv[1:] if not a.startswith("--")]
views = "--views" in sys.argv
copy = "--copy" in sys.argv
directory = args[0]
repeat = int(args[1]) if len(args) > 1 else 3
# The statements, shared with DataFusion's run of the same baseline (examples/bench
# engine-baseline): sections of "-- <kind> <name>" and their text.
SECTIONS = []
with open(os.path.join(os.path.dirname(__file__), "tallyfy_baseline.sql")) as f:
    for line in f:
        head = line.split()
        if len(head) == 3 and head[0] == "--" and head[1] in ("columns", "step", "query"):
            SECTIONS.append((head[1], head[2], []))
        elif SECTIONS:
            SECTIONS[-1][2].append(line)
COLUMNS = "".join(next(t for k, _, t in SECTIONS if k == "columns"))
STEPS = [(n, "".join(t)) for k, n, t in SECTIONS if k == "step"]
QUERIES = {n: "".join(t) for k, n, t in SECTIONS if k == "query"}

times, values = [], {}
for _ in range(repeat):
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"CREATE VIEW raw AS SELECT * FROM read_parquet('{directory}/*.parquet', "
                "union_by_name=true, filename=true)")
    con.execute(f"CREATE {'TEMP TABLE' if copy else 'VIEW'} clean AS SELECT {COLUMNS} FROM raw")
    for name, sql in STEPS:
        con.execute(f"CREATE {'VIEW' if views else 'TEMP TABLE'} {name} AS {sql}")
    values = {k: con.execute(q).fetchone()[0] for k, q in QUERIES.items()}
    times.append(time.perf_counter() - started)
    rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    con_threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
print(json.dumps({"engine": "duckdb " + duckdb.__version__,
                  "baseline": "views re-run per query" if views
                  else "rows copied, then dedup materialised" if copy else "dedup materialised once",
                  "threads": con_threads, "seconds": times,
                  "values": {k: float(v) if v is not None else None for k, v in values.items()},
                  "rows": rows}))
