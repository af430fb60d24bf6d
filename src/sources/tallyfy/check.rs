//! Key results' SQL planned against the Tallyfy views over no exports, so an unknown column,
//! a type error or a result that is not one number is found before any data is read: by
//! `validate`, and by a run before it scans the exports.

use super::query::{self, QueryParams};
use super::views::register_views_once;
use super::{Tallyfy, loader};
use crate::engine::{self, EngineError};
use crate::model::Location;
use crate::sources::KeyResult;
use crate::sources::registry::link_of;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// The key results (of `krs`, Tallyfy ones) whose SQL does not plan, with DataFusion's
/// message. `as_of` binds the parameters; no export is read.
pub(crate) async fn plan_queries(
    krs: &[&KeyResult],
    as_of: NaiveDate,
) -> Result<BTreeMap<String, String>, EngineError> {
    let queries: Vec<(&KeyResult, &str)> = krs
        .iter()
        .filter_map(|k| Some((*k, link_of::<Tallyfy>(k)?.as_str())))
        .collect();
    let mut out = BTreeMap::new();
    if queries.is_empty() {
        return Ok(out);
    }
    let scratch_err = |e: std::io::Error| EngineError::Register {
        table: "tallyfy_latest".into(),
        message: format!("cannot make a scratch folder: {e}"),
    };
    let empty = tempfile::tempdir().map_err(scratch_err)?;
    let ctx = engine::new_session();
    // An empty folder: the raw tables with every export column and no row.
    let loaded = loader::register(&ctx, "schema", &Location::Local(empty.path().to_path_buf()))
        .await
        .map_err(|e| EngineError::Register {
            table: "tallyfy_raw".into(),
            message: e.to_string(),
        })?;
    register_views_once(&ctx, &loaded, as_of, &empty.path().join("_scratch"), None).await?;
    for (k, sql) in queries {
        let params = QueryParams {
            as_of: k.value_date(as_of),
            period_start: k.period.start,
            period_end: k.period.end,
        };
        if let Err(message) = query::check_plan(&ctx, sql, &params).await {
            out.insert(k.id.clone(), message);
        }
    }
    Ok(out)
}
