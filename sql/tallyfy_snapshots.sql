-- tallyfy_snapshots: the newest whole snapshot (one export file) of each process, as of the
-- end of the evaluation day, from tallyfy_file_snapshots: latest process_last_modified, then
-- latest row last_modified, then the newest file, then the file name (TALLYFY.md §3).
WITH source AS (
  SELECT * FROM tallyfy_file_snapshots
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
  FROM source
),

final AS (
  SELECT process_id, src_path, src_file, src_mtime, process_last_modified, row_last_modified,
    snapshot_at
  FROM ranked
  WHERE snapshot_rank = 1
)

SELECT * FROM final
