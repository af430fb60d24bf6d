-- tallyfy_snapshots_to_read: the chosen snapshots whose rows must be read from the exports,
-- because the state does not hold them (all of them on a first run).
WITH source AS (
  SELECT * FROM tallyfy_snapshots
),

final AS (
  SELECT s.*
  FROM source s
  WHERE NOT EXISTS (
    SELECT 1 FROM tallyfy_kept_snapshots k
    WHERE k.process_id = s.process_id AND k.src_file = s.src_file
  )
)

SELECT * FROM final
