-- tallyfy_members_files: the rows of the members files (members/*.parquet), each with its
-- file's name and time, which sql/tallyfy_members.sql ranks files by (the small index first).
WITH source AS (
  SELECT r.*, f.src_file, f.src_mtime
  FROM tallyfy_files f
  JOIN tallyfy_members_raw r ON r.src_path = f.src_path
),

final AS (
  SELECT * FROM source
)

SELECT * FROM final
