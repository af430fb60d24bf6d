"""DuckDB's side of the Tallyfy benchmark, and an independent check of the demo's numbers: the
demo key results' SQL, with DuckDB's own deduplication of snapshots, over a folder of exports
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
import sys
import time

import duckdb

args = [a for a in sys.argv[1:] if not a.startswith("--")]
views = "--views" in sys.argv
copy = "--copy" in sys.argv
directory = args[0]
repeat = int(args[1]) if len(args) > 1 else 3
# The columns the queries read (and the snapshot rule's).
COLUMNS = """process_id, filename, process_last_modified, type, blueprint_id, process_status,
  process_task_status, assigned_or_shown_on, no_of_issue_reported, no_of_issue_resolved,
  process_task_id, process_task_data_id, answer_in_form_field, milestone_position,
  CASE WHEN completed_on IN ('', 'nan', 'NaN') THEN NULL ELSE completed_on END AS completed_on,
  CASE WHEN due_by IN ('', 'nan', 'NaN') THEN NULL ELSE due_by END AS due_by"""
STEPS = """
CREATE VIEW raw AS SELECT * FROM read_parquet('{dir}/*.parquet', union_by_name=true, filename=true);
CREATE {clean} clean AS SELECT {columns} FROM raw;
CREATE {kind} latest_file AS SELECT process_id, filename FROM (
  SELECT process_id, filename, row_number() OVER (PARTITION BY process_id
    ORDER BY max(process_last_modified::TIMESTAMP) DESC) rn
  FROM clean WHERE process_last_modified::TIMESTAMP < TIMESTAMP '2026-05-01'
  GROUP BY process_id, filename) WHERE rn = 1;
CREATE {kind} latest AS SELECT c.* FROM clean c JOIN latest_file USING (process_id, filename);
CREATE {kind} procs AS SELECT process_id, any_value(blueprint_id) bp, any_value(process_status) st,
  CASE WHEN any_value(process_status) = 'complete' THEN max(completed_on::TIMESTAMP) END done_at,
  min(CASE WHEN assigned_or_shown_on NOT IN ('', 'nan', 'NaN') THEN assigned_or_shown_on::TIMESTAMP END) started
  FROM latest WHERE type = 'process_task' GROUP BY process_id;
"""
W = "done_at >= TIMESTAMP '2026-02-01' AND done_at < TIMESTAMP '2026-05-01'"
QUERIES = {
    "O1-KR1": f"SELECT count(*) FROM procs WHERE bp = 'bp-onboarding' AND {W}",
    "O1-KR2": """SELECT 100.0 * count(*) FILTER (WHERE completed_on::TIMESTAMP <= due_by::TIMESTAMP) / count(*)
      FROM latest WHERE type = 'process_task' AND blueprint_id = 'bp-onboarding' AND process_task_status = 'shown'
      AND due_by IS NOT NULL AND completed_on::TIMESTAMP >= TIMESTAMP '2026-02-01' AND completed_on::TIMESTAMP < TIMESTAMP '2026-05-01'""",
    "O1-KR3": f"SELECT median(date_diff('second', started, done_at) / 86400.0) FROM procs WHERE bp = 'bp-onboarding' AND {W}",
    "O2-KR1": """SELECT sum(o) FROM (SELECT greatest(0, max(no_of_issue_reported::INT) - max(no_of_issue_resolved::INT)) o
      FROM latest WHERE type = 'process_task_comment' GROUP BY process_task_id)""",
    "O2-KR2": f"""SELECT avg(TRY_CAST(answer_in_form_field AS DOUBLE)) FROM latest l JOIN procs p USING (process_id)
      WHERE l.process_task_data_id = 'ff-csat' AND {W}""",
    "C1-KR2": """SELECT 100.0 * count(*) FILTER (WHERE st = 'complete') / count(*) FROM procs
      WHERE bp = 'bp-vendor' AND started >= TIMESTAMP '2026-02-01' AND started < TIMESTAMP '2026-05-01'""",
    "O3-KR1": """SELECT max(milestone_position::INT) FROM latest WHERE blueprint_id = 'bp-rollout'
      AND type = 'process_task' AND completed_on IS NOT NULL""",
}

times, values = [], {}
for _ in range(repeat):
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(STEPS.format(dir=directory, columns=COLUMNS,
                             kind="VIEW" if views else "TEMP TABLE",
                             clean="TEMP TABLE" if copy else "VIEW"))
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
