//! Jira as a source kind: how its connection and key results are validated, extracted,
//! previewed and checked, over the shared API scaffolding ([`ApiKind`], implemented in
//! [`super::tables`]).

use super::config::{JiraConnection, JiraSource};
use super::fetch::fetch_for;
use super::{JiraLink, JiraSettings};
use crate::engine::{self, EngineError, registry::Statement};
use crate::model::{Measure, Resolved};
use crate::sources::http::api::{ApiKind, api_kind_methods};
use crate::sources::kind::{Extracted, unset_variables};
use crate::sources::{ApiOptions, KeyResult, SourceKind};
use std::path::Path;

/// Jira (Cloud or Data Center): a key result is a JQL query's issues, counted or summed.
pub struct Jira;

impl SourceKind for Jira {
    const NAME: &'static str = "jira";
    /// One value per key result from its issues or counts.
    const STATEMENTS: &'static [Statement] = &[
        crate::sql_statement!("jira_counted", View),
        crate::sql_statement!("jira_values", View),
    ];
    type ConnectionConfig = JiraConnection;
    type SourceConfig = JiraSource;
    type Connection = JiraSettings;
    type Link = JiraLink;

    fn connection(
        c: &JiraConnection,
        base_dir: &Path,
    ) -> Result<Resolved<JiraSettings>, Vec<String>> {
        let settings = JiraSettings::from_config(c, base_dir)?;
        let warnings = match settings.replay {
            None => unset_variables(&settings.variables()),
            Some(_) => Vec::new(),
        };
        Ok(Resolved {
            value: settings,
            warnings,
        })
    }

    fn source_connection(s: &JiraSource) -> Option<&str> {
        s.connection.as_deref()
    }

    fn link(s: &JiraSource, measure: &Measure) -> Result<JiraLink, Vec<String>> {
        JiraLink::from_config(s, measure)
    }

    api_kind_methods!();

    async fn extract(
        name: &str,
        settings: &JiraSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Extracted, EngineError> {
        let fetched = fetch_for(name, settings, krs, api).await;
        let ctx = engine::new_session();
        let values = <Jira as ApiKind>::values(&ctx, name, krs, &fetched, api.as_of()).await;
        values.map(Into::into)
    }

    async fn check_online(
        name: &str,
        settings: &JiraSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Vec<(String, String)> {
        super::check::check_online(name, settings, krs, api).await
    }
}
