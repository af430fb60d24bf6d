-- tallyfy_file_snapshots: each process's snapshot in each export file, with what orders
-- snapshots (TALLYFY.md §3), leaving out those from after the end of the evaluation day. Each
-- Tallyfy event writes a full snapshot, so a file holds whole snapshots and rows of two files
-- are never mixed. A process id that is empty ('', 'nan', 'NaN', see tallyfy_latest) belongs
-- to no process. try_timestamp(x) is `TRY_CAST(x AS TIMESTAMP)` (src/engine/functions.rs).
-- It reads `tallyfy_raw_part`, the export rows of some whole files: it holds an entry per
-- (process, file) while it runs, so it runs over a bounded part of the files at a time and
-- tallyfy_snapshots keeps the newest (src/sources/tallyfy/mod.rs, register_views).
WITH source AS (
  SELECT process_id, src_path, process_last_modified, last_modified
  FROM tallyfy_raw_part
  WHERE empty_as_null(process_id) IS NOT NULL
),

per_file AS (
  SELECT
    process_id,
    src_path,
    max(try_timestamp(process_last_modified)) AS process_last_modified,
    max(try_timestamp(last_modified)) AS row_last_modified
  FROM source
  GROUP BY process_id, src_path
),

filed AS (
  -- The file's name and time, from the index of files (the small side first).
  SELECT p.*, f.src_file, f.src_mtime
  FROM tallyfy_files f
  JOIN per_file p ON p.src_path = f.src_path
),

dated AS (
  SELECT *, coalesce(process_last_modified, row_last_modified, src_mtime) AS snapshot_at
  FROM filed
),

as_of AS (
  -- The one-row parameters first: the join holds them, not the snapshots.
  SELECT d.*
  FROM tallyfy_params p
  JOIN dated d ON d.snapshot_at < p.as_of_end
),

final AS (
  SELECT process_id, src_path, src_file, src_mtime, process_last_modified, row_last_modified,
    snapshot_at
  FROM as_of
)

SELECT * FROM final
