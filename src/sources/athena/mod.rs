//! Athena as a source: a key result's SQL runs where the data lives (Athena, Trino
//! underneath) and one number comes back. Identical queries with identical parameters run
//! once; `max_concurrency` run at a time. Answers are archived in `raw/` like API responses,
//! so `recompute`, `--replay` and lineage work; each query's scanned bytes are logged and
//! summed into `runs.athena_bytes_scanned`. The queries running are tracked (`in_flight`), so
//! that a stopped run stops them in Athena too.

mod check;
pub mod config;
mod in_flight;
mod kind;
pub mod params;
pub(crate) mod preview;

pub(crate) use check::check_items;
pub use check::check_online;
pub use kind::Athena;
pub(crate) use kind::BYTES_SCANNED;

use crate::athena_client::{Answer, Client, QueryError, QuerySettings};
use crate::model::job::S3Options;
use crate::sources::http::replay_root;
use crate::sources::{ApiOptions, Cause, KeyResult, KrValue, Measured, SourceError};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A validated Athena connection: where and how its queries run, and how many at once.
#[derive(Debug, Clone, PartialEq)]
pub struct AthenaSettings {
    /// Workgroup, database, catalog, results, credentials, timeouts and retries.
    pub query: QuerySettings,
    pub max_concurrency: usize,
    pub replay: Option<PathBuf>,
}

impl AthenaSettings {
    /// Checks a connection from the job file; `base_dir` resolves `replay`.
    pub fn from_config(c: &config::AthenaConnection, base_dir: &Path) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        if c.database.trim().is_empty() {
            problems.push("database is empty".to_string());
        }
        if let Some(o) = &c.output
            && !o.starts_with("s3://")
        {
            problems.push(format!("output `{o}` must be an s3:// location"));
        }
        let timeout = c.timeout_secs.unwrap_or(300.0);
        if !(timeout > 0.0 && timeout.is_finite()) {
            problems.push(format!("timeout_secs must be above 0, not {timeout}"));
        }
        let max_concurrency = c.max_concurrency.unwrap_or(4);
        if !(1..=64).contains(&max_concurrency) {
            problems.push(format!(
                "max_concurrency must be 1 to 64, not {max_concurrency}"
            ));
        }
        if let Some(m) = c.reuse_results_minutes
            && !(1..=10_080).contains(&m)
        {
            problems.push(format!(
                "reuse_results_minutes must be 1 to 10080 (a week), not {m}"
            ));
        }
        let aws = S3Options {
            profile: c.profile.clone(),
            region: c.region.clone(),
            access_key_id_env: c.access_key_id_env.clone(),
            secret_access_key_env: c.secret_access_key_env.clone(),
        };
        if let Err(e) = aws.check_keys() {
            problems.push(e);
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(AthenaSettings {
            query: QuerySettings {
                workgroup: c.workgroup.clone().unwrap_or_else(|| "primary".into()),
                database: c.database.trim().to_string(),
                catalog: c.catalog.clone().unwrap_or_else(|| "AwsDataCatalog".into()),
                output: c.output.clone(),
                aws,
                timeout: Duration::from_secs_f64(timeout),
                reuse_results_minutes: c.reuse_results_minutes,
                first_poll: Duration::from_millis(200),
                max_attempts: 5,
                initial_backoff: Duration::from_secs(1),
            },
            max_concurrency,
            replay: c.replay.as_ref().map(|r| base_dir.join(r)),
        })
    }
}

/// What a key result runs in Athena.
#[derive(Debug, Clone, PartialEq)]
pub struct AthenaLink {
    pub prepared: params::Prepared,
}

fn link(kr: &KeyResult) -> &AthenaLink {
    crate::sources::registry::link_of::<Athena>(kr)
        .expect("only Athena key results are given to the Athena source")
}

/// One query to run: its text, its parameters, and the key results it answers.
struct Query<'a> {
    sql: String,
    parameters: Vec<String>,
    krs: Vec<&'a KeyResult>,
}

/// A key result and the statement that computes it: an Athena key result's own, or a
/// Tallyfy key result's with the snapshot rule inlined.
pub(crate) type Item<'a> = (&'a KeyResult, &'a params::Prepared);

/// The Athena key results of `krs` with their statements.
fn items<'a>(krs: &[&'a KeyResult]) -> Vec<Item<'a>> {
    krs.iter().map(|k| (*k, &link(k).prepared)).collect()
}

/// The queries of `items` as of `as_of`: identical text and parameters once.
fn queries<'a>(items: &[Item<'a>], as_of: chrono::NaiveDate) -> Vec<Query<'a>> {
    let mut by: BTreeMap<(String, Vec<String>), Vec<&'a KeyResult>> = BTreeMap::new();
    for (k, prepared) in items {
        let parameters = params::literals(
            &prepared.parameters,
            k.value_date(as_of),
            k.period.start,
            k.period.end,
        );
        by.entry((prepared.sql.clone(), parameters))
            .or_default()
            .push(k);
    }
    by.into_iter()
        .map(|((sql, parameters), krs)| Query {
            sql,
            parameters,
            krs,
        })
        .collect()
}

/// An archived answer: the query as sent and what came back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Archived {
    connection: String,
    sql: String,
    parameters: Vec<String>,
    fetched_at: chrono::DateTime<chrono::Utc>,
    answer: Answer,
}

/// The archive file of a query: `athena-<first 16 hex of SHA-256 of text and parameters>.json`.
fn file_name(sql: &str, parameters: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(sql.as_bytes());
    for p in parameters {
        h.update(b"\n");
        h.update(p.as_bytes());
    }
    let hex: String = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("athena-{hex}.json")
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Athena,
    Archive,
}

/// The answer to one query: from the replay archive, else that day's archive, else Athena.
/// Whichever it came from, it is archived with the run (`api.archive`), so a recompute of the
/// date finds it.
async fn answer(
    asking: &Asking<'_>,
    sql: &str,
    parameters: &[String],
) -> Result<(Answer, Origin), String> {
    let file = file_name(sql, parameters);
    let (record, origin) = fetch(asking, sql, parameters, &file).await?;
    if let Some(archive) = &asking.api.archive {
        let text = serde_json::to_string_pretty(&record).expect("answers serialise");
        archive.child(asking.name).put(&file, text).await?;
    }
    Ok((record.answer, origin))
}

/// Who asks: the connection (its name and settings), its client (none when it replays) and
/// the run's options.
struct Asking<'a> {
    name: &'a str,
    settings: &'a AthenaSettings,
    client: Option<&'a Client>,
    api: &'a ApiOptions,
}

async fn fetch(
    asking: &Asking<'_>,
    sql: &str,
    parameters: &[String],
    file: &str,
) -> Result<(Archived, Origin), String> {
    let Asking {
        name,
        settings,
        client,
        api,
    } = *asking;
    let parse = |text: &str, at: &dyn std::fmt::Display| {
        serde_json::from_str::<Archived>(text)
            .map_err(|e| format!("{at} is not an archived Athena answer: {e}"))
    };
    if let Some(dir) = api.replay.as_deref().or(settings.replay.as_deref()) {
        let path = replay_root(dir, api.as_of()).join(name).join(file);
        let text = std::fs::read_to_string(&path).map_err(|_| {
            format!(
                "the query is not in the replay archive ({})",
                path.display()
            )
        })?;
        return Ok((parse(&text, &path.display())?, Origin::Archive));
    }
    if let Some(day) = &api.day_archive
        && let Some(text) = day.child(name).get(file).await?
    {
        return Ok((parse(&text, &day.prefix)?, Origin::Archive));
    }
    let client = client.ok_or("no Athena client")?;
    let answer = in_flight::run(name, client, sql, parameters)
        .await
        .map_err(|e: QueryError| e.to_string())?;
    tracing::info!(
        connection = name,
        query_id = %answer.query_id,
        bytes_scanned = answer.bytes_scanned,
        engine_ms = answer.engine_ms,
        reused = answer.reused,
        "Athena query succeeded"
    );
    let record = Archived {
        connection: name.to_string(),
        sql: sql.to_string(),
        parameters: parameters.to_vec(),
        fetched_at: chrono::Utc::now(),
        answer,
    };
    Ok((record, Origin::Athena))
}

/// The value an answer is: one row of one numeric column. NULL or no row is nothing to
/// measure yet; more rows, more columns or text are the key result's error.
pub fn value_of(answer: &Answer) -> Result<Measured, String> {
    let id = &answer.query_id;
    let row = match answer.rows.as_slice() {
        [] => {
            return Ok(Measured::NoData(format!(
                "Athena query {id} returned no row"
            )));
        }
        [row] => row,
        rows => {
            return Err(format!(
                "Athena query {id} returned {} rows, not one number",
                rows.len()
            ));
        }
    };
    let [cell] = row.as_slice() else {
        return Err(format!(
            "Athena query {id} returned {} columns, not one number",
            row.len()
        ));
    };
    let (column, ty) = answer.columns.first().cloned().unwrap_or_default();
    const NUMERIC: [&str; 8] = [
        "tinyint", "smallint", "integer", "int", "bigint", "real", "double", "decimal",
    ];
    if !NUMERIC.iter().any(|n| {
        ty.eq_ignore_ascii_case(n) || ty.to_ascii_lowercase().starts_with(&format!("{n}("))
    }) {
        return Err(format!(
            "Athena query {id} returned a {ty} (`{column}`), not a number"
        ));
    }
    let Some(text) = cell else {
        return Ok(Measured::NoData(format!(
            "Athena query {id}: `{column}` is NULL"
        )));
    };
    let value: f64 = text
        .parse()
        .map_err(|_| format!("Athena query {id}: `{text}` is not a number"))?;
    // 0 ÷ 0 over no rows, as for a Tallyfy key result: nothing to measure yet
    if value.is_nan() {
        return Ok(Measured::NoData(format!(
            "Athena query {id}: `{column}` is NaN"
        )));
    }
    if value.is_infinite() {
        return Err(format!(
            "Athena query {id}: `{column}` is {text}, not a finite number"
        ));
    }
    Ok(Measured::Traced {
        value,
        source: format!(
            "Athena query {id}: {} bytes scanned{}",
            answer.bytes_scanned,
            if answer.reused {
                " (reused result)"
            } else {
                ""
            }
        ),
    })
}

/// The client a connection's queries need: none when it answers from a replay archive (its
/// own `replay`, or `run --replay`).
async fn client_for(settings: &AthenaSettings, api: &ApiOptions) -> Result<Option<Client>, String> {
    if api.replay.is_some() || settings.replay.is_some() {
        return Ok(None);
    }
    Client::new(&settings.query)
        .await
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Athena's (Trino's) error names of a query that cannot work as written: it does not parse
/// or does not plan against the catalog. A query that failed with one of them fails again
/// tomorrow.
const PLAN_ERRORS: [&str; 9] = [
    "SYNTAX_ERROR",
    "COLUMN_NOT_FOUND",
    "TABLE_NOT_FOUND",
    "SCHEMA_NOT_FOUND",
    "CATALOG_NOT_FOUND",
    "FUNCTION_NOT_FOUND",
    "TYPE_MISMATCH",
    "AMBIGUOUS_NAME",
    "INVALID_FUNCTION_ARGUMENT",
];

/// Whether a failed query's `message` says its SQL does not plan (a configuration error) or
/// that Athena failed today.
pub(crate) fn cause_of(message: &str) -> Cause {
    let failed = message
        .split(" FAILED: ")
        .nth(1)
        .is_some_and(|reason| PLAN_ERRORS.iter().any(|e| reason.starts_with(e)));
    if failed {
        Cause::Configuration
    } else {
        Cause::Today
    }
}

/// One value per key result of `krs`, and the bytes the queries run scanned.
pub async fn extract(
    name: &str,
    settings: &AthenaSettings,
    krs: &[&KeyResult],
    api: &ApiOptions,
) -> (Vec<KrValue>, i64) {
    extract_items(name, settings, &items(krs), &[], api).await
}

/// Statements a caller's queries need first, each run once per process and connection
/// (`CREATE EXTERNAL TABLE IF NOT EXISTS`): never from an archive, which has no client.
static SET_UP: tokio::sync::Mutex<std::collections::BTreeSet<(String, String)>> =
    tokio::sync::Mutex::const_new(std::collections::BTreeSet::new());

/// Runs `setup` in connection `name` unless this process did already.
async fn set_up(name: &str, client: &Client, setup: &[String]) -> Result<(), String> {
    let mut done = SET_UP.lock().await;
    for sql in setup {
        let key = (name.to_string(), sql.clone());
        if done.contains(&key) {
            continue;
        }
        let head = sql.lines().next().unwrap_or_default();
        client
            .run(sql, &[])
            .await
            .map_err(|e| format!("`{head}`: {e}"))?;
        tracing::info!(
            connection = name,
            statement = head,
            "Athena statement succeeded"
        );
        done.insert(key);
    }
    Ok(())
}

/// The client a connection's queries need (none when it replays), with `setup` run; or why
/// not, and whether that is the job's configuration (a client that cannot be made).
async fn ready(
    name: &str,
    settings: &AthenaSettings,
    setup: &[String],
    api: &ApiOptions,
) -> Result<Option<Client>, (String, Cause)> {
    let client = client_for(settings, api)
        .await
        .map_err(|e| (e, Cause::Configuration))?;
    if let Some(c) = &client {
        set_up(name, c, setup).await.map_err(|e| {
            let cause = cause_of(&e);
            (e, cause)
        })?;
    }
    Ok(client)
}

/// One value per key result of `items`, each computed by its statement in connection `name`
/// after `setup`, and the bytes the queries run scanned.
pub(crate) async fn extract_items(
    name: &str,
    settings: &AthenaSettings,
    items: &[Item<'_>],
    setup: &[String],
    api: &ApiOptions,
) -> (Vec<KrValue>, i64) {
    let queries = queries(items, api.as_of());
    let client = match ready(name, settings, setup, api).await {
        Ok(c) => c,
        Err((message, cause)) => {
            // An endpoint or access key variable the client cannot be made with, or a table
            // the queries need that could not be made.
            let values = items
                .iter()
                .map(|(k, _)| KrValue {
                    kr_id: k.id.clone(),
                    value: Err(SourceError::Api {
                        connection: name.to_string(),
                        message: message.clone(),
                    }
                    .with_cause(cause)),
                })
                .collect();
            return (values, 0);
        }
    };
    let replayed = client.is_none();
    // The connection's slots are shared with the other dates of a backfill.
    let slots = api.slots.of(name, settings.max_concurrency);
    let answers: Vec<_> = futures::stream::iter(queries)
        .map(|q| {
            let asking = Asking {
                name,
                settings,
                client: client.as_ref(),
                api,
            };
            let slots = slots.clone();
            async move {
                let _slot = slots.acquire_owned().await.expect("never closed");
                let got = answer(&asking, &q.sql, &q.parameters).await;
                (q.krs, got)
            }
        })
        .buffer_unordered(settings.max_concurrency)
        .collect()
        .await;
    let mut bytes = 0;
    let mut values = Vec::new();
    for (krs, got) in answers {
        if let Ok((a, Origin::Athena)) = &got {
            bytes += a.bytes_scanned;
        }
        for k in krs {
            let value = match &got {
                Ok((a, _)) => value_of(a),
                Err(e) => Err(e.clone()),
            }
            .map_err(|message| {
                let cause = cause_of(&message);
                SourceError::Query {
                    kr_id: k.id.clone(),
                    message: format!("connection `{name}`: {message}"),
                }
                .with_cause(cause)
            });
            values.push(KrValue {
                kr_id: k.id.clone(),
                value,
            });
        }
    }
    tracing::info!(
        connection = name,
        key_results = items.len(),
        bytes_scanned = bytes,
        replay = replayed,
        "Athena results fetched"
    );
    (values, bytes)
}

/// Stops connection `name`'s queries still running in Athena (`StopQueryExecution`).
pub(crate) async fn cancel(name: &str) {
    let stopped = in_flight::stop_all(name).await;
    tracing::debug!(
        connection = name,
        queries = stopped.len(),
        "Athena queries stopped"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(ty: &str, rows: Vec<Vec<Option<&str>>>) -> Answer {
        Answer {
            query_id: "q-1".into(),
            columns: vec![("_col0".into(), ty.into())],
            rows: rows
                .into_iter()
                .map(|r| r.into_iter().map(|c| c.map(String::from)).collect())
                .collect(),
            bytes_scanned: 42,
            engine_ms: 7,
            reused: false,
        }
    }

    #[test]
    fn one_numeric_cell_is_the_value() {
        let v = value_of(&answer("bigint", vec![vec![Some("12")]])).unwrap();
        assert_eq!(v.number(), Some(12.0));
        assert_eq!(v.note(), Some("Athena query q-1: 42 bytes scanned"));
        let d = value_of(&answer("decimal(10,2)", vec![vec![Some("3.25")]])).unwrap();
        assert_eq!(d.number(), Some(3.25));
        for (a, note) in [
            (
                answer("double", vec![vec![None]]),
                "Athena query q-1: `_col0` is NULL",
            ),
            (answer("bigint", vec![]), "Athena query q-1 returned no row"),
        ] {
            assert_eq!(value_of(&a).unwrap(), Measured::NoData(note.into()));
        }
        for (a, error) in [
            (
                answer("bigint", vec![vec![Some("1")], vec![Some("2")]]),
                "returned 2 rows, not one number",
            ),
            (
                answer("varchar", vec![vec![Some("x")]]),
                "returned a varchar (`_col0`), not a number",
            ),
            (
                answer("bigint", vec![vec![Some("1"), Some("2")]]),
                "returned 2 columns, not one number",
            ),
            (
                answer("double", vec![vec![Some("Infinity")]]),
                "`_col0` is Infinity, not a finite number",
            ),
            (
                answer("double", vec![vec![Some("-Infinity")]]),
                "`_col0` is -Infinity, not a finite number",
            ),
        ] {
            let e = value_of(&a).unwrap_err();
            assert!(e.ends_with(error), "{e}");
        }
    }

    #[test]
    fn a_connection_is_checked_at_once() {
        let c: config::AthenaConnection = toml::from_str(
            "database = ' '\noutput = 'https://x'\ntimeout_secs = 0\nmax_concurrency = 0\n\
             reuse_results_minutes = 20000\naccess_key_id_env = 'K'",
        )
        .unwrap();
        let problems = AthenaSettings::from_config(&c, Path::new(".")).unwrap_err();
        assert_eq!(problems.len(), 6, "{problems:#?}");
        let c: config::AthenaConnection = toml::from_str("database = 'tallyfy_acme'").unwrap();
        let s = AthenaSettings::from_config(&c, Path::new(".")).unwrap();
        assert_eq!(
            (
                s.query.workgroup.as_str(),
                s.query.catalog.as_str(),
                s.query.timeout,
                s.max_concurrency
            ),
            ("primary", "AwsDataCatalog", Duration::from_secs(300), 4)
        );
    }
}
