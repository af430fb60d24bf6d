-- The Tallyfy baseline a user of DuckDB (bench/tallyfy_duckdb.py) or of DataFusion
-- (examples/bench engine-baseline) writes for the demo's seven key results, as of the end of
-- 30 April 2026: the same text for both engines, over a view `raw` of the export files with
-- a `filename` column, which each engine defines its own way. Sections, in order: the
-- columns the queries read (the view `clean`), the layers each engine materialises once (a
-- table each, by name), and one query per key result. A section starts at a `-- <kind>
-- <name>` line; `max` stands for any value of a column that is the same on every row of a
-- process.
-- columns clean
process_id, filename, process_last_modified, type, blueprint_id, process_status,
  process_task_status, assigned_or_shown_on, no_of_issue_reported, no_of_issue_resolved,
  process_task_id, process_task_data_id, answer_in_form_field, milestone_position,
  CASE WHEN completed_on IN ('', 'nan', 'NaN') THEN NULL ELSE completed_on END AS completed_on,
  CASE WHEN due_by IN ('', 'nan', 'NaN') THEN NULL ELSE due_by END AS due_by
-- step latest_file
SELECT process_id, filename FROM (
  SELECT process_id, filename, row_number() OVER (PARTITION BY process_id
    ORDER BY max(process_last_modified::TIMESTAMP) DESC) rn
  FROM clean WHERE process_last_modified::TIMESTAMP < TIMESTAMP '2026-05-01'
  GROUP BY process_id, filename) WHERE rn = 1
-- step latest
SELECT c.* FROM clean c JOIN latest_file l
  ON c.process_id = l.process_id AND c.filename = l.filename
-- step procs
SELECT process_id, max(blueprint_id) bp, max(process_status) st,
  CASE WHEN max(process_status) = 'complete' THEN max(completed_on::TIMESTAMP) END done_at,
  min(CASE WHEN assigned_or_shown_on NOT IN ('', 'nan', 'NaN') THEN assigned_or_shown_on::TIMESTAMP END) started
  FROM latest WHERE type = 'process_task' GROUP BY process_id
-- query O1-KR1
SELECT count(*) FROM procs WHERE bp = 'bp-onboarding'
  AND done_at >= TIMESTAMP '2026-02-01' AND done_at < TIMESTAMP '2026-05-01'
-- query O1-KR2
SELECT 100.0 * count(*) FILTER (WHERE completed_on::TIMESTAMP <= due_by::TIMESTAMP) / count(*)
  FROM latest WHERE type = 'process_task' AND blueprint_id = 'bp-onboarding' AND process_task_status = 'shown'
  AND due_by IS NOT NULL AND completed_on::TIMESTAMP >= TIMESTAMP '2026-02-01' AND completed_on::TIMESTAMP < TIMESTAMP '2026-05-01'
-- query O1-KR3
SELECT median((date_part('epoch', done_at) - date_part('epoch', started)) / 86400.0) FROM procs
  WHERE bp = 'bp-onboarding' AND done_at >= TIMESTAMP '2026-02-01' AND done_at < TIMESTAMP '2026-05-01'
-- query O2-KR1
SELECT sum(o) FROM (SELECT greatest(0, max(no_of_issue_reported::INT) - max(no_of_issue_resolved::INT)) o
  FROM latest WHERE type = 'process_task_comment' GROUP BY process_task_id)
-- query O2-KR2
SELECT avg(TRY_CAST(answer_in_form_field AS DOUBLE)) FROM latest l JOIN procs p ON l.process_id = p.process_id
  WHERE l.process_task_data_id = 'ff-csat' AND done_at >= TIMESTAMP '2026-02-01' AND done_at < TIMESTAMP '2026-05-01'
-- query C1-KR2
SELECT 100.0 * count(*) FILTER (WHERE st = 'complete') / count(*) FROM procs
  WHERE bp = 'bp-vendor' AND started >= TIMESTAMP '2026-02-01' AND started < TIMESTAMP '2026-05-01'
-- query O3-KR1
SELECT max(milestone_position::INT) FROM latest WHERE blueprint_id = 'bp-rollout'
  AND type = 'process_task' AND completed_on IS NOT NULL
