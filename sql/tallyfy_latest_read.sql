-- tallyfy_latest_read: the rows of the chosen snapshots this run reads from the exports
-- (tallyfy_snapshots_to_read: those the state does not hold), typed once: integers from
-- strings such as '3' or '3.0', timestamps (UTC, no zone in the export) from both the
-- 'YYYY-MM-DD HH:MM:SS' and the ISO 'T' forms, Yes/No as booleans. Export column names kept.
-- Tallyfy's three spellings of an empty cell ('', 'nan', 'NaN' — NULL → pandas NaN → string
-- in their pipeline) are NULL: empty_as_null(x) is
-- `CASE WHEN trim(x) IN ('', 'nan', 'NaN') THEN NULL ELSE x END`, and try_timestamp(x) is
-- `TRY_CAST(x AS TIMESTAMP)`, parsing a run of equal cells once (src/engine/functions.rs).
-- snapshot_process_id is the process id as the export wrote it: with snapshot_file, which
-- snapshot a row is of (a later run keeps the rows of snapshots it chooses again). The rows
-- are read as `Utf8View` (src/sources/tallyfy/loader.rs); each column typed here is plain text.
WITH source AS (
  -- The chosen snapshots (one per process) on the left: the join keeps them in memory and
  -- streams the export rows past them, instead of holding every row. Rows are matched
  -- before any cell is typed, so only the chosen rows are.
  -- tallyfy_raw_part is a scan of only the files that hold them.
  SELECT r.*, s.src_file, s.snapshot_at
  FROM tallyfy_snapshots_to_read s
  JOIN tallyfy_raw_part r ON r.process_id = s.process_id AND r.src_path = s.src_path
),

typed AS (
  SELECT
    trim(empty_as_null(blueprint_id)) AS blueprint_id,
    empty_as_null(blueprint_name) AS blueprint_name,
    CAST(TRY_CAST(empty_as_null(blueprint_version) AS DOUBLE) AS BIGINT) AS blueprint_version,
    trim(empty_as_null(process_id)) AS process_id,
    empty_as_null(process_name) AS process_name,
    empty_as_null(process_tag) AS process_tag,
    empty_as_null(process_owner) AS process_owner,
    CAST(TRY_CAST(empty_as_null(process_owner_id) AS DOUBLE) AS BIGINT) AS process_owner_id,
    CAST(TRY_CAST(empty_as_null(total_tasks_in_process) AS DOUBLE) AS BIGINT) AS total_tasks_in_process,
    CAST(TRY_CAST(empty_as_null(tasks_completed) AS DOUBLE) AS BIGINT) AS tasks_completed,
    lower(trim(empty_as_null(process_status))) AS process_status,
    try_timestamp(trim(empty_as_null(process_last_modified))) AS process_last_modified,
    try_timestamp(trim(empty_as_null(process_completed_at))) AS process_completed_at,
    lower(trim(empty_as_null(type))) AS type,
    CASE lower(trim(empty_as_null(has_form_fields))) WHEN 'yes' THEN true WHEN 'no' THEN false END AS has_form_fields,
    trim(empty_as_null(kick_off_task_id)) AS kick_off_task_id,
    empty_as_null(kick_off_task_name) AS kick_off_task_name,
    trim(empty_as_null(process_task_id)) AS process_task_id,
    lower(trim(empty_as_null(process_task_status))) AS process_task_status,
    empty_as_null(process_task_name) AS process_task_name,
    trim(empty_as_null(process_task_alias)) AS process_task_alias,
    trim(empty_as_null(process_task_data_id)) AS process_task_data_id,
    empty_as_null(process_task_data_name) AS process_task_data_name,
    trim(empty_as_null(process_task_comment_id)) AS process_task_comment_id,
    empty_as_null(process_task_comment_name) AS process_task_comment_name,
    trim(empty_as_null(milestone_id)) AS milestone_id,
    empty_as_null(milestone_name) AS milestone_name,
    CAST(TRY_CAST(empty_as_null(milestone_position) AS DOUBLE) AS BIGINT) AS milestone_position,
    empty_as_null(user_assigned) AS user_assigned,
    empty_as_null(assigned_user_id) AS assigned_user_id,
    empty_as_null(guest_assigned) AS guest_assigned,
    CAST(TRY_CAST(empty_as_null(total_users_assigned) AS DOUBLE) AS BIGINT) AS total_users_assigned,
    CAST(TRY_CAST(empty_as_null(total_guests_assigned) AS DOUBLE) AS BIGINT) AS total_guests_assigned,
    CAST(TRY_CAST(empty_as_null(total_assignees) AS DOUBLE) AS BIGINT) AS total_assignees,
    CAST(TRY_CAST(empty_as_null(completed_by) AS DOUBLE) AS BIGINT) AS completed_by,
    try_timestamp(trim(empty_as_null(assigned_or_shown_on))) AS assigned_or_shown_on,
    try_timestamp(trim(empty_as_null(due_by))) AS due_by,
    try_timestamp(trim(empty_as_null(completed_on))) AS completed_on,
    CAST(TRY_CAST(empty_as_null(no_of_form_fields) AS DOUBLE) AS BIGINT) AS no_of_form_fields,
    lower(trim(empty_as_null(form_field_type))) AS form_field_type,
    empty_as_null(question_in_form_field) AS question_in_form_field,
    empty_as_null(answer_in_form_field) AS answer_in_form_field,
    CASE lower(trim(empty_as_null(issue_reported))) WHEN 'yes' THEN true WHEN 'no' THEN false END AS issue_reported,
    CAST(TRY_CAST(empty_as_null(no_of_issue_reported) AS DOUBLE) AS BIGINT) AS no_of_issue_reported,
    CASE lower(trim(empty_as_null(issue_resolved))) WHEN 'yes' THEN true WHEN 'no' THEN false END AS issue_resolved,
    CAST(TRY_CAST(empty_as_null(no_of_issue_resolved) AS DOUBLE) AS BIGINT) AS no_of_issue_resolved,
    CAST(TRY_CAST(empty_as_null(total_comments) AS DOUBLE) AS BIGINT) AS total_comments,
    empty_as_null(comment) AS comment,
    try_timestamp(trim(empty_as_null(last_modified))) AS last_modified,
    src_file AS snapshot_file,
    snapshot_at,
    CAST(process_id AS VARCHAR) AS snapshot_process_id
  FROM source
),

final AS (
  SELECT * FROM typed
)

SELECT * FROM final
