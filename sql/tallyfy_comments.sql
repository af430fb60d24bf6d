-- tallyfy_comments: comments of each process's newest snapshot (row type
-- process_task_comment). no_of_issue_reported / no_of_issue_resolved are counts for the
-- comment's task, repeated on each of its comment rows.
WITH source AS (
  SELECT * FROM tallyfy_latest
  WHERE type = 'process_task_comment'
),

final AS (
  SELECT
    blueprint_id, blueprint_name, process_id, process_status,
    process_task_id, process_task_comment_id, process_task_comment_name,
    issue_reported, no_of_issue_reported, issue_resolved, no_of_issue_resolved,
    total_comments, comment, last_modified, snapshot_file
  FROM source
)

SELECT * FROM final
