-- tallyfy_changed_processes: the processes (by tallyfy_latest's process_id, the export's id
-- trimmed) whose tallyfy_processes row is computed now rather than kept from the state: those
-- with a snapshot read now or one dropped from a segment, and any id two export ids share
-- (tallyfy_shared_processes: their rows are in two places).
WITH changed AS (
  SELECT process_id FROM tallyfy_snapshots_to_read
  UNION ALL
  SELECT process_id FROM tallyfy_dropped_snapshots
),

shared AS (
  SELECT process_id FROM tallyfy_shared_processes
),

final AS (
  SELECT DISTINCT trim(empty_as_null(process_id)) AS process_id FROM changed
  UNION
  SELECT process_id FROM shared
)

SELECT * FROM final
