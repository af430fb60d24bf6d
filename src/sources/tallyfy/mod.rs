//! Tallyfy Analytics exports: per-process Parquet snapshots, every column stored as a string.
//!
//! - [`config`]: the connection and key-result settings;
//! - [`loader`]: lists the export files and registers them, with their file name and time,
//!   as the raw table the SQL in `sql/tallyfy_*.sql` deduplicates and types;
//! - [`query`]: checks and runs a key result's SQL with bound parameters;
//! - [`generate`]: the deterministic generator of the bundled sample exports.

pub mod config;
pub mod generate;
pub mod loader;
pub mod query;

/// The 49 columns of the newest process export, in the documented order. Older files have
/// 45 (no milestone columns, no `process_completed_at`) or 48 (no `process_completed_at`);
/// columns are matched by name and missing ones read as NULL.
pub const PROCESS_COLUMNS: [&str; 49] = [
    "blueprint_id",
    "blueprint_name",
    "blueprint_version",
    "process_id",
    "process_name",
    "process_tag",
    "process_owner",
    "process_owner_id",
    "total_tasks_in_process",
    "tasks_completed",
    "process_status",
    "process_last_modified",
    "process_completed_at",
    "type",
    "has_form_fields",
    "kick_off_task_id",
    "kick_off_task_name",
    "process_task_id",
    "process_task_status",
    "process_task_name",
    "process_task_alias",
    "process_task_data_id",
    "process_task_data_name",
    "process_task_comment_id",
    "process_task_comment_name",
    "milestone_id",
    "milestone_name",
    "milestone_position",
    "user_assigned",
    "assigned_user_id",
    "guest_assigned",
    "total_users_assigned",
    "total_guests_assigned",
    "total_assignees",
    "completed_by",
    "assigned_or_shown_on",
    "due_by",
    "completed_on",
    "no_of_form_fields",
    "form_field_type",
    "question_in_form_field",
    "answer_in_form_field",
    "issue_reported",
    "no_of_issue_reported",
    "issue_resolved",
    "no_of_issue_resolved",
    "total_comments",
    "comment",
    "last_modified",
];

/// Columns added in the 48-column version (milestones).
pub const SINCE_48: [&str; 3] = ["milestone_id", "milestone_name", "milestone_position"];
/// The column added in the 49-column version.
pub const SINCE_49: [&str; 1] = ["process_completed_at"];

/// The columns of the members export (`members/*.parquet`).
pub const MEMBER_COLUMNS: [&str; 13] = [
    "id",
    "email",
    "full_name",
    "first_name",
    "last_name",
    "job_title",
    "team",
    "is_active",
    "is_suspended",
    "created_at",
    "last_login_at",
    "timezone",
    "country_id",
];
