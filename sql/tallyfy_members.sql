-- tallyfy_members: the member list, one row per member id from the newest members file that
-- lists it (whether a new file replaces the old one is not documented, so both are read).
-- It reads tallyfy_members_files (each row with its file's name and time: the engine's
-- sql/tallyfy_members_files.sql, Athena's sql/athena/tallyfy_members_files.sql) and is written
-- in what Trino and DataFusion share, so Athena's view is this same statement: no
-- empty_as_null but its CASE, timestamps cast after a 'T' becomes a space.
WITH source AS (
  SELECT * FROM tallyfy_members_files
),

cleaned AS (
  SELECT
    trim(CASE WHEN trim(id) IN ('', 'nan', 'NaN') THEN NULL ELSE id END) AS id,
    trim(CASE WHEN trim(email) IN ('', 'nan', 'NaN') THEN NULL ELSE email END) AS email,
    CASE WHEN trim(full_name) IN ('', 'nan', 'NaN') THEN NULL ELSE full_name END AS full_name,
    CASE WHEN trim(first_name) IN ('', 'nan', 'NaN') THEN NULL ELSE first_name END AS first_name,
    CASE WHEN trim(last_name) IN ('', 'nan', 'NaN') THEN NULL ELSE last_name END AS last_name,
    CASE WHEN trim(job_title) IN ('', 'nan', 'NaN') THEN NULL ELSE job_title END AS job_title,
    CASE WHEN trim(team) IN ('', 'nan', 'NaN') THEN NULL ELSE team END AS team,
    CASE lower(trim(is_active)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS is_active,
    CASE lower(trim(is_suspended)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS is_suspended,
    TRY_CAST(replace(replace(trim(created_at), 'T', ' '), 'Z', '') AS TIMESTAMP) AS created_at,
    TRY_CAST(replace(replace(trim(last_login_at), 'T', ' '), 'Z', '') AS TIMESTAMP) AS last_login_at,
    trim(CASE WHEN trim(timezone) IN ('', 'nan', 'NaN') THEN NULL ELSE timezone END) AS timezone,
    trim(CASE WHEN trim(country_id) IN ('', 'nan', 'NaN') THEN NULL ELSE country_id END) AS country_id,
    src_file,
    src_mtime
  FROM source
),

ranked AS (
  SELECT *, row_number() OVER (PARTITION BY id ORDER BY src_mtime DESC, src_file DESC) AS file_rank
  FROM cleaned
  WHERE id IS NOT NULL
),

final AS (
  SELECT id, email, full_name, first_name, last_name, job_title, team, is_active, is_suspended,
         created_at, last_login_at, timezone, country_id, src_file AS snapshot_file
  FROM ranked
  WHERE file_rank = 1
)

SELECT * FROM final
