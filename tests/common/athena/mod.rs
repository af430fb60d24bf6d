//! A loopback Athena that speaks the JSON 1.1 protocol as the AWS SDK sends it
//! (`X-Amz-Target: AmazonAthena.*`, reached through `AWS_ENDPOINT_URL_ATHENA`) and answers
//! queries by running them in DataFusion over real Parquet files.
//!
//! What this proves: okrflow sends the query text as written with `?` placeholders and typed
//! literals as `ExecutionParameters` in order, polls until a final state, stops a query past
//! its timeout, reads the header row and column types of `GetQueryResults`, and handles
//! throttling, FAILED, CANCELLED and access denied as Athena reports them. A query marked
//! `/* hang */` stays RUNNING until a `StopQueryExecution` names it (then it is CANCELLED);
//! every request is logged, so a test sees which queries were stopped ([`FakeAthena::stops`]).
//!
//! With [`FakeAthena::read_s3_from`] it also runs `athena register`'s DDL over the loopback S3
//! server's files (`s3://bucket/key` is the file `<root>/bucket/key`): `CREATE DATABASE` makes a
//! schema that later statements of that database resolve in, `CREATE EXTERNAL TABLE` reads
//! the Parquet under its `LOCATION` with the declared columns, and keeps only the partitions
//! its projection covers (an `enum`'s values, a `date` range up to `NOW` = today), as Athena
//! projects them; an unpartitioned one (Tallyfy's exports) reads every Parquet file below its
//! `LOCATION` with the hidden columns `"$path"` and `"$file_modified_time"` emulated;
//! `CREATE OR REPLACE VIEW` runs as written. What it does not:
//! Trino's dialect — DataFusion accepts the ANSI subset these tests use (`DATE '…'`,
//! `TIMESTAMP '…'`, `count`, `CAST`), and a query that relies on Trino-only functions would
//! fail here and pass on Athena, or the reverse.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod ddl;

/// How a query ends.
#[derive(Debug, Clone)]
enum Outcome {
    Rows {
        columns: Vec<(String, String)>,
        rows: Vec<Vec<Option<String>>>,
        bytes: i64,
    },
    Failed(String),
    Cancelled,
    /// RUNNING until stopped (a query marked `/* hang */`).
    Hang,
}

#[derive(Debug, Clone)]
struct Query {
    sql: String,
    outcome: Outcome,
    polls: usize,
}

/// The fake's state: the SQL context it answers from, what it was sent, and the faults.
pub struct FakeAthena {
    ctx: SessionContext,
    /// Bytes a query touching `processes` scans: the Parquet file's size.
    pub file_bytes: i64,
    /// The access key requests must be signed with; others are denied.
    pub access_key: String,
    /// Every request: `(operation, body)`.
    pub log: Mutex<Vec<(String, Value)>>,
    queries: Mutex<Vec<Query>>,
    /// StartQueryExecution requests still to throttle.
    pub throttle: AtomicUsize,
    /// Polls a query is RUNNING before it ends.
    pub running_polls: usize,
    /// Where `s3://` locations are read from (the loopback S3 server's folder).
    s3_root: Mutex<Option<std::path::PathBuf>>,
}

impl FakeAthena {
    /// A fake answering from `processes.parquet` in `dir` (written here): eight processes.
    pub async fn start(dir: &std::path::Path, access_key: &str) -> (Arc<FakeAthena>, String) {
        let ctx = SessionContext::new();
        let file = dir.join("processes.parquet");
        ctx.sql(&format!(
            "COPY (SELECT column1 AS process_id, column2 AS blueprint_name, column3 AS status, \
             CAST(column4 AS TIMESTAMP) AS completed_at FROM (VALUES \
             ('p1', 'Onboarding', 'completed', '2026-02-10 10:00:00'), \
             ('p2', 'Onboarding', 'completed', '2026-02-20 09:30:00'), \
             ('p3', 'Onboarding', 'completed', '2026-03-05 16:00:00'), \
             ('p4', 'Onboarding', 'completed', '2026-03-15 23:59:59'), \
             ('p5', 'Onboarding', 'running', NULL), \
             ('p6', 'Vendor review', 'completed', '2026-02-25 12:00:00'), \
             ('p7', 'Onboarding', 'completed', '2026-03-16 00:00:00'), \
             ('p8', 'Onboarding', 'completed', '2026-01-30 08:00:00'))) \
             TO '{}' STORED AS PARQUET",
            file.display()
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
        ctx.register_parquet("processes", file.to_str().unwrap(), Default::default())
            .await
            .unwrap();
        let fake = Arc::new(FakeAthena {
            ctx,
            file_bytes: std::fs::metadata(&file).unwrap().len() as i64,
            access_key: access_key.to_string(),
            log: Mutex::new(Vec::new()),
            queries: Mutex::new(Vec::new()),
            throttle: AtomicUsize::new(0),
            running_polls: 2,
            s3_root: Mutex::new(None),
        });
        let app = axum::Router::new()
            .route("/", axum::routing::post(api))
            .with_state(fake.clone());
        let addr = super::fake_http::serve(app).await;
        (fake, format!("http://{addr}"))
    }

    /// The bodies of every request of one operation, in order.
    pub fn sent(&self, operation: &str) -> Vec<Value> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(o, _)| o == operation)
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// The ids of the queries whose text contains `text`, with how often each was polled.
    pub fn queries_with(&self, text: &str) -> Vec<(String, usize)> {
        self.queries
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, q)| q.sql.contains(text))
            .map(|(i, q)| (format!("q-{}", i + 1), q.polls))
            .collect()
    }

    /// The ids `StopQueryExecution` was sent for, in order.
    pub fn stops(&self) -> Vec<String> {
        self.sent("StopQueryExecution")
            .iter()
            .filter_map(|b| b["QueryExecutionId"].as_str().map(String::from))
            .collect()
    }

    /// Reads `s3://bucket/key` locations of `CREATE EXTERNAL TABLE` from `<root>/bucket/key`
    /// (the loopback S3 server's folder, [`super::s3::FakeS3::root`]).
    pub fn read_s3_from(&self, root: &std::path::Path) {
        *self.s3_root.lock().unwrap() = Some(root.to_path_buf());
    }

    /// The rows of `sql` run in `database` as this fake runs a query (cells as text, NULL
    /// as `None`), or Athena's reason it failed.
    pub async fn rows(
        &self,
        sql: &str,
        database: &str,
    ) -> Result<Vec<Vec<Option<String>>>, String> {
        match self.outcome(sql, &[], Some(database)).await {
            Outcome::Rows { rows, .. } => Ok(rows),
            other => Err(format!("{other:?}")),
        }
    }

    /// Runs a query as Athena would answer it, in `database` when it names one made by
    /// `CREATE DATABASE`.
    async fn outcome(&self, sql: &str, parameters: &[String], database: Option<&str>) -> Outcome {
        if sql.contains("/* hang */") {
            return Outcome::Hang;
        }
        if sql.contains("/* cancel */") {
            return Outcome::Cancelled;
        }
        let catalog = self.ctx.catalog("datafusion").unwrap();
        let schema = database
            .filter(|d| catalog.schema(d).is_some())
            .unwrap_or("public");
        self.ctx
            .state_ref()
            .write()
            .config_mut()
            .options_mut()
            .catalog
            .default_schema = schema.to_string();
        match self.ddl(sql).await {
            Some(Ok(())) => {
                return Outcome::Rows {
                    columns: Vec::new(),
                    rows: Vec::new(),
                    bytes: 0,
                };
            }
            Some(Err(e)) => return Outcome::Failed(e),
            None => {}
        }
        // ExecutionParameters fill the `?`s in order (the test queries have no `?` in text).
        let mut parts = sql.split('?');
        let mut text = parts.next().unwrap_or_default().to_string();
        for (part, p) in parts.zip(parameters.iter().chain(std::iter::repeat(&String::new()))) {
            text.push_str(p);
            text.push_str(part);
        }
        let explain = text
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("EXPLAIN ");
        let df = match self.ctx.sql(&text).await {
            Ok(df) => df,
            Err(e) => {
                let first = e.to_string().lines().next().unwrap_or_default().to_string();
                return Outcome::Failed(format!("SYNTAX_ERROR: line 1:8: {first}"));
            }
        };
        let schema = df.schema().as_arrow().clone();
        let batches = match df.collect().await {
            Ok(b) => b,
            Err(e) => return Outcome::Failed(format!("GENERIC_INTERNAL_ERROR: {e}")),
        };
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let ty = match f.data_type() {
                    DataType::Int64 => "bigint",
                    DataType::Int32 => "integer",
                    DataType::Float64 => "double",
                    DataType::Decimal128(..) => "decimal",
                    DataType::Boolean => "boolean",
                    DataType::Date32 => "date",
                    DataType::Timestamp(..) => "timestamp",
                    _ => "varchar",
                };
                (f.name().clone(), ty.to_string())
            })
            .collect();
        let mut rows = Vec::new();
        for b in &batches {
            for i in 0..b.num_rows() {
                rows.push(
                    b.columns()
                        .iter()
                        .map(|c| (!c.is_null(i)).then(|| array_value_to_string(c, i).unwrap()))
                        .collect(),
                );
            }
        }
        let bytes = if !explain && text.contains("processes") {
            self.file_bytes
        } else {
            0
        };
        Outcome::Rows {
            columns,
            rows,
            bytes,
        }
    }
}

/// An access key the fake can be started with, and its secret: [`reaching`] puts them in
/// `OKRFLOW_TEST_ATHENA_KEY` and `OKRFLOW_TEST_ATHENA_SECRET`, which [`lake_job`] names.
pub const KEY: &str = "AKIAATHENATEST000001";
pub const SECRET: &str = "athena-test-secret-do-not-log-0123456789";

/// `command` (the `okrflow` binary) pointed at the fake at `url`, with [`KEY`] in the
/// variables a job's connection names, and no other AWS configuration in reach.
pub fn reaching<'a>(
    command: &'a mut std::process::Command,
    url: &str,
) -> &'a mut std::process::Command {
    super::no_aws_config(command)
        .env("AWS_ENDPOINT_URL_ATHENA", url)
        .env_remove("AWS_ENDPOINT_URL")
        .env("OKRFLOW_TEST_ATHENA_KEY", KEY)
        .env("OKRFLOW_TEST_ATHENA_SECRET", SECRET)
}

/// The head of a job `lake` writing to `out/`, with an Athena connection `lake` signing with
/// [`KEY`]'s variables; `more` adds lines to the connection's table.
pub fn lake_job(more: &str) -> String {
    format!(
        r#"[job]
name = "lake"
fiscal_year_start_month = 2

[output]
url = "out"

[connections.lake]
kind = "athena"
region = "us-east-1"
database = "tallyfy_acme"
access_key_id_env = "OKRFLOW_TEST_ATHENA_KEY"
secret_access_key_env = "OKRFLOW_TEST_ATHENA_SECRET"
{more}
"#
    )
}

fn reply(v: Value) -> Response {
    (
        [("content-type", "application/x-amz-json-1.1")],
        v.to_string(),
    )
        .into_response()
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"__type": kind, "Message": message}).to_string(),
    )
        .into_response()
}

async fn api(State(s): State<Arc<FakeAthena>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = target.trim_start_matches("AmazonAthena.").to_string();
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    s.log
        .lock()
        .unwrap()
        .push((operation.clone(), request.clone()));
    let signed = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with(&format!("AWS4-HMAC-SHA256 Credential={}/", s.access_key)));
    if !signed {
        return error(
            StatusCode::BAD_REQUEST,
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/okrflow is not authorized to perform: athena:StartQueryExecution on resource: workgroup/primary",
        );
    }
    let id_of = |r: &Value| {
        r["QueryExecutionId"]
            .as_str()
            .and_then(|id| id.trim_start_matches("q-").parse::<usize>().ok())
            .unwrap_or(0)
    };
    match operation.as_str() {
        "StartQueryExecution" => {
            if s.throttle
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    "TooManyRequestsException",
                    "Rate exceeded",
                );
            }
            let sql = request["QueryString"].as_str().unwrap_or_default();
            let parameters: Vec<String> = request["ExecutionParameters"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let database = request["QueryExecutionContext"]["Database"].as_str();
            let outcome = s.outcome(sql, &parameters, database).await;
            let mut queries = s.queries.lock().unwrap();
            queries.push(Query {
                sql: sql.to_string(),
                outcome,
                polls: 0,
            });
            reply(json!({"QueryExecutionId": format!("q-{}", queries.len())}))
        }
        "GetQueryExecution" => {
            let n = id_of(&request);
            let mut queries = s.queries.lock().unwrap();
            let Some(q) = queries.get_mut(n.wrapping_sub(1)) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestException",
                    "QueryExecution q-0 was not found",
                );
            };
            q.polls += 1;
            let (state, reason, bytes) = match (&q.outcome, q.polls > s.running_polls) {
                (Outcome::Hang, _) | (_, false) => ("RUNNING", None, 0),
                (Outcome::Rows { bytes, .. }, true) => ("SUCCEEDED", None, *bytes),
                (Outcome::Failed(r), true) => ("FAILED", Some(r.clone()), 0),
                (Outcome::Cancelled, true) => (
                    "CANCELLED",
                    Some("Query was cancelled by user".to_string()),
                    0,
                ),
            };
            let mut status = json!({"State": state, "SubmissionDateTime": 1.7736e9});
            if let Some(r) = reason {
                status["StateChangeReason"] = json!(r);
            }
            reply(json!({"QueryExecution": {
                "QueryExecutionId": format!("q-{n}"),
                "StatementType": "DML",
                "Status": status,
                "Statistics": {"DataScannedInBytes": bytes, "EngineExecutionTimeInMillis": 120,
                               "TotalExecutionTimeInMillis": 180}
            }}))
        }
        "GetQueryResults" => {
            let n = id_of(&request);
            let queries = s.queries.lock().unwrap();
            match queries.get(n.wrapping_sub(1)).map(|q| &q.outcome) {
                Some(Outcome::Rows { columns, rows, .. }) => {
                    let cell = |v: &Option<String>| match v {
                        Some(t) => json!({"VarCharValue": t}),
                        None => json!({}),
                    };
                    let header: Vec<Value> = columns
                        .iter()
                        .map(|(c, _)| json!({"VarCharValue": c}))
                        .collect();
                    let mut out = vec![json!({"Data": header})];
                    out.extend(
                        rows.iter()
                            .map(|r| json!({"Data": r.iter().map(cell).collect::<Vec<_>>()})),
                    );
                    reply(json!({"ResultSet": {
                        "Rows": out,
                        "ResultSetMetadata": {"ColumnInfo": columns.iter().map(|(c, t)| json!({
                            "Name": c, "Label": c, "Type": t, "Nullable": "UNKNOWN", "CaseSensitive": false
                        })).collect::<Vec<_>>()}
                    }, "UpdateCount": 0}))
                }
                _ => error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestException",
                    "Query has not yet finished. Current state: RUNNING",
                ),
            }
        }
        "StopQueryExecution" => {
            let n = id_of(&request);
            if let Some(q) = s.queries.lock().unwrap().get_mut(n.wrapping_sub(1)) {
                q.outcome = Outcome::Cancelled;
            }
            reply(json!({}))
        }
        other => error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            &format!("unknown operation {other}"),
        ),
    }
}
