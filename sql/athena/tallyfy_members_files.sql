-- athena/tallyfy_members_files: Athena's (Trino) view of the rows of the members files, over
-- the external table tallyfy_members_exports (the files under members/), each with its file's
-- key below the connection's folder ("$path") and time ("$file_modified_time"), as the
-- engine's sql/tallyfy_members_files.sql gives them to sql/tallyfy_members.sql.
WITH source AS (
  -- the file's key below the connection's folder, as the engine names it
  SELECT t.*, 'members/' || regexp_replace("$path", '^.*/', '') AS src_file,
    CAST("$file_modified_time" AS TIMESTAMP) AS src_mtime
  FROM tallyfy_members_exports t
),

final AS (
  SELECT * FROM source
)

SELECT * FROM final
