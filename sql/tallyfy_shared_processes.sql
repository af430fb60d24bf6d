-- tallyfy_shared_processes: the processes (by tallyfy_latest's process_id, the export's id
-- trimmed) that two export ids share, so that their chosen rows are in two snapshots, maybe
-- in two files: their tallyfy_processes row is computed over all of them at once.
WITH source AS (
  SELECT trim(empty_as_null(process_id)) AS process_id
  FROM tallyfy_snapshots
),

final AS (
  SELECT process_id
  FROM source
  GROUP BY process_id
  HAVING count(*) > 1
)

SELECT * FROM final
