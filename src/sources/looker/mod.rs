//! Looker (API 4.0): dashboard tiles and looks as key-result values.
//!
//! - [`config`]: the connection and key-result settings of the job file;
//! - [`client`]: login and token, finding dashboards, tiles and looks, running queries;
//! - [`model`]: the API bodies, and `json_detail` flattened into cells.
//!
//! Here: the requests a set of key results needs (a tile or look shared by several key
//! results is fetched once), the input tables `looker_*`, and the SQL in
//! `sql/looker_*.sql` that turns the rows into one value per key result.

pub mod client;
pub mod config;
pub mod kind;
pub mod model;

use crate::engine::tables::{Col, register, text, value_dates};
use crate::engine::{self, EngineError, registry};
use crate::sources::http::{HttpClient, HttpSettings, check_base_url};
use crate::sources::{ApiOptions, KrValue, api_value, is_past, read_computed};
use crate::sources::{KeyResult, KrSource, Link};
use chrono::NaiveDate;
use client::{LookerClient, LookerError};
use config::{Aggregate, Format, LookerConnection, LookerSource};
use datafusion::prelude::SessionContext;
use futures::future::{BoxFuture, FutureExt, Shared, join_all};
use model::{DashboardElement, DashboardFilter, Flattened, JsonDetail, Query, id_text};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

pub use kind::Looker;

/// A validated Looker connection.
#[derive(Debug, Clone, PartialEq)]
pub struct LookerSettings {
    /// The API root, `…/api/4.0` stripped: requests add it.
    pub base_url: Url,
    pub client_id_env: String,
    pub client_secret_env: String,
    pub http: HttpSettings,
    /// A bundled raw archive to answer from instead of the network.
    pub replay: Option<PathBuf>,
}

impl LookerSettings {
    /// Checks a connection from the job file; `base_dir` resolves `replay`.
    pub fn from_config(
        c: &LookerConnection,
        base_dir: &Path,
    ) -> Result<LookerSettings, Vec<String>> {
        let mut problems = Vec::new();
        let base_url = match check_base_url(&c.base_url) {
            Ok(mut u) => {
                let path = u
                    .path()
                    .trim_end_matches('/')
                    .trim_end_matches("/api/4.0")
                    .to_string();
                u.set_path(&path);
                Some(u)
            }
            Err(e) => {
                problems.push(e);
                None
            }
        };
        for (key, var) in [
            ("client_id_env", &c.client_id_env),
            ("client_secret_env", &c.client_secret_env),
        ] {
            if var.trim().is_empty() {
                problems.push(format!("{key} must name an environment variable"));
            }
        }
        let http = HttpSettings::checked(c.timeout_secs, c.concurrency, c.max_retries)
            .map_err(|p| problems.extend(p))
            .ok();
        match (base_url, http) {
            (Some(base_url), Some(http)) if problems.is_empty() => Ok(LookerSettings {
                base_url,
                client_id_env: c.client_id_env.trim().to_string(),
                client_secret_env: c.client_secret_env.trim().to_string(),
                http,
                replay: c.replay.as_ref().map(|r| base_dir.join(r)),
            }),
            _ => Err(problems),
        }
    }
}

/// Which dashboard a tile is on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DashboardRef {
    Title(String),
    Id(String),
}

impl fmt::Display for DashboardRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DashboardRef::Title(t) => write!(f, "dashboard `{t}`"),
            DashboardRef::Id(id) => write!(f, "dashboard {id}"),
        }
    }
}

/// What a key result reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Tile {
        dashboard: DashboardRef,
        tile: String,
    },
    Look(String),
    LookId(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tile { dashboard, tile } => write!(f, "{dashboard} tile `{tile}`"),
            Target::Look(t) => write!(f, "look `{t}`"),
            Target::LookId(id) => write!(f, "look {id}"),
        }
    }
}

/// Which x-axis bucket counts.
#[derive(Debug, Clone, PartialEq)]
pub enum XSelect {
    /// The newest bucket of a time x-axis (every row when there is no x-axis).
    Latest,
    All,
    Value(String),
}

/// Which cells of the result make the value, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub x: XSelect,
    pub measure: Option<String>,
    pub pivot: Option<(String, String)>,
    pub filter: Vec<(String, String)>,
    pub aggregate: Aggregate,
    pub format: Format,
}

/// A key result's link to Looker, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct LookerLink {
    pub target: Target,
    pub selection: Selection,
}

impl LookerLink {
    /// Checks a key result's `source = { looker = {...} }`.
    pub fn from_config(s: &LookerSource) -> Result<LookerLink, Vec<String>> {
        let mut problems = Vec::new();
        let given = |v: &Option<String>| {
            v.as_ref()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let dashboard = match (given(&s.dashboard), given(&s.dashboard_id)) {
            (Some(_), Some(_)) => {
                problems.push("give dashboard or dashboard_id, not both".to_string());
                None
            }
            (Some(t), None) => Some(DashboardRef::Title(t)),
            (None, Some(id)) => Some(DashboardRef::Id(id)),
            (None, None) => None,
        };
        let tile = given(&s.tile);
        let target = match (dashboard, tile, given(&s.look), given(&s.look_id)) {
            (Some(dashboard), Some(tile), None, None) => Some(Target::Tile { dashboard, tile }),
            (Some(_), None, None, None) => {
                problems.push("a dashboard needs a `tile` (its title)".into());
                None
            }
            (None, Some(_), None, None) => {
                problems.push("a `tile` needs its `dashboard` (title) or `dashboard_id`".into());
                None
            }
            (None, None, Some(title), None) => Some(Target::Look(title)),
            (None, None, None, Some(id)) => Some(Target::LookId(id)),
            (None, None, None, None) => {
                problems.push("say what to read: dashboard + tile, look, or look_id".into());
                None
            }
            _ => {
                problems.push("give one of dashboard + tile, look, or look_id".into());
                None
            }
        };
        if s.pivot.len() > 1 {
            problems.push(format!(
                "pivot selects one column; {} are given ({})",
                s.pivot.len(),
                s.pivot.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        let x = match s.x.as_deref().map(str::trim) {
            None | Some("latest") => XSelect::Latest,
            Some("all") => XSelect::All,
            Some("") => {
                problems.push("x is empty: use \"latest\", \"all\" or an x-axis value".into());
                XSelect::Latest
            }
            Some(v) => XSelect::Value(v.to_string()),
        };
        match target {
            Some(target) if problems.is_empty() => Ok(LookerLink {
                target,
                selection: Selection {
                    x,
                    measure: given(&s.measure),
                    pivot: s.pivot.iter().next().map(|(k, v)| (k.clone(), v.clone())),
                    filter: s
                        .filter
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    aggregate: s.aggregate,
                    format: s.format,
                },
            }),
            _ => Err(problems),
        }
    }
}

/// The results fetched for a connection's key results, by target. Key results sharing a
/// target share the result.
pub type Fetched = BTreeMap<Target, Result<Arc<Flattened>, LookerError>>;

/// Opens the client of a connection (no request yet).
pub fn connect(
    name: &str,
    settings: &LookerSettings,
    options: &ApiOptions,
) -> Result<LookerClient, LookerError> {
    let replay = options.replay.as_deref().or(settings.replay.as_deref());
    let http = HttpClient::new(
        name,
        settings.base_url.clone(),
        settings.http.clone(),
        replay,
        options.archive.as_ref(),
    )
    .map_err(|source| LookerError::Request {
        what: "HTTP client".into(),
        source,
    })?
    .with_earlier_archive(options.day_archive.as_ref());
    LookerClient::new(http, &settings.client_id_env, &settings.client_secret_env)
}

/// The Looker link of a key result, if it has one.
pub fn link(kr: &KeyResult) -> Option<&LookerLink> {
    match &kr.source {
        Some(KrSource {
            link: Link::Looker(link),
            ..
        }) => Some(link),
        _ => None,
    }
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
pub async fn fetch(client: &LookerClient, targets: &BTreeSet<Target>, execute: bool) -> Fetched {
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
pub async fn fetch_for(
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
async fn fetch_open(
    name: &str,
    settings: &LookerSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
    execute: bool,
) -> (Fetched, Option<LookerClient>) {
    let targets: BTreeSet<Target> = krs
        .iter()
        .filter_map(|k| link(k))
        .map(|l| l.target.clone())
        .collect();
    match connect(name, settings, options) {
        Err(e) => (
            targets.into_iter().map(|t| (t, Err(e.clone()))).collect(),
            None,
        ),
        Ok(client) => (fetch(&client, &targets, execute).await, Some(client)),
    }
}

/// Logs out and says what was fetched.
async fn close(name: &str, client: Option<&LookerClient>, targets: usize) {
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

/// Extracts the values of one Looker connection's key results.
pub async fn extract(
    name: &str,
    settings: &LookerSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
) -> Result<Vec<KrValue>, EngineError> {
    let (fetched, client) = fetch_open(name, settings, krs, options, true).await;
    let ctx = engine::new_session();
    // The logout needs nothing from the values, so it goes on while their SQL runs.
    let (values, ()) = tokio::join!(
        values(&ctx, name, krs, &fetched, options.as_of()),
        close(name, client.as_ref(), fetched.len())
    );
    values
}

/// Registers the `looker_*` tables for the key results whose result was fetched, runs the
/// Looker SQL, and returns each key result's value or error. The session keeps the tables
/// and views (`looker_selected` shows the cells each value came from).
pub async fn values(
    ctx: &SessionContext,
    connection: &str,
    krs: &[&KeyResult],
    fetched: &Fetched,
    as_of: NaiveDate,
) -> Result<Vec<KrValue>, EngineError> {
    let ok: Vec<(&KeyResult, &LookerLink, &Flattened)> = krs
        .iter()
        .filter_map(|k| {
            let l = link(k)?;
            let f = fetched.get(&l.target)?.as_ref().ok()?;
            Some((*k, l, f.as_ref()))
        })
        .collect();
    let started = std::time::Instant::now();
    register_tables(ctx, &ok, as_of)?;
    for s in registry::LOOKER {
        engine::register_view(ctx, s).await?;
        // Each view computed once: inlined, the later views repeat the earlier ones' plans
        // wherever they refer to them, and planning cost more than running (BENCHMARKS.md).
        engine::materialise(ctx, s, None).await?;
    }
    let computed = read_computed(ctx, "looker_values").await?;
    tracing::debug!(
        connection,
        ms = started.elapsed().as_millis(),
        "Looker values computed"
    );
    Ok(krs
        .iter()
        .filter_map(|k| {
            let l = link(k)?;
            let fetched = fetched
                .get(&l.target)
                .map(|r| r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
            Some(api_value(
                connection,
                &k.id,
                &l.target.to_string(),
                fetched,
                computed.get(&k.id),
            ))
        })
        .collect())
}

/// Registers `looker_selections`, `looker_filters`, `looker_fields`, `looker_rows`,
/// `looker_dimensions` and `looker_pivots` (one copy of a shared result per key result).
fn register_tables(
    ctx: &SessionContext,
    krs: &[(&KeyResult, &LookerLink, &Flattened)],
    as_of: NaiveDate,
) -> Result<(), EngineError> {
    let s = |f: &dyn Fn(&Selection) -> Option<String>| {
        text(krs.iter().map(|(_, l, _)| f(&l.selection)))
    };
    register(
        ctx,
        "looker_selections",
        vec![
            (
                "kr_id",
                text(krs.iter().map(|(k, _, _)| Some(k.id.clone()))),
            ),
            (
                "x_mode",
                s(&|s| {
                    Some(match s.x {
                        XSelect::Latest => "latest".into(),
                        XSelect::All => "all".into(),
                        XSelect::Value(_) => "value".into(),
                    })
                }),
            ),
            (
                "x_value",
                s(&|s| match &s.x {
                    XSelect::Value(v) => Some(v.clone()),
                    _ => None,
                }),
            ),
            ("measure", s(&|s| s.measure.clone())),
            ("pivot_field", s(&|s| s.pivot.as_ref().map(|p| p.0.clone()))),
            ("pivot_value", s(&|s| s.pivot.as_ref().map(|p| p.1.clone()))),
            ("aggregate", s(&|s| Some(s.aggregate.as_str().into()))),
            ("format", s(&|s| Some(s.format.as_str().into()))),
            // the day the value is as of: the evaluation date less any closing-period offset
            (
                "eval_date",
                value_dates(krs.iter().map(|(k, _, _)| *k), as_of),
            ),
            (
                // Fetched after the run date (live, or archived by a later run): only a time
                // x-axis can say what that day was.
                "reconstructed",
                Col::Bool(
                    krs.iter()
                        .map(|(_, _, r)| {
                            Some(r.fetched_on.map_or(is_past(as_of), |day| day > as_of))
                        })
                        .collect(),
                ),
            ),
        ],
    )?;

    let filters: Vec<(&str, &(String, String))> = krs
        .iter()
        .flat_map(|(k, l, _)| l.selection.filter.iter().map(|f| (k.id.as_str(), f)))
        .collect();
    register(
        ctx,
        "looker_filters",
        vec![
            (
                "kr_id",
                text(filters.iter().map(|(k, _)| Some(k.to_string()))),
            ),
            (
                "field",
                text(filters.iter().map(|(_, f)| Some(f.0.clone()))),
            ),
            (
                "value",
                text(filters.iter().map(|(_, f)| Some(f.1.clone()))),
            ),
        ],
    )?;

    let fields: Vec<(&str, usize, &model::FieldInfo)> = krs
        .iter()
        .flat_map(|(k, _, r)| {
            r.fields
                .iter()
                .enumerate()
                .map(|(i, f)| (k.id.as_str(), i, f))
        })
        .collect();
    register(
        ctx,
        "looker_fields",
        vec![
            (
                "kr_id",
                text(fields.iter().map(|(k, _, _)| Some(k.to_string()))),
            ),
            (
                "field",
                text(fields.iter().map(|(_, _, f)| Some(f.name.clone()))),
            ),
            (
                "role",
                text(fields.iter().map(|(_, _, f)| Some(f.role.as_str().into()))),
            ),
            (
                "is_time",
                Col::Bool(fields.iter().map(|(_, _, f)| Some(f.is_time)).collect()),
            ),
            (
                "position",
                Col::Int(fields.iter().map(|(_, i, _)| Some(*i as i64)).collect()),
            ),
        ],
    )?;

    let cells: Vec<(&str, &model::Cell)> = krs
        .iter()
        .flat_map(|(k, _, r)| r.cells.iter().map(|c| (k.id.as_str(), c)))
        .collect();
    register(
        ctx,
        "looker_rows",
        vec![
            (
                "kr_id",
                text(cells.iter().map(|(k, _)| Some(k.to_string()))),
            ),
            (
                "row_index",
                Col::Int(cells.iter().map(|(_, c)| Some(c.row as i64)).collect()),
            ),
            (
                "measure",
                text(cells.iter().map(|(_, c)| Some(c.measure.clone()))),
            ),
            (
                "pivot_key",
                text(cells.iter().map(|(_, c)| c.pivot_key.clone())),
            ),
            (
                "value",
                Col::Float(cells.iter().map(|(_, c)| c.value).collect()),
            ),
            ("cell", text(cells.iter().map(|(_, c)| c.text.clone()))),
        ],
    )?;

    let dims: Vec<(&str, &(usize, String, Option<String>))> = krs
        .iter()
        .flat_map(|(k, _, r)| r.dimensions.iter().map(|d| (k.id.as_str(), d)))
        .collect();
    register(
        ctx,
        "looker_dimensions",
        vec![
            ("kr_id", text(dims.iter().map(|(k, _)| Some(k.to_string())))),
            (
                "row_index",
                Col::Int(dims.iter().map(|(_, d)| Some(d.0 as i64)).collect()),
            ),
            ("field", text(dims.iter().map(|(_, d)| Some(d.1.clone())))),
            ("value", text(dims.iter().map(|(_, d)| d.2.clone()))),
        ],
    )?;

    let pivots: Vec<(&str, &(String, String, String))> = krs
        .iter()
        .flat_map(|(k, _, r)| r.pivots.iter().map(|p| (k.id.as_str(), p)))
        .collect();
    register(
        ctx,
        "looker_pivots",
        vec![
            (
                "kr_id",
                text(pivots.iter().map(|(k, _)| Some(k.to_string()))),
            ),
            (
                "pivot_key",
                text(pivots.iter().map(|(_, p)| Some(p.0.clone()))),
            ),
            ("field", text(pivots.iter().map(|(_, p)| Some(p.1.clone())))),
            ("value", text(pivots.iter().map(|(_, p)| Some(p.2.clone())))),
        ],
    )
}

/// Logs in and checks every dashboard, tile and look of one connection's key results
/// without running any query. Returns `(subject, problem)` pairs: the connection when it
/// cannot log in, else each key result whose target does not resolve.
pub async fn check_online(
    name: &str,
    settings: &LookerSettings,
    krs: &[&KeyResult],
    options: &ApiOptions,
) -> Vec<(String, String)> {
    let subject = format!("connection {name}");
    let client = match connect(name, settings, options) {
        Ok(c) => c,
        Err(e) => return vec![(subject, e.to_string())],
    };
    if let Err(e) = client.login().await {
        return vec![(subject, e.to_string())];
    }
    let targets: BTreeSet<Target> = krs
        .iter()
        .filter_map(|k| link(k))
        .map(|l| l.target.clone())
        .collect();
    let fetched = fetch(&client, &targets, false).await;
    client.logout().await;
    krs.iter()
        .filter_map(|k| {
            let l = link(k)?;
            match fetched.get(&l.target) {
                Some(Err(e)) => Some((
                    format!("key result {}", k.id),
                    format!("connection `{name}`: {e}"),
                )),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn source(toml_text: &str) -> LookerSource {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn a_link_names_exactly_one_thing_to_read() {
        let ok = LookerLink::from_config(&source(
            "dashboard = 'Sales'\ntile = 'Demos'\nx = 'all'\naggregate = 'sum'\npivot = { 'users.team' = 'EMEA' }",
        ))
        .unwrap();
        assert_eq!(
            ok.target,
            Target::Tile {
                dashboard: DashboardRef::Title("Sales".into()),
                tile: "Demos".into()
            }
        );
        assert_eq!(ok.selection.x, XSelect::All);
        assert_eq!(
            ok.selection.pivot,
            Some(("users.team".into(), "EMEA".into()))
        );
        assert_eq!(
            LookerLink::from_config(&source("look_id = '42'"))
                .unwrap()
                .target,
            Target::LookId("42".into())
        );
        assert_eq!(
            LookerLink::from_config(&source("look = 'Weekly'"))
                .unwrap()
                .selection
                .x,
            XSelect::Latest
        );

        let err = |t: &str| LookerLink::from_config(&source(t)).unwrap_err().join("; ");
        assert_eq!(
            err("dashboard = 'Sales'"),
            "a dashboard needs a `tile` (its title)"
        );
        assert_eq!(
            err("tile = 'Demos'"),
            "a `tile` needs its `dashboard` (title) or `dashboard_id`"
        );
        assert_eq!(
            err("look = 'a'\nlook_id = '1'"),
            "give one of dashboard + tile, look, or look_id"
        );
        assert_eq!(
            err(""),
            "say what to read: dashboard + tile, look, or look_id"
        );
        assert_eq!(
            err("look = 'a'\npivot = { a = '1', b = '2' }"),
            "pivot selects one column; 2 are given (a, b)"
        );
    }

    #[test]
    fn connection_settings_check_url_and_limits() {
        let c: LookerConnection = toml::from_str(
            "base_url = 'https://acme.cloud.looker.com/api/4.0/'\nclient_id_env = 'A'\nclient_secret_env = 'B'",
        )
        .unwrap();
        let s = LookerSettings::from_config(&c, Path::new("jobs")).unwrap();
        assert_eq!(s.base_url.as_str(), "https://acme.cloud.looker.com/");
        assert_eq!(s.http.timeout, Duration::from_secs(40));
        assert_eq!(s.http.concurrency, 4);
        let c: LookerConnection = toml::from_str(
            "base_url = 'http://acme.cloud.looker.com'\nclient_id_env = ''\nclient_secret_env = 'B'\ntimeout_secs = 0",
        )
        .unwrap();
        let e = LookerSettings::from_config(&c, Path::new("jobs")).unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
    }
}
