//! The inputs okrflow takes from outside, as fuzzers call them: a job file's text and the
//! Looker and Jira response bodies. Shared by the cargo-fuzz targets in `fuzz/` and the
//! mutation test in the default run (`tests/fuzz_smoke.rs`). Each returns whether the input
//! was accepted; an error is an answer too, only a panic is a finding.

use crate::sources::jira::model::{CloudPage, DataCenterPage};
use crate::sources::looker::model::JsonDetail;
use std::path::Path;

/// The story-points field the Jira rows are read with, as the demo job names it.
const POINTS_FIELD: &str = "customfield_10016";

/// Parses and validates a job file's text, as `okrflow validate` does (no I/O).
pub fn job_file(text: &str) -> bool {
    crate::job::parse(Path::new("fuzz.toml"), text).is_ok()
}

/// Parses a Looker `json_detail` run result and flattens it into cells.
pub fn looker_body(text: &str) -> bool {
    serde_json::from_str::<JsonDetail>(text).is_ok_and(|detail| !detail.flatten().cells.is_empty())
}

/// Parses a Jira search page (Cloud's token paging, then Data Center's offset paging) and
/// reads every issue's row. Accepted when a Cloud page has issues that all read.
pub fn jira_body(text: &str) -> bool {
    let mut accepted = false;
    if let Ok(page) = serde_json::from_str::<CloudPage>(text) {
        accepted = !page.issues.is_empty()
            && page
                .issues
                .iter()
                .all(|i| i.row(Some(POINTS_FIELD)).is_ok());
    }
    if let Ok(page) = serde_json::from_str::<DataCenterPage>(text) {
        for issue in &page.issues {
            let _ = issue.row(Some(POINTS_FIELD));
        }
    }
    accepted
}
