-- tallyfy_file_index: each process's snapshot in each export file, with what orders snapshots
-- (TALLYFY.md §3), and the file it is in by name, size and time: entries of a file that is
-- still there unchanged are kept for later runs (src/sources/tallyfy/state.rs). Each Tallyfy
-- event writes a full snapshot, so a file holds whole snapshots and rows of two files are never
-- mixed. A process id that is empty ('', 'nan', 'NaN', see tallyfy_latest) belongs to no
-- process. try_timestamp(x) is `TRY_CAST(x AS TIMESTAMP)` (src/engine/functions.rs).
-- It reads `tallyfy_raw_part`, the rows of some files not indexed before: it holds an entry per
-- (process, file) while it runs, so it runs over a bounded part of the files at a time
-- (src/sources/tallyfy/snapshots.rs). Its rows are read as `Utf8View`
-- (src/sources/tallyfy/loader.rs); the index keeps plain text.
WITH source AS (
  SELECT process_id, src_path, process_last_modified, last_modified
  FROM tallyfy_raw_part
  WHERE empty_as_null(process_id) IS NOT NULL
),

per_file AS (
  SELECT
    CAST(process_id AS VARCHAR) AS process_id,
    src_path,
    max(try_timestamp(process_last_modified)) AS process_last_modified,
    max(try_timestamp(last_modified)) AS row_last_modified
  FROM source
  GROUP BY process_id, src_path
),

filed AS (
  -- The file's name, size and time, from the index of files (the small side first).
  SELECT p.process_id, f.src_file, f.src_size, f.src_mtime, p.process_last_modified,
    p.row_last_modified
  FROM tallyfy_files f
  JOIN per_file p ON p.src_path = f.src_path
),

final AS (
  SELECT *, coalesce(process_last_modified, row_last_modified, src_mtime) AS snapshot_at
  FROM filed
)

SELECT * FROM final
