//! Looker as a source kind: how its connection and key results are validated, extracted,
//! previewed and checked, over the shared API scaffolding ([`ApiKind`], implemented in
//! [`super::tables`]).

use super::config::{LookerConnection, LookerSource};
use super::fetch::{close, connect, fetch, fetch_open, targets};
use super::{LookerLink, LookerSettings};
use crate::engine::{self, EngineError, registry::Statement};
use crate::model::{Measure, Resolved};
use crate::sources::http::api::{self, ApiKind, api_kind_methods, kr_problem};
use crate::sources::kind::{Extracted, unset_variables};
use crate::sources::registry::link_of;
use crate::sources::{ApiOptions, KeyResult, SourceKind};
use std::path::Path;

/// Looker (API 4.0): a key result is a dashboard tile's or a look's cell.
pub struct Looker;

impl SourceKind for Looker {
    const NAME: &'static str = "looker";
    /// What each key result's selection refers to, the cells it keeps, and the value they
    /// make.
    const STATEMENTS: &'static [Statement] = &[
        crate::sql_statement!("looker_choices", View),
        crate::sql_statement!("looker_selected", View),
        crate::sql_statement!("looker_values", View),
    ];
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

    api_kind_methods!();

    /// One login, each distinct tile or look once; the logout goes on while the values'
    /// SQL runs, as it needs nothing from them.
    async fn extract(
        name: &str,
        settings: &LookerSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Extracted, EngineError> {
        let (fetched, client) = fetch_open(name, settings, krs, api, true).await;
        let ctx = engine::new_session();
        let (values, ()) = tokio::join!(
            <Looker as ApiKind>::values(&ctx, name, krs, &fetched, api.as_of()),
            close(name, client.as_ref(), fetched.len())
        );
        values.map(Into::into)
    }

    /// Logs in and checks every dashboard, tile and look of the key results without running
    /// any query: the connection's problem when it cannot log in, else each key result's
    /// whose target does not resolve.
    async fn check_online(
        name: &str,
        settings: &LookerSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Vec<(String, String)> {
        let client = connect(name, settings, api);
        api::check_online(name, client, async |client| {
            client.login().await?;
            let fetched = fetch(&client, &targets(krs), false).await;
            client.logout().await;
            Ok(krs
                .iter()
                .filter_map(|k| {
                    let error = fetched.get(&link_of::<Looker>(k)?.target)?.as_ref().err()?;
                    Some(kr_problem(name, &k.id, error))
                })
                .collect())
        })
        .await
    }
}
