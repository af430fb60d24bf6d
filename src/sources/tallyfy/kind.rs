//! Tallyfy as a source kind: its SQL statements, and how its connection and key results are
//! validated, extracted, previewed and checked.

use super::config::{Engine, EngineConfig, Exports, TallyfyConnection, TallyfySource};
use super::{check, extract_showing, in_athena, loader, query};
use crate::engine::EngineError;
use crate::engine::registry::Statement;
use crate::model::{Location, Measure, Problem, Resolved, Severity};
use crate::sources::athena::{self, AthenaSettings, BYTES_SCANNED};
use crate::sources::kind::Extracted;
use crate::sources::{ApiOptions, Connection, KeyResult, KrValue, Plan, Preview, SourceKind};
use chrono::NaiveDate;
use std::collections::BTreeMap;
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
    /// Where the exports are, and which engine computes the key results.
    type Connection = Exports;
    /// The key result's SQL.
    type Link = String;

    fn connection(
        c: &TallyfyConnection,
        base_dir: &Path,
    ) -> Result<Resolved<Exports>, Vec<String>> {
        let resolved = c.folder().resolve(base_dir)?;
        let engine = match &c.engine {
            None => Engine::Local,
            Some(EngineConfig::Athena(name)) => {
                if !matches!(resolved.value, Location::S3(_)) {
                    return Err(vec![format!(
                        "engine = {{ athena = \"{name}\" }} computes where the exports live: \
                         url must be an s3:// location Athena reads, not a local folder"
                    )]);
                }
                Engine::Athena {
                    connection: name.clone(),
                    settings: None,
                }
            }
        };
        Ok(Resolved {
            value: Exports {
                location: resolved.value,
                engine,
            },
            warnings: resolved.warnings,
        })
    }

    fn bind(exports: &mut Exports, all: &BTreeMap<String, Connection>) -> Result<(), String> {
        let Engine::Athena {
            connection,
            settings,
        } = &mut exports.engine
        else {
            return Ok(());
        };
        match all.get(connection.as_str()) {
            Some(Connection::Athena(s)) => {
                *settings = Some(Box::new(s.clone()));
                Ok(())
            }
            Some(other) => Err(format!(
                "engine names connection `{connection}`, a {} connection: it must be an \
                 Athena one (kind = \"athena\")",
                other.kind()
            )),
            None => Err(format!(
                "engine names connection `{connection}`, which the job does not have (or \
                 which is not valid)"
            )),
        }
    }

    fn source_connection(s: &TallyfySource) -> Option<&str> {
        s.connection.as_deref()
    }

    fn link(s: &TallyfySource, _measure: &Measure) -> Result<String, Vec<String>> {
        query::check_sql(&s.sql).map_err(|e| vec![e])?;
        Ok(s.sql.clone())
    }

    /// A connection computing in Athena answers from its Athena connection's archive when
    /// that one does.
    fn replayed(exports: &Exports, replay_given: bool) -> bool {
        in_athena_of(exports).is_some_and(|(_, s)| replay_given || s.replay.is_some())
    }

    async fn extract(
        name: &str,
        exports: &Exports,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Extracted, EngineError> {
        let Some((lake, settings)) = in_athena_of(exports) else {
            let location = &exports.location;
            return Ok(
                extract_showing(name, location, krs, api.as_of(), None, api.state.as_ref())
                    .await?
                    .0
                    .into(),
            );
        };
        let (items, setup, mut values) = in_athena::statements(exports, krs);
        let items: Vec<athena::Item> = items.iter().map(|(k, p)| (*k, p)).collect();
        let (computed, bytes) = athena::extract_items(lake, settings, &items, &setup, api).await;
        values.extend(computed);
        tracing::info!(
            connection = name,
            athena = lake,
            bytes_scanned = bytes,
            "Tallyfy key results computed in Athena"
        );
        Ok(Extracted {
            values,
            metrics: [(BYTES_SCANNED.name, bytes)].into(),
            ..Extracted::default()
        })
    }

    async fn preview(
        name: &str,
        exports: &Exports,
        kr: &KeyResult,
        sql: &String,
        _krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Preview, EngineError> {
        let source = format!("{name}: {}", sql.trim());
        let Some((lake, settings)) = in_athena_of(exports) else {
            let (values, rows) = extract_showing(
                name,
                &exports.location,
                &[kr],
                api.as_of(),
                Some(&kr.id),
                None,
            )
            .await?;
            return Ok(alone(kr, source, values, rows));
        };
        let (items, setup, failed) = in_athena::statements(exports, &[kr]);
        let Some((_, prepared)) = items.first() else {
            return Ok(alone(kr, source, failed, None));
        };
        let shown = format!(
            "{}\n-- sent inside the views it reads, as CTEs: the snapshot rule as of the day",
            sql.trim()
        );
        let mut preview =
            athena::preview::preview(lake, settings, (kr, prepared), &setup, Some(&shown), api)
                .await;
        preview.source = format!("{name} in Athena connection {lake}: {}", sql.trim());
        Ok(preview)
    }

    async fn check_offline(
        name: &str,
        exports: &Exports,
        plan: &Plan,
        krs: &[&KeyResult],
        as_of: NaiveDate,
    ) -> Result<Vec<Problem>, EngineError> {
        let location = &exports.location;
        let mut unplanned = check::plan_queries(krs, as_of).await?;
        // What Athena's engine lacks, for the key results that plan here.
        if in_athena_of(exports).is_some() {
            let (_, _, failed) = in_athena::statements(exports, krs);
            for v in failed {
                if let Err(crate::sources::SourceError::Plan { message, .. }) = v.value {
                    unplanned.entry(v.kr_id).or_insert(message);
                }
            }
        }
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
                let message = if message.starts_with("for the Athena engine") {
                    message.clone()
                } else {
                    format!("sql does not plan: {message}")
                };
                Some(Problem {
                    severity: Severity::Error,
                    file: plan.job_path.clone(),
                    line: k.source_line.map(|l| (l, 1)),
                    subject: Some(format!("key result {}", k.id)),
                    message,
                })
            }))
            .collect())
    }

    fn ddl(_name: &str, exports: &Exports) -> Vec<String> {
        super::athena::ddl(&exports.location)
    }

    /// Stops the queries of a connection computing in Athena.
    async fn cancel(_name: &str, exports: &Exports) {
        if let Some((lake, _)) = in_athena_of(exports) {
            athena::cancel(lake).await;
        }
    }

    async fn warn_online(
        name: &str,
        exports: &Exports,
        krs: &[&KeyResult],
    ) -> Vec<(String, String)> {
        let location = &exports.location;
        // a local folder is warned of offline already
        let listed = matches!(location, Location::S3(_)) && !krs.is_empty();
        let mut warnings = Vec::new();
        if listed && loader::process_files(location).await == Ok(0) {
            warnings.push((format!("connection {name}"), loader::no_exports(location)));
        }
        // Athena reads every file under its table's folder as Parquet.
        if listed
            && in_athena_of(exports).is_some()
            && let Ok(others) = loader::not_parquet(location).await
            && let Some(first) = others.first()
        {
            warnings.push((
                format!("connection {name}"),
                format!(
                    "{} file(s) under {location} are not Parquet (first: {first}): Athena reads \
                     every file of the folder as Parquet, so its queries would fail; give the \
                     connection a folder of the Parquet exports only",
                    others.len()
                ),
            ));
        }
        warnings
    }

    async fn check_online(
        name: &str,
        exports: &Exports,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Vec<(String, String)> {
        let mut problems = match loader::check(name, &exports.location).await {
            Ok(_) => Vec::new(),
            Err(e) => vec![(format!("connection {name}"), e.to_string())],
        };
        // Each key result planned by Athena (EXPLAIN), after okrflow's tables are made.
        if let Some((lake, settings)) = in_athena_of(exports) {
            let (items, setup, _) = in_athena::statements(exports, krs);
            let items: Vec<athena::Item> = items.iter().map(|(k, p)| (*k, p)).collect();
            problems.extend(athena::check_items(lake, settings, &items, &setup, api).await);
        }
        problems
    }
}

/// The preview of `kr` from its one value (and the rows it came from).
fn alone(
    kr: &KeyResult,
    source: String,
    mut values: Vec<KrValue>,
    rows: Option<String>,
) -> Preview {
    let value = values
        .pop()
        .map_or_else(|| unreachable!("one value per key result"), |v| v.value);
    Preview {
        kr_id: kr.id.clone(),
        source,
        value,
        rows,
    }
}

/// The Athena connection computing a connection's key results: its name and settings;
/// `None` on okrflow's own engine.
fn in_athena_of(exports: &Exports) -> Option<(&str, &AthenaSettings)> {
    match &exports.engine {
        Engine::Athena {
            connection,
            settings: Some(settings),
        } => Some((connection, settings)),
        Engine::Athena { settings: None, .. } => {
            unreachable!("a job's connections are linked when it is loaded")
        }
        Engine::Local => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job with a Tallyfy connection of `tallyfy` (its lines) and an Athena one, `lake`.
    fn parsed(tallyfy: &str) -> Result<Plan, String> {
        let text = format!(
            "[job]\nname = \"t\"\n\n[output]\nurl = \"out\"\n\n\
             [connections.tallyfy]\nkind = \"tallyfy\"\n{tallyfy}\n\n\
             [connections.lake]\nkind = \"athena\"\ndatabase = \"okr\"\n\n\
             [connections.files]\nkind = \"checkins\"\nurl = \"checkins\"\n"
        );
        crate::sources::registry::parse(Path::new("job.toml"), &text).map_err(|e| e.to_string())
    }

    #[test]
    fn an_athena_engine_is_linked_when_the_job_loads_or_refused_by_name() {
        let plan = parsed("url = \"s3://tallyfy-org/analytics/\"\nengine = { athena = \"lake\" }")
            .unwrap();
        let Some(Connection::Tallyfy(exports)) = plan.connections.get("tallyfy") else {
            panic!("a Tallyfy connection");
        };
        let (lake, settings) = in_athena_of(exports).unwrap();
        assert_eq!((lake, settings.query.database.as_str()), ("lake", "okr"));
        for (lines, said) in [
            (
                "url = \"exports\"\nengine = { athena = \"lake\" }",
                "url must be an s3:// location Athena reads, not a local folder",
            ),
            (
                "url = \"s3://t/a/\"\nengine = { athena = \"files\" }",
                "engine names connection `files`, a checkins connection",
            ),
            (
                "url = \"s3://t/a/\"\nengine = { athena = \"lak\" }",
                "engine names connection `lak`, which the job does not have",
            ),
            (
                "url = \"s3://t/a/\"\nengine = { duckdb = \"x\" }",
                "unknown variant `duckdb`",
            ),
        ] {
            let e = parsed(lines).unwrap_err();
            assert!(e.contains(said), "{lines}: {e}");
        }
    }
}
