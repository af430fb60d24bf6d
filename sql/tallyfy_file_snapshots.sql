-- tallyfy_file_snapshots: every process's snapshot in every export file as the files are now,
-- leaving out those from after the end of the evaluation day. It reads tallyfy_file_index:
-- this run's entries for new files and earlier runs' for files that were not changed.
WITH source AS (
  SELECT * FROM tallyfy_file_index
),

current AS (
  -- An entry counts only while its file is there with the same size and time; the file's
  -- path as this run's scans report it comes with it (the small side first).
  SELECT i.*, f.src_path
  FROM tallyfy_files f
  JOIN source i
    ON i.src_file = f.src_file AND i.src_size = f.src_size AND i.src_mtime = f.src_mtime
),

as_of AS (
  -- The one-row parameters first: the join holds them, not the snapshots.
  SELECT c.*
  FROM tallyfy_params p
  JOIN current c ON c.snapshot_at < p.as_of_end
),

final AS (
  SELECT process_id, src_path, src_file, src_mtime, process_last_modified, row_last_modified,
    snapshot_at
  FROM as_of
)

SELECT * FROM final
