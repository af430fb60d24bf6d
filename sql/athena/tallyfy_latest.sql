-- athena/tallyfy_latest: Athena's (Trino) view of the rows of each process's newest snapshot,
-- typed: the rows of the snapshots tallyfy_snapshots chose (the engine's SQL, over Athena's
-- tallyfy_file_snapshots), read from the external table tallyfy_exports and typed as
-- sql/tallyfy_latest_read.sql types them. Written in what Trino and DataFusion share
-- (ATHENA-TABLES.md §3): no empty_as_null or try_timestamp (okrflow's own functions, which the
-- engine keeps for speed) but their CASE and TRY_CAST, with a 'T' or 'Z' replaced first (Trino's
-- cast wants a space and no zone); integers through floor, which both engines round alike.
-- tests/tallyfy_athena.rs checks Athena's views against the engine's on the demo's exports.
WITH source AS (
  SELECT t.*, "$path" AS src_path, regexp_replace("$path", '^.*/', '') AS src_file,
    CAST("$file_modified_time" AS TIMESTAMP) AS src_mtime
  FROM tallyfy_exports t
),

chosen AS (
  SELECT process_id, src_path, src_file, snapshot_at FROM tallyfy_snapshots
),

typed AS (
  SELECT
    trim(CASE WHEN trim(r.blueprint_id) IN ('', 'nan', 'NaN') THEN NULL ELSE r.blueprint_id END) AS blueprint_id,
    CASE WHEN trim(r.blueprint_name) IN ('', 'nan', 'NaN') THEN NULL ELSE r.blueprint_name END AS blueprint_name,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.blueprint_version) IN ('', 'nan', 'NaN') THEN NULL ELSE r.blueprint_version END AS DOUBLE)) AS BIGINT) AS blueprint_version,
    trim(CASE WHEN trim(r.process_id) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_id END) AS process_id,
    CASE WHEN trim(r.process_name) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_name END AS process_name,
    CASE WHEN trim(r.process_tag) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_tag END AS process_tag,
    CASE WHEN trim(r.process_owner) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_owner END AS process_owner,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.process_owner_id) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_owner_id END AS DOUBLE)) AS BIGINT) AS process_owner_id,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.total_tasks_in_process) IN ('', 'nan', 'NaN') THEN NULL ELSE r.total_tasks_in_process END AS DOUBLE)) AS BIGINT) AS total_tasks_in_process,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.tasks_completed) IN ('', 'nan', 'NaN') THEN NULL ELSE r.tasks_completed END AS DOUBLE)) AS BIGINT) AS tasks_completed,
    lower(trim(CASE WHEN trim(r.process_status) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_status END)) AS process_status,
    TRY_CAST(replace(replace(trim(r.process_last_modified), 'T', ' '), 'Z', '') AS TIMESTAMP) AS process_last_modified,
    TRY_CAST(replace(replace(trim(r.process_completed_at), 'T', ' '), 'Z', '') AS TIMESTAMP) AS process_completed_at,
    lower(trim(CASE WHEN trim(r.type) IN ('', 'nan', 'NaN') THEN NULL ELSE r.type END)) AS type,
    CASE lower(trim(CASE WHEN trim(r.has_form_fields) IN ('', 'nan', 'NaN') THEN NULL ELSE r.has_form_fields END)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS has_form_fields,
    trim(CASE WHEN trim(r.kick_off_task_id) IN ('', 'nan', 'NaN') THEN NULL ELSE r.kick_off_task_id END) AS kick_off_task_id,
    CASE WHEN trim(r.kick_off_task_name) IN ('', 'nan', 'NaN') THEN NULL ELSE r.kick_off_task_name END AS kick_off_task_name,
    trim(CASE WHEN trim(r.process_task_id) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_task_id END) AS process_task_id,
    lower(trim(CASE WHEN trim(r.process_task_status) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_task_status END)) AS process_task_status,
    CASE WHEN trim(r.process_task_name) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_task_name END AS process_task_name,
    trim(CASE WHEN trim(r.process_task_alias) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_task_alias END) AS process_task_alias,
    trim(CASE WHEN trim(r.process_task_data_id) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_task_data_id END) AS process_task_data_id,
    CASE WHEN trim(r.process_task_data_name) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_task_data_name END AS process_task_data_name,
    trim(CASE WHEN trim(r.process_task_comment_id) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_task_comment_id END) AS process_task_comment_id,
    CASE WHEN trim(r.process_task_comment_name) IN ('', 'nan', 'NaN') THEN NULL ELSE r.process_task_comment_name END AS process_task_comment_name,
    trim(CASE WHEN trim(r.milestone_id) IN ('', 'nan', 'NaN') THEN NULL ELSE r.milestone_id END) AS milestone_id,
    CASE WHEN trim(r.milestone_name) IN ('', 'nan', 'NaN') THEN NULL ELSE r.milestone_name END AS milestone_name,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.milestone_position) IN ('', 'nan', 'NaN') THEN NULL ELSE r.milestone_position END AS DOUBLE)) AS BIGINT) AS milestone_position,
    CASE WHEN trim(r.user_assigned) IN ('', 'nan', 'NaN') THEN NULL ELSE r.user_assigned END AS user_assigned,
    CASE WHEN trim(r.assigned_user_id) IN ('', 'nan', 'NaN') THEN NULL ELSE r.assigned_user_id END AS assigned_user_id,
    CASE WHEN trim(r.guest_assigned) IN ('', 'nan', 'NaN') THEN NULL ELSE r.guest_assigned END AS guest_assigned,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.total_users_assigned) IN ('', 'nan', 'NaN') THEN NULL ELSE r.total_users_assigned END AS DOUBLE)) AS BIGINT) AS total_users_assigned,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.total_guests_assigned) IN ('', 'nan', 'NaN') THEN NULL ELSE r.total_guests_assigned END AS DOUBLE)) AS BIGINT) AS total_guests_assigned,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.total_assignees) IN ('', 'nan', 'NaN') THEN NULL ELSE r.total_assignees END AS DOUBLE)) AS BIGINT) AS total_assignees,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.completed_by) IN ('', 'nan', 'NaN') THEN NULL ELSE r.completed_by END AS DOUBLE)) AS BIGINT) AS completed_by,
    TRY_CAST(replace(replace(trim(r.assigned_or_shown_on), 'T', ' '), 'Z', '') AS TIMESTAMP) AS assigned_or_shown_on,
    TRY_CAST(replace(replace(trim(r.due_by), 'T', ' '), 'Z', '') AS TIMESTAMP) AS due_by,
    TRY_CAST(replace(replace(trim(r.completed_on), 'T', ' '), 'Z', '') AS TIMESTAMP) AS completed_on,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.no_of_form_fields) IN ('', 'nan', 'NaN') THEN NULL ELSE r.no_of_form_fields END AS DOUBLE)) AS BIGINT) AS no_of_form_fields,
    lower(trim(CASE WHEN trim(r.form_field_type) IN ('', 'nan', 'NaN') THEN NULL ELSE r.form_field_type END)) AS form_field_type,
    CASE WHEN trim(r.question_in_form_field) IN ('', 'nan', 'NaN') THEN NULL ELSE r.question_in_form_field END AS question_in_form_field,
    CASE WHEN trim(r.answer_in_form_field) IN ('', 'nan', 'NaN') THEN NULL ELSE r.answer_in_form_field END AS answer_in_form_field,
    CASE lower(trim(CASE WHEN trim(r.issue_reported) IN ('', 'nan', 'NaN') THEN NULL ELSE r.issue_reported END)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS issue_reported,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.no_of_issue_reported) IN ('', 'nan', 'NaN') THEN NULL ELSE r.no_of_issue_reported END AS DOUBLE)) AS BIGINT) AS no_of_issue_reported,
    CASE lower(trim(CASE WHEN trim(r.issue_resolved) IN ('', 'nan', 'NaN') THEN NULL ELSE r.issue_resolved END)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS issue_resolved,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.no_of_issue_resolved) IN ('', 'nan', 'NaN') THEN NULL ELSE r.no_of_issue_resolved END AS DOUBLE)) AS BIGINT) AS no_of_issue_resolved,
    CAST(floor(TRY_CAST(CASE WHEN trim(r.total_comments) IN ('', 'nan', 'NaN') THEN NULL ELSE r.total_comments END AS DOUBLE)) AS BIGINT) AS total_comments,
    CASE WHEN trim(r.comment) IN ('', 'nan', 'NaN') THEN NULL ELSE r.comment END AS comment,
    TRY_CAST(replace(replace(trim(r.last_modified), 'T', ' '), 'Z', '') AS TIMESTAMP) AS last_modified,
    s.src_file AS snapshot_file,
    s.snapshot_at,
    CAST(r.process_id AS VARCHAR) AS snapshot_process_id
  FROM chosen s
  JOIN source r ON r.process_id = s.process_id AND r.src_path = s.src_path
),

final AS (
  SELECT * FROM typed
)

SELECT * FROM final
