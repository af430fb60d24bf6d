//! `athena ddl` and `athena register`: the statements that make the output tables queryable,
//! printed or run through the Athena API.

use super::args::{AthenaCommand, output_location};
use crate::error::Outcome;
use crate::job;
use crate::model::Location;
use crate::pipeline;
use crate::sink::athena::{self, AthenaError, RegisterOptions};
use std::time::Duration;

/// Prints the DDL, or runs it with the output's AWS settings.
pub(crate) async fn athena(command: AthenaCommand) -> anyhow::Result<Outcome> {
    let (job, output, register) = match command {
        AthenaCommand::Ddl { job, output } => (job, output, None),
        AthenaCommand::Register {
            job,
            database,
            workgroup,
            results,
            timeout_secs,
            output,
        } => {
            let options = RegisterOptions {
                database,
                workgroup,
                results,
                timeout: Duration::from_secs(timeout_secs),
                poll: Duration::from_millis(500),
            };
            (job, output, Some(options))
        }
    };
    let mut plan = job::load(&job)?;
    if let Some(o) = output_location(output.as_deref())? {
        plan.output = o;
    }
    let Location::S3(s3) = &plan.output else {
        return Err(AthenaError::NotS3(plan.output.to_string()).into());
    };
    let schemas = pipeline::output_schemas(&plan).await?;
    let statements = athena::statements(&plan, s3, &schemas)?;
    match register {
        None => {
            for s in &statements {
                println!("-- {}\n{};\n", s.name, s.sql);
            }
        }
        Some(options) => {
            let client = athena::client(s3).await?;
            let n = athena::register(&client, &options, &statements).await?;
            println!(
                "{n} statement(s) succeeded in database {}",
                options.database
            );
        }
    }
    Ok(Outcome::Ok)
}
