//! A connection's extraction: its key results' SQL checked, the exports registered once,
//! the views built per evaluation date, and the queries run a few at a time.

use super::query::{self, QueryParams};
use super::state::StateDir;
use super::views::register_views;
use super::{Tallyfy, check, loader, preview};
use crate::engine::{self, EngineError};
use crate::model::Location;
use crate::sources::registry::link_of;
use crate::sources::{KeyResult, KrValue, Measured, SourceError};
use crate::storage::Opened;
use chrono::NaiveDate;
use futures::StreamExt;
use std::collections::BTreeMap;

/// Extracts the values of the key results of one Tallyfy connection. They share one session;
/// a connection that cannot be read fails each of them with that error. Views are registered
/// once per evaluation date (dates differ only between periods). For the key result `show`
/// (`preview`), also the rows its query aggregated, read from the same views while they
/// exist: the exports are scanned once.
///
/// With `output`, the connection's state is read from and saved under it
/// (`_okrflow/state/tallyfy/<connection>/`, [`super::state`]): unchanged export files are not read
/// again for what they told an earlier run.
pub async fn extract_showing(
    connection: &str,
    location: &Location,
    krs: &[&KeyResult],
    as_of: NaiveDate,
    show: Option<&str>,
    output: Option<&Opened>,
) -> Result<(Vec<KrValue>, Option<String>), EngineError> {
    let mut shown = None;
    // SQL that does not plan fails its key result before any export is read.
    let mut values = Vec::new();
    // The check needs a scratch folder too; when it cannot run, the queries still fail on
    // their own below, each with its key result.
    let unplanned = check::plan_queries(krs, as_of).await.unwrap_or_else(|e| {
        tracing::warn!(connection, error = %e, "Tallyfy SQL not checked before reading the exports");
        BTreeMap::new()
    });
    for (id, message) in &unplanned {
        let k = krs
            .iter()
            .find(|k| &k.id == id)
            .expect("a key result of the list");
        let e = SourceError::Plan {
            kr_id: id.clone(),
            line: k.source_line.unwrap_or(0),
            message: message.clone(),
        };
        tracing::warn!(kr = %id, error = %e, "key result failed");
        values.push(KrValue {
            kr_id: id.clone(),
            value: Err(e),
        });
    }
    let krs: Vec<&KeyResult> = krs
        .iter()
        .filter(|k| !unplanned.contains_key(&k.id))
        .copied()
        .collect();
    if krs.is_empty() {
        return Ok((values, shown));
    }
    let ctx = engine::new_session();
    let loaded = match loader::register(&ctx, connection, location).await {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::error!(connection, error = %e, "Tallyfy exports unreadable");
            values.extend(krs.iter().map(|k| KrValue {
                kr_id: k.id.clone(),
                value: Err(e.clone()),
            }));
            return Ok((values, shown));
        }
    };
    if loaded.processes.is_empty() {
        let note = loader::no_exports(location);
        tracing::warn!(connection, note = %note, "no Tallyfy export files");
        values.extend(krs.iter().map(|k| KrValue {
            kr_id: k.id.clone(),
            value: Ok(Measured::NoData(note.clone())),
        }));
        return Ok((values, shown));
    }
    let mut by_date: BTreeMap<NaiveDate, Vec<&KeyResult>> = BTreeMap::new();
    for k in krs {
        by_date.entry(k.value_date(as_of)).or_default().push(k);
    }
    // Without a state (an unwritable output, or none) every export is read, as on a first run.
    let scratch_state = tempfile::tempdir();
    let mut state = match &scratch_state {
        Ok(dir) => StateDir::open(output, connection, dir.path())
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("cannot make a scratch folder: {e}")),
    };
    for (day, krs) in by_date {
        let queries: Vec<(&KeyResult, &str, QueryParams)> = krs
            .iter()
            .filter_map(|k| {
                let sql = link_of::<Tallyfy>(k)?;
                let params = QueryParams {
                    as_of: day,
                    period_start: k.period.start,
                    period_end: k.period.end,
                };
                Some((*k, sql.as_str(), params))
            })
            .collect();
        let planned: Vec<(&str, QueryParams)> = queries
            .iter()
            .map(|(_, sql, params)| (*sql, *params))
            .collect();
        // The views of the day could not be built (the scratch folder is full or unwritable):
        // the day's key results fail with that, the others go on.
        let scratch = tempfile::tempdir();
        let built = match (&scratch, &mut state) {
            (Ok(dir), Ok(state)) => {
                let mut built =
                    register_views(&ctx, &loaded, day, dir.path(), Some(&planned), state)
                        .await
                        .map_err(|e| e.to_string());
                // What the state holds could not be read: once more, reading every export.
                if let Err(e) = &built
                    && !state.is_empty()
                {
                    state.forget(e);
                    let again = dir.path().join("again");
                    built = register_views(&ctx, &loaded, day, &again, Some(&planned), state)
                        .await
                        .map_err(|e| e.to_string());
                }
                built
            }
            (Err(e), _) => Err(format!("cannot make a scratch folder: {e}")),
            (_, Err(e)) => Err(e.clone()),
        };
        if let Err(message) = built {
            let e = SourceError::Unreadable {
                connection: connection.to_string(),
                location: location.to_string(),
                message: format!("the views of {day}: {}", engine::limits::explain(&message)),
            };
            tracing::error!(connection, error = %e, "Tallyfy views could not be built");
            values.extend(krs.iter().map(|k| KrValue {
                kr_id: k.id.clone(),
                value: Err(e.clone()),
            }));
            continue;
        }
        let showing = queries
            .iter()
            .find(|(k, _, _)| Some(k.id.as_str()) == show)
            .map(|(k, sql, params)| (k.id.clone(), *sql, *params));
        // A few queries at a time: while one is planned (one thread), another reads.
        let ctx = &ctx;
        let runs = queries
            .into_iter()
            .map(|(k, sql, params)| async move { (k, query::run(ctx, &k.id, sql, &params).await) });
        let mut runs = futures::stream::iter(runs).buffered(QUERY_CONCURRENCY);
        while let Some((k, value)) = runs.next().await {
            match &value {
                Ok(Measured::Value(v)) => tracing::info!(kr = %k.id, value = v, "key result value"),
                Ok(Measured::NoData(note)) => {
                    tracing::info!(kr = %k.id, note = %note, "key result has no data yet")
                }
                Ok(Measured::Traced { .. }) => unreachable!("Tallyfy values are not traced"),
                Err(e) => tracing::warn!(kr = %k.id, error = %e, "key result failed"),
            }
            values.push(KrValue {
                kr_id: k.id.clone(),
                value,
            });
        }
        if let Some((id, sql, params)) = showing
            && values.iter().any(|v| v.kr_id == id && v.value.is_ok())
        {
            shown = preview::aggregated_rows(ctx, sql, &params).await;
        }
    }
    if let Ok(state) = &state
        && let Err(e) = state.save().await
    {
        tracing::warn!(connection, state = %state.display(), error = %e, "Tallyfy state not saved: the next run reads more");
    }
    Ok((values, shown))
}

/// How many key results' queries run at once on one evaluation date.
const QUERY_CONCURRENCY: usize = 4;
