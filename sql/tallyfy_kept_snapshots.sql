-- tallyfy_kept_snapshots: the chosen snapshots (tallyfy_snapshots) whose typed rows a segment
-- of the connection's state already holds (src/sources/tallyfy/state.rs): chosen by an
-- earlier run too, from a file not changed since that segment was written. Input tables, both
-- empty without a usable state: tallyfy_state_chosen (each segment's snapshots) and
-- tallyfy_state_files (each segment's export files that are unchanged).
WITH held AS (
  SELECT c.segment, c.process_id, c.src_file
  FROM tallyfy_state_files f
  JOIN tallyfy_state_chosen c ON c.segment = f.segment AND c.src_file = f.src_file
),

final AS (
  -- latest_process_id: the id as tallyfy_latest and tallyfy_processes have it.
  SELECT h.segment, s.process_id, s.src_file,
    trim(empty_as_null(s.process_id)) AS latest_process_id
  FROM tallyfy_snapshots s
  JOIN held h ON h.process_id = s.process_id AND h.src_file = s.src_file
)

SELECT * FROM final
