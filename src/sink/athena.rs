//! Athena: `CREATE EXTERNAL TABLE` statements for the output tables (Parquet, a date
//! partition projection, so no `MSCK REPAIR`, `ADD PARTITION` or new DDL is ever needed), the
//! `kr_latest`, `objective_latest` and `quarter_scores_latest` views over committed runs only,
//! and running them through the Athena API.

use crate::athena_client::{Waited, wait};
use crate::job::Plan;
use crate::model::S3Location;
use datafusion::arrow::datatypes::{DataType, Schema, TimeUnit};
use std::time::Duration;

/// One statement, named for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub name: String,
    pub sql: String,
}

/// Why the DDL could not be made or run.
#[derive(Debug, thiserror::Error)]
pub enum AthenaError {
    #[error(
        "Athena reads S3, and the output is the local folder {0}: the job's [output] url, or --output s3://bucket/prefix/, must be an s3:// url"
    )]
    NotS3(String),
    #[error("table {table}: column `{column}` has type {data_type}, which has no Athena type here")]
    Type {
        table: String,
        column: String,
        data_type: String,
    },
    #[error(
        "connections `{first}` and `{second}` would both make `{object}` in the database: \
         register one of them (a job per database), or give the other's exports to its own job"
    )]
    Clash {
        object: String,
        first: String,
        second: String,
    },
    #[error("{location}: no AWS credentials: {message}")]
    Credentials { location: String, message: String },
    #[error("{statement}: Athena could not start it: {message}")]
    Start { statement: String, message: String },
    #[error("{statement}: {state}: {reason}")]
    Failed {
        statement: String,
        state: String,
        reason: String,
    },
    #[error("{statement}: still {state} after {secs} s: stopped")]
    Timeout {
        statement: String,
        state: String,
        secs: u64,
    },
}

/// The Athena type of an output column.
pub fn athena_type(table: &str, column: &str, t: &DataType) -> Result<&'static str, AthenaError> {
    Ok(match t {
        DataType::Utf8 | DataType::LargeUtf8 => "string",
        DataType::Float64 => "double",
        DataType::Float32 => "float",
        DataType::Int64 => "bigint",
        DataType::Int32 => "int",
        DataType::Int16 => "smallint",
        DataType::Int8 => "tinyint",
        DataType::Boolean => "boolean",
        DataType::Date32 => "date",
        DataType::Timestamp(TimeUnit::Millisecond, None) => "timestamp",
        other => {
            return Err(AthenaError::Type {
                table: table.into(),
                column: column.into(),
                data_type: other.to_string(),
            });
        }
    })
}

/// What Athena users see of a column whose values need saying (`DESCRIBE`, the console).
fn column_comment(table: &str, column: &str) -> Option<&'static str> {
    match (table, column) {
        ("kr_snapshots" | "objective_snapshots", "status") => Some(
            "while the period runs: on_track, behind, at_risk or done; once it is over: done or missed; \
             no_data when the source answered with nothing to measure yet; NULL when it failed with no value",
        ),
        ("kr_snapshots" | "objective_snapshots", "health") => Some(
            "what the owner says, beside the computed status: on_track, needs_attention or at_risk from the newest \
             health check-in (an objective: the worst of its key results); NULL when none was given",
        ),
        ("kr_snapshots", "health_overdue") => Some(
            "the newest health check-in is older than [job] health_max_age_days (default 35) on the evaluation date",
        ),
        ("kr_snapshots", "value_as_of") => Some(
            "the day the value is as of: evaluated_on less offset_days (finance numbers that settle late); \
             a roll-up: its oldest child's",
        ),
        ("kr_snapshots", "rollup") => Some(
            "sum or average: the value is made of the values of the key results whose aligns_to_kr names it",
        ),
        ("objective_snapshots", "aligns_to") => {
            Some("every key result it aligns to, with its contribution; aligns_to_kr is the first")
        }
        ("runs", "athena_bytes_scanned") => Some(
            "bytes the run's Athena queries scanned (DataScannedInBytes, what Athena bills); 0 when none ran or all came from an archive",
        ),
        ("kr_snapshots", "value_unit") => {
            Some("source (a kpi as its source gives it), percent, milestone or attainment_percent")
        }
        _ => None,
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Keeps the rows of runs recorded in `runs`. The commit switches `runs` in last, so a run
/// killed half-way through has partitions switched in and no `runs` row: readers never see
/// them. Also the LookML explores' `sql_always_where` (with the database).
pub const COMMITTED: &str = "\"run_id\" IN (SELECT \"run_id\" FROM \"runs\")";

/// The views of the newest committed rows: `(view, table, ranking)`; the rows ranked 1 are
/// kept. Each key result's and objective's newest snapshot; each period's scores of its
/// newest run date.
pub const LATEST: [(&str, &str, &str); 3] = [
    (
        "kr_latest",
        "kr_snapshots",
        "row_number() OVER (PARTITION BY \"kr_id\" ORDER BY \"as_of\" DESC, \"computed_at\" DESC)",
    ),
    (
        "objective_latest",
        "objective_snapshots",
        "row_number() OVER (PARTITION BY \"objective_id\" ORDER BY \"as_of\" DESC, \"computed_at\" DESC)",
    ),
    (
        "quarter_scores_latest",
        "quarter_scores",
        "rank() OVER (PARTITION BY \"period\" ORDER BY \"as_of\" DESC)",
    ),
];

/// The statements that make the output queryable, in order: the tables (dropped first, so a
/// rerun picks up new columns; dropping an external table leaves its data alone), then the
/// views. `tables` are `(name, partition column, schema with the partition column)`.
pub fn statements(
    plan: &Plan,
    output: &S3Location,
    tables: &[(String, String, std::sync::Arc<Schema>)],
) -> Result<Vec<Statement>, AthenaError> {
    let base = format!("s3://{}/{}", output.bucket, output.prefix);
    let base = base.trim_end_matches('/');
    let first_day = plan
        .objectives
        .iter()
        .map(|o| o.period.start)
        .min()
        .map_or_else(|| "2020-01-01".to_string(), |d| d.to_string());
    let mut out = Vec::new();
    for (table, partition, schema) in tables {
        let columns = schema
            .fields()
            .iter()
            .filter(|f| f.name() != partition)
            .map(|f| {
                Ok(format!(
                    "  `{}` {}{}",
                    f.name(),
                    athena_type(table, f.name(), f.data_type())?,
                    column_comment(table, f.name())
                        .map(|c| format!(" COMMENT {}", quote(c)))
                        .unwrap_or_default()
                ))
            })
            .collect::<Result<Vec<_>, AthenaError>>()?
            .join(",\n");
        let location = format!("{base}/{table}/");
        // Every table is partitioned by the run date: a date projection from the first
        // period's start to today covers any period, one that starts after this DDL too.
        let projection = vec![
            (format!("projection.{partition}.type"), "date".to_string()),
            (
                format!("projection.{partition}.format"),
                "yyyy-MM-dd".into(),
            ),
            (
                format!("projection.{partition}.range"),
                format!("{first_day},NOW"),
            ),
            (format!("projection.{partition}.interval"), "1".into()),
            (
                format!("projection.{partition}.interval.unit"),
                "DAYS".into(),
            ),
        ];
        let mut properties = vec![
            ("parquet.compression".to_string(), "SNAPPY".to_string()),
            ("projection.enabled".to_string(), "true".to_string()),
        ];
        properties.extend(projection);
        properties.push((
            "storage.location.template".into(),
            format!("{location}{partition}=${{{partition}}}/"),
        ));
        let properties = properties
            .iter()
            .map(|(k, v)| format!("  {}={}", quote(k), quote(v)))
            .collect::<Vec<_>>()
            .join(",\n");
        out.push(Statement {
            name: format!("drop {table}"),
            sql: format!("DROP TABLE IF EXISTS `{table}`"),
        });
        out.push(Statement {
            name: format!("create {table}"),
            sql: format!(
                "CREATE EXTERNAL TABLE `{table}` (\n{columns}\n)\nPARTITIONED BY (`{partition}` string)\n\
                 STORED AS PARQUET\nLOCATION {}\nTBLPROPERTIES (\n{properties}\n)",
                quote(&location)
            ),
        });
    }
    for (view, table, newest) in LATEST {
        let Some((_, partition, schema)) = tables.iter().find(|(t, _, _)| t == table) else {
            continue;
        };
        let mut columns: Vec<String> = schema
            .fields()
            .iter()
            .filter(|f| f.name() != partition)
            .map(|f| format!("\"{}\"", f.name()))
            .collect();
        columns.push(format!("\"{partition}\""));
        let columns = columns.join(", ");
        out.push(Statement {
            name: format!("view {view}"),
            sql: format!(
                "CREATE OR REPLACE VIEW \"{view}\" AS\nSELECT {columns}\nFROM (\n  SELECT {columns},\n    \
                 {newest} AS newest\n  FROM \"{table}\"\n  WHERE {COMMITTED}\n)\nWHERE newest = 1"
            ),
        });
    }
    // What the source kinds add (SourceKind::ddl), one statement per entry, connection by
    // connection.
    let mut made: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    for (name, connection) in &plan.connections {
        for sql in connection.ddl(name) {
            // one table or view per name: a second connection's would replace the first's
            if let Some(object) = made_object(&sql) {
                match made.insert(object.clone(), name) {
                    Some(first) if first != name => {
                        return Err(AthenaError::Clash {
                            object,
                            first: first.to_string(),
                            second: name.clone(),
                        });
                    }
                    _ => {}
                }
            }
            // named by what it makes: `tallyfy: CREATE OR REPLACE VIEW "tallyfy_latest"`
            let head = sql.lines().next().unwrap_or_default();
            let head = head
                .split(" AS")
                .next()
                .unwrap_or(head)
                .trim_end_matches(" (");
            out.push(Statement {
                name: format!("{name}: {head}"),
                sql,
            });
        }
    }
    Ok(out)
}

/// The table or view a `CREATE …` statement makes, as its name is written.
fn made_object(sql: &str) -> Option<String> {
    let head = sql.lines().next()?;
    let rest = head
        .strip_prefix("CREATE OR REPLACE VIEW ")
        .or_else(|| head.strip_prefix("CREATE EXTERNAL TABLE "))?;
    Some(
        rest.split_whitespace()
            .next()?
            .trim_matches(['"', '`'])
            .to_string(),
    )
}

/// Where and how `athena register` runs.
#[derive(Debug, Clone)]
pub(crate) struct RegisterOptions {
    pub database: String,
    pub workgroup: Option<String>,
    /// Query results location (`s3://…`); the workgroup's when not given.
    pub results: Option<String>,
    /// How long one statement may take.
    pub timeout: Duration,
    /// Pause between polls.
    pub poll: Duration,
}

/// The Athena client of an output: its profile, region and access key variables, else the
/// default credential chain (`AWS_ENDPOINT_URL` is honoured by the SDK).
pub(crate) async fn client(output: &S3Location) -> Result<aws_sdk_athena::Client, AthenaError> {
    let sdk = crate::storage::aws_sdk_config(&output.aws)
        .await
        .map_err(|message| AthenaError::Credentials {
            location: output.to_string(),
            message,
        })?;
    Ok(aws_sdk_athena::Client::new(&sdk))
}

/// Runs `CREATE DATABASE IF NOT EXISTS` and every statement, one at a time, waiting for each
/// to finish; stops at the first failure with Athena's own reason.
pub(crate) async fn register(
    client: &aws_sdk_athena::Client,
    options: &RegisterOptions,
    statements: &[Statement],
) -> Result<usize, AthenaError> {
    let create_db = Statement {
        name: format!("database {}", options.database),
        sql: format!("CREATE DATABASE IF NOT EXISTS `{}`", options.database),
    };
    let mut done = 0;
    for (i, s) in std::iter::once(&create_db).chain(statements).enumerate() {
        run(client, options, s, i > 0).await?;
        tracing::info!(statement = %s.name, "Athena statement succeeded");
        done += 1;
    }
    Ok(done)
}

/// Runs one statement and waits for it to end.
async fn run(
    client: &aws_sdk_athena::Client,
    options: &RegisterOptions,
    s: &Statement,
    in_database: bool,
) -> Result<(), AthenaError> {
    use aws_sdk_athena::types::{QueryExecutionContext, ResultConfiguration};
    let mut request = client.start_query_execution().query_string(&s.sql);
    if in_database {
        request = request.query_execution_context(
            QueryExecutionContext::builder()
                .database(&options.database)
                .build(),
        );
    }
    if let Some(w) = &options.workgroup {
        request = request.work_group(w);
    }
    if let Some(r) = &options.results {
        request =
            request.result_configuration(ResultConfiguration::builder().output_location(r).build());
    }
    let started = request.send().await.map_err(|e| AthenaError::Start {
        statement: s.name.clone(),
        message: aws_sdk_athena::error::DisplayErrorContext(&e).to_string(),
    })?;
    let id = started.query_execution_id().unwrap_or_default().to_string();
    match wait(client, &id, options.timeout, options.poll).await {
        Ok(_) => Ok(()),
        Err(Waited::Ended { state, reason }) => Err(AthenaError::Failed {
            statement: s.name.clone(),
            state,
            reason,
        }),
        Err(Waited::TimedOut { state }) => Err(AthenaError::Timeout {
            statement: s.name.clone(),
            state,
            secs: options.timeout.as_secs(),
        }),
        Err(Waited::Api(e)) => Err(AthenaError::Start {
            statement: s.name.clone(),
            message: aws_sdk_athena::error::DisplayErrorContext(&e).to_string(),
        }),
    }
}
