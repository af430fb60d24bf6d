//! Check-ins as a source kind: how the connection and its key results are validated,
//! extracted, previewed and checked.

use super::config::{CheckinsConnection, CheckinsSource};
use super::read::{self, Read};
use crate::engine::registry::Statement;
use crate::engine::{self, EngineError, date32};
use crate::model::{Location, Measure, Problem, Resolved, Severity};
use crate::sources::kind::Extracted;
use crate::sources::{ApiOptions, KeyResult, KrValue, Plan, Preview, SourceKind};
use chrono::NaiveDate;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{SessionContext, col, lit};
use datafusion::scalar::ScalarValue;
use std::collections::BTreeMap;
use std::path::Path;

/// Check-in CSV files: owners' values and health.
pub struct Checkins;

impl SourceKind for Checkins {
    const NAME: &'static str = "checkins";
    const STATEMENTS: &'static [Statement] = super::STATEMENTS;
    const READ_WITHOUT_KEY_RESULTS: bool = true;
    type ConnectionConfig = CheckinsConnection;
    type SourceConfig = CheckinsSource;
    /// Where the files are.
    type Connection = Location;
    type Link = ();

    fn connection(
        c: &CheckinsConnection,
        base_dir: &Path,
    ) -> Result<Resolved<Location>, Vec<String>> {
        c.resolve(base_dir)
    }

    fn source_connection(s: &CheckinsSource) -> Option<&str> {
        s.connection.as_deref()
    }

    fn link(_s: &CheckinsSource, _measure: &Measure) -> Result<(), Vec<String>> {
        Ok(())
    }

    async fn extract(
        name: &str,
        location: &Location,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Extracted, EngineError> {
        let read = match read::read(name, location, api).await {
            Ok(read) => read,
            Err(e) => {
                tracing::error!(connection = name, error = %e, "check-ins unreadable");
                return Ok(Extracted {
                    values: krs
                        .iter()
                        .map(|k| KrValue {
                            kr_id: k.id.clone(),
                            value: Err(e.clone()),
                        })
                        .collect(),
                    ..Extracted::default()
                });
            }
        };
        for w in &read.warnings {
            tracing::warn!(connection = name, "{w}");
        }
        tracing::info!(
            connection = name,
            files = read.files.len(),
            rows = read.rows.len(),
            "check-ins read"
        );
        let values = super::values(name, &read.rows, krs, api.as_of()).await?;
        Ok(Extracted {
            values,
            inputs: [(super::TABLE, vec![super::rows_batch(&read.rows)?])].into(),
            ..Extracted::default()
        })
    }

    /// `checkins` (every connection's rows), `checkin_selections` and `checkin_errors`: every
    /// key result takes its health from them, and a bad row fails its key result whatever
    /// its source.
    async fn register_scoring_inputs(
        ctx: &SessionContext,
        inputs: &BTreeMap<&'static str, Vec<RecordBatch>>,
        plan: &Plan,
        as_of: NaiveDate,
    ) -> Result<(), EngineError> {
        let batches = inputs.get(super::TABLE).map_or(&[][..], Vec::as_slice);
        super::warn_of_rows(plan, batches);
        let krs: Vec<&KeyResult> = plan.key_results.iter().collect();
        super::register(ctx, batches, &krs, as_of).await
    }

    async fn preview(
        name: &str,
        location: &Location,
        kr: &KeyResult,
        _link: &(),
        _krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Preview, EngineError> {
        let (value, rows) = match read::read(name, location, api).await {
            Err(e) => (Err(e), None),
            Ok(read) => {
                let value = super::values(name, &read.rows, &[kr], api.as_of())
                    .await?
                    .pop()
                    .map_or_else(|| unreachable!("one value per key result"), |v| v.value);
                (
                    value,
                    considered(&read, &kr.id, kr.value_date(api.as_of())).await,
                )
            }
        };
        Ok(Preview {
            kr_id: kr.id.clone(),
            source: format!("{name}: check-ins in {location}"),
            value,
            rows,
        })
    }

    async fn check_offline(
        name: &str,
        location: &Location,
        plan: &Plan,
        _krs: &[&KeyResult],
        _as_of: NaiveDate,
    ) -> Result<Vec<Problem>, EngineError> {
        if matches!(location, Location::S3(_)) {
            return Ok(Vec::new()); // read by validate --online
        }
        let problem = |severity, message: String| Problem {
            severity,
            file: plan.job_path.clone(),
            line: None,
            subject: Some(format!("connection {name}")),
            message,
        };
        let read = match read::read(name, location, &ApiOptions::default()).await {
            Ok(read) => read,
            Err(e) => return Ok(vec![problem(Severity::Error, e.to_string())]),
        };
        Ok(read
            .rows
            .iter()
            .filter_map(|r| r.problem.clone())
            .map(|p| problem(Severity::Error, p))
            .chain(
                read.warnings
                    .iter()
                    .cloned()
                    .chain(super::unknown_key_results(
                        plan,
                        read.rows
                            .iter()
                            .map(|r| (r.file.as_str(), r.line, r.kr_id.as_str())),
                    ))
                    .map(|w| problem(Severity::Warning, w)),
            )
            .collect())
    }

    /// An S3 folder's files, read and parsed (a local one is read without `--online`).
    async fn check_online(
        name: &str,
        location: &Location,
        _krs: &[&KeyResult],
        _api: &ApiOptions,
    ) -> Vec<(String, String)> {
        if matches!(location, Location::Local(_)) {
            return Vec::new(); // read by validate without --online
        }
        let subject = format!("connection {name}");
        match read::read(name, location, &ApiOptions::default()).await {
            Err(e) => vec![(subject, e.to_string())],
            Ok(read) => read
                .rows
                .iter()
                .filter_map(|r| Some((subject.clone(), r.problem.clone()?)))
                .collect(),
        }
    }
}

/// The check-ins of `kr_id` dated on or before `day`, oldest first, as a table.
async fn considered(read: &Read, kr_id: &str, day: NaiveDate) -> Option<String> {
    let ctx = engine::new_session();
    let batch = super::rows_batch(&read.rows).ok()?;
    super::register(&ctx, &[batch], &[], day).await.ok()?;
    let df = ctx
        .table("checkins")
        .await
        .ok()?
        .filter(
            col("kr_id")
                .eq(lit(kr_id))
                .and(col("checked_on").lt_eq(lit(ScalarValue::Date32(Some(date32(day)))))),
        )
        .ok()?
        .select_columns(&[
            "checked_on",
            "value",
            "health",
            "score",
            "author",
            "note",
            "file",
            "line",
        ])
        .ok()?;
    crate::sources::kind::shown(df).await
}
