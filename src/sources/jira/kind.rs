//! Jira as a source kind: how its connection and key results are validated, extracted,
//! previewed and checked.

use super::config::{JiraConnection, JiraSource};
use super::{Fetched, JiraLink, JiraSettings, Metric, fetch_for, values};
use crate::engine::{self, EngineError};
use crate::model::{Measure, Resolved};
use crate::sources::kind::Extracted;
use crate::sources::kind::{rows_of, unset_variables};
use crate::sources::{ApiOptions, KeyResult, Preview, SourceKind};
use std::path::Path;

/// Jira (Cloud or Data Center): a key result is a JQL query's issues, counted or summed.
pub struct Jira;

impl SourceKind for Jira {
    const NAME: &'static str = "jira";
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
        replay_given || settings.replay.is_some()
    }

    async fn extract(
        name: &str,
        settings: &JiraSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Result<Extracted, EngineError> {
        super::extract(name, settings, krs, api)
            .await
            .map(Into::into)
    }

    async fn preview(
        name: &str,
        settings: &JiraSettings,
        kr: &KeyResult,
        link: &JiraLink,
        api: &ApiOptions,
    ) -> Result<Preview, EngineError> {
        let fetched = fetch_for(name, settings, &[kr], api).await;
        let ctx = engine::new_session();
        let value = values(&ctx, name, &[kr], &fetched, api.as_of())
            .await?
            .pop()
            .map_or_else(|| unreachable!("one value per key result"), |v| v.value);
        let rows = match fetched.get(&kr.id) {
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
                rows_of(&ctx, "jira_issues", &kr.id, &columns).await
            }
            _ => None,
        };
        Ok(Preview {
            kr_id: kr.id.clone(),
            source: format!("{name}: JQL `{}` ({})", link.jql, link.metric.as_str()),
            value,
            rows,
        })
    }

    async fn check_online(
        name: &str,
        settings: &JiraSettings,
        krs: &[&KeyResult],
        api: &ApiOptions,
    ) -> Vec<(String, String)> {
        super::check_online(name, settings, krs, api).await
    }
}
