-- tallyfy_latest: the rows of each process's newest snapshot, typed once: integers from
-- strings such as '3' or '3.0', timestamps (UTC, no zone in the export) from both the
-- 'YYYY-MM-DD HH:MM:SS' and the ISO 'T' forms, Yes/No as booleans. Export column names kept.
WITH source AS (
  -- The chosen snapshots (one per process) on the left: the join keeps them in memory and
  -- streams the export rows past them, instead of holding every row.
  SELECT c.*, s.snapshot_at
  FROM tallyfy_snapshots s
  JOIN tallyfy_clean c ON c.process_id = s.process_id AND c.src_file = s.src_file
),

typed AS (
  SELECT
    trim(blueprint_id) AS blueprint_id,
    blueprint_name,
    CAST(TRY_CAST(blueprint_version AS DOUBLE) AS BIGINT) AS blueprint_version,
    trim(process_id) AS process_id,
    process_name,
    process_tag,
    process_owner,
    CAST(TRY_CAST(process_owner_id AS DOUBLE) AS BIGINT) AS process_owner_id,
    CAST(TRY_CAST(total_tasks_in_process AS DOUBLE) AS BIGINT) AS total_tasks_in_process,
    CAST(TRY_CAST(tasks_completed AS DOUBLE) AS BIGINT) AS tasks_completed,
    lower(trim(process_status)) AS process_status,
    TRY_CAST(trim(process_last_modified) AS TIMESTAMP) AS process_last_modified,
    TRY_CAST(trim(process_completed_at) AS TIMESTAMP) AS process_completed_at,
    lower(trim(type)) AS type,
    CASE lower(trim(has_form_fields)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS has_form_fields,
    trim(kick_off_task_id) AS kick_off_task_id,
    kick_off_task_name,
    trim(process_task_id) AS process_task_id,
    lower(trim(process_task_status)) AS process_task_status,
    process_task_name,
    trim(process_task_alias) AS process_task_alias,
    trim(process_task_data_id) AS process_task_data_id,
    process_task_data_name,
    trim(process_task_comment_id) AS process_task_comment_id,
    process_task_comment_name,
    trim(milestone_id) AS milestone_id,
    milestone_name,
    CAST(TRY_CAST(milestone_position AS DOUBLE) AS BIGINT) AS milestone_position,
    user_assigned,
    assigned_user_id,
    guest_assigned,
    CAST(TRY_CAST(total_users_assigned AS DOUBLE) AS BIGINT) AS total_users_assigned,
    CAST(TRY_CAST(total_guests_assigned AS DOUBLE) AS BIGINT) AS total_guests_assigned,
    CAST(TRY_CAST(total_assignees AS DOUBLE) AS BIGINT) AS total_assignees,
    CAST(TRY_CAST(completed_by AS DOUBLE) AS BIGINT) AS completed_by,
    TRY_CAST(trim(assigned_or_shown_on) AS TIMESTAMP) AS assigned_or_shown_on,
    TRY_CAST(trim(due_by) AS TIMESTAMP) AS due_by,
    TRY_CAST(trim(completed_on) AS TIMESTAMP) AS completed_on,
    CAST(TRY_CAST(no_of_form_fields AS DOUBLE) AS BIGINT) AS no_of_form_fields,
    lower(trim(form_field_type)) AS form_field_type,
    question_in_form_field,
    answer_in_form_field,
    CASE lower(trim(issue_reported)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS issue_reported,
    CAST(TRY_CAST(no_of_issue_reported AS DOUBLE) AS BIGINT) AS no_of_issue_reported,
    CASE lower(trim(issue_resolved)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS issue_resolved,
    CAST(TRY_CAST(no_of_issue_resolved AS DOUBLE) AS BIGINT) AS no_of_issue_resolved,
    CAST(TRY_CAST(total_comments AS DOUBLE) AS BIGINT) AS total_comments,
    comment,
    TRY_CAST(trim(last_modified) AS TIMESTAMP) AS last_modified,
    src_file AS snapshot_file,
    snapshot_at
  FROM source
),

final AS (
  SELECT * FROM typed
)

SELECT * FROM final
