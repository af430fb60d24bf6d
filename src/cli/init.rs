//! `init`: a commented starter job and an empty folder for the Tallyfy exports.

use super::args::InitArgs;
use crate::error::Outcome;
use crate::model::normalise;
use crate::storage;
use anyhow::Context;

/// The job `okrflow init` writes.
const STARTER_JOB: &str = include_str!("../../templates/starter.toml");

/// Writes `DIR/job.toml` (never over an existing one) and makes `DIR/tallyfy/`.
pub(crate) fn init(args: InitArgs) -> anyhow::Result<Outcome> {
    let dir = args.dir;
    let job = dir.join("job.toml");
    let shown = normalise(&job);
    storage::create_folder(&dir.join("tallyfy")).map_err(anyhow::Error::msg)?;
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&job);
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            anyhow::bail!(
                "{} exists already; an existing job file is never replaced",
                shown.display()
            )
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("cannot write {}", shown.display())));
        }
    };
    std::io::Write::write_all(&mut file, STARTER_JOB.as_bytes())
        .with_context(|| format!("cannot write {}", shown.display()))?;
    println!(
        "wrote {} — check it with `okrflow validate {}`",
        shown.display(),
        shown.display()
    );
    Ok(Outcome::Ok)
}
