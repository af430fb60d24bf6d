//! The snapshots Tallyfy writes of a demo process, by the rules in [`super`]'s docs: each
//! task's times, the rows of a snapshot in Tallyfy's spelling, and the columns each export
//! version has.

use super::PROCESS_COLUMNS;
use super::organisation::ProcessSpec;
use chrono::{Days, NaiveDate, NaiveDateTime};
use std::collections::BTreeMap;

/// Columns added in the 48-column version (milestones).
const SINCE_48: [&str; 3] = ["milestone_id", "milestone_name", "milestone_position"];
/// The column added in the 49-column version.
const SINCE_49: [&str; 1] = ["process_completed_at"];

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
pub(super) fn columns_at(t: NaiveDateTime) -> Vec<&'static str> {
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

/// Every snapshot Tallyfy writes of the `n`th demo process: one per task completion, and one
/// when it is reopened; with the time it is written at.
pub(super) fn snapshots(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo_data::organisation::demo_processes;

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
