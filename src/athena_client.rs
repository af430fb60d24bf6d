//! The Athena query client, shared by the Athena source (key results' queries) and the Athena
//! sink (`athena register`): one query run to its end: `StartQueryExecution`,
//! `GetQueryExecution` polled with backoff until a final state (a query past its time is
//! stopped with `StopQueryExecution`), then `GetQueryResults`; or in two steps, `start` and
//! `finish`, for a caller that tracks the queries it started (to `stop` them on a stop). Throttling is retried by the
//! SDK's standard retry (backoff with jitter); what Athena says of a failure is kept.

use crate::model::job::S3Options;
use aws_sdk_athena::config::http::HttpResponse;
use aws_sdk_athena::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_athena::operation::get_query_execution::GetQueryExecutionError;
use aws_sdk_athena::operation::stop_query_execution::StopQueryExecutionError;
use aws_sdk_athena::types::{
    QueryExecution, QueryExecutionContext, QueryExecutionState, ResultConfiguration,
    ResultReuseByAgeConfiguration, ResultReuseConfiguration,
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// What a finished query gave: its id, result columns and rows (header row skipped), and
/// what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub query_id: String,
    /// `(name, Athena type)` of each column.
    pub columns: Vec<(String, String)>,
    /// The data rows; `None` is a NULL cell.
    pub rows: Vec<Vec<Option<String>>>,
    pub bytes_scanned: i64,
    pub engine_ms: i64,
    /// Athena answered from an earlier result (`reuse_results_minutes`).
    #[serde(default)]
    pub reused: bool,
}

/// Why a query gave no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum QueryError {
    #[error("Athena query {query_id} {state}: {reason}")]
    Failed {
        query_id: String,
        state: String,
        reason: String,
    },
    #[error(
        "Athena query {query_id} still {state} after {secs} s (timeout_secs): stopped with \
         StopQueryExecution"
    )]
    Timeout {
        query_id: String,
        state: String,
        secs: f64,
    },
    #[error(
        "access denied in workgroup `{workgroup}`: {message} (the role likely lacks \
         athena:{operation} on the workgroup, or glue:GetTable / s3 access to the data and the \
         results location)"
    )]
    AccessDenied {
        workgroup: String,
        operation: &'static str,
        message: String,
    },
    #[error("Athena {operation}: {message}")]
    Api {
        operation: &'static str,
        message: String,
    },
}

/// Why a client could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ClientError {
    /// An endpoint variable holds a URL the client must not use (not HTTPS, not loopback).
    #[error("{var}: {message}")]
    Endpoint { var: &'static str, message: String },
    /// The AWS configuration could not be made (an access key variable is not set).
    #[error("{0}")]
    Config(String),
}

/// Where and how one connection's queries run.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySettings {
    pub workgroup: String,
    pub database: String,
    pub catalog: String,
    /// Where Athena writes results (`s3://…`); the workgroup's when not given.
    pub output: Option<String>,
    /// Region, profile and access key variables.
    pub aws: S3Options,
    /// How long a query may run before it is stopped.
    pub timeout: Duration,
    pub reuse_results_minutes: Option<u32>,
    /// The first pause between polls (it grows by half each time, to 5 s).
    pub first_poll: Duration,
    /// Attempts of a throttled or failed request, and the first backoff (the SDK's standard
    /// retry, with jitter).
    pub max_attempts: u32,
    pub initial_backoff: Duration,
}

/// An Athena client for one connection; a clone shares the SDK client.
#[derive(Clone)]
pub(crate) struct Client {
    client: aws_sdk_athena::Client,
    settings: QuerySettings,
}

impl Client {
    /// The SDK client, from the connection's region, profile and keys; `AWS_ENDPOINT_URL_ATHENA`
    /// (or `AWS_ENDPOINT_URL`) points it elsewhere.
    pub(crate) async fn new(settings: &QuerySettings) -> Result<Client, ClientError> {
        // HTTPS everywhere but loopback, for an endpoint set in the environment too.
        for var in ["AWS_ENDPOINT_URL_ATHENA", "AWS_ENDPOINT_URL"] {
            if let Ok(url) = std::env::var(var)
                && !url.trim().is_empty()
            {
                crate::net::check_base_url(&url).map_err(|e| ClientError::Endpoint {
                    var,
                    message: e.to_string(),
                })?;
                break;
            }
        }
        let sdk = crate::storage::aws_sdk_config(&settings.aws)
            .await
            .map_err(ClientError::Config)?;
        let config = aws_sdk_athena::config::Builder::from(&sdk)
            .retry_config(
                aws_sdk_athena::config::retry::RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts)
                    .with_initial_backoff(settings.initial_backoff),
            )
            .build();
        Ok(Client {
            client: aws_sdk_athena::Client::from_conf(config),
            settings: settings.clone(),
        })
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        &self,
        operation: &'static str,
        e: SdkError<E, R>,
    ) -> QueryError {
        let code = e
            .as_service_error()
            .and_then(|s| s.code())
            .unwrap_or_default()
            .to_string();
        let message = e
            .as_service_error()
            .and_then(|s| s.message())
            .map(String::from)
            .unwrap_or_else(|| DisplayErrorContext(&e).to_string());
        if code.contains("AccessDenied") || code == "UnrecognizedClientException" {
            return QueryError::AccessDenied {
                workgroup: self.settings.workgroup.clone(),
                operation,
                message,
            };
        }
        QueryError::Api {
            operation,
            message: if code.is_empty() {
                message
            } else {
                format!("{code}: {message}")
            },
        }
    }

    /// Runs `sql` with `parameters` (typed literals for its `?`s; `sql` is sent as it is).
    pub(crate) async fn run(&self, sql: &str, parameters: &[String]) -> Result<Answer, QueryError> {
        let id = self.start(sql, parameters).await?;
        self.finish(&id).await
    }

    /// Starts `sql` with `parameters` (`StartQueryExecution`); its query execution id.
    pub(crate) async fn start(
        &self,
        sql: &str,
        parameters: &[String],
    ) -> Result<String, QueryError> {
        let s = &self.settings;
        let mut request = self
            .client
            .start_query_execution()
            .query_string(sql)
            .work_group(&s.workgroup)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .database(&s.database)
                    .catalog(&s.catalog)
                    .build(),
            )
            .set_execution_parameters((!parameters.is_empty()).then(|| parameters.to_vec()));
        if let Some(output) = &s.output {
            request = request.result_configuration(
                ResultConfiguration::builder()
                    .output_location(output)
                    .build(),
            );
        }
        if let Some(minutes) = s.reuse_results_minutes {
            request = request.result_reuse_configuration(
                ResultReuseConfiguration::builder()
                    .result_reuse_by_age_configuration(
                        ResultReuseByAgeConfiguration::builder()
                            .enabled(true)
                            .max_age_in_minutes(minutes as i32)
                            .build(),
                    )
                    .build(),
            );
        }
        let started = request
            .send()
            .await
            .map_err(|e| self.error("StartQueryExecution", e))?;
        Ok(started.query_execution_id().unwrap_or_default().to_string())
    }

    /// Waits for started query `id` to end (stopping it past the timeout) and reads its
    /// answer.
    pub(crate) async fn finish(&self, id: &str) -> Result<Answer, QueryError> {
        let s = &self.settings;
        let id = id.to_string();
        let execution = wait(&self.client, &id, s.timeout, s.first_poll)
            .await
            .map_err(|e| match e {
                Waited::Ended { state, reason } => QueryError::Failed {
                    query_id: id.clone(),
                    state,
                    reason,
                },
                Waited::TimedOut { state } => QueryError::Timeout {
                    query_id: id.clone(),
                    state,
                    secs: s.timeout.as_secs_f64(),
                },
                Waited::Api(e) => self.error("GetQueryExecution", *e),
            })?;
        let stats = execution.statistics();
        let mut answer = Answer {
            query_id: id.clone(),
            columns: Vec::new(),
            rows: Vec::new(),
            bytes_scanned: stats.and_then(|x| x.data_scanned_in_bytes()).unwrap_or(0),
            engine_ms: stats
                .and_then(|x| x.engine_execution_time_in_millis())
                .unwrap_or(0),
            reused: stats
                .and_then(|x| x.result_reuse_information())
                .is_some_and(|r| r.reused_previous_result()),
        };
        // One number is asked for: the first page (header and up to 999 rows) says whether
        // there is one.
        let results = self
            .client
            .get_query_results()
            .query_execution_id(&id)
            .send()
            .await
            .map_err(|e| self.error("GetQueryResults", e))?;
        if let Some(set) = results.result_set() {
            answer.columns = set
                .result_set_metadata()
                .map(|m| {
                    m.column_info()
                        .iter()
                        .map(|c| (c.name().to_string(), c.r#type().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            answer.rows = set
                .rows()
                .iter()
                .skip(1) // the first row of a SELECT's first page holds the labels
                .map(|r| {
                    r.data()
                        .iter()
                        .map(|d| d.var_char_value().map(String::from))
                        .collect()
                })
                .collect();
            if results.next_token().is_some() {
                answer.rows.push(vec![Some("…more rows".into())]);
            }
        }
        Ok(answer)
    }

    /// Stops query `id` (`StopQueryExecution`): it ends CANCELLED.
    pub(crate) async fn stop(&self, id: &str) -> Result<(), QueryError> {
        stop(&self.client, id)
            .await
            .map_err(|e| self.error("StopQueryExecution", e))
    }
}

async fn stop(
    client: &aws_sdk_athena::Client,
    id: &str,
) -> Result<(), SdkError<StopQueryExecutionError, HttpResponse>> {
    client
        .stop_query_execution()
        .query_execution_id(id)
        .send()
        .await
        .map(|_| ())
}

/// Why waiting for a query gave no finished query.
#[derive(Debug)]
pub(crate) enum Waited {
    /// It ended FAILED or CANCELLED, with Athena's reason.
    Ended { state: String, reason: String },
    /// Still in this state at the deadline; it was stopped.
    TimedOut { state: String },
    /// `GetQueryExecution` itself failed.
    Api(Box<SdkError<GetQueryExecutionError, HttpResponse>>),
}

/// Polls query `id` with backoff (from `first_poll`, growing by half to 5 s) until it
/// succeeds, fails or is cancelled; past `timeout` it is stopped with `StopQueryExecution`
/// (Athena bills what it scans, and a hung query holds a concurrency slot).
pub(crate) async fn wait(
    client: &aws_sdk_athena::Client,
    id: &str,
    timeout: Duration,
    first_poll: Duration,
) -> Result<QueryExecution, Waited> {
    let deadline = Instant::now() + timeout;
    let mut pause = first_poll;
    loop {
        let got = client
            .get_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .map_err(|e| Waited::Api(Box::new(e)))?;
        let execution = got
            .query_execution()
            .cloned()
            .unwrap_or_else(|| QueryExecution::builder().build());
        let status = execution.status();
        let state = status.and_then(|st| st.state()).cloned();
        let name = |s: Option<&QueryExecutionState>| {
            s.map_or_else(|| "unknown".to_string(), |x| x.as_str().to_string())
        };
        match state {
            Some(QueryExecutionState::Succeeded) => return Ok(execution),
            Some(QueryExecutionState::Failed) | Some(QueryExecutionState::Cancelled) => {
                return Err(Waited::Ended {
                    state: name(state.as_ref()),
                    // Athena's words, cut to a few hundred characters
                    reason: status
                        .and_then(|st| st.state_change_reason())
                        .map_or_else(|| "no reason given".into(), crate::net::cut_message),
                });
            }
            other => {
                if Instant::now() + pause > deadline {
                    if let Err(e) = stop(client, id).await {
                        let error = DisplayErrorContext(&e);
                        tracing::warn!(query_id = %id, %error, "cannot stop the Athena query");
                    }
                    return Err(Waited::TimedOut {
                        state: name(other.as_ref()),
                    });
                }
                tokio::time::sleep(pause).await;
                pause = pause.mul_f64(1.5).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_one_line() {
        let timeout = QueryError::Timeout {
            query_id: "q-1".into(),
            state: "RUNNING".into(),
            secs: 2.5,
        };
        assert_eq!(
            timeout.to_string(),
            "Athena query q-1 still RUNNING after 2.5 s (timeout_secs): stopped with \
             StopQueryExecution"
        );
        let denied = QueryError::AccessDenied {
            workgroup: "primary".into(),
            operation: "StartQueryExecution",
            message: "not authorized".into(),
        };
        assert_eq!(
            denied.to_string(),
            "access denied in workgroup `primary`: not authorized (the role likely lacks \
             athena:StartQueryExecution on the workgroup, or glue:GetTable / s3 access to the \
             data and the results location)"
        );
        let endpoint = ClientError::Endpoint {
            var: "AWS_ENDPOINT_URL",
            message: "must be https".into(),
        };
        assert_eq!(endpoint.to_string(), "AWS_ENDPOINT_URL: must be https");
    }
}
