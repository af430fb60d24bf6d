//! The digest `run` posts after it commits (`[notify.slack]`, `[notify.teams]`): read from
//! the report of the run's period, sent to an incoming webhook whose URL is a secret in an
//! environment variable. A post that fails is a warning: it never changes the run's exit
//! code. `backfill` and `recompute` never post; `run --no-notify` skips it.

mod digest;
mod payload;

use crate::job::Plan;
use crate::model::Location;
use crate::model::job::{NotifyTarget, NotifyWhen};
use crate::secret::Secret;
use chrono::{Datelike, NaiveDate, Weekday};
use digest::Digest;
use std::time::Duration;

/// Why a digest was not posted.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotifyError {
    #[error("{0}")]
    Secret(#[from] crate::secret::SecretError),
    #[error("the {channel} webhook URL in {var} must be https (plain http on loopback only)")]
    NotHttps { channel: &'static str, var: String },
    #[error("the {channel} webhook ({var}) answered {status}: {body}")]
    Refused {
        channel: &'static str,
        var: String,
        status: u16,
        body: String,
    },
    #[error("the {channel} webhook ({var}) could not be reached: {message}")]
    Unreachable {
        channel: &'static str,
        var: String,
        message: String,
    },
    #[error("the digest could not be read from the output {output}: {message}")]
    Report { output: String, message: String },
}

/// Posts the run's digest to each target whose `when` holds; each failure is logged as a
/// warning. Returns the channels posted to.
pub(crate) async fn after_run(
    plan: &Plan,
    output: &Location,
    as_of: NaiveDate,
) -> Vec<&'static str> {
    if plan.notify.is_empty() {
        return Vec::new();
    }
    let report = match crate::report::build(plan, None, Some(as_of), Some(output)).await {
        Ok(r) => r,
        Err(e) => {
            let e = NotifyError::Report {
                output: output.to_string(),
                message: e.to_string(),
            };
            tracing::warn!(error = %e, "no digest posted");
            return Vec::new();
        }
    };
    let digest = Digest::of(&report);
    let changed = changed(&report);
    let mut posted = Vec::new();
    for (channel, target) in &plan.notify {
        if !due(target.when, as_of, changed) {
            tracing::info!(channel, when = ?target.when, "digest not due");
            continue;
        }
        match post(channel, target, &digest).await {
            Ok(()) => {
                tracing::info!(channel, variable = %target.webhook_url_env, "digest posted");
                posted.push(*channel);
            }
            Err(e) => tracing::warn!(channel, error = %e, "digest not posted"),
        }
    }
    posted
}

/// Whether a target posts today: always; on the first five business days of the month; or
/// when a key result's status or health changed since the previous committed run.
fn due(when: NotifyWhen, as_of: NaiveDate, changed: bool) -> bool {
    match when {
        NotifyWhen::Always => true,
        NotifyWhen::OnChange => changed,
        NotifyWhen::FirstBusinessDays => {
            let business = |d: &NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
            business(&as_of)
                && as_of
                    .with_day(1)
                    .into_iter()
                    .flat_map(|first| first.iter_days().take_while(|d| *d <= as_of))
                    .filter(business)
                    .count()
                    <= 5
        }
    }
}

/// True when a key result's newest snapshot differs in status or health from the one before
/// it (the previous committed run's), or has none before it.
fn changed(report: &crate::report::Report) -> bool {
    report
        .objectives
        .iter()
        .flat_map(|o| &o.key_results)
        .any(|k| {
            let before = k.points.iter().rev().find(|p| p.date < k.latest.date);
            before.is_none_or(|p| p.status != k.latest.status || p.health != k.latest.health)
        })
}

/// Sends the digest to one webhook: within 10 s, once more after a 429, a 5xx or no answer
/// (after `Retry-After`, at most 10 s; else 1 s). The URL is never printed: errors name its
/// variable.
async fn post(channel: &'static str, target: &NotifyTarget, d: &Digest) -> Result<(), NotifyError> {
    use backon::{ConstantBuilder, Retryable};
    let var = target.webhook_url_env.clone();
    let url = Secret::from_env(&var, &format!("the {channel} incoming-webhook URL"))?;
    let secure = url::Url::parse(url.expose()).is_ok_and(|u| match u.scheme() {
        "https" => true,
        "http" => crate::net::is_loopback(&u),
        _ => false,
    });
    if !secure {
        return Err(NotifyError::NotHttps { channel, var });
    }
    let body = match channel {
        "teams" => payload::teams(d),
        _ => payload::slack(d),
    };
    let unreachable = |e: reqwest::Error| NotifyError::Unreachable {
        channel,
        var: var.clone(),
        message: e.without_url().to_string(),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(unreachable)?;
    // One attempt's outcome, with how long the server asked to wait.
    let attempt = || async {
        let r = client
            .post(url.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| (unreachable(e), None))?;
        if r.status().is_success() {
            return Ok(());
        }
        let status = r.status().as_u16();
        let wait = crate::sources::http::errors::retry_after(r.headers());
        let text: String = r
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let refused = NotifyError::Refused {
            channel,
            var: var.clone(),
            status,
            body: text,
        };
        Err((refused, wait))
    };
    let retryable = |(e, _): &(NotifyError, Option<Duration>)| match e {
        NotifyError::Refused { status, .. } => *status == 429 || *status >= 500,
        _ => true,
    };
    attempt
        .retry(
            ConstantBuilder::default()
                .with_delay(Duration::from_secs(1))
                .with_max_times(1),
        )
        .when(retryable)
        .adjust(|(_, wait), next| next.map(|n| wait.map_or(n, |w| w.min(Duration::from_secs(10)))))
        .notify(
            |(e, _), _| tracing::info!(channel, error = %e, "digest post failed; trying once more"),
        )
        .await
        .map_err(|(e, _)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_job_names_a_variable_not_a_url() {
        let job = |notify: &str| {
            let text = format!(
                "[job]\nname = \"t\"\n\n[output]\nurl = \"out\"\n\n{notify}\n\n\
                 [[objectives]]\nid = \"O\"\ntitle = \"O\"\nowner = \"o\"\nperiod = \"FY27-Q1\"\n"
            );
            crate::sources::registry::parse(std::path::Path::new("job.toml"), &text)
                .map_err(|e| e.to_string())
        };
        let plan = job("[notify.teams]\nwebhook_url_env = \"OKRFLOW_TEST_UNSET_TEAMS_URL\"\nwhen = \"on_change\"")
            .unwrap();
        assert_eq!(plan.notify.len(), 1);
        assert_eq!(
            (plan.notify[0].0, plan.notify[0].1.when),
            ("teams", NotifyWhen::OnChange)
        );
        assert!(plan.warnings.iter().any(|w| {
            w.to_string()
                .contains("environment variable OKRFLOW_TEST_UNSET_TEAMS_URL is not set")
        }));
        // Each problem names its own table's line: [notify.teams] is on line 9 here.
        let e =
            job("[notify.slack]\nwebhook_url_env = \"X\"\n[notify.teams]\nwebhook_url_env = \"\"")
                .unwrap_err();
        assert!(
            e.contains("job.toml:9:1: error: notify.teams: webhook_url_env is empty"),
            "{e}"
        );
        for (notify, said) in [
            (
                "[notify.slack]\nwebhook_url_env = \" \"",
                "webhook_url_env is empty",
            ),
            (
                "[notify.slack]\nwebhook_url = \"https://hooks.slack.com/x\"",
                "unknown field `webhook_url`",
            ),
            (
                "[notify.slack]\nwebhook_url_env = \"X\"\nwhen = \"weekly\"",
                "unknown variant `weekly`",
            ),
        ] {
            let e = job(notify).unwrap_err();
            assert!(e.contains(said), "{notify}: {e}");
            assert!(!e.contains("hooks.slack.com"), "{e}");
        }
    }

    #[test]
    fn the_first_five_business_days_of_a_month() {
        // March 2026 starts on a Sunday: the 2nd to the 6th are its first five business days
        let first = NotifyWhen::FirstBusinessDays;
        assert!(!due(first, d("2026-03-01"), false));
        assert!(due(first, d("2026-03-02"), false));
        assert!(due(first, d("2026-03-06"), false));
        assert!(!due(first, d("2026-03-07"), false));
        assert!(!due(first, d("2026-03-09"), false));
        // April 2026 starts on a Wednesday: the 1st to the 7th, the weekend left out
        assert!(due(first, d("2026-04-07"), false));
        assert!(!due(first, d("2026-04-08"), false));
        assert!(due(NotifyWhen::OnChange, d("2026-04-08"), true));
        assert!(!due(NotifyWhen::OnChange, d("2026-04-08"), false));
        assert!(due(NotifyWhen::Always, d("2026-04-08"), false));
    }
}
