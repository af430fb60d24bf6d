-- tallyfy_tasks: one row per task (row type process_task) of each process's newest snapshot,
-- with the process columns it is exported with. process_task_status is visibility
-- (shown/hidden), not completion: a task is done when completed_on is set.
WITH source AS (
  SELECT * FROM tallyfy_latest
),

final AS (
  SELECT
    blueprint_id, blueprint_name, blueprint_version, process_id, process_name, process_owner,
    process_owner_id, process_status, process_last_modified, process_completed_at,
    process_task_id, process_task_status, process_task_name, process_task_alias, has_form_fields,
    milestone_id, milestone_name, milestone_position,
    user_assigned, assigned_user_id, guest_assigned,
    total_users_assigned, total_guests_assigned, total_assignees, completed_by,
    assigned_or_shown_on, due_by, completed_on, last_modified, snapshot_file
  FROM source
  WHERE type = 'process_task'
)

SELECT * FROM final
