//! LookML for the output tables: a view per table (dimensions typed from the written schema,
//! a `dimension_group` for each date and timestamp, measures a dashboard needs, drill fields)
//! and a model whose explores join key results to their objectives and show only rows of runs
//! recorded in `runs`.

use super::athena::{AthenaError, athena_type};
use datafusion::arrow::datatypes::{DataType, Schema};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the LookML files could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LookmlError {
    #[error("cannot create {}", dir.display())]
    Create {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A column has no Athena type.
    #[error(transparent)]
    Type(#[from] AthenaError),
}

/// Measures beyond `count`, per table: `(name, LookML body)`.
fn measures(table: &str) -> Vec<(&'static str, &'static str)> {
    match table {
        "kr_snapshots" => vec![
            (
                "average_progress",
                "type: average\n    sql: ${progress} ;;\n    value_format_name: percent_1",
            ),
            (
                "average_expected_progress",
                "type: average\n    sql: ${expected_progress} ;;\n    value_format_name: percent_1",
            ),
            (
                "average_score",
                "type: average\n    sql: ${score} ;;\n    value_format_name: percent_1",
            ),
            (
                "at_risk_count",
                "type: count\n    filters: [status: \"at_risk\"]\n    drill_fields: [detail*]",
            ),
            (
                "behind_count",
                "type: count\n    filters: [status: \"behind\"]\n    drill_fields: [detail*]",
            ),
            (
                "stale_count",
                "type: count\n    filters: [stale: \"yes\"]\n    drill_fields: [detail*]",
            ),
            (
                "no_data_count",
                "type: count\n    filters: [status: \"no_data\"]\n    drill_fields: [detail*]",
            ),
            (
                "missed_count",
                "type: count\n    filters: [status: \"missed\"]\n    drill_fields: [detail*]",
            ),
            (
                "health_at_risk_count",
                "type: count\n    filters: [health: \"at_risk\"]\n    drill_fields: [detail*]",
            ),
            (
                "health_overdue_count",
                "type: count\n    filters: [health_overdue: \"yes\"]\n    drill_fields: [detail*]",
            ),
        ],
        "objective_snapshots" => vec![
            (
                "average_progress",
                "type: average\n    sql: ${progress} ;;\n    value_format_name: percent_1",
            ),
            (
                "average_score",
                "type: average\n    sql: ${score} ;;\n    value_format_name: percent_1",
            ),
            (
                "at_risk_count",
                "type: count\n    filters: [status: \"at_risk\"]\n    drill_fields: [detail*]",
            ),
            (
                "no_data_count",
                "type: count\n    filters: [status: \"no_data\"]\n    drill_fields: [detail*]",
            ),
            (
                "key_results_no_data",
                "type: sum\n    sql: ${krs_no_data} ;;",
            ),
            (
                "key_results_health_at_risk",
                "type: sum\n    sql: ${health_at_risk} ;;",
            ),
            (
                "key_results_health_overdue",
                "type: sum\n    sql: ${health_overdue} ;;",
            ),
        ],
        "quarter_scores" => vec![(
            "average_quarter_score",
            "type: average\n    sql: ${quarter_score} ;;\n    value_format_name: decimal_2",
        )],
        "runs" => vec![
            ("key_results_failed", "type: sum\n    sql: ${krs_failed} ;;"),
            ("key_results_stale", "type: sum\n    sql: ${krs_stale} ;;"),
            (
                "key_results_no_data",
                "type: sum\n    sql: ${krs_no_data} ;;",
            ),
        ],
        _ => Vec::new(),
    }
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

/// The view file of one table.
pub fn view(
    database: &str,
    table: &str,
    partition: &str,
    schema: &Arc<Schema>,
) -> Result<String, AthenaError> {
    let mut out = format!("view: {table} {{\n  sql_table_name: {database}.{table} ;;\n\n");
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
                let format = if ["progress", "expected_progress", "attainment", "score"]
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
/// their counts count key results, objectives and scores, not daily snapshots.
/// `(file stem, LookML)`.
pub fn latest_views(database: &str) -> Vec<(String, String)> {
    super::athena::LATEST
        .iter()
        .map(|(view, table, _)| {
            (
                view.to_string(),
                format!(
                    "view: {view} {{\n  extends: [{table}]\n  sql_table_name: {database}.{view} ;;\n}}\n"
                ),
            )
        })
        .collect()
}

/// An explore's filter to the rows of runs recorded in `runs` (what the Athena views do, see
/// [`super::athena::COMMITTED`]): a run killed half-way through its commit is never shown.
fn committed(view: &str, database: &str) -> String {
    format!("  sql_always_where: ${{{view}.run_id}} IN (SELECT run_id FROM {database}.runs) ;;\n")
}

/// The model file: the connection, the views, and the explores. The first explore, the
/// default, reads each key result's newest snapshot; `kr_snapshots` has the history. Every
/// explore shows only rows of runs recorded in `runs` (the latest views are made so; the
/// tables' explores filter with `sql_always_where`), with no filter for a user to remember.
pub fn model(connection: &str, database: &str) -> String {
    let committed = |view: &str| committed(view, database);
    format!(
        "connection: \"{connection}\"\n\ninclude: \"/**/*.view.lkml\"\n\n\
         explore: kr_latest {{\n  label: \"OKR key results\"\n  description: \"Each key result's newest snapshot, with its objective's newest snapshot\"\n  \
         join: objective_latest {{\n    type: left_outer\n    relationship: many_to_one\n    \
         sql_on: ${{kr_latest.objective_id}} = ${{objective_latest.objective_id}} ;;\n  }}\n}}\n\n\
         explore: kr_snapshots {{\n  label: \"OKR key results, every day\"\n  description: \"Key-result snapshots per run date, with their objective's snapshot of the same run\"\n\
         {}  \
         join: objective_snapshots {{\n    type: left_outer\n    relationship: many_to_one\n    \
         sql_on: ${{kr_snapshots.objective_id}} = ${{objective_snapshots.objective_id}}\n      \
         AND ${{kr_snapshots.as_of_raw}} = ${{objective_snapshots.as_of_raw}}\n      \
         AND ${{kr_snapshots.run_id}} = ${{objective_snapshots.run_id}} ;;\n  }}\n}}\n\n\
         explore: objective_latest {{\n  label: \"OKR objectives\"\n}}\n\n\
         explore: objective_snapshots {{\n  label: \"OKR objectives, every day\"\n{}}}\n\n\
         explore: quarter_scores_latest {{\n  label: \"OKR quarter scores\"\n  description: \"Each period's scores as of its newest run\"\n}}\n\n\
         explore: quarter_scores {{\n  label: \"OKR quarter scores, every day\"\n{}}}\n\n\
         explore: runs {{\n  label: \"okrflow runs\"\n}}\n",
        committed("kr_snapshots"),
        committed("objective_snapshots"),
        committed("quarter_scores"),
    )
}

/// Writes into `out` (made if missing) a view file per table of `tables` (`(name, partition
/// column, schema)`), the views of the latest views, and the model; the files written, in
/// order.
pub(crate) fn write_folder(
    out: &Path,
    database: &str,
    connection: &str,
    tables: &[(String, String, Arc<Schema>)],
) -> Result<Vec<PathBuf>, LookmlError> {
    std::fs::create_dir_all(out).map_err(|source| LookmlError::Create {
        dir: out.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    let mut write = |file: String, text: String| {
        let path = out.join(file);
        std::fs::write(&path, text).map_err(|source| LookmlError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
        Ok::<(), LookmlError>(())
    };
    for (table, partition, schema) in tables {
        write(
            format!("{table}.view.lkml"),
            view(database, table, partition, schema)?,
        )?;
    }
    for (view, text) in latest_views(database) {
        write(format!("{view}.view.lkml"), text)?;
    }
    write("okrflow.model.lkml".into(), model(connection, database))?;
    Ok(written)
}
