-- tallyfy_chosen_index: the day's chosen snapshots (tallyfy_snapshots) as index entries, with
-- their file's size (src/sources/tallyfy/state.rs keeps them). A later evaluation date ranks
-- these, the entries of the same files from after this day, and the entries of new files: the
-- newest of those is the newest of all (each file's entries from before this day were ranked).
WITH source AS (
  SELECT * FROM tallyfy_snapshots
),

final AS (
  -- The file index first: the small side.
  SELECT s.process_id, s.src_file, f.src_size, s.src_mtime, s.process_last_modified,
    s.row_last_modified, s.snapshot_at
  FROM tallyfy_files f
  JOIN source s ON s.src_path = f.src_path
)

SELECT * FROM final
