//! Athena DDL and LookML against the real written schema, and `athena register` against a
//! loopback server that speaks Athena's JSON protocol (StartQueryExecution and
//! GetQueryExecution as the SDK sends them), including a failed statement.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use okrflow::model::S3Location;
use okrflow::pipeline;
use okrflow::sink::{athena, lookml};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn s3_output() -> S3Location {
    S3Location {
        bucket: "okr-results".into(),
        prefix: "prod".into(),
        aws: Default::default(),
    }
}

/// `(column, athena type)` of a written Parquet file.
fn file_columns(file: &Path) -> Vec<(String, String)> {
    let builder =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(file).unwrap(),
        )
        .unwrap();
    builder
        .schema()
        .fields()
        .iter()
        .map(|f| {
            (
                f.name().clone(),
                athena::athena_type("t", f.name(), f.data_type())
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

/// `(column, type)` declared by a CREATE EXTERNAL TABLE statement.
fn ddl_columns(sql: &str) -> Vec<(String, String)> {
    let body = &sql[sql.find('(').unwrap() + 1..sql.find("\n)").unwrap()];
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = l.trim().trim_end_matches(',');
            let (name, ty) = l.split_once(' ').unwrap();
            // the type, without a COMMENT '…' after it
            let ty = ty.split(' ').next().unwrap();
            (name.trim_matches('`').to_string(), ty.to_string())
        })
        .collect()
}

/// The LookML project with no prefix, so names are the tables' own.
fn unprefixed() -> lookml::Project {
    lookml::Project::new("", "okr_looker", "okr", "athena").unwrap()
}

#[tokio::test]
async fn ddl_and_lookml_declare_exactly_the_written_columns() {
    let out = tempfile::tempdir().unwrap();
    let plan = common::demo_plan();
    let report = common::run(&plan, "2026-11-23", out.path()).await;
    let schemas = pipeline::output_schemas(&plan).await.unwrap();
    assert_eq!(
        schemas
            .iter()
            .map(|(t, p, _)| (t.as_str(), p.as_str()))
            .collect::<Vec<_>>(),
        okrflow::sink::TABLES.to_vec()
    );
    let statements = athena::statements(&plan, &s3_output(), &schemas).unwrap();
    for (table, partition, schema) in &schemas {
        let file = out
            .path()
            .join(table)
            .join(format!("{partition}=2026-11-23"))
            .join(format!("part-{}.parquet", report.run_id));
        let written = file_columns(&file);
        let create = statements
            .iter()
            .find(|s| s.name == format!("create {table}"))
            .unwrap();
        assert_eq!(
            ddl_columns(&create.sql),
            written,
            "{table}: DDL columns and types = the file's"
        );
        assert!(
            create
                .sql
                .contains(&format!("PARTITIONED BY (`{partition}` string)"))
        );
        assert!(
            create
                .sql
                .contains(&format!("LOCATION 's3://okr-results/prod/{table}/'")),
            "{}",
            create.sql
        );
        assert!(create.sql.contains(&format!("'storage.location.template'='s3://okr-results/prod/{table}/{partition}=${{{partition}}}/'")));
        // Partition projection over dates from the first period's start: no MSCK REPAIR, and
        // no list of periods that a new period would fall outside of.
        assert_eq!(partition, "as_of");
        assert!(
            create.sql.contains("'projection.as_of.type'='date'")
                && create
                    .sql
                    .contains("'projection.as_of.range'='2026-02-01,NOW'"),
            "{}",
            create.sql
        );
        assert!(
            !create.sql.contains("enum") && !create.sql.contains("FY27-Q1"),
            "{}",
            create.sql
        );
        let view = lookml::view(&unprefixed(), table, partition, schema).unwrap();
        assert!(view.starts_with(&format!(
            "view: {table} {{\n  sql_table_name: okr.{table} ;;"
        )));
        for (column, ty) in &written {
            let declared = match ty.as_str() {
                "timestamp" => format!("dimension_group: {} {{", column.trim_end_matches("_at")),
                "date" => format!("dimension_group: {column} {{"),
                _ => format!("dimension: {column} {{"),
            };
            assert!(
                view.contains(&declared),
                "{table}.{column} ({ty}) is not in the LookML view"
            );
        }
        if partition == "as_of" {
            assert!(
                view.contains("dimension_group: as_of {\n    type: time"),
                "{view}"
            );
        }
    }
    // The no-data columns are declared, and LookML counts no_data key results.
    let create = |t: &str| {
        let s = statements
            .iter()
            .find(|s| s.name == format!("create {t}"))
            .unwrap();
        ddl_columns(&s.sql)
    };
    for (table, column, ty) in [
        ("kr_snapshots", "note", "string"),
        ("kr_snapshots", "last_value_on", "date"),
        ("objective_snapshots", "krs_no_data", "bigint"),
        ("runs", "krs_no_data", "bigint"),
    ] {
        assert!(
            create(table).contains(&(column.to_string(), ty.to_string())),
            "{table}.{column}"
        );
    }
    // The status values, running and closed, are in the column's comment.
    let create_krs = statements
        .iter()
        .find(|s| s.name == "create kr_snapshots")
        .unwrap();
    assert!(
        create_krs.sql.contains("`status` string COMMENT 'while the period runs: on_track, behind, at_risk or done; once it is over: done or missed; no_data"),
        "{}",
        create_krs.sql
    );
    let (_, _, krs_schema) = schemas
        .iter()
        .find(|(t, _, _)| t == "kr_snapshots")
        .unwrap();
    let view = lookml::view(&unprefixed(), "kr_snapshots", "as_of", krs_schema).unwrap();
    assert!(
        view.contains(
            "measure: no_data_count {\n    type: count\n    filters: [status: \"no_data\"]"
        ),
        "{view}"
    );
    // The views select every column of their table plus the partition.
    let kr_latest = statements
        .iter()
        .find(|s| s.name == "view kr_latest")
        .unwrap();
    assert!(
        kr_latest
            .sql
            .contains("PARTITION BY \"kr_id\" ORDER BY \"as_of\" DESC")
    );
    assert!(kr_latest.sql.contains("\"stale_since\"") && kr_latest.sql.contains("\"as_of\""));
    let model = lookml::model(&unprefixed());
    assert!(
        model.contains("join: objective_snapshots")
            && model.contains("${kr_snapshots.objective_id} = ${objective_snapshots.objective_id}")
    );
    // The default (first) explore reads the newest snapshot of each key result, through the
    // Athena view kr_latest, so its count is of key results; the history has its own.
    let first = model.find("explore: ").unwrap();
    assert!(
        model[first..].starts_with("explore: kr_latest {"),
        "{model}"
    );
    assert!(model.contains("${kr_latest.objective_id} = ${objective_latest.objective_id}"));
    // The tables' explores show rows of committed runs only (the latest views are made so).
    for table in ["kr_snapshots", "objective_snapshots", "quarter_scores"] {
        let explore = &model[model.find(&format!("explore: {table} {{")).unwrap()..];
        let explore = &explore[..explore.find("\n}\n").unwrap()];
        assert!(
            explore.contains(&format!(
                "sql_always_where: ${{{table}.run_id}} IN (SELECT run_id FROM okr.runs) ;;"
            )),
            "{explore}"
        );
    }
    assert_eq!(model.matches("sql_always_where").count(), 3, "{model}");
    let latest = lookml::latest_views(&unprefixed());
    assert_eq!(
        latest[0],
        (
            "kr_latest".to_string(),
            "view: kr_latest {\n  extends: [kr_snapshots]\n  sql_table_name: okr.kr_latest ;;\n}\n"
                .to_string()
        )
    );
    assert!(statements.iter().any(|s| s.name == "view objective_latest"));
    // progress and score are formatted alike
    assert!(view.contains("measure: average_score {\n    type: average\n    sql: ${score} ;;\n    value_format_name: percent_1"), "{view}");
    assert!(view.contains("dimension: score {\n    type: number\n    sql: ${TABLE}.score ;;\n    value_format_name: percent_1"), "{view}");
}

/// The access key id of the output's own key (`access_key_id_env`), beside the default
/// chain's `common::s3::ACCESS_KEY`.
const OUTPUT_KEY_ID: &str = "AKIAOKRFLOWOUTPUT003";

/// A fake Athena: every query gets an id; the first poll says RUNNING, the next SUCCEEDED,
/// or FAILED with a reason for queries containing `fail_on`. Requests must be signed with
/// the default chain's key or the output's.
#[derive(Default)]
struct FakeAthena {
    started: Mutex<Vec<Value>>,
    polls: Mutex<HashMap<String, usize>>,
    fail_on: Mutex<Option<String>>,
    /// The access key id each request was signed with (`Credential=AKID/…`), in order.
    keys: Mutex<Vec<String>>,
}

async fn athena_api(State(s): State<Arc<FakeAthena>>, headers: HeaderMap, body: Bytes) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.strip_prefix("AWS4-HMAC-SHA256 Credential="))
        .and_then(|c| c.split('/').next())
        .unwrap_or_default()
        .to_string();
    s.keys.lock().unwrap().push(key.clone());
    if key != common::s3::ACCESS_KEY && key != OUTPUT_KEY_ID {
        return (StatusCode::FORBIDDEN, json!({"__type": "UnrecognizedClientException", "message": "The security token included in the request is invalid."}).to_string()).into_response();
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let reply = |v: Value| {
        (
            [("content-type", "application/x-amz-json-1.1")],
            v.to_string(),
        )
            .into_response()
    };
    match target.as_str() {
        "AmazonAthena.StartQueryExecution" => {
            let mut started = s.started.lock().unwrap();
            started.push(request);
            reply(json!({"QueryExecutionId": format!("q-{}", started.len())}))
        }
        "AmazonAthena.GetQueryExecution" => {
            let id = request["QueryExecutionId"].as_str().unwrap_or_default().to_string();
            let n: usize = id.trim_start_matches("q-").parse().unwrap_or(0);
            let query = s.started.lock().unwrap().get(n.wrapping_sub(1)).map(|q| q["QueryString"].as_str().unwrap_or_default().to_string()).unwrap_or_default();
            let polls = {
                let mut p = s.polls.lock().unwrap();
                let e = p.entry(id.clone()).or_default();
                *e += 1;
                *e
            };
            let fail = s.fail_on.lock().unwrap().clone().is_some_and(|f| query.contains(&f));
            let status = match (polls, fail) {
                (1, _) => json!({"State": "RUNNING", "SubmissionDateTime": 1.7e9}),
                (_, true) => json!({"State": "FAILED", "StateChangeReason": "line 3:5: mismatched input 'FROM'. Expecting: <expression>", "SubmissionDateTime": 1.7e9}),
                _ => json!({"State": "SUCCEEDED", "SubmissionDateTime": 1.7e9, "CompletionDateTime": 1.7e9}),
            };
            reply(json!({"QueryExecution": {"QueryExecutionId": id, "Query": query, "StatementType": "DDL", "Status": status}}))
        }
        other => (StatusCode::BAD_REQUEST, json!({"__type": "InvalidRequestException", "message": format!("unknown target {other}")}).to_string()).into_response(),
    }
}

/// Runs `athena register` on `job` against the fake at `url`, with the default chain's key
/// in the environment and the variables of `env` too.
async fn register(
    url: &str,
    job: &Path,
    fail_on: Option<&str>,
    fake: &Arc<FakeAthena>,
    env: &[(&str, &str)],
) -> std::process::Output {
    *fake.fail_on.lock().unwrap() = fail_on.map(String::from);
    let (url, job) = (url.to_string(), job.to_path_buf());
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"));
        common::no_aws_config(&mut command)
            .args([
                "athena",
                "register",
                job.to_str().unwrap(),
                "--database",
                "okr",
                "--workgroup",
                "analytics",
                "--results",
                "s3://okr-athena-results/q/",
            ])
            .env("AWS_ENDPOINT_URL", url)
            .env("AWS_ACCESS_KEY_ID", common::s3::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", common::s3::SECRET_KEY)
            .env("AWS_REGION", "eu-west-1")
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// A fake Athena on loopback, and its URL.
async fn start_fake() -> (Arc<FakeAthena>, String) {
    let fake = Arc::new(FakeAthena::default());
    let app = axum::Router::new()
        .fallback(athena_api)
        .with_state(fake.clone());
    let addr = common::fake_http::serve(app).await;
    (fake, format!("http://{addr}"))
}

/// The demo job written in `dir`, its `[output]` url line replaced by `output`.
fn s3_job(dir: &Path, output: &str) -> std::path::PathBuf {
    let demo = std::fs::read_to_string(common::repo().join("jobs/demo.toml")).unwrap();
    let job = dir.join("job.toml");
    std::fs::write(&job, demo.replace("url = \"../out\"", output)).unwrap();
    job
}

#[tokio::test]
async fn register_runs_every_statement_in_order_and_reports_athenas_reason() {
    let (fake, url) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let job = s3_job(dir.path(), "url = \"s3://okr-results/prod/\"");

    let ok = register(&url, &job, None, &fake, &[]).await;
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(
        out.contains("12 statement(s) succeeded in database okr"),
        "{out}"
    );
    let first: Vec<Value> = fake.started.lock().unwrap().drain(..).collect();
    let queries: Vec<&str> = first
        .iter()
        .map(|q| q["QueryString"].as_str().unwrap())
        .collect();
    assert_eq!(queries[0], "CREATE DATABASE IF NOT EXISTS `okr`");
    assert!(
        first[0].get("QueryExecutionContext").is_none(),
        "the database is created outside it"
    );
    assert_eq!(queries[1], "DROP TABLE IF EXISTS `kr_snapshots`");
    assert!(queries[2].starts_with("CREATE EXTERNAL TABLE `kr_snapshots`"));
    assert!(queries[10].starts_with("CREATE OR REPLACE VIEW \"objective_latest\""));
    assert!(queries[11].starts_with("CREATE OR REPLACE VIEW \"quarter_scores_latest\""));
    for q in &first[1..] {
        assert_eq!(q["QueryExecutionContext"]["Database"], "okr");
        assert_eq!(q["WorkGroup"], "analytics");
        assert_eq!(
            q["ResultConfiguration"]["OutputLocation"],
            "s3://okr-athena-results/q/"
        );
    }
    // Each statement was polled until it finished (RUNNING, then SUCCEEDED).
    assert!(fake.polls.lock().unwrap().values().all(|n| *n == 2));

    // Registering again sends the same statements: the end state is the same.
    let again = register(&url, &job, None, &fake, &[]).await;
    assert_eq!(again.status.code(), Some(0));
    let second: Vec<Value> = fake.started.lock().unwrap().drain(..).collect();
    assert_eq!(
        first.iter().map(|q| &q["QueryString"]).collect::<Vec<_>>(),
        second.iter().map(|q| &q["QueryString"]).collect::<Vec<_>>()
    );

    // A statement Athena rejects stops the run with Athena's own reason, and exit 1.
    let failed = register(&url, &job, Some("objective_latest"), &fake, &[]).await;
    let err = String::from_utf8_lossy(&failed.stderr).to_string();
    assert_eq!(failed.status.code(), Some(1), "{err}");
    assert!(err.contains("view objective_latest: FAILED: line 3:5: mismatched input 'FROM'. Expecting: <expression>"), "{err}");
    assert!(!err.contains(common::s3::SECRET_KEY));
}

#[tokio::test]
async fn register_signs_with_the_outputs_access_key_variables() {
    let (fake, url) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    // Variable names of this test only: the child process gets them, no other test sees them.
    let job = s3_job(
        dir.path(),
        "url = \"s3://okr-results/prod/\"\n\
         access_key_id_env = \"OKRFLOW_TEST_REGISTER_OUTPUT_KEY\"\n\
         secret_access_key_env = \"OKRFLOW_TEST_REGISTER_OUTPUT_SECRET\"",
    );
    let env = [
        ("OKRFLOW_TEST_REGISTER_OUTPUT_KEY", OUTPUT_KEY_ID),
        (
            "OKRFLOW_TEST_REGISTER_OUTPUT_SECRET",
            "okrflow-output-secret-key-00112233445566",
        ),
    ];
    let ok = register(&url, &job, None, &fake, &env).await;
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(ok.status.code(), Some(0), "{out}");
    let keys = fake.keys.lock().unwrap().clone();
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k == OUTPUT_KEY_ID),
        "register signed with {keys:?}, not the output's key {OUTPUT_KEY_ID}"
    );
}

#[tokio::test]
async fn ddl_needs_an_s3_output() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_okrflow"))
        .args([
            "athena",
            "ddl",
            common::repo().join("jobs/demo.toml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "the job's [output] url, or --output s3://bucket/prefix/, must be an s3:// url"
        )
    );
}
