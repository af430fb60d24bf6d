-- tallyfy_members: the member list, one row per member id from the newest members file that
-- lists it (whether a new file replaces the old one is not documented, so both are read).
WITH source AS (
  -- Each row with its file's name and time (the small index first).
  SELECT r.*, f.src_file, f.src_mtime
  FROM tallyfy_files f
  JOIN tallyfy_members_raw r ON r.src_path = f.src_path
),

cleaned AS (
  SELECT
    trim(empty_as_null(id)) AS id,
    trim(empty_as_null(email)) AS email,
    empty_as_null(full_name) AS full_name,
    empty_as_null(first_name) AS first_name,
    empty_as_null(last_name) AS last_name,
    empty_as_null(job_title) AS job_title,
    empty_as_null(team) AS team,
    CASE lower(trim(is_active)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS is_active,
    CASE lower(trim(is_suspended)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS is_suspended,
    TRY_CAST(trim(created_at) AS TIMESTAMP) AS created_at,
    TRY_CAST(trim(last_login_at) AS TIMESTAMP) AS last_login_at,
    trim(empty_as_null(timezone)) AS timezone,
    trim(empty_as_null(country_id)) AS country_id,
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
