//! LookML dashboards (`*.dashboard.lookml`): YAML, in the current syntax (`layout:
//! newspaper`, `fields:`, `note_text`, `looker_grid`), serialised from typed structs
//! ([`yaml`]). Four dashboards: the company overview, one key result's detail, owners and
//! teams, and check-ins and health. Each tile's filters `listen` to the dashboard's filters
//! by fully scoped fields of the tile's own explore.

pub mod yaml;

use super::{LookmlError, Project};
use yaml::{Builder, Dashboard, Tile};

/// The daily explores' required filter set to every run date (a tile of history).
const EVERY_DAY: (&str, &str) = ("days_before_newest", ">= 0");

/// Company overview: status counts, the objectives, the key results needing attention.
fn company_overview(project: &Project) -> Dashboard {
    let mut b = Builder::new(project);
    b.filter(
        "period",
        "Period",
        "objective_latest",
        "period",
        "dropdown_menu",
    );
    b.filter("level", "Level", "objective_latest", "level", "checkboxes");
    let kr_listen = [("period", "period"), ("level", "objective_latest.level")];
    b.tile(
        Tile {
            fields: &[
                "on_track_count",
                "behind_count",
                "at_risk_count",
                "done_count",
                "missed_count",
                "no_data_count",
                "stale_count",
                "failed_count",
                "health_overdue_count",
            ],
            listen: &kr_listen,
            note: Some("Key results by status, as of each one's newest run."),
            ..Tile::new(
                "kr_status_counts",
                "Key results by status",
                "kr_latest",
                "looker_grid",
            )
        },
        24,
        3,
    );
    b.tile(
        Tile {
            fields: &[
                "level",
                "objective_id",
                "objective_title",
                "owner",
                "progress",
                "expected_progress",
                "progress_gap",
                "status",
                "health",
                "krs_total",
                "krs_done",
                "krs_on_track",
                "krs_behind",
                "krs_at_risk",
                "krs_missed",
                "krs_no_data",
                "krs_stale",
                "krs_failed",
            ],
            sorts: &["level", "objective_id"],
            listen: &[("period", "period"), ("level", "level")],
            ..Tile::new(
                "objectives",
                "Objectives",
                "objective_latest",
                "looker_grid",
            )
        },
        24,
        8,
    );
    b.tile(
        Tile {
            fields: &[
                "objective_id",
                "kr_id",
                "kr_title",
                "owner",
                "status",
                "progress",
                "expected_progress",
                "forecast_progress",
                "health",
                "attention_reasons",
                "attention_detail",
            ],
            sorts: &["objective_id", "kr_id"],
            filters: &[("attention", "Yes")],
            listen: &kr_listen,
            note: Some(
                "At risk, behind, no data, stale, failed or with the owner's health overdue; \
                 the error, note and health note say why. Forecast progress: where it ends at \
                 this pace (a straight line through its daily values, read at the due date).",
            ),
            ..Tile::new(
                "needing_attention",
                "Key results needing attention",
                "kr_latest",
                "looker_grid",
            )
        },
        24,
        8,
    );
    b.build(
        "company_overview",
        "OKR company overview",
        "Objectives against the expected pace, status counts and the key results that need attention, per period",
    )
}

/// One key result over its period: progress against expected, values, health and errors.
fn key_result_detail(project: &Project) -> Dashboard {
    let mut b = Builder::new(project);
    b.filter(
        "period",
        "Period",
        "kr_snapshots",
        "period",
        "dropdown_menu",
    );
    b.filter(
        "key_result",
        "Key result",
        "kr_snapshots",
        "kr_id",
        "dropdown_menu",
    );
    b.one_required();
    b.filter(
        "run_date",
        "Run date",
        "kr_snapshots",
        "as_of_date",
        "advanced",
    );
    let listen = [
        ("period", "period"),
        ("key_result", "kr_id"),
        ("run_date", "as_of_date"),
    ];
    b.tile(
        Tile {
            fields: &[
                "as_of_date",
                "average_progress",
                "average_expected_progress",
            ],
            sorts: &["as_of_date"],
            filters: &[EVERY_DAY],
            listen: &listen,
            note: Some("Progress and expected progress of the chosen key result, per run date."),
            ..Tile::new(
                "progress_vs_expected",
                "Progress against expected",
                "kr_snapshots",
                "looker_line",
            )
        },
        24,
        7,
    );
    b.tile(
        Tile {
            fields: &[
                "as_of_date",
                "kr_id",
                "value",
                "progress",
                "expected_progress",
                "status",
                "score",
                "forecast_value",
                "stale",
                "value_as_of_date",
                "error",
                "note",
            ],
            sorts: &["as_of_date desc"],
            filters: &[EVERY_DAY],
            listen: &listen,
            ..Tile::new(
                "values_by_date",
                "Values by date",
                "kr_snapshots",
                "looker_grid",
            )
        },
        24,
        8,
    );
    b.tile(
        Tile {
            fields: &[
                "as_of_date",
                "kr_id",
                "health",
                "health_on_date",
                "health_by",
                "health_note",
                "health_overdue",
            ],
            sorts: &["as_of_date desc"],
            filters: &[EVERY_DAY],
            listen: &listen,
            ..Tile::new(
                "health_by_date",
                "Health check-ins by date",
                "kr_snapshots",
                "looker_grid",
            )
        },
        24,
        6,
    );
    b.build(
        "key_result_detail",
        "OKR key result detail",
        "One key result over its period: progress against expected, its values, health notes and errors by run date",
    )
}

/// By owner and level: what each owns and how it stands.
fn owners(project: &Project) -> Dashboard {
    let mut b = Builder::new(project);
    b.filter("period", "Period", "kr_latest", "period", "dropdown_menu");
    b.filter("owner", "Owner", "kr_latest", "owner", "tag_list");
    b.filter("level", "Level", "objective_latest", "level", "checkboxes");
    let kr_listen = [
        ("period", "period"),
        ("owner", "owner"),
        ("level", "objective_latest.level"),
    ];
    b.tile(
        Tile {
            fields: &["owner", "status", "count"],
            pivots: &["status"],
            sorts: &["owner", "status"],
            listen: &kr_listen,
            ..Tile::new(
                "status_by_owner",
                "Key results by owner and status",
                "kr_latest",
                "looker_column",
            )
        },
        12,
        7,
    );
    b.tile(
        Tile {
            fields: &[
                "owner",
                "count",
                "average_progress",
                "average_expected_progress",
                "attention_count",
            ],
            sorts: &["attention_count desc"],
            listen: &kr_listen,
            ..Tile::new("owners", "Owners", "kr_latest", "looker_grid")
        },
        12,
        7,
    );
    b.tile(
        Tile {
            fields: &[
                "owner",
                "level",
                "objective_id",
                "objective_title",
                "progress",
                "expected_progress",
                "status",
                "health",
            ],
            sorts: &["owner", "objective_id"],
            listen: &[("period", "period"), ("owner", "owner"), ("level", "level")],
            ..Tile::new(
                "objectives_by_owner",
                "Objectives by owner",
                "objective_latest",
                "looker_grid",
            )
        },
        24,
        7,
    );
    b.tile(
        Tile {
            fields: &[
                "owner",
                "objective_latest.level",
                "objective_id",
                "kr_id",
                "kr_title",
                "progress",
                "expected_progress",
                "status",
                "health",
                "attention_reasons",
            ],
            sorts: &["owner", "kr_id"],
            listen: &kr_listen,
            ..Tile::new(
                "key_results_by_owner",
                "Key results by owner",
                "kr_latest",
                "looker_grid",
            )
        },
        24,
        8,
    );
    b.build(
        "owners",
        "OKR owners and teams",
        "By owner and objective level: what each owns and how it stands",
    )
}

/// Check-ins and health: health by objective, overdue health updates by owner.
fn checkins(project: &Project) -> Dashboard {
    let mut b = Builder::new(project);
    b.filter("period", "Period", "kr_latest", "period", "dropdown_menu");
    b.filter("owner", "Owner", "kr_latest", "owner", "tag_list");
    let kr_listen = [("period", "period"), ("owner", "owner")];
    b.tile(
        Tile {
            fields: &[
                "health_on_track_count",
                "health_needs_attention_count",
                "health_at_risk_count",
                "health_overdue_count",
            ],
            listen: &kr_listen,
            note: Some("Key results by their owner's newest health check-in."),
            ..Tile::new(
                "health_counts",
                "Key results by health",
                "kr_latest",
                "looker_grid",
            )
        },
        24,
        3,
    );
    b.tile(
        Tile {
            fields: &[
                "objective_id",
                "objective_title",
                "owner",
                "health",
                "health_on_track",
                "health_needs_attention",
                "health_at_risk",
                "health_overdue",
            ],
            sorts: &["objective_id"],
            listen: &[("period", "period"), ("owner", "owner")],
            note: Some("An objective's health is the worst of its key results'; the counts are of its key results."),
            ..Tile::new("health_by_objective", "Health by objective", "objective_latest", "looker_grid")
        },
        24,
        7,
    );
    b.tile(
        Tile {
            fields: &["owner", "health_overdue_count"],
            sorts: &["health_overdue_count desc"],
            filters: &[("health_overdue", "Yes")],
            listen: &kr_listen,
            ..Tile::new(
                "overdue_by_owner",
                "Overdue health updates by owner",
                "kr_latest",
                "looker_bar",
            )
        },
        10,
        7,
    );
    b.tile(
        Tile {
            fields: &[
                "owner",
                "kr_id",
                "kr_title",
                "health",
                "health_on_date",
                "health_by",
                "health_note",
            ],
            sorts: &["health_on_date"],
            filters: &[("health_overdue", "Yes")],
            listen: &kr_listen,
            ..Tile::new(
                "overdue",
                "Overdue health updates",
                "kr_latest",
                "looker_grid",
            )
        },
        14,
        7,
    );
    b.build(
        "checkins_health",
        "OKR check-ins and health",
        "The owners' health check-ins: health by objective and overdue updates by owner",
    )
}

/// Every dashboard, typed.
pub fn all(project: &Project) -> Vec<Dashboard> {
    vec![
        company_overview(project),
        key_result_detail(project),
        owners(project),
        checkins(project),
    ]
}

/// Every dashboard as its file's YAML: `(name = file stem, text)`.
pub fn dashboards(project: &Project) -> Result<Vec<(String, String)>, LookmlError> {
    all(project)
        .into_iter()
        .map(|d| {
            let yaml = serde_norway::to_string(&[&d]).map_err(|source| LookmlError::Yaml {
                name: d.dashboard.clone(),
                source,
            })?;
            Ok((
                d.dashboard.clone(),
                format!("# Generated by `okrflow lookml`.\n{yaml}"),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yaml::GRID_WIDTH;

    #[test]
    fn tiles_fit_the_grid_without_overlap() {
        let p = Project::new("okr_", "gen", "okr", "athena").unwrap();
        for d in all(&p) {
            let mut cells = std::collections::HashSet::new();
            for e in &d.elements {
                assert!(e.col + e.width <= GRID_WIDTH, "{} {}", d.dashboard, e.name);
                for r in e.row..e.row + e.height {
                    for c in e.col..e.col + e.width {
                        assert!(cells.insert((r, c)), "{} {} overlaps", d.dashboard, e.name);
                    }
                }
            }
        }
    }

    #[test]
    fn the_yaml_is_one_dashboard_in_a_list() {
        let p = Project::new("okr_", "gen", "okr", "athena").unwrap();
        for (name, text) in dashboards(&p).unwrap() {
            let parsed: serde_norway::Value = serde_norway::from_str(&text).unwrap();
            let list = parsed.as_sequence().unwrap();
            assert_eq!(list.len(), 1);
            assert_eq!(list[0]["dashboard"].as_str(), Some(name.as_str()));
            assert_eq!(list[0]["layout"].as_str(), Some("newspaper"));
        }
    }
}
