-- The issues each Jira key result counts, one row per key result and issue, as the value
-- counts it: `done` as of the key result's evaluation day, and the amount of its metric
-- (`sql/jira_values.sql` sums these; `preview` shows them). Done means status category
-- `done`, whatever the resolution.
-- A key result evaluated on a past day (`reconstructed`) counts the issues created by the end
-- of that day, and counts one as done if it is done now and entered its status category by
-- then (an issue with no dates is taken as it is now). An issue reopened since, or moved
-- in or out of the JQL, is counted as it is now: Jira keeps only the latest change date.
WITH selections AS (
    SELECT kr_id, metric, mode, completed_only, counted, eval_date, reconstructed
    FROM jira_selections
),

members AS (
    SELECT i.*, s.eval_date, s.reconstructed
    FROM jira_issues AS i
    INNER JOIN selections AS s ON s.kr_id = i.kr_id
    WHERE NOT s.reconstructed OR i.created_on IS NULL OR i.created_on <= s.eval_date
),

issues AS (
    SELECT
        i.kr_id,
        i.key,
        coalesce(
            i.status_category = 'done'
                AND (NOT i.reconstructed OR i.category_changed_on IS NULL
                    OR i.category_changed_on <= i.eval_date),
            false
        ) AS is_done,
        CASE s.metric
            WHEN 'count' THEN 1.0
            WHEN 'time_spent' THEN i.time_spent_hours
            WHEN 'original_estimate' THEN i.original_estimate_hours
            WHEN 'remaining_estimate' THEN i.remaining_estimate_hours
            ELSE i.field_value
        END AS amount,
        CASE
            WHEN i.progress_total_hours > 0 THEN i.progress_hours / i.progress_total_hours
        END AS progress_ratio
    FROM members AS i
    INNER JOIN selections AS s ON s.kr_id = i.kr_id
),

final AS (
    SELECT kr_id, key, is_done AS done, amount, progress_ratio
    FROM issues
)

SELECT * FROM final

