-- tallyfy_latest: the rows of each process's newest snapshot as of the evaluation day, typed
-- (sql/tallyfy_latest_read.sql has the typing rules). The rows of snapshots chosen by an
-- earlier run too come from the connection's state (tallyfy_state_latest, the rows that run
-- kept, with the same columns); the others are read from the exports now.
WITH kept AS (
  -- The kept snapshots (at most one per process) on the left: the join holds them and streams
  -- the state's rows past them.
  SELECT l.*
  FROM tallyfy_kept_snapshots k
  JOIN tallyfy_state_latest l
    ON l.snapshot_process_id = k.process_id AND l.snapshot_file = k.src_file
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
