//! Looker as a source kind: how its connection and key results are validated, extracted,
//! previewed and checked.

use super::config::{LookerConnection, LookerSource};
use super::{LookerLink, LookerSettings, fetch_for, values};
use crate::engine::{self, EngineError};
use crate::model::{Measure, Resolved};
use crate::sources::kind::Extracted;
use crate::sources::kind::{rows_of, unset_variables};
use crate::sources::{ApiOptions, KeyResult, Preview, SourceKind};
use std::path::Path;

/// Looker (API 4.0): a key result is a dashboard tile's or a look's cell.
pub struct Looker;

impl SourceKind for Looker {
    const NAME: &'static str = "looker";
    type ConnectionConfig = LookerConnection;
    type SourceConfig = LookerSource;
    type Connection = LookerSettings;
    type Link = LookerLink;

    fn connection(
        c: &LookerConnection,
        base_dir: &Path,
    ) -> Result<Resolved<LookerSettings>, Vec<String>> {
        let settings = LookerSettings::from_config(c, base_dir)?;
        let warnings = match &settings.replay {
            Some(dir) if !dir.is_dir() => {
                vec![format!("replay folder {} does not exist", dir.display())]
            }
            Some(_) => Vec::new(),
            None => unset_variables(&[&settings.client_id_env, &settings.client_secret_env]),
        };
        Ok(Resolved {
            value: settings,
            warnings,
        })
    }

    fn source_connection(s: &LookerSource) -> Option<&str> {
        s.connection.as_deref()
    }

    fn link(s: &LookerSource, _measure: &Measure) -> Result<LookerLink, Vec<String>> {
        LookerLink::from_config(s)
    }

    fn replayed(settings: &LookerSettings, replay_given: bool) -> bool {
        replay_given || settings.replay.is_some()
    }

    async fn extract(
        name: &str,
        settings: &LookerSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Extracted, EngineError> {
        super::extract(name, settings, krs, api)
            .await
            .map(Into::into)
    }

    async fn preview(
        name: &str,
        settings: &LookerSettings,
        kr: &KeyResult,
        link: &LookerLink,
        api: &ApiOptions,
    ) -> Result<Preview, EngineError> {
        let fetched = fetch_for(name, settings, &[kr], api, true).await;
        let ctx = engine::new_session();
        let value = values(&ctx, name, &[kr], &fetched, api.as_of())
            .await?
            .pop()
            .map_or_else(|| unreachable!("one value per key result"), |v| v.value);
        let rows = rows_of(
            &ctx,
            "looker_selected",
            &kr.id,
            &["x", "measure", "pivot_key", "value", "cell"],
        )
        .await;
        Ok(Preview {
            kr_id: kr.id.clone(),
            source: format!("{name}: {}", link.target),
            value,
            rows,
        })
    }

    async fn check_online(
        name: &str,
        settings: &LookerSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Vec<(String, String)> {
        super::check_online(name, settings, krs, api).await
    }
}
