//! The deterministic generator of the bundled sample exports under `jobs/demo/tallyfy/`.
//!
//! The processes are a hand-written table ([`demo_processes`]) so that every demo key
//! result can be checked by hand: each task takes a whole number of days, is shown at 09:00
//! on the day the previous task completed, is due three days after it is shown, and is late
//! when it takes more than three days. Every task completion writes a full snapshot of its
//! process, as Tallyfy does; files before 2026 have the 45-column layout, January and
//! February 2026 the 48-column one, and later files all 49 columns. Empty values rotate
//! through `''`, `nan` and `NaN`, and timestamps through the space and `T` forms.

use super::{PROCESS_COLUMNS, SINCE_48, SINCE_49};
use chrono::{Days, NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Writes one export file: the given columns, all strings, Snappy-compressed like Tallyfy's.
pub fn write_export(path: &Path, columns: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = (0..columns.len())
        .map(|i| {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r[i].as_str()),
            )) as ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(std::io::Error::other)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::File::create(path)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer =
        ArrowWriter::try_new(file, schema, Some(props)).map_err(std::io::Error::other)?;
    writer.write(&batch).map_err(std::io::Error::other)?;
    writer.close().map_err(std::io::Error::other)?;
    Ok(())
}

/// A blueprint (template) and its steps.
pub struct Blueprint {
    pub id: &'static str,
    pub name: &'static str,
    /// Step names; the task alias is `<blueprint>-<n>`.
    pub tasks: &'static [&'static str],
    /// Milestone names by task index, for blueprints with milestones.
    pub milestones: &'static [&'static str],
    /// Whether the last task has the satisfaction form and the kick-off asks for a tier.
    pub forms: bool,
}

/// The blueprints of the demo organisation.
pub const ONBOARDING: Blueprint = Blueprint {
    id: "bp-onboarding",
    name: "Customer Onboarding",
    tasks: &[
        "Kick-off call",
        "Collect documents",
        "Configure account",
        "Training session",
        "Go-live sign-off",
    ],
    milestones: &[],
    forms: true,
};
pub const VENDOR_REVIEW: Blueprint = Blueprint {
    id: "bp-vendor",
    name: "Vendor Review",
    tasks: &["Security questionnaire", "Legal review", "Approval"],
    milestones: &[],
    forms: false,
};
pub const ROLLOUT: Blueprint = Blueprint {
    id: "bp-rollout",
    name: "Self-serve Onboarding Rollout",
    tasks: &["Design", "Beta", "General availability", "Adoption"],
    milestones: &["Design signed off", "Beta live", "GA", "Adoption target"],
    forms: false,
};

/// One process run of the demo data.
pub struct ProcessSpec {
    pub id: &'static str,
    pub blueprint: &'static Blueprint,
    pub owner: (&'static str, &'static str),
    pub start: (i32, u32, u32),
    /// Days each task takes; `None` marks a task hidden by a rule. Only the first `done`
    /// tasks complete.
    pub days: Vec<Option<u64>>,
    pub done: usize,
    /// Reopened this many days after completing.
    pub reopened_after: Option<u64>,
    /// Answer to "How satisfied is the customer? (1-10)".
    pub csat: &'static str,
    /// Issues reported on the second task, and how many were resolved by the last snapshot.
    pub issues: (u32, u32),
}

const fn d(n: u64) -> Option<u64> {
    Some(n)
}

/// The demo organisation's process runs, November 2025 to early May 2026.
pub fn demo_processes() -> Vec<ProcessSpec> {
    let dana = ("Dana Whitfield", "101");
    let lee = ("Lee Okafor", "102");
    let sam = ("Sam Rivera", "103");
    let onb = |id, start, days: Vec<Option<u64>>, done, csat, issues| ProcessSpec {
        id,
        blueprint: &ONBOARDING,
        owner: if id < "onb-09" { dana } else { lee },
        start,
        days,
        done,
        reopened_after: None,
        csat,
        issues,
    };
    let ven = |id, start, days: Vec<Option<u64>>, done| ProcessSpec {
        id,
        blueprint: &VENDOR_REVIEW,
        owner: sam,
        start,
        days,
        done,
        reopened_after: None,
        csat: "",
        issues: (0, 0),
    };
    vec![
        onb(
            "onb-01",
            (2025, 11, 3),
            vec![d(2), d(3), d(4), d(2), d(3)],
            5,
            "9",
            (0, 0),
        ),
        onb(
            "onb-02",
            (2025, 11, 17),
            vec![d(1), d(2), d(3), d(3), d(2)],
            5,
            "7",
            (0, 0),
        ),
        onb(
            "onb-03",
            (2025, 12, 8),
            vec![d(3), d(5), d(2), d(4), d(3)],
            5,
            "8",
            (1, 1),
        ),
        onb(
            "onb-04",
            (2026, 1, 12),
            vec![d(2), d(3), d(3), d(3), d(4)],
            5,
            "6",
            (0, 0),
        ),
        onb(
            "onb-05",
            (2026, 1, 20),
            vec![d(2), d(2), d(4), d(3), d(2)],
            5,
            "8",
            (0, 0),
        ),
        onb(
            "onb-06",
            (2026, 2, 2),
            vec![d(1), d(3), d(2), d(3), d(2)],
            5,
            "9",
            (0, 0),
        ),
        onb(
            "onb-07",
            (2026, 2, 9),
            vec![d(2), d(4), d(3), d(5), d(3)],
            5,
            "6",
            (2, 2),
        ),
        onb(
            "onb-08",
            (2026, 2, 16),
            vec![d(3), d(3), d(3), d(3), d(3)],
            5,
            "7",
            (0, 0),
        ),
        onb(
            "onb-09",
            (2026, 2, 23),
            vec![d(2), d(2), d(2), d(2), d(2)],
            5,
            "10",
            (0, 0),
        ),
        ProcessSpec {
            reopened_after: Some(3),
            ..onb(
                "onb-10",
                (2026, 3, 2),
                vec![d(4), d(3), d(6), d(2), d(3)],
                5,
                "5",
                (3, 1),
            )
        },
        onb(
            "onb-11",
            (2026, 3, 9),
            vec![d(2), d(3), d(2), None, d(3)],
            5,
            "8",
            (0, 0),
        ),
        onb(
            "onb-12",
            (2026, 3, 16),
            vec![d(3), d(2), d(3), d(3), d(4)],
            5,
            "n/a",
            (1, 0),
        ),
        onb(
            "onb-13",
            (2026, 3, 23),
            vec![d(2), d(3), d(3), d(2), d(2)],
            5,
            "9",
            (0, 0),
        ),
        onb(
            "onb-14",
            (2026, 4, 6),
            vec![d(1), d(2), d(2), d(3), d(2)],
            5,
            "7",
            (0, 0),
        ),
        onb(
            "onb-15",
            (2026, 4, 13),
            vec![d(2), d(3), d(3), d(3), d(3)],
            3,
            "",
            (2, 0),
        ),
        onb(
            "onb-16",
            (2026, 4, 27),
            vec![d(1), d(2), d(2), d(2), d(2)],
            1,
            "",
            (0, 0),
        ),
        onb(
            "onb-17",
            (2026, 4, 20),
            vec![d(2), d(2), d(3), d(2), d(3)],
            5,
            "8",
            (0, 0),
        ),
        ven("ven-00", (2026, 1, 5), vec![d(3), d(4), d(2)], 3),
        ven("ven-01", (2026, 2, 3), vec![d(3), d(5), d(1)], 3),
        ven("ven-02", (2026, 2, 17), vec![d(2), d(4), d(2)], 3),
        ven("ven-03", (2026, 3, 10), vec![d(4), d(6), d(1)], 3),
        ven("ven-04", (2026, 4, 7), vec![d(3), d(7), d(2)], 1),
        ven("ven-05", (2026, 4, 14), vec![d(2), d(3), d(1)], 3),
        ProcessSpec {
            id: "roll-01",
            blueprint: &ROLLOUT,
            owner: sam,
            start: (2026, 2, 2),
            days: vec![d(10), d(20), d(25), d(40)],
            done: 4,
            reopened_after: None,
            csat: "",
            issues: (0, 0),
        },
    ]
}

/// The member list of the demo organisation.
pub fn demo_members() -> Vec<[&'static str; 13]> {
    vec![
        [
            "101",
            "dana@example.com",
            "Dana Whitfield",
            "Dana",
            "Whitfield",
            "Onboarding lead",
            "Onboarding",
            "Yes",
            "No",
            "2024-02-01 10:00:00",
            "2026-04-29 08:12:00",
            "Europe/London",
            "GB",
        ],
        [
            "102",
            "lee@example.com",
            "Lee Okafor",
            "Lee",
            "Okafor",
            "Onboarding specialist",
            "Onboarding",
            "Yes",
            "No",
            "2025-06-15 09:30:00",
            "2026-04-30 16:40:00",
            "America/New_York",
            "US",
        ],
        [
            "103",
            "sam@example.com",
            "Sam Rivera",
            "Sam",
            "Rivera",
            "Product manager",
            "Product",
            "Yes",
            "No",
            "2023-09-01 12:00:00",
            "nan",
            "America/Chicago",
            "US",
        ],
    ]
}

/// Rotates the three ways Tallyfy writes an empty value, and the two timestamp forms.
struct Style {
    empties: usize,
    t_form: bool,
}

impl Style {
    fn empty(&mut self) -> String {
        self.empties += 1;
        ["", "nan", "NaN"][self.empties % 3].to_string()
    }
    fn ts(&self, t: NaiveDateTime) -> String {
        t.format(if self.t_form {
            "%Y-%m-%dT%H:%M:%S"
        } else {
            "%Y-%m-%d %H:%M:%S"
        })
        .to_string()
    }
    fn opt_ts(&mut self, t: Option<NaiveDateTime>) -> String {
        match t {
            Some(t) => self.ts(t),
            None => self.empty(),
        }
    }
}

/// Timing of one task: shown, due and completed, by the rules in the module comment.
struct TaskTimes {
    hidden: bool,
    shown: Option<NaiveDateTime>,
    due: Option<NaiveDateTime>,
    completed: Option<NaiveDateTime>,
}

fn timeline(p: &ProcessSpec) -> Vec<TaskTimes> {
    let (y, m, dd) = p.start;
    let mut at = NaiveDate::from_ymd_opt(y, m, dd)
        .expect("valid start")
        .and_hms_opt(9, 0, 0)
        .expect("09:00");
    let mut done_so_far = 0;
    let mut out = Vec::new();
    let mut active = true;
    for days in &p.days {
        match days {
            None => out.push(TaskTimes {
                hidden: true,
                shown: None,
                due: None,
                completed: None,
            }),
            Some(n) => {
                let shown = active.then_some(at);
                let completes = active && done_so_far < p.done;
                let completed = completes.then(|| at + Days::new(*n));
                out.push(TaskTimes {
                    hidden: false,
                    shown,
                    due: shown.map(|s| s + Days::new(3)),
                    completed,
                });
                if let Some(c) = completed {
                    at = c;
                    done_so_far += 1;
                } else {
                    active = false;
                }
            }
        }
    }
    out
}

/// Builds the rows of one snapshot of `p` taken at `t`.
fn snapshot_rows(
    p: &ProcessSpec,
    t: NaiveDateTime,
    reopened: bool,
    last: bool,
    style: &mut Style,
) -> Vec<BTreeMap<&'static str, String>> {
    let times = timeline(p);
    let visible = |x: Option<NaiveDateTime>| x.filter(|x| *x <= t);
    let completed: Vec<Option<NaiveDateTime>> = times
        .iter()
        .enumerate()
        .map(|(i, tt)| {
            if reopened && i + 1 == times.len() {
                None
            } else {
                visible(tt.completed)
            }
        })
        .collect();
    let shown_tasks = times.iter().filter(|x| !x.hidden).count();
    let n_done = completed.iter().filter(|c| c.is_some()).count();
    let complete = n_done == shown_tasks;
    let process_done_at = complete
        .then(|| completed.iter().flatten().max().copied())
        .flatten();
    let open_issues = p.issues.0 > if last { p.issues.1 } else { 0 };
    let issues_visible = completed.get(1).copied().flatten().is_some();
    let status = if complete {
        "complete"
    } else if issues_visible && open_issues {
        "problem"
    } else {
        "active"
    };
    let mut base: BTreeMap<&'static str, String> = BTreeMap::new();
    base.insert("blueprint_id", p.blueprint.id.into());
    base.insert("blueprint_name", p.blueprint.name.into());
    base.insert(
        "blueprint_version",
        if p.start.0 == 2025 { "3" } else { "4" }.into(),
    );
    base.insert("process_id", p.id.into());
    base.insert("process_name", format!("{} – {}", p.blueprint.name, p.id));
    base.insert(
        "process_tag",
        if p.blueprint.forms {
            "customers,q1"
        } else {
            "internal"
        }
        .into(),
    );
    base.insert("process_owner", p.owner.0.into());
    base.insert("process_owner_id", p.owner.1.into());
    base.insert("total_tasks_in_process", times.len().to_string());
    base.insert("tasks_completed", n_done.to_string());
    base.insert("process_status", status.into());
    base.insert("process_last_modified", style.ts(t));
    let completed_at = style.opt_ts(process_done_at);
    base.insert("process_completed_at", completed_at);

    let mut rows = Vec::new();
    let blank = |style: &mut Style, row: &mut BTreeMap<&'static str, String>| {
        for c in PROCESS_COLUMNS {
            if !row.contains_key(c) {
                row.insert(c, style.empty());
            }
        }
    };
    if p.blueprint.forms {
        let mut k = base.clone();
        k.insert("type", "kick_off_task".into());
        k.insert("kick_off_task_id", "ko-tier".into());
        k.insert("kick_off_task_name", "Customer tier".into());
        k.insert("no_of_form_fields", "1".into());
        k.insert("form_field_type", "dropdown".into());
        k.insert("question_in_form_field", "Customer tier".into());
        k.insert(
            "answer_in_form_field",
            ["Gold", "Silver", "Bronze"][p.id.len() % 3].into(),
        );
        k.insert(
            "last_modified",
            style.ts(timeline(p)[0].shown.expect("first task shown")),
        );
        blank(style, &mut k);
        rows.push(k);
    }
    for (i, tt) in times.iter().enumerate() {
        let task_id = format!("{}-t{}", p.id, i + 1);
        let mut r = base.clone();
        r.insert("type", "process_task".into());
        r.insert(
            "has_form_fields",
            if p.blueprint.forms && i + 1 == times.len() {
                "Yes"
            } else {
                "No"
            }
            .into(),
        );
        r.insert("process_task_id", task_id.clone());
        r.insert(
            "process_task_status",
            if tt.hidden { "hidden" } else { "shown" }.into(),
        );
        r.insert("process_task_name", p.blueprint.tasks[i].into());
        r.insert(
            "process_task_alias",
            format!("{}-{}", p.blueprint.id, i + 1),
        );
        if let Some(name) = p.blueprint.milestones.get(i) {
            r.insert("milestone_id", format!("ms-{}", i + 1));
            r.insert("milestone_name", (*name).into());
            r.insert("milestone_position", (i + 1).to_string());
        }
        let shown = visible(tt.shown);
        if shown.is_some() {
            r.insert("user_assigned", p.owner.0.into());
            r.insert("assigned_user_id", p.owner.1.into());
            r.insert("total_users_assigned", "1".into());
            r.insert("total_guests_assigned", "0".into());
            r.insert("total_assignees", "1".into());
        }
        r.insert(
            "completed_by",
            if completed[i].is_some() {
                p.owner.1
            } else {
                "0"
            }
            .into(),
        );
        let s = style.opt_ts(shown);
        r.insert("assigned_or_shown_on", s);
        let due = style.opt_ts(shown.and(tt.due));
        r.insert("due_by", due);
        let c = style.opt_ts(completed[i]);
        r.insert("completed_on", c);
        r.insert(
            "last_modified",
            style.ts(completed[i].or(shown).unwrap_or(t)),
        );
        blank(style, &mut r);
        rows.push(r);

        if p.blueprint.forms && i + 1 == times.len() {
            for (field, kind, question, answer) in [
                (
                    "ff-csat",
                    "dropdown",
                    "How satisfied is the customer? (1-10)",
                    p.csat,
                ),
                (
                    "ff-notes",
                    "textarea",
                    "Go-live notes",
                    "Went live as planned",
                ),
            ] {
                let mut f = base.clone();
                f.insert("type", "process_task_data".into());
                f.insert("process_task_id", task_id.clone());
                f.insert("process_task_data_id", field.into());
                f.insert("process_task_data_name", p.blueprint.tasks[i].into());
                f.insert("no_of_form_fields", "2".into());
                f.insert("form_field_type", kind.into());
                f.insert("question_in_form_field", question.into());
                let answered = visible(tt.completed).is_some() && !answer.is_empty();
                let a = if answered {
                    answer.to_string()
                } else {
                    style.empty()
                };
                f.insert("answer_in_form_field", a);
                f.insert(
                    "last_modified",
                    style.ts(visible(tt.completed).unwrap_or(t)),
                );
                blank(style, &mut f);
                rows.push(f);
            }
        }
        if i == 1 && issues_visible {
            let (reported, resolved) = (p.issues.0, if last { p.issues.1 } else { 0 });
            let comments: Vec<(bool, String)> =
                std::iter::once((false, "Documents received, thanks".to_string()))
                    .chain((1..=reported).map(|n| {
                        (
                            true,
                            format!("Issue {n}: customer data does not match the contract"),
                        )
                    }))
                    .collect();
            for (j, (is_issue, text)) in comments.iter().enumerate() {
                let mut cr = base.clone();
                cr.insert("type", "process_task_comment".into());
                cr.insert("process_task_id", task_id.clone());
                cr.insert("process_task_comment_id", format!("{}-c{}", p.id, j + 1));
                cr.insert("process_task_comment_name", p.blueprint.tasks[i].into());
                cr.insert(
                    "issue_reported",
                    if *is_issue { "Yes" } else { "No" }.into(),
                );
                cr.insert("no_of_issue_reported", reported.to_string());
                cr.insert(
                    "issue_resolved",
                    if *is_issue && (j as u32) <= resolved {
                        "Yes"
                    } else {
                        "No"
                    }
                    .into(),
                );
                cr.insert("no_of_issue_resolved", resolved.to_string());
                cr.insert("total_comments", "1".into());
                cr.insert("comment", text.clone());
                cr.insert("last_modified", style.ts(t));
                blank(style, &mut cr);
                rows.push(cr);
            }
        }
    }
    rows
}

/// The columns a file written at `t` has, in the order that version writes them.
fn columns_at(t: NaiveDateTime) -> Vec<&'static str> {
    let y2026 = NaiveDate::from_ymd_opt(2026, 1, 1)
        .expect("date")
        .and_hms_opt(0, 0, 0)
        .expect("time");
    let march = NaiveDate::from_ymd_opt(2026, 3, 1)
        .expect("date")
        .and_hms_opt(0, 0, 0)
        .expect("time");
    let mut cols: Vec<&'static str> = PROCESS_COLUMNS
        .iter()
        .copied()
        .filter(|c| t >= march || !SINCE_49.contains(c))
        .filter(|c| t >= y2026 || !SINCE_48.contains(c))
        .collect();
    if t < march {
        // Older layouts list `completed_on` last: readers must bind columns by name.
        cols.retain(|c| *c != "completed_on");
        cols.push("completed_on");
    }
    cols
}

/// What [`write_demo`] wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoStats {
    pub processes: usize,
    pub files: usize,
    pub rows: usize,
}

/// Writes the demo exports into `dir` (`<process>_<nn>.parquet` and `members/members.parquet`),
/// replacing any previous ones.
pub fn write_demo(dir: &Path) -> std::io::Result<DemoStats> {
    if dir.exists() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else if path.extension().is_some_and(|e| e == "parquet") {
                std::fs::remove_file(&path)?;
            }
        }
    }
    let mut stats = DemoStats::default();
    let processes = demo_processes();
    for (n, p) in processes.iter().enumerate() {
        stats.processes += 1;
        for (seq, (t, rows)) in snapshots(n, p).into_iter().enumerate() {
            let cols = columns_at(t);
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| cols.iter().map(|c| r[c].clone()).collect())
                .collect();
            write_export(
                &dir.join(format!("{}_{:02}.parquet", p.id, seq + 1)),
                &cols,
                &table,
            )?;
            stats.files += 1;
            stats.rows += table.len();
        }
    }
    write_members(dir)?;
    stats.files += 1;
    Ok(stats)
}

/// Writes the demo organisation's members export, `members/members.parquet`.
fn write_members(dir: &Path) -> std::io::Result<()> {
    let members: Vec<Vec<String>> = demo_members()
        .iter()
        .map(|m| m.iter().map(|s| s.to_string()).collect())
        .collect();
    write_export(
        &dir.join("members/members.parquet"),
        &super::MEMBER_COLUMNS,
        &members,
    )
}

/// Every snapshot Tallyfy writes of the `n`th demo process: one per task completion, and one
/// when it is reopened; with the time it is written at.
fn snapshots(
    n: usize,
    p: &ProcessSpec,
) -> Vec<(NaiveDateTime, Vec<BTreeMap<&'static str, String>>)> {
    let mut events: Vec<(NaiveDateTime, bool)> = timeline(p)
        .iter()
        .filter_map(|t| t.completed)
        .map(|t| (t, false))
        .collect();
    if let (Some(after), Some((last, _))) = (p.reopened_after, events.last().copied()) {
        events.push((last + Days::new(after), true));
    }
    let count = events.len();
    events
        .into_iter()
        .enumerate()
        .map(|(seq, (t, reopened))| {
            let mut style = Style {
                empties: n + seq,
                t_form: (n + seq) % 2 == 1,
            };
            (
                t,
                snapshot_rows(p, t, reopened, seq + 1 == count, &mut style),
            )
        })
        .collect()
}

/// Writes `copies` copies of the demo organisation's processes (ids suffixed `-c<k>`, every
/// snapshot kept) spread over `files` export files in the newest, 49-column layout, plus the
/// members file: a deterministic data set for benchmarks whose key-result counts are the
/// demo's times `copies`. Each snapshot is written `repeats` times, to as many different
/// files (`files / repeats` of them per repeat), as when Tallyfy exports a process again
/// after an event that changes nothing: more rows and snapshots for the same processes and
/// the same key-result values. Files are built one at a time, so memory stays at one file's
/// rows.
pub fn write_scaled(
    dir: &Path,
    copies: usize,
    files: usize,
    repeats: usize,
) -> std::io::Result<DemoStats> {
    let repeats = repeats.max(1);
    // One copy's snapshots, each as rows in PROCESS_COLUMNS order.
    let procs = demo_processes();
    let per_process: Vec<_> = procs
        .iter()
        .enumerate()
        .map(|(n, p)| snapshots(n, p))
        .collect();
    // A file holds whole snapshots: one process's snapshots must go to different files.
    let most = per_process.iter().map(Vec::len).max().unwrap_or(1);
    if files < most * repeats {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{files} files cannot keep apart the {most} snapshots of a process written \
                 {repeats} times: use at least {} files",
                most * repeats
            ),
        ));
    }
    let base: Vec<Vec<Vec<String>>> = per_process
        .into_iter()
        .flatten()
        .map(|(_, rows)| {
            rows.iter()
                .map(|r| {
                    PROCESS_COLUMNS
                        .iter()
                        .map(|c| r.get(c).cloned().unwrap_or_default())
                        .collect()
                })
                .collect()
        })
        .collect();
    let renamed: Vec<usize> = ["process_id", "process_task_id"]
        .iter()
        .filter_map(|c| PROCESS_COLUMNS.iter().position(|x| x == c))
        .collect();
    let snapshots = base.len() * copies;
    let mut stats = DemoStats {
        processes: procs.len() * copies,
        ..DemoStats::default()
    };
    std::fs::create_dir_all(dir)?;
    // Each repeat has its own run of files, named after the previous one's, so the files'
    // order among a process's snapshots is the same in every repeat and the newest stays
    // newest.
    let per_repeat = files / repeats;
    for f in 0..per_repeat * repeats {
        let mut table: Vec<Vec<String>> = Vec::new();
        for g in (f % per_repeat..snapshots).step_by(per_repeat) {
            let (copy, snapshot) = (g / base.len(), g % base.len());
            for row in &base[snapshot] {
                let mut row = row.clone();
                for &i in &renamed {
                    if !row[i].is_empty() {
                        row[i] = format!("{}-c{copy}", row[i]);
                    }
                }
                table.push(row);
            }
        }
        if table.is_empty() {
            continue;
        }
        write_export(
            &dir.join(format!("export_{f:04}.parquet")),
            &PROCESS_COLUMNS,
            &table,
        )?;
        stats.files += 1;
        stats.rows += table.len();
    }
    write_members(dir)?;
    stats.files += 1;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_follows_the_documented_rules() {
        let procs = demo_processes();
        let p = procs.iter().find(|p| p.id == "onb-11").unwrap();
        let t = timeline(p);
        let day = |y, m, d| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap()
        };
        assert_eq!(t[0].shown, Some(day(2026, 3, 9)));
        assert_eq!(t[0].due, Some(day(2026, 3, 12)));
        assert_eq!(t[2].completed, Some(day(2026, 3, 16)));
        assert!(t[3].hidden && t[3].shown.is_none());
        assert_eq!(t[4].shown, Some(day(2026, 3, 16)));
        assert_eq!(t[4].completed, Some(day(2026, 3, 19)));
        let open = procs.iter().find(|p| p.id == "onb-15").unwrap();
        let t = timeline(open);
        assert_eq!(t.iter().filter(|x| x.completed.is_some()).count(), 3);
        assert!(t[3].shown.is_some() && t[4].shown.is_none());
    }

    #[test]
    fn column_versions_by_date() {
        let at = |y, m| {
            NaiveDate::from_ymd_opt(y, m, 1)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap()
        };
        assert_eq!(columns_at(at(2025, 12)).len(), 45);
        assert_eq!(columns_at(at(2026, 2)).len(), 48);
        assert_eq!(columns_at(at(2026, 3)).len(), 49);
        assert_eq!(columns_at(at(2026, 2)).last(), Some(&"completed_on"));
    }
}
