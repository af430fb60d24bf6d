-- athena/tallyfy_file_snapshots: Athena's (Trino) view of every process's snapshot in every
-- export file, with what orders snapshots: the engine's sql/tallyfy_file_index.sql and
-- tallyfy_file_snapshots.sql as of now (a view takes no date), over the external table
-- tallyfy_exports. A file is known by Athena's hidden columns: "$path" (its name is what follows
-- the last /) and "$file_modified_time" (the listing's time, as the engine orders by). The
-- engine's sql/tallyfy_snapshots.sql then picks each process's newest, in Athena too.
WITH source AS (
  SELECT t.*, "$path" AS src_path, regexp_replace("$path", '^.*/', '') AS src_file,
    CAST("$file_modified_time" AS TIMESTAMP) AS src_mtime
  FROM tallyfy_exports t
),

per_file AS (
  -- Each process's snapshot in each file, with what orders snapshots.
  SELECT
    CAST(process_id AS VARCHAR) AS process_id,
    src_path,
    max(src_file) AS src_file,
    max(src_mtime) AS src_mtime,
    max(TRY_CAST(replace(replace(trim(process_last_modified), 'T', ' '), 'Z', '') AS TIMESTAMP)) AS process_last_modified,
    max(TRY_CAST(replace(replace(trim(last_modified), 'T', ' '), 'Z', '') AS TIMESTAMP)) AS row_last_modified
  FROM source
  WHERE trim(process_id) NOT IN ('', 'nan', 'NaN')
  GROUP BY process_id, src_path
),

final AS (
  SELECT process_id, src_path, src_file, src_mtime, process_last_modified, row_last_modified,
    coalesce(process_last_modified, row_last_modified, src_mtime) AS snapshot_at
  FROM per_file
)

SELECT * FROM final
