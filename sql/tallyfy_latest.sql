-- tallyfy_latest: the rows of each process's newest snapshot as of the evaluation day, typed
-- (the rules are in sql/tallyfy_latest_read.sql). The rows of snapshots an earlier run chose
-- too come from the state's segments (tallyfy_state_latest: each segment's rows without its
-- dropped snapshots, tallyfy_dropped_snapshots); the others were read now
-- (tallyfy_latest_read, written to the new segment).
WITH kept AS (
  SELECT * FROM tallyfy_state_latest
),

read AS (
  SELECT * FROM tallyfy_latest_read
),

final AS (
  SELECT * FROM kept
  UNION ALL
  SELECT * FROM read
)

SELECT * FROM final
