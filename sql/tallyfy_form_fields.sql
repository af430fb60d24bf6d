-- tallyfy_form_fields: form answers of each process's newest snapshot: task form fields
-- (process_task_data) and kick-off fields (kick_off_task). field_id is the ID that stays the
-- same in every run of a template: process_task_data_id, or kick_off_task_id on kick-off
-- rows. Answers are filled only once their task is complete; answer_number is the answer
-- read as a number (NULL when it is not one).
WITH source AS (
  SELECT * FROM tallyfy_latest
  WHERE type IN ('process_task_data', 'kick_off_task')
),

final AS (
  SELECT
    blueprint_id, blueprint_name, process_id, process_status, type,
    process_task_id, process_task_data_id, process_task_data_name,
    kick_off_task_id, kick_off_task_name,
    coalesce(process_task_data_id, kick_off_task_id) AS field_id,
    no_of_form_fields, form_field_type, question_in_form_field, answer_in_form_field,
    TRY_CAST(trim(answer_in_form_field) AS DOUBLE) AS answer_number,
    last_modified, snapshot_file
  FROM source
)

SELECT * FROM final
