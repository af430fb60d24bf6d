//! The view files: a view per output table (dimensions typed from the written schema, a
//! `dimension_group` for each date and timestamp, measures a dashboard needs, drill fields)
//! and a view per Athena latest view, extending its table's view.

use super::Project;
use crate::sink::athena::{AthenaError, athena_type};
use datafusion::arrow::datatypes::{DataType, Schema};
use std::sync::Arc;

/// The status values of key results and objectives (`sql/okr_status.sql`): a count of each.
pub const STATUSES: [&str; 6] = ["on_track", "behind", "at_risk", "done", "missed", "no_data"];

/// The owners' health values (`sql/kr_health.sql`): a count of each.
pub const HEALTHS: [&str; 3] = ["on_track", "needs_attention", "at_risk"];

/// A count of the rows a filter keeps.
fn count_of(filter: &str) -> String {
    format!("type: count\n    filters: [{filter}]\n    drill_fields: [detail*]")
}

/// A sum of a count column.
fn sum_of(column: &str) -> String {
    format!("type: sum\n    sql: ${{{column}}} ;;")
}

/// A mean of a fraction, shown as a percentage.
fn average_of(column: &str, format: &str) -> String {
    format!("type: average\n    sql: ${{{column}}} ;;\n    value_format_name: {format}")
}

/// Measures beyond `count`, per table: `(name, LookML body)`. Key results and objectives
/// have a count per status and per health; key results one of stale, failed and overdue
/// rows, and of those needing attention.
fn measures(table: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, body: String| out.push((name.to_string(), body));
    match table {
        "kr_snapshots" | "objective_snapshots" => {
            add("average_progress", average_of("progress", "percent_1"));
            if table == "kr_snapshots" {
                add(
                    "average_expected_progress",
                    average_of("expected_progress", "percent_1"),
                );
            }
            add("average_score", average_of("score", "percent_1"));
            for status in STATUSES {
                add(
                    &format!("{status}_count"),
                    count_of(&format!("status: \"{status}\"")),
                );
            }
            for health in HEALTHS {
                add(
                    &format!("health_{health}_count"),
                    count_of(&format!("health: \"{health}\"")),
                );
            }
            if table == "kr_snapshots" {
                add("stale_count", count_of("stale: \"yes\""));
                add("failed_count", count_of("failed: \"yes\""));
                add("health_overdue_count", count_of("health_overdue: \"yes\""));
                add("attention_count", count_of("attention: \"yes\""));
            } else {
                add("key_results_no_data", sum_of("krs_no_data"));
                add("key_results_stale", sum_of("krs_stale"));
                add("key_results_failed", sum_of("krs_failed"));
                add("key_results_health_at_risk", sum_of("health_at_risk"));
                add("key_results_health_overdue", sum_of("health_overdue"));
            }
        }
        "quarter_scores" => add(
            "average_quarter_score",
            average_of("quarter_score", "decimal_2"),
        ),
        "runs" => {
            add("key_results_failed", sum_of("krs_failed"));
            add("key_results_stale", sum_of("krs_stale"));
            add("key_results_no_data", sum_of("krs_no_data"));
        }
        _ => {}
    }
    out
}

/// Dimensions computed from a table's columns, beyond one per column: `(name, LookML body)`.
/// Every dated table says how many days before the newest committed run its row's date is
/// (what the daily explores filter on, 0 by default); key results say whether they failed
/// and whether they need attention, and why (as the report's list does).
fn derived(project: &Project, table: &str, partition: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if partition == "as_of" {
        out.push((
            "days_before_newest",
            format!(
                "type: number\n    description: \"Days between this row's run date and the newest committed run's (0: the newest run)\"\n    \
                 sql: date_diff('day', CAST(${{TABLE}}.as_of AS date), (SELECT CAST(max(as_of) AS date) FROM {}.runs)) ;;",
                project.database
            ),
        ));
    }
    if table == "kr_snapshots" || table == "objective_snapshots" {
        out.push((
            "progress_gap",
            "type: number\n    description: \"Progress less expected progress (negative: behind the pace)\"\n    \
             sql: ${TABLE}.progress - ${TABLE}.expected_progress ;;\n    value_format_name: percent_1"
                .to_string(),
        ));
    }
    if table == "kr_snapshots" {
        out.push((
            "failed",
            "type: yesno\n    description: \"The source failed today and no earlier value is kept\"\n    \
             sql: ${TABLE}.error IS NOT NULL AND NOT coalesce(${TABLE}.stale, false) ;;"
                .to_string(),
        ));
        out.push((
            "attention",
            "type: yesno\n    description: \"At risk, behind, no data, stale, failed or the owner's health overdue\"\n    \
             sql: ${TABLE}.status IN ('at_risk', 'behind', 'no_data') OR ${TABLE}.error IS NOT NULL\n      \
             OR coalesce(${TABLE}.health_overdue, false) ;;"
                .to_string(),
        ));
        out.push((
            "attention_reasons",
            "type: string\n    description: \"What needs attention\"\n    \
             sql: concat_ws(', ',\n      CASE ${TABLE}.status WHEN 'at_risk' THEN 'at risk' WHEN 'behind' THEN 'behind' WHEN 'no_data' THEN 'no data' END,\n      \
             CASE WHEN ${TABLE}.stale THEN 'stale' WHEN ${TABLE}.error IS NOT NULL THEN 'failed' END,\n      \
             CASE WHEN ${TABLE}.health_overdue THEN 'health overdue' END) ;;"
                .to_string(),
        ));
        out.push((
            "attention_detail",
            "type: string\n    description: \"The source's error, the no-data note and the owner's health note\"\n    \
             sql: nullif(concat_ws(' · ', ${TABLE}.error, ${TABLE}.note, 'owner: ' || ${TABLE}.health_note), '') ;;"
                .to_string(),
        ));
    }
    out
}

/// Drill fields per table (those that exist in its schema are kept).
fn detail(table: &str) -> &'static [&'static str] {
    match table {
        "kr_snapshots" => &[
            "kr_id",
            "kr_title",
            "owner",
            "objective_id",
            "value",
            "progress",
            "expected_progress",
            "forecast_progress",
            "status",
            "health",
            "health_overdue",
            "stale",
            "error",
            "note",
        ],
        "objective_snapshots" => &[
            "objective_id",
            "objective_title",
            "owner",
            "progress",
            "expected_progress",
            "status",
            "health",
            "krs_at_risk",
            "krs_stale",
        ],
        "quarter_scores" => &["id", "title", "owner", "kind", "quarter_score", "final"],
        _ => &[
            "run_id",
            "job",
            "krs_ok",
            "krs_no_data",
            "krs_stale",
            "krs_failed",
        ],
    }
}

/// The primary key of a table's rows, as SQL.
fn primary_key(table: &str, partition: &str) -> String {
    let id = match table {
        "kr_snapshots" => "${TABLE}.kr_id",
        "objective_snapshots" => "${TABLE}.objective_id",
        // a key result and an objective may share an id
        "quarter_scores" => "${TABLE}.kind || '/' || ${TABLE}.id",
        _ => "${TABLE}.run_id",
    };
    format!("${{TABLE}}.{partition} || '/' || {id}")
}

/// The view file of one table, named `<prefix><table>`, reading `<database>.<table>`.
pub fn view(
    project: &Project,
    table: &str,
    partition: &str,
    schema: &Arc<Schema>,
) -> Result<String, AthenaError> {
    let mut out = format!(
        "view: {} {{\n  sql_table_name: {}.{table} ;;\n\n",
        project.name(table),
        project.database
    );
    out.push_str(&format!(
        "  dimension: pk {{\n    primary_key: yes\n    hidden: yes\n    sql: {} ;;\n  }}\n\n",
        primary_key(table, partition)
    ));
    for f in schema.fields() {
        let name = f.name();
        athena_type(table, name, f.data_type())?;
        let sql = format!("${{TABLE}}.{name}");
        let block = match (name.as_str(), f.data_type()) {
            (n, _) if n == partition && partition == "as_of" => format!(
                "  dimension_group: as_of {{\n    type: time\n    timeframes: [raw, date, week, month, quarter, year]\n    \
                 convert_tz: no\n    datatype: date\n    sql: CAST({sql} AS date) ;;\n  }}\n"
            ),
            (_, DataType::Date32) => format!(
                "  dimension_group: {name} {{\n    type: time\n    timeframes: [raw, date, week, month]\n    \
                 convert_tz: no\n    datatype: date\n    sql: {sql} ;;\n  }}\n"
            ),
            (_, DataType::Timestamp(_, _)) => format!(
                "  dimension_group: {} {{\n    type: time\n    timeframes: [raw, time, date]\n    sql: {sql} ;;\n  }}\n",
                name.trim_end_matches("_at")
            ),
            (_, DataType::Boolean) => {
                format!("  dimension: {name} {{\n    type: yesno\n    sql: {sql} ;;\n  }}\n")
            }
            (_, DataType::Utf8 | DataType::LargeUtf8) => {
                format!("  dimension: {name} {{\n    type: string\n    sql: {sql} ;;\n  }}\n")
            }
            _ => {
                let format = if [
                    "progress",
                    "expected_progress",
                    "attainment",
                    "score",
                    "quarter_score",
                    "graded_score",
                    "forecast_attainment",
                    "forecast_progress",
                ]
                .contains(&name.as_str())
                {
                    "\n    value_format_name: percent_1"
                } else {
                    ""
                };
                format!(
                    "  dimension: {name} {{\n    type: number\n    sql: {sql} ;;{format}\n  }}\n"
                )
            }
        };
        out.push_str(&block);
        out.push('\n');
    }
    for (name, body) in derived(project, table, partition) {
        out.push_str(&format!("  dimension: {name} {{\n    {body}\n  }}\n\n"));
    }
    out.push_str("  measure: count {\n    type: count\n    drill_fields: [detail*]\n  }\n\n");
    for (name, body) in measures(table) {
        out.push_str(&format!("  measure: {name} {{\n    {body}\n  }}\n\n"));
    }
    let fields: Vec<&str> = detail(table)
        .iter()
        .copied()
        .filter(|c| schema.field_with_name(c).is_ok())
        .collect();
    out.push_str(&format!(
        "  set: detail {{\n    fields: [{}]\n  }}\n}}\n",
        fields.join(", ")
    ));
    Ok(out)
}

/// The views of the Athena views of the newest committed rows (`kr_latest`,
/// `objective_latest`, `quarter_scores_latest`): their tables' views, extended onto them, so
/// their counts count key results, objectives and scores, not daily snapshots. Both names
/// carry the prefix, so the `extends` resolves to the view written beside it.
/// `(file stem = view name, LookML)`.
pub fn latest_views(project: &Project) -> Vec<(String, String)> {
    crate::sink::athena::LATEST
        .iter()
        .map(|(view, table, _)| {
            let name = project.name(view);
            (
                name.clone(),
                format!(
                    "view: {name} {{\n  extends: [{}]\n  sql_table_name: {}.{view} ;;\n}}\n",
                    project.name(table),
                    project.database
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_and_health_has_a_count_and_no_name_is_defined_twice() {
        for table in ["kr_snapshots", "objective_snapshots"] {
            let names: Vec<String> = measures(table).into_iter().map(|(n, _)| n).collect();
            for status in STATUSES {
                assert!(
                    names.contains(&format!("{status}_count")),
                    "{table} {status}"
                );
            }
            for health in HEALTHS {
                assert!(
                    names.contains(&format!("health_{health}_count")),
                    "{table} {health}"
                );
            }
            let p = Project::new("okr_", "gen", "okr", "athena").unwrap();
            let mut all = names.clone();
            all.extend(
                derived(&p, table, "as_of")
                    .into_iter()
                    .map(|(n, _)| n.to_string()),
            );
            let mut unique = all.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), all.len(), "{table}: {all:?}");
        }
    }

    #[test]
    fn latest_views_extend_their_prefixed_table() {
        let p = Project::new("acme_", "gen", "warehouse", "athena").unwrap();
        let latest = latest_views(&p);
        assert_eq!(latest[0].0, "acme_kr_latest");
        assert!(
            latest[0]
                .1
                .contains("extends: [acme_kr_snapshots]\n  sql_table_name: warehouse.kr_latest ;;"),
            "{}",
            latest[0].1
        );
    }
}
