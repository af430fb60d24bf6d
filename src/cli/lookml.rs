//! `lookml`: the LookML files of the output tables (views, model, dashboards), written into
//! a folder a Looker project takes as it is.

use super::args::LookmlArgs;
use crate::error::Outcome;
use crate::job;
use crate::pipeline;
use crate::sink::lookml;

/// Writes the view files, the model and the dashboards, and names each file written.
pub(crate) async fn lookml(args: LookmlArgs) -> anyhow::Result<Outcome> {
    let plan = job::load(&args.job)?;
    let schemas = pipeline::output_schemas(&plan).await?;
    let written = lookml::write_folder(
        &args.out,
        &args.prefix,
        &args.database,
        &args.connection,
        &schemas,
    )?;
    for p in &written {
        println!("wrote {}", p.display());
    }
    Ok(Outcome::Ok)
}
