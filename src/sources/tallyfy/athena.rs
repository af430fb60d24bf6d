//! Tallyfy's exports where they live, for Athena: `athena ddl` adds an external table over a
//! connection's export files on S3 (every column a string, as the exports hold them), one
//! over its `members/` files, and the views a reader queries instead of the raw rows:
//! `tallyfy_latest` (each process's newest snapshot: Athena's `tallyfy_file_snapshots`, the
//! engine's `tallyfy_snapshots`, then `sql/athena/tallyfy_latest.sql`), the
//! engine's own `tallyfy_processes`, `tallyfy_tasks`, `tallyfy_form_fields` and
//! `tallyfy_comments` over it (written in what Trino and DataFusion share), and the engine's
//! `tallyfy_members` over Athena's `tallyfy_members_files` (`sql/athena/`).

use super::columns::{MEMBER_COLUMNS, PROCESS_COLUMNS};
use super::snapshots;
use crate::engine::registry::Statement;
use crate::model::Location;

/// The external table of the process exports, as the views name it.
pub const EXPORTS: &str = "tallyfy_exports";
/// The external table of the member lists.
pub const MEMBER_EXPORTS: &str = "tallyfy_members_exports";

/// Athena's own statements (`sql/athena/`): the engine never runs them.
pub const STATEMENTS: &[Statement] = &[
    crate::sql_statement!("athena/tallyfy_file_snapshots", View),
    crate::sql_statement!("athena/tallyfy_latest", View),
    crate::sql_statement!("athena/tallyfy_members_files", View),
];

/// The statement of a view: Athena's own, or the engine's (`sql/`).
fn statement(name: &str) -> &'static Statement {
    STATEMENTS
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| snapshots::statement(name))
}

/// The views, in the order they are made: `(view, statement)`.
pub const VIEWS: [(&str, &str); 9] = [
    ("tallyfy_file_snapshots", "athena/tallyfy_file_snapshots"),
    ("tallyfy_snapshots", "tallyfy_snapshots"),
    ("tallyfy_latest", "athena/tallyfy_latest"),
    ("tallyfy_processes", "tallyfy_processes"),
    ("tallyfy_tasks", "tallyfy_tasks"),
    ("tallyfy_form_fields", "tallyfy_form_fields"),
    ("tallyfy_comments", "tallyfy_comments"),
    ("tallyfy_members_files", "athena/tallyfy_members_files"),
    ("tallyfy_members", "tallyfy_members"),
];

/// The folder of a connection's exports on S3, ending in `/`; `None` for a local folder.
pub(super) fn folder(location: &Location) -> Option<String> {
    let Location::S3(s3) = location else {
        return None;
    };
    let base = format!("s3://{}/{}", s3.bucket, s3.prefix);
    Some(format!("{}/", base.trim_end_matches('/')))
}

/// `CREATE EXTERNAL TABLE` of Parquet files under `location` with `columns`, all strings
/// (as the exports hold them); `IF NOT EXISTS` when `keep` is set.
pub(super) fn external_table(name: &str, columns: &[&str], location: &str, keep: bool) -> String {
    let columns = columns
        .iter()
        .map(|c| format!("  `{c}` string"))
        .collect::<Vec<_>>()
        .join(",\n");
    let keep = if keep { "IF NOT EXISTS " } else { "" };
    format!(
        "CREATE EXTERNAL TABLE {keep}`{name}` (\n{columns}\n)\nSTORED AS PARQUET\nLOCATION '{location}'"
    )
}

/// The statements for a connection whose exports are on S3 (a local folder has none): the
/// two tables, dropped first so a rerun picks up a changed definition (their files stay),
/// then the views.
pub(crate) fn ddl(location: &Location) -> Vec<String> {
    let Some(base) = folder(location) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, columns, location) in [
        (EXPORTS, &PROCESS_COLUMNS[..], base.clone()),
        (
            MEMBER_EXPORTS,
            &MEMBER_COLUMNS[..],
            format!("{base}members/"),
        ),
    ] {
        out.push(format!("DROP TABLE IF EXISTS `{name}`"));
        out.push(external_table(name, columns, &location, false));
    }
    for (view, file) in VIEWS {
        out.push(format!(
            "CREATE OR REPLACE VIEW \"{view}\" AS\n{}",
            statement(file).sql.trim_end().trim_end_matches(';')
        ));
    }
    out
}

/// The statement a view is made of (for tests that run them elsewhere).
pub fn view_sql(view: &str) -> Option<&'static str> {
    VIEWS
        .iter()
        .find(|(v, _)| *v == view)
        .map(|(_, file)| statement(file).sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_connection_gets_its_tables_and_views_and_a_folder_none() {
        let s3 = Location::parse(
            "s3://acme-tallyfy/org-42/analytics",
            std::path::Path::new("."),
            &Default::default(),
        )
        .unwrap();
        let ddl = ddl(&s3);
        assert_eq!(ddl.len(), 4 + VIEWS.len());
        assert!(ddl[1].contains("LOCATION 's3://acme-tallyfy/org-42/analytics/'"));
        assert!(ddl[1].contains("  `process_completed_at` string,"));
        assert!(ddl[3].contains("LOCATION 's3://acme-tallyfy/org-42/analytics/members/'"));
        assert!(
            ddl[4].starts_with("CREATE OR REPLACE VIEW \"tallyfy_file_snapshots\" AS\n-- athena/")
        );
        // okrflow's own functions are not Athena's (comments may name them)
        let code = ddl
            .iter()
            .flat_map(|s| s.lines())
            .filter(|l| !l.trim_start().starts_with("--"));
        for line in code {
            assert!(
                !line.contains("empty_as_null(") && !line.contains("try_timestamp("),
                "{line}"
            );
        }
        let local = Location::Local("exports".into());
        assert!(super::ddl(&local).is_empty());
    }
}
