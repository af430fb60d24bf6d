-- tallyfy_dropped_snapshots: each segment's snapshots that are not chosen any more (the
-- process has a newer snapshot, its file changed, or it is from after the evaluation day):
-- their rows are left out of the segment.
WITH source AS (
  SELECT segment, process_id, src_file FROM tallyfy_state_chosen
),

final AS (
  SELECT c.segment, c.process_id
  FROM source c
  WHERE NOT EXISTS (
    SELECT 1 FROM tallyfy_kept_snapshots k
    WHERE k.segment = c.segment AND k.process_id = c.process_id AND k.src_file = c.src_file
  )
)

SELECT * FROM final
