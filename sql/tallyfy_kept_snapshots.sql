-- tallyfy_kept_snapshots: the chosen snapshots (tallyfy_snapshots) whose typed rows the
-- connection's state already holds (src/sources/tallyfy/state.rs): those an earlier run chose
-- too, from a file that has not changed since. Input tables: tallyfy_state_chosen (the state's
-- chosen snapshots) and tallyfy_state_files (the export files unchanged since it was written);
-- both empty when there is no usable state.
WITH held AS (
  SELECT c.process_id, c.src_file
  FROM tallyfy_state_files f
  JOIN tallyfy_state_chosen c ON c.src_file = f.src_file
),

final AS (
  SELECT s.process_id, s.src_file
  FROM held h
  JOIN tallyfy_snapshots s ON s.process_id = h.process_id AND s.src_file = h.src_file
)

SELECT * FROM final
