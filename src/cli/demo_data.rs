//! `demo-data`: the bundled sample Tallyfy exports, or a larger data set for benchmarks.

use super::args::DemoDataArgs;
use crate::demo_data::{write_demo, write_scaled};
use crate::error::Outcome;
use anyhow::Context;

/// Writes the demo's exports (or `--copies` of them) and says how much was written.
pub(crate) fn demo_data(args: DemoDataArgs) -> anyhow::Result<Outcome> {
    let DemoDataArgs {
        out,
        copies,
        files,
        repeats,
    } = args;
    let stats = match copies {
        None => write_demo(&out),
        Some(copies) => write_scaled(&out, copies, files, repeats),
    }
    .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} files ({} rows, {} processes) to {}",
        stats.files,
        stats.rows,
        stats.processes,
        out.display()
    );
    Ok(Outcome::Ok)
}
