-- report_objectives: each objective of the reported period as its newest snapshot says it
-- is (status, progress against expected, how many of its key results have no data yet, are
-- stale or failed),
-- for the progress report's headers. The period is report_krs's.
WITH periods AS (
  SELECT DISTINCT period FROM report_krs
),

snapshots AS (
  SELECT
    CAST(as_of AS DATE) AS as_of,
    arrow_cast(period, 'Utf8') AS period,
    arrow_cast(objective_id, 'Utf8') AS objective_id,
    -- `title` in snapshots written before the column was named objective_title
    arrow_cast(coalesce(objective_title, title), 'Utf8') AS title,
    arrow_cast(owner, 'Utf8') AS owner,
    arrow_cast(level, 'Utf8') AS level,
    progress,
    expected_progress,
    arrow_cast(status, 'Utf8') AS status,
    score,
    krs_total,
    krs_no_data,
    krs_stale,
    krs_failed
  FROM report_objective_history
),

ranked AS (
  SELECT s.*, row_number() OVER (PARTITION BY s.objective_id ORDER BY s.as_of DESC) AS n
  FROM snapshots s
  JOIN periods p ON p.period = s.period
),

final AS (
  SELECT
    as_of, period, objective_id, title, owner, level, progress, expected_progress, status,
    score, krs_total, krs_no_data, krs_stale, krs_failed
  FROM ranked
  WHERE n = 1
)

SELECT * FROM final
ORDER BY objective_id
