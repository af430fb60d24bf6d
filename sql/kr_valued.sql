-- kr_valued: the value of every key result that is not `aligned`, before any scoring, and
-- what its history says. A roll-up has no row in kr_values: its value is made in kr_scores
-- from its children's rows here; its history (first done) comes from here like any other's.
--   value      today's value, or the last good one (stale) when today's extraction failed;
--              NULL when the source answered with nothing to measure yet (`no_data`, not a
--              failure: `note` says why). A failure after a `no_data` day has no value to
--              keep, so it is not stale.
--   note       for no_data: why; for a check-in value: the check-in it is (date, author,
--              file, line)
--   last_value_on  for a `no_data` key result that had a value on an earlier date, that date
--              (a renamed epic or a changed filter looks exactly like this)
--   value_as_of the day the value is as of: the evaluation date less the key result's
--              closing-period offset (offset_days); for a stale value, the last good run's
--              date less the offset
WITH run AS (
  SELECT * FROM run_info
),

definitions AS (
  SELECT * FROM kr_definitions
  WHERE measure_kind <> 'aligned'
),

-- A bad check-in row fails a key result of any source (checkin_errors): its value is not
-- used, and the row's problem is the error.
fresh AS (
  SELECT
    v.kr_id,
    CASE WHEN c.error IS NULL THEN v.value END AS value,
    coalesce(v.error, 'key result ' || c.kr_id || ': ' || c.error) AS error,
    CASE WHEN c.error IS NULL THEN v.note END AS note,
    v.error IS NULL AND c.error IS NULL AND v.value IS NULL AS no_data
  FROM kr_values v
  LEFT JOIN checkin_errors c ON c.kr_id = v.kr_id
),

-- (run first: the side a join holds in memory is the first, and kr_history may be every
-- day's rows)
history AS (
  SELECT h.kr_id, CAST(h.as_of AS DATE) AS as_of, h.value, h.status, h.stale, h.stale_since, h.error
  FROM run r
  CROSS JOIN kr_history h
  WHERE CAST(h.as_of AS DATE) < r.as_of
),

-- The newest earlier date the source answered: its value, or NULL after a no_data day.
last_good AS (
  SELECT kr_id, value AS last_value, as_of AS last_good_on
  FROM (
    SELECT *, row_number() OVER (PARTITION BY kr_id ORDER BY as_of DESC) AS n
    FROM history
    WHERE error IS NULL AND (value IS NOT NULL OR status = 'no_data')
  ) WHERE n = 1
),

last_valued AS (
  SELECT kr_id, max(as_of) AS last_value_on
  FROM history
  WHERE value IS NOT NULL AND error IS NULL
  GROUP BY kr_id
),

previous AS (
  SELECT kr_id, stale AS was_stale, stale_since AS was_stale_since
  FROM (
    SELECT *, row_number() OVER (PARTITION BY kr_id ORDER BY as_of DESC) AS n
    FROM history
  ) WHERE n = 1
),

first_done AS (
  SELECT kr_id, min(as_of) AS first_done_on
  FROM history
  WHERE status = 'done' AND error IS NULL
  GROUP BY kr_id
),

final AS (
  SELECT
    d.kr_id,
    f.error,
    CASE WHEN f.error IS NULL THEN f.value ELSE g.last_value END AS value,
    (f.error IS NOT NULL AND g.last_value IS NOT NULL) AS stale,
    CASE WHEN f.error IS NOT NULL AND g.last_value IS NOT NULL
         THEN CASE WHEN p.was_stale THEN p.was_stale_since ELSE r.as_of END END AS stale_since,
    coalesce(f.no_data, false) AS no_data,
    CASE WHEN f.error IS NULL THEN f.note END AS note,
    CASE WHEN f.no_data THEN lv.last_value_on END AS last_value_on,
    fd.first_done_on,
    CASE WHEN f.error IS NULL AND f.value IS NOT NULL THEN d.value_date
         WHEN f.error IS NOT NULL AND g.last_value IS NOT NULL
           THEN CAST(CAST(g.last_good_on AS INT) - CAST(d.offset_days AS INT) AS DATE)
    END AS value_as_of
  FROM definitions d
  CROSS JOIN run r
  LEFT JOIN fresh f ON f.kr_id = d.kr_id
  LEFT JOIN last_good g ON g.kr_id = d.kr_id
  LEFT JOIN previous p ON p.kr_id = d.kr_id
  LEFT JOIN last_valued lv ON lv.kr_id = d.kr_id
  LEFT JOIN first_done fd ON fd.kr_id = d.kr_id
)

SELECT * FROM final
