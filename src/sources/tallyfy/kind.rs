//! Tallyfy as a source kind: its SQL statements, and how its connection and key results are
//! validated, extracted, previewed and checked.

use super::config::{TallyfyConnection, TallyfySource};
use super::{check, extract_showing, loader, query};
use crate::engine::EngineError;
use crate::engine::registry::Statement;
use crate::model::{Location, Measure, Problem, Resolved, Severity};
use crate::sources::kind::Extracted;
use crate::sources::{ApiOptions, KeyResult, Plan, Preview, SourceKind};
use chrono::NaiveDate;
use std::path::Path;

/// Tallyfy Analytics exports: a key result is one SQL query over them.
pub struct Tallyfy;

impl SourceKind for Tallyfy {
    const NAME: &'static str = "tallyfy";
    /// The Tallyfy views, registered per connection in this order.
    const STATEMENTS: &'static [Statement] = &[
        crate::sql_statement!("tallyfy_file_index", View),
        crate::sql_statement!("tallyfy_file_snapshots", View),
        crate::sql_statement!("tallyfy_snapshots", View),
        crate::sql_statement!("tallyfy_chosen_index", View),
        crate::sql_statement!("tallyfy_kept_snapshots", View),
        crate::sql_statement!("tallyfy_dropped_snapshots", View),
        crate::sql_statement!("tallyfy_snapshots_to_read", View),
        crate::sql_statement!("tallyfy_shared_processes", View),
        crate::sql_statement!("tallyfy_changed_processes", View),
        crate::sql_statement!("tallyfy_latest_read", View),
        crate::sql_statement!("tallyfy_latest", View),
        crate::sql_statement!("tallyfy_processes", View),
        crate::sql_statement!("tallyfy_tasks", View),
        crate::sql_statement!("tallyfy_form_fields", View),
        crate::sql_statement!("tallyfy_comments", View),
        crate::sql_statement!("tallyfy_members_files", View),
        crate::sql_statement!("tallyfy_members", View),
    ];
    type ConnectionConfig = TallyfyConnection;
    type SourceConfig = TallyfySource;
    /// Where the exports are.
    type Connection = Location;
    /// The key result's SQL.
    type Link = String;

    fn connection(
        c: &TallyfyConnection,
        base_dir: &Path,
    ) -> Result<Resolved<Location>, Vec<String>> {
        c.resolve(base_dir)
    }

    fn source_connection(s: &TallyfySource) -> Option<&str> {
        s.connection.as_deref()
    }

    fn link(s: &TallyfySource, _measure: &Measure) -> Result<String, Vec<String>> {
        query::check_sql(&s.sql).map_err(|e| vec![e])?;
        Ok(s.sql.clone())
    }

    async fn extract(
        name: &str,
        location: &Location,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Extracted, EngineError> {
        Ok(
            extract_showing(name, location, krs, api.as_of(), None, api.state.as_ref())
                .await?
                .0
                .into(),
        )
    }

    async fn preview(
        name: &str,
        location: &Location,
        kr: &KeyResult,
        sql: &String,
        _krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Preview, EngineError> {
        let (mut values, rows) =
            extract_showing(name, location, &[kr], api.as_of(), Some(&kr.id), None).await?;
        let value = values
            .pop()
            .map_or_else(|| unreachable!("one value per key result"), |v| v.value);
        Ok(Preview {
            kr_id: kr.id.clone(),
            source: format!("{name}: {}", sql.trim()),
            value,
            rows,
        })
    }

    async fn check_offline(
        name: &str,
        location: &Location,
        plan: &Plan,
        krs: &[&KeyResult],
        as_of: NaiveDate,
    ) -> Result<Vec<Problem>, EngineError> {
        let unplanned = check::plan_queries(krs, as_of).await?;
        // A local folder is listed (no network): with no export its key results are no_data.
        let empty = matches!(location, Location::Local(_))
            && !krs.is_empty()
            && loader::process_files(location).await == Ok(0);
        let empty = empty.then(|| Problem {
            severity: Severity::Warning,
            file: plan.job_path.clone(),
            line: None,
            subject: Some(format!("connection {name}")),
            message: loader::no_exports(location),
        });
        Ok(empty
            .into_iter()
            .chain(krs.iter().filter_map(|k| {
                let message = unplanned.get(&k.id)?;
                Some(Problem {
                    severity: Severity::Error,
                    file: plan.job_path.clone(),
                    line: k.source_line.map(|l| (l, 1)),
                    subject: Some(format!("key result {}", k.id)),
                    message: format!("sql does not plan: {message}"),
                })
            }))
            .collect())
    }

    fn ddl(_name: &str, location: &Location) -> Vec<String> {
        super::athena::ddl(location)
    }

    async fn warn_online(
        name: &str,
        location: &Location,
        krs: &[&KeyResult],
    ) -> Vec<(String, String)> {
        // a local folder is warned of offline already
        let listed = matches!(location, Location::S3(_)) && !krs.is_empty();
        if listed && loader::process_files(location).await == Ok(0) {
            vec![(format!("connection {name}"), loader::no_exports(location))]
        } else {
            Vec::new()
        }
    }

    async fn check_online(
        name: &str,
        location: &Location,
        _krs: &[&KeyResult],
        _api: &ApiOptions,
    ) -> Vec<(String, String)> {
        match loader::check(name, location).await {
            Ok(_) => Vec::new(),
            Err(e) => vec![(format!("connection {name}"), e.to_string())],
        }
    }
}
