-- runs: one row per run and date: who ran what, when, and how many key results came out
-- fresh (a value), no_data (the source answered with nothing to measure yet), stale (last
-- good value kept) or failed (no value at all), with their errors, and what the extraction
-- cost: the bytes Athena scanned for this run's queries (0 when none ran).
WITH run AS (
  SELECT * FROM run_info
),

krs AS (
  SELECT * FROM kr_snapshots
),

counts AS (
  SELECT
    count(*) AS krs_total,
    count(*) FILTER (WHERE error IS NULL AND status IS DISTINCT FROM 'no_data') AS krs_ok,
    count(*) FILTER (WHERE status = 'no_data') AS krs_no_data,
    count(*) FILTER (WHERE stale) AS krs_stale,
    count(*) FILTER (WHERE error IS NOT NULL AND NOT stale) AS krs_failed,
    -- an error that already names its key result is not prefixed twice
    CAST(string_agg(
      CASE WHEN starts_with(error, 'key result ' || kr_id) THEN error ELSE kr_id || ': ' || error END,
      ' | ' ORDER BY kr_id) AS VARCHAR) AS errors
  FROM krs
),

final AS (
  SELECT
    CAST(r.as_of AS VARCHAR) AS as_of,
    r.run_id,
    r.job_name AS job,
    arrow_cast(r.started_at, 'Timestamp(Millisecond, None)') AS started_at,
    arrow_cast(r.computed_at, 'Timestamp(Millisecond, None)') AS finished_at,
    c.krs_total,
    c.krs_ok,
    c.krs_no_data,
    c.krs_stale,
    c.krs_failed,
    c.errors,
    x.athena_bytes_scanned,
    r.okrflow_version,
    r.definition_hash,
    r.job_definition
  FROM run r
  CROSS JOIN counts c
  CROSS JOIN extraction_info x
)

SELECT * FROM final
