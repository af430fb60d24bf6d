//! The input tables `looker_*` over the fetched results, and the Looker SQL
//! (`sql/looker_*.sql`, [`Looker::STATEMENTS`](super::Looker)) that turns their rows into one
//! value per key result: Looker's [`ApiKind`].

use super::fetch::{Fetched, fetch_for};
use super::link::{LookerLink, Selection, XSelect};
use super::model::{self, Flattened};
use super::{Looker, LookerSettings};
use crate::engine::tables::{Col, register, text, value_dates};
use crate::engine::{self, EngineError};
use crate::sources::http::api::{self, ApiKind};
use crate::sources::kind::rows_of;
use crate::sources::registry::link_of;
use crate::sources::{ApiOptions, KeyResult, KrValue, SourceKind, is_past, read_computed};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;

impl ApiKind for Looker {
    type Fetched = Fetched;

    /// One login, each distinct tile or look run once, logout.
    async fn fetch(
        name: &str,
        settings: &LookerSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Fetched {
        fetch_for(name, settings, krs, api, true).await
    }

    /// Registers the `looker_*` tables for the key results whose result was fetched, runs
    /// the Looker SQL, and returns each key result's value or error. The session keeps the
    /// tables and views (`looker_selected` shows the cells each value came from).
    async fn values(
        ctx: &SessionContext,
        connection: &str,
        krs: &[&KeyResult],
        fetched: &Fetched,
        as_of: NaiveDate,
    ) -> Result<Vec<KrValue>, EngineError> {
        let ok: Vec<(&KeyResult, &LookerLink, &Flattened)> = krs
            .iter()
            .filter_map(|k| {
                let l = link_of::<Looker>(k)?;
                let f = fetched.get(&l.target)?.as_ref().ok()?;
                Some((*k, l, f.as_ref()))
            })
            .collect();
        let started = std::time::Instant::now();
        register_tables(ctx, &ok, as_of)?;
        for s in Looker::STATEMENTS {
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
        Ok(api::values_of::<Looker, _, _>(
            connection,
            krs,
            &computed,
            |_, l| (l.target.to_string(), fetched.get(&l.target)),
        ))
    }

    /// The cells the value came from.
    async fn rows(
        ctx: &SessionContext,
        kr: &KeyResult,
        _link: &LookerLink,
        _fetched: &Fetched,
    ) -> Option<String> {
        let columns = ["x", "measure", "pivot_key", "value", "cell"];
        rows_of(ctx, "looker_selected", &kr.id, &columns).await
    }

    fn source(name: &str, link: &LookerLink) -> String {
        format!("{name}: {}", link.target)
    }
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
