//! What a connection's key results need from Looker: one login, each dashboard and look
//! title resolved once, each distinct run (a tile or look shared by several key results, or
//! the same query behind two tiles) run once, then logout.

use super::client::{LookerClient, LookerError};
use super::link::{DashboardRef, Target};
use super::model::{DashboardElement, DashboardFilter, Flattened, JsonDetail, Query, id_text};
use super::{Looker, LookerSettings};
use crate::sources::http::api;
use crate::sources::registry::link_of;
use crate::sources::{ApiOptions, KeyResult};
use futures::future::{BoxFuture, FutureExt, Shared, join_all};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The results fetched for a connection's key results, by target. Key results sharing a
/// target share the result.
pub type Fetched = BTreeMap<Target, Result<Arc<Flattened>, LookerError>>;

/// Opens the client of a connection (no request yet). A past run date's archive answers
/// first: a Looker result archived that day is the value of that day.
pub(crate) fn connect(
    name: &str,
    settings: &LookerSettings,
    options: &ApiOptions,
) -> Result<LookerClient, LookerError> {
    let http = api::open(name, settings, options, true).map_err(|source| LookerError::Request {
        what: "HTTP client".into(),
        source,
    })?;
    LookerClient::new(http, &settings.client_id_env, &settings.client_secret_env)
}

/// The targets of the key results that read Looker.
pub(crate) fn targets(krs: &[&KeyResult]) -> BTreeSet<Target> {
    krs.iter()
        .filter_map(|k| link_of::<Looker>(k))
        .map(|l| l.target.clone())
        .collect()
}

/// A resolved dashboard: its id, tiles and (when a tile listens to them) filters.
struct DashboardInfo {
    id: String,
    elements: Vec<DashboardElement>,
    filters: Vec<DashboardFilter>,
}

/// The run a target needs. Targets resolving to the same run share it.
#[derive(Debug, Clone)]
enum Run {
    Query(String),
    /// A saved query re-run inline with the dashboard filters the tile listens to.
    Inline {
        query: Query,
        filters: Vec<(String, String)>,
    },
    Look(String),
}

impl Run {
    fn key(&self) -> String {
        match self {
            Run::Query(id) => format!("query {id}"),
            Run::Inline { query, filters } => {
                format!(
                    "inline {} {filters:?}",
                    serde_json::Value::Object(query.0.clone())
                )
            }
            Run::Look(id) => format!("look {id}"),
        }
    }
}

/// Resolves dashboards and look titles, and every target to its run. With `execute`, runs
/// each distinct run once and flattens its result; without, only checks that each target
/// resolves (`validate --online`). Each dashboard and look title is resolved once, and a
/// tile's run starts as soon as its dashboard is resolved, not after every dashboard is.
pub(crate) async fn fetch(
    client: &LookerClient,
    targets: &BTreeSet<Target>,
    execute: bool,
) -> Fetched {
    type SharedResult<'a, T> = Shared<BoxFuture<'a, Result<T, LookerError>>>;
    let tiles_wanted = |d: &DashboardRef| -> BTreeSet<String> {
        targets
            .iter()
            .filter_map(|t| match t {
                Target::Tile { dashboard, tile } if dashboard == d => Some(tile.clone()),
                _ => None,
            })
            .collect()
    };
    let mut dashboards: BTreeMap<&DashboardRef, SharedResult<'_, Arc<DashboardInfo>>> =
        BTreeMap::new();
    let mut looks: BTreeMap<&String, SharedResult<'_, String>> = BTreeMap::new();
    for t in targets {
        match t {
            Target::Tile { dashboard, .. } => {
                dashboards.entry(dashboard).or_insert_with(|| {
                    let tiles = tiles_wanted(dashboard);
                    async move {
                        resolve_dashboard(client, dashboard, &tiles)
                            .await
                            .map(Arc::new)
                    }
                    .boxed()
                    .shared()
                });
            }
            Target::Look(title) => {
                looks
                    .entry(title)
                    .or_insert_with(|| client.find_look(title).boxed().shared());
            }
            Target::LookId(_) => {}
        }
    }
    // Targets resolving to the same run share it: the first to get there starts it.
    let runs: std::sync::Mutex<BTreeMap<String, SharedResult<'_, Arc<Flattened>>>> =
        std::sync::Mutex::new(BTreeMap::new());
    let (dashboards, looks, runs) = (&dashboards, &looks, &runs);
    join_all(targets.iter().map(|t| async move {
        let what = t.to_string();
        let run = match t {
            Target::Tile { dashboard, tile } => match dashboards[dashboard].clone().await {
                Ok(info) => resolve_tile(client, &info, tile, &what).await,
                Err(e) => Err(e),
            },
            Target::Look(title) => looks[title].clone().await.map(Run::Look),
            Target::LookId(id) if execute => Ok(Run::Look(id.clone())),
            Target::LookId(id) => client.look(id).await.map(|_| Run::Look(id.clone())),
        };
        let result = match run {
            Err(e) => Err(e),
            Ok(_) if !execute => Ok(Arc::new(Flattened::default())),
            Ok(run) => {
                let shared = runs
                    .lock()
                    .expect("not poisoned")
                    .entry(run.key())
                    .or_insert_with(|| {
                        async move {
                            let detail = match &run {
                                Run::Query(id) => client.run_query(id, &what).await,
                                Run::Inline { query, filters } => {
                                    client.run_inline(query, filters, &what).await
                                }
                                Run::Look(id) => client.run_look(id, &what).await,
                            };
                            detail.map(|d: JsonDetail| Arc::new(d.flatten()))
                        }
                        .boxed()
                        .shared()
                    })
                    .clone();
                shared.await
            }
        };
        (t.clone(), result)
    }))
    .await
    .into_iter()
    .collect()
}

async fn resolve_dashboard(
    client: &LookerClient,
    dashboard: &DashboardRef,
    tiles: &BTreeSet<String>,
) -> Result<DashboardInfo, LookerError> {
    let what = dashboard.to_string();
    let id = match dashboard {
        DashboardRef::Title(title) => client.find_dashboard(title).await?,
        DashboardRef::Id(id) => id.clone(),
    };
    let elements = client.dashboard_elements(&id, &what).await?;
    let listens = elements
        .iter()
        .filter(|e| e.shown_title().is_some_and(|t| tiles.contains(t)))
        .any(|e| !listens(e).is_empty());
    let filters = if listens {
        client.dashboard_filters(&id, &what).await?
    } else {
        Vec::new()
    };
    Ok(DashboardInfo {
        id,
        elements,
        filters,
    })
}

/// The `(dashboard filter, field)` pairs a tile listens to.
fn listens(e: &DashboardElement) -> Vec<(String, String)> {
    e.result_maker
        .iter()
        .flat_map(|r| r.filterables.iter().flatten())
        .flat_map(|f| f.listen.iter().flatten())
        .map(|l| (l.dashboard_filter_name.clone(), l.field.clone()))
        .collect()
}

/// Finds the tile titled `tile` and what to run for it, refusing tiles without a query.
async fn resolve_tile(
    client: &LookerClient,
    info: &DashboardInfo,
    tile: &str,
    what: &str,
) -> Result<Run, LookerError> {
    let matching: Vec<&DashboardElement> = info
        .elements
        .iter()
        .filter(|e| e.shown_title() == Some(tile))
        .collect();
    let element = match matching.as_slice() {
        [one] => *one,
        [] => {
            return Err(LookerError::NotFound {
                what: what.into(),
                candidates: info
                    .elements
                    .iter()
                    .filter_map(|e| e.shown_title().map(|t| format!("`{t}`")))
                    .collect(),
            });
        }
        many => {
            return Err(LookerError::Ambiguous {
                what: what.into(),
                candidates: many
                    .iter()
                    .map(|e| {
                        format!(
                            "`{tile}` (element {})",
                            e.id.as_ref().and_then(id_text).unwrap_or_default()
                        )
                    })
                    .collect(),
            });
        }
    };
    let unsupported = |why: &str| LookerError::Unsupported {
        what: what.into(),
        why: why.into(),
    };
    let maker = element.result_maker.as_ref();
    if element.merge_result_id.as_ref().and_then(id_text).is_some()
        || maker
            .and_then(|m| m.merge_result_id.as_ref())
            .and_then(id_text)
            .is_some()
    {
        return Err(unsupported(
            "is a merged-results tile, which has no single query; point the key result at one of its source looks instead",
        ));
    }
    if maker
        .and_then(|m| m.sql_query_id.as_ref())
        .and_then(id_text)
        .is_some()
    {
        return Err(unsupported(
            "is a SQL Runner tile, which the API cannot run as a query; save it as a look over an explore instead",
        ));
    }
    let query_id = element
        .query_id
        .as_ref()
        .and_then(id_text)
        .or_else(|| maker.and_then(|m| m.query_id.as_ref()).and_then(id_text))
        .or_else(|| {
            element
                .look
                .as_ref()
                .and_then(|l| l.query_id.as_ref())
                .and_then(id_text)
        });
    let Some(query_id) = query_id else {
        return Err(unsupported(if element.kind.as_deref() == Some("text") {
            "is a text tile; it has no numbers"
        } else {
            "has no query to run"
        }));
    };
    let filters: Vec<(String, String)> = listens(element)
        .into_iter()
        .filter_map(|(name, field)| {
            let value = info
                .filters
                .iter()
                .find(|f| f.name == name)?
                .default_value
                .clone()
                .filter(|v| !v.is_empty())?;
            Some((field, value))
        })
        .collect();
    if filters.is_empty() {
        return Ok(Run::Query(query_id));
    }
    let embedded = element
        .query
        .clone()
        .or_else(|| maker.and_then(|m| m.query.clone()));
    let query = match embedded {
        Some(q) if q.0.contains_key("model") && q.0.contains_key("view") => q,
        _ => client.query(&query_id, what).await?,
    };
    tracing::debug!(tile = what, dashboard = %info.id, ?filters, "tile listens to dashboard filters");
    Ok(Run::Inline { query, filters })
}

/// Fetches what the key results of one connection need: one login, each distinct tile or
/// look once, logout. A connection that cannot be opened fails every target with that error.
pub(crate) async fn fetch_for(
    name: &str,
    settings: &LookerSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
    execute: bool,
) -> Fetched {
    let (fetched, client) = fetch_open(name, settings, krs, options, execute).await;
    close(name, client.as_ref(), fetched.len()).await;
    fetched
}

/// [`fetch_for`] without the logout: the client, still logged in, for [`close`].
pub(crate) async fn fetch_open(
    name: &str,
    settings: &LookerSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
    execute: bool,
) -> (Fetched, Option<LookerClient>) {
    let targets = targets(krs);
    match connect(name, settings, options) {
        Err(e) => (
            targets.into_iter().map(|t| (t, Err(e.clone()))).collect(),
            None,
        ),
        Ok(client) => (fetch(&client, &targets, execute).await, Some(client)),
    }
}

/// Logs out and says what was fetched.
pub(crate) async fn close(name: &str, client: Option<&LookerClient>, targets: usize) {
    let Some(client) = client else { return };
    client.logout().await;
    tracing::info!(
        connection = name,
        targets,
        requests = client.http().requests_sent(),
        replay = client.http().is_replay(),
        "Looker results fetched"
    );
}
