//! Jira as a source kind: how its connection and key results are validated, extracted,
//! previewed and checked, over the shared API scaffolding ([`ApiKind`]).

use super::config::{JiraConnection, JiraSource};
use super::fetch::{Fetched, FetchedByKr, fetch_for};
use super::tables::values;
use super::{JiraLink, JiraSettings, Metric};
use crate::engine::{self, EngineError, registry::Statement};
use crate::model::{Measure, Resolved};
use crate::sources::http::api::{self, ApiKind};
use crate::sources::kind::{Extracted, rows_of, unset_variables};
use crate::sources::{ApiOptions, KeyResult, KrValue, Preview, SourceKind};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use std::path::Path;

/// Jira (Cloud or Data Center): a key result is a JQL query's issues, counted or summed.
pub struct Jira;

impl SourceKind for Jira {
    const NAME: &'static str = "jira";
    /// One value per key result from its issues or counts.
    const STATEMENTS: &'static [Statement] = &[crate::sql_statement!("jira_values", View)];
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

    fn replayed(settings: &JiraSettings, replay_given: bool) -> bool {
        settings.replayed(replay_given)
    }

    async fn extract(
        name: &str,
        settings: &JiraSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Extracted, EngineError> {
        let fetched = fetch_for(name, settings, krs, api).await;
        let values = values(&engine::new_session(), name, krs, &fetched, api.as_of()).await;
        values.map(Into::into)
    }

    async fn preview(
        name: &str,
        settings: &JiraSettings,
        kr: &KeyResult,
        link: &JiraLink,
        api: &ApiOptions,
    ) -> Result<Preview, EngineError> {
        api::preview::<Jira>(name, settings, kr, link, api).await
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

impl ApiKind for Jira {
    type Fetched = FetchedByKr;

    async fn fetch(
        name: &str,
        settings: &JiraSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> FetchedByKr {
        fetch_for(name, settings, krs, api).await
    }

    async fn values(
        ctx: &SessionContext,
        name: &str,
        krs: &[&KeyResult],
        fetched: &FetchedByKr,
        as_of: NaiveDate,
    ) -> Result<Vec<KrValue>, EngineError> {
        values(ctx, name, krs, fetched, as_of).await
    }

    /// The counts, or the issues with the columns the metric reads.
    async fn rows(
        ctx: &SessionContext,
        kr: &KeyResult,
        link: &JiraLink,
        fetched: &FetchedByKr,
    ) -> Option<String> {
        match fetched.get(&kr.id) {
            Some(Ok(Fetched::Counts { matching, done })) => Some(format!(
                "counted: {} matching, {} done",
                matching.map_or("–".into(), |n| n.to_string()),
                done.map_or("–".into(), |n| n.to_string())
            )),
            Some(Ok(Fetched::Issues(_))) => {
                let column = match link.metric {
                    Metric::Count => None,
                    Metric::TimeSpent => Some("time_spent_hours"),
                    Metric::OriginalEstimate => Some("original_estimate_hours"),
                    Metric::RemainingEstimate => Some("remaining_estimate_hours"),
                    Metric::Progress => Some("progress_hours"),
                    Metric::StoryPoints | Metric::Field(_) => Some("field_value"),
                };
                let mut columns = vec!["key", "status_category"];
                columns.extend(column);
                if link.metric == Metric::Progress {
                    columns.push("progress_total_hours");
                }
                rows_of(ctx, "jira_issues", &kr.id, &columns).await
            }
            _ => None,
        }
    }

    fn source(name: &str, link: &JiraLink) -> String {
        format!("{name}: JQL `{}` ({})", link.jql, link.metric.as_str())
    }
}
