-- tallyfy_processes: one row per process run, from its newest snapshot as of the evaluation
-- day. Adds three derived columns:
--   started_at  = the first time any task was shown or assigned (Tallyfy has no start column);
--   done_at     = when a complete process completed: process_completed_at, or, in files older
--                 than the 49-column layout, the last task completion (never
--                 process_last_modified, which changes on any edit);
--   duration_days = done_at - started_at in days (calendar time, not effort), from whole
--                 seconds: `to_unixtime` is a double in Trino and whole seconds in DataFusion,
--                 and this view is Athena's too (src/sources/tallyfy/athena.rs).
WITH source AS (
  SELECT * FROM tallyfy_latest
),

snapshot_columns AS (
  -- The process columns repeat on every row of a snapshot: as group keys they are stored
  -- once per process, where a max() per column would hold a value per process and column
  -- in each of the aggregation's phases. The task columns come from the task rows only.
  SELECT
    process_id,
    blueprint_id,
    blueprint_name,
    blueprint_version,
    process_name,
    process_tag,
    process_owner,
    process_owner_id,
    total_tasks_in_process,
    tasks_completed,
    process_status,
    process_last_modified,
    process_completed_at,
    snapshot_file,
    snapshot_at,
    min(assigned_or_shown_on) FILTER (WHERE type = 'process_task') AS started_at,
    max(completed_on) FILTER (WHERE type = 'process_task') AS last_task_completed_on
  FROM source
  GROUP BY process_id, blueprint_id, blueprint_name, blueprint_version, process_name,
    process_tag, process_owner, process_owner_id, total_tasks_in_process, tasks_completed,
    process_status, process_last_modified, process_completed_at, snapshot_file, snapshot_at
),

processes AS (
  -- One row per process, the same on every run, should a column differ between its rows:
  -- the largest value of each column (for a process with one set of values, that set).
  SELECT
    process_id,
    max(blueprint_id) AS blueprint_id,
    max(blueprint_name) AS blueprint_name,
    max(blueprint_version) AS blueprint_version,
    max(process_name) AS process_name,
    max(process_tag) AS process_tag,
    max(process_owner) AS process_owner,
    max(process_owner_id) AS process_owner_id,
    max(total_tasks_in_process) AS total_tasks_in_process,
    max(tasks_completed) AS tasks_completed,
    max(process_status) AS process_status,
    max(process_last_modified) AS process_last_modified,
    max(process_completed_at) AS process_completed_at,
    max(snapshot_file) AS snapshot_file,
    max(snapshot_at) AS snapshot_at,
    min(started_at) AS started_at,
    max(last_task_completed_on) AS last_task_completed_on
  FROM snapshot_columns
  GROUP BY process_id
),

final AS (
  SELECT
    process_id, blueprint_id, blueprint_name, blueprint_version, process_name, process_tag,
    process_owner, process_owner_id, total_tasks_in_process, tasks_completed, process_status,
    process_last_modified, process_completed_at, snapshot_file, snapshot_at, started_at,
    CASE WHEN process_status = 'complete'
         THEN coalesce(process_completed_at, last_task_completed_on) END AS done_at,
    CASE WHEN process_status = 'complete'
         THEN (floor(to_unixtime(coalesce(process_completed_at, last_task_completed_on)))
               - floor(to_unixtime(started_at))) / 86400.0 END AS duration_days
  FROM processes
)

SELECT * FROM final
