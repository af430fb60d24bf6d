-- tallyfy_snapshots: the newest whole snapshot (one export file) of each process, as of the
-- end of the evaluation day. Each Tallyfy event writes a full snapshot, so rows of two files
-- are never mixed: that would bring back deleted tasks and comments.
-- Newest = latest process_last_modified, then latest row last_modified, then the newest file,
-- then the file name (TALLYFY.md §3). A process id that is empty ('', 'nan', 'NaN', see
-- tallyfy_latest) belongs to no process.
WITH source AS (
  SELECT process_id, src_path, process_last_modified, last_modified
  FROM tallyfy_raw
  WHERE empty_as_null(process_id) IS NOT NULL
),

per_file AS (
  SELECT
    process_id,
    src_path,
    max(TRY_CAST(process_last_modified AS TIMESTAMP)) AS process_last_modified,
    max(TRY_CAST(last_modified AS TIMESTAMP)) AS row_last_modified
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
  SELECT d.*
  FROM dated d
  CROSS JOIN tallyfy_params p
  WHERE d.snapshot_at < p.as_of_end
),

ranked AS (
  SELECT
    *,
    row_number() OVER (
      PARTITION BY process_id
      ORDER BY process_last_modified DESC NULLS LAST,
               row_last_modified DESC NULLS LAST,
               src_mtime DESC,
               src_file DESC
    ) AS snapshot_rank
  FROM as_of
),

final AS (
  SELECT process_id, src_path, src_file, snapshot_at
  FROM ranked
  WHERE snapshot_rank = 1
)

SELECT * FROM final
