//! The deterministic generator of the bundled sample Tallyfy exports under
//! `jobs/demo/tallyfy/` (`okrflow demo-data`), and of scaled copies of them for the tests and
//! benchmarks. A tool above the sources: nothing in a run uses it.
//!
//! The processes are a hand-written table (`organisation::demo_processes`) so that every
//! demo key result can be checked by hand: each task takes a whole number of days, is shown
//! at 09:00 on the day the previous task completed, is due three days after it is shown, and
//! is late when it takes more than three days. Every task completion writes a full snapshot of its
//! process, as Tallyfy does; files before 2026 have the 45-column layout, January and
//! February 2026 the 48-column one, and later files all 49 columns. Empty values rotate
//! through `''`, `nan` and `NaN`, and timestamps through the space and `T` forms.
//!
//! - `organisation`: the demo organisation's blueprints, process runs and members;
//! - `snapshots`: the rows of each snapshot Tallyfy writes of a process;
//! - `write`: the export files, the demo's and the scaled ones.

// The export format is Tallyfy's, so its column lists are the kind's: the one place the
// generator names a source kind.
use crate::sources::tallyfy::{MEMBER_COLUMNS, PROCESS_COLUMNS};

mod organisation;
mod snapshots;
mod write;

pub use write::{DemoStats, write_demo, write_export, write_scaled};
