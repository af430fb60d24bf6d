-- tallyfy_clean: every row of every export file, with Tallyfy's three spellings of an empty
-- value ('', 'nan', 'NaN' — NULL → pandas NaN → string in their pipeline) folded to NULL.
-- Columns missing from older 45- and 48-column files are already NULL here.
WITH source AS (
  SELECT * FROM tallyfy_raw
),

final AS (
  SELECT
    src_file,
    src_mtime,
    CASE WHEN trim(blueprint_id) IN ('', 'nan', 'NaN') THEN NULL ELSE blueprint_id END AS blueprint_id,
    CASE WHEN trim(blueprint_name) IN ('', 'nan', 'NaN') THEN NULL ELSE blueprint_name END AS blueprint_name,
    CASE WHEN trim(blueprint_version) IN ('', 'nan', 'NaN') THEN NULL ELSE blueprint_version END AS blueprint_version,
    CASE WHEN trim(process_id) IN ('', 'nan', 'NaN') THEN NULL ELSE process_id END AS process_id,
    CASE WHEN trim(process_name) IN ('', 'nan', 'NaN') THEN NULL ELSE process_name END AS process_name,
    CASE WHEN trim(process_tag) IN ('', 'nan', 'NaN') THEN NULL ELSE process_tag END AS process_tag,
    CASE WHEN trim(process_owner) IN ('', 'nan', 'NaN') THEN NULL ELSE process_owner END AS process_owner,
    CASE WHEN trim(process_owner_id) IN ('', 'nan', 'NaN') THEN NULL ELSE process_owner_id END AS process_owner_id,
    CASE WHEN trim(total_tasks_in_process) IN ('', 'nan', 'NaN') THEN NULL ELSE total_tasks_in_process END AS total_tasks_in_process,
    CASE WHEN trim(tasks_completed) IN ('', 'nan', 'NaN') THEN NULL ELSE tasks_completed END AS tasks_completed,
    CASE WHEN trim(process_status) IN ('', 'nan', 'NaN') THEN NULL ELSE process_status END AS process_status,
    CASE WHEN trim(process_last_modified) IN ('', 'nan', 'NaN') THEN NULL ELSE process_last_modified END AS process_last_modified,
    CASE WHEN trim(process_completed_at) IN ('', 'nan', 'NaN') THEN NULL ELSE process_completed_at END AS process_completed_at,
    CASE WHEN trim(type) IN ('', 'nan', 'NaN') THEN NULL ELSE type END AS type,
    CASE WHEN trim(has_form_fields) IN ('', 'nan', 'NaN') THEN NULL ELSE has_form_fields END AS has_form_fields,
    CASE WHEN trim(kick_off_task_id) IN ('', 'nan', 'NaN') THEN NULL ELSE kick_off_task_id END AS kick_off_task_id,
    CASE WHEN trim(kick_off_task_name) IN ('', 'nan', 'NaN') THEN NULL ELSE kick_off_task_name END AS kick_off_task_name,
    CASE WHEN trim(process_task_id) IN ('', 'nan', 'NaN') THEN NULL ELSE process_task_id END AS process_task_id,
    CASE WHEN trim(process_task_status) IN ('', 'nan', 'NaN') THEN NULL ELSE process_task_status END AS process_task_status,
    CASE WHEN trim(process_task_name) IN ('', 'nan', 'NaN') THEN NULL ELSE process_task_name END AS process_task_name,
    CASE WHEN trim(process_task_alias) IN ('', 'nan', 'NaN') THEN NULL ELSE process_task_alias END AS process_task_alias,
    CASE WHEN trim(process_task_data_id) IN ('', 'nan', 'NaN') THEN NULL ELSE process_task_data_id END AS process_task_data_id,
    CASE WHEN trim(process_task_data_name) IN ('', 'nan', 'NaN') THEN NULL ELSE process_task_data_name END AS process_task_data_name,
    CASE WHEN trim(process_task_comment_id) IN ('', 'nan', 'NaN') THEN NULL ELSE process_task_comment_id END AS process_task_comment_id,
    CASE WHEN trim(process_task_comment_name) IN ('', 'nan', 'NaN') THEN NULL ELSE process_task_comment_name END AS process_task_comment_name,
    CASE WHEN trim(milestone_id) IN ('', 'nan', 'NaN') THEN NULL ELSE milestone_id END AS milestone_id,
    CASE WHEN trim(milestone_name) IN ('', 'nan', 'NaN') THEN NULL ELSE milestone_name END AS milestone_name,
    CASE WHEN trim(milestone_position) IN ('', 'nan', 'NaN') THEN NULL ELSE milestone_position END AS milestone_position,
    CASE WHEN trim(user_assigned) IN ('', 'nan', 'NaN') THEN NULL ELSE user_assigned END AS user_assigned,
    CASE WHEN trim(assigned_user_id) IN ('', 'nan', 'NaN') THEN NULL ELSE assigned_user_id END AS assigned_user_id,
    CASE WHEN trim(guest_assigned) IN ('', 'nan', 'NaN') THEN NULL ELSE guest_assigned END AS guest_assigned,
    CASE WHEN trim(total_users_assigned) IN ('', 'nan', 'NaN') THEN NULL ELSE total_users_assigned END AS total_users_assigned,
    CASE WHEN trim(total_guests_assigned) IN ('', 'nan', 'NaN') THEN NULL ELSE total_guests_assigned END AS total_guests_assigned,
    CASE WHEN trim(total_assignees) IN ('', 'nan', 'NaN') THEN NULL ELSE total_assignees END AS total_assignees,
    CASE WHEN trim(completed_by) IN ('', 'nan', 'NaN') THEN NULL ELSE completed_by END AS completed_by,
    CASE WHEN trim(assigned_or_shown_on) IN ('', 'nan', 'NaN') THEN NULL ELSE assigned_or_shown_on END AS assigned_or_shown_on,
    CASE WHEN trim(due_by) IN ('', 'nan', 'NaN') THEN NULL ELSE due_by END AS due_by,
    CASE WHEN trim(completed_on) IN ('', 'nan', 'NaN') THEN NULL ELSE completed_on END AS completed_on,
    CASE WHEN trim(no_of_form_fields) IN ('', 'nan', 'NaN') THEN NULL ELSE no_of_form_fields END AS no_of_form_fields,
    CASE WHEN trim(form_field_type) IN ('', 'nan', 'NaN') THEN NULL ELSE form_field_type END AS form_field_type,
    CASE WHEN trim(question_in_form_field) IN ('', 'nan', 'NaN') THEN NULL ELSE question_in_form_field END AS question_in_form_field,
    CASE WHEN trim(answer_in_form_field) IN ('', 'nan', 'NaN') THEN NULL ELSE answer_in_form_field END AS answer_in_form_field,
    CASE WHEN trim(issue_reported) IN ('', 'nan', 'NaN') THEN NULL ELSE issue_reported END AS issue_reported,
    CASE WHEN trim(no_of_issue_reported) IN ('', 'nan', 'NaN') THEN NULL ELSE no_of_issue_reported END AS no_of_issue_reported,
    CASE WHEN trim(issue_resolved) IN ('', 'nan', 'NaN') THEN NULL ELSE issue_resolved END AS issue_resolved,
    CASE WHEN trim(no_of_issue_resolved) IN ('', 'nan', 'NaN') THEN NULL ELSE no_of_issue_resolved END AS no_of_issue_resolved,
    CASE WHEN trim(total_comments) IN ('', 'nan', 'NaN') THEN NULL ELSE total_comments END AS total_comments,
    CASE WHEN trim(comment) IN ('', 'nan', 'NaN') THEN NULL ELSE comment END AS comment,
    CASE WHEN trim(last_modified) IN ('', 'nan', 'NaN') THEN NULL ELSE last_modified END AS last_modified
  FROM source
)

SELECT * FROM final
