//! `init`: a commented starter job and an empty folder for the Tallyfy exports.

use super::args::InitArgs;
use crate::error::Outcome;
use crate::model::{Period, normalise};
use crate::storage;
use anyhow::Context;
use chrono::{Datelike, NaiveDate, Utc};

/// The job `okrflow init` writes, with `{PERIOD}`, `{PERIOD_SPAN}` and `{DUE}` to fill in.
const STARTER_JOB: &str = include_str!("../../templates/starter.toml");

/// Writes `DIR/job.toml` (never over an existing one) and makes `DIR/tallyfy/`.
pub(crate) fn init(args: InitArgs) -> anyhow::Result<Outcome> {
    let dir = args.dir;
    let job = dir.join("job.toml");
    let shown = normalise(&job);
    let text = starter_job(Utc::now().date_naive())?;
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
    std::io::Write::write_all(&mut file, text.as_bytes())
        .with_context(|| format!("cannot write {}", shown.display()))?;
    println!(
        "wrote {} — check it with `okrflow validate {}`",
        shown.display(),
        shown.display()
    );
    Ok(Outcome::Ok)
}

/// The starter job with its objective in the calendar quarter that holds `today` (the
/// starter's fiscal year starts in January), so that a run right after `init` measures a
/// running period rather than one that has not begun.
fn starter_job(today: NaiveDate) -> anyhow::Result<String> {
    let label = format!("FY{:02}-Q{}", today.year() % 100, today.month0() / 3 + 1);
    let period = Period::fiscal(&label, 1).map_err(anyhow::Error::msg)?;
    let span = format!(
        "{}–{} {}",
        period.start.format("%b"),
        period.end.format("%b"),
        period.end.year()
    );
    let due = period.end.with_day(15).unwrap_or(period.end);
    Ok(STARTER_JOB
        .replace("{PERIOD_SPAN}", &span)
        .replace("{PERIOD}", &period.label)
        .replace("{DUE}", &due.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn the_starter_period_is_the_quarter_of_the_day_it_is_written() {
        let december = starter_job(d(2026, 12, 6)).unwrap();
        assert!(december.contains("period = \"FY26-Q4\""), "{december}");
        assert!(december.contains("(FY26-Q4 = Oct–Dec 2026)"), "{december}");
        assert!(december.contains("# due = 2026-12-15 "), "{december}");
        let january = starter_job(d(2027, 1, 1)).unwrap();
        assert!(january.contains("period = \"FY27-Q1\""), "{january}");
        assert!(january.contains("(FY27-Q1 = Jan–Mar 2027)"), "{january}");
        for placeholder in ["{PERIOD", "{DUE}"] {
            assert!(!january.contains(placeholder), "{january}");
        }
    }
}
