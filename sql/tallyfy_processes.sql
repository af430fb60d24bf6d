-- tallyfy_processes: one row per process run, from its newest snapshot as of the evaluation
-- day. Adds three derived columns:
--   started_at  = the first time any task was shown or assigned (Tallyfy has no start column);
--   done_at     = when a complete process completed: process_completed_at, or, in files older
--                 than the 49-column layout, the last task completion (never
--                 process_last_modified, which changes on any edit);
--   duration_days = done_at - started_at in days (calendar time, not effort).
WITH source AS (
  SELECT * FROM tallyfy_latest
),

tasks AS (
  SELECT
    process_id,
    min(assigned_or_shown_on) AS started_at,
    max(completed_on) AS last_task_completed_on
  FROM source
  WHERE type = 'process_task'
  GROUP BY process_id
),

processes AS (
  SELECT
    process_id,
    first_value(blueprint_id) AS blueprint_id,
    first_value(blueprint_name) AS blueprint_name,
    max(blueprint_version) AS blueprint_version,
    first_value(process_name) AS process_name,
    first_value(process_tag) AS process_tag,
    first_value(process_owner) AS process_owner,
    max(process_owner_id) AS process_owner_id,
    max(total_tasks_in_process) AS total_tasks_in_process,
    max(tasks_completed) AS tasks_completed,
    first_value(process_status) AS process_status,
    max(process_last_modified) AS process_last_modified,
    max(process_completed_at) AS process_completed_at,
    first_value(snapshot_file) AS snapshot_file,
    max(snapshot_at) AS snapshot_at
  FROM source
  GROUP BY process_id
),

final AS (
  SELECT
    p.*,
    t.started_at,
    CASE WHEN p.process_status = 'complete'
         THEN coalesce(p.process_completed_at, t.last_task_completed_on) END AS done_at,
    CASE WHEN p.process_status = 'complete'
         THEN (date_part('epoch', coalesce(p.process_completed_at, t.last_task_completed_on))
               - date_part('epoch', t.started_at)) / 86400.0 END AS duration_days
  FROM processes p
  LEFT JOIN tasks t ON t.process_id = p.process_id
)

SELECT * FROM final
