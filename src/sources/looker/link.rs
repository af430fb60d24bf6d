//! A key result's link to Looker, validated: what it reads (a dashboard tile or a look) and
//! which cells of the result make its value.

use super::config::{Aggregate, Format, LookerSource};
use std::fmt;

/// Which dashboard a tile is on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DashboardRef {
    Title(String),
    Id(String),
}

impl fmt::Display for DashboardRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DashboardRef::Title(t) => write!(f, "dashboard `{t}`"),
            DashboardRef::Id(id) => write!(f, "dashboard {id}"),
        }
    }
}

/// What a key result reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Tile {
        dashboard: DashboardRef,
        tile: String,
    },
    Look(String),
    LookId(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tile { dashboard, tile } => write!(f, "{dashboard} tile `{tile}`"),
            Target::Look(t) => write!(f, "look `{t}`"),
            Target::LookId(id) => write!(f, "look {id}"),
        }
    }
}

/// Which x-axis bucket counts.
#[derive(Debug, Clone, PartialEq)]
pub enum XSelect {
    /// The newest bucket of a time x-axis (every row when there is no x-axis).
    Latest,
    All,
    Value(String),
}

/// Which cells of the result make the value, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub x: XSelect,
    pub measure: Option<String>,
    pub pivot: Option<(String, String)>,
    pub filter: Vec<(String, String)>,
    pub aggregate: Aggregate,
    pub format: Format,
}

/// A key result's link to Looker, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct LookerLink {
    pub target: Target,
    pub selection: Selection,
}

impl LookerLink {
    /// Checks a key result's `source = { looker = {...} }`.
    pub fn from_config(s: &LookerSource) -> Result<LookerLink, Vec<String>> {
        let mut problems = Vec::new();
        let given = |v: &Option<String>| {
            v.as_ref()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let dashboard = match (given(&s.dashboard), given(&s.dashboard_id)) {
            (Some(_), Some(_)) => {
                problems.push("give dashboard or dashboard_id, not both".to_string());
                None
            }
            (Some(t), None) => Some(DashboardRef::Title(t)),
            (None, Some(id)) => Some(DashboardRef::Id(id)),
            (None, None) => None,
        };
        let tile = given(&s.tile);
        let target = match (dashboard, tile, given(&s.look), given(&s.look_id)) {
            (Some(dashboard), Some(tile), None, None) => Some(Target::Tile { dashboard, tile }),
            (Some(_), None, None, None) => {
                problems.push("a dashboard needs a `tile` (its title)".into());
                None
            }
            (None, Some(_), None, None) => {
                problems.push("a `tile` needs its `dashboard` (title) or `dashboard_id`".into());
                None
            }
            (None, None, Some(title), None) => Some(Target::Look(title)),
            (None, None, None, Some(id)) => Some(Target::LookId(id)),
            (None, None, None, None) => {
                problems.push("say what to read: dashboard + tile, look, or look_id".into());
                None
            }
            _ => {
                problems.push("give one of dashboard + tile, look, or look_id".into());
                None
            }
        };
        if s.pivot.len() > 1 {
            problems.push(format!(
                "pivot selects one column; {} are given ({})",
                s.pivot.len(),
                s.pivot.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        let x = match s.x.as_deref().map(str::trim) {
            None | Some("latest") => XSelect::Latest,
            Some("all") => XSelect::All,
            Some("") => {
                problems.push("x is empty: use \"latest\", \"all\" or an x-axis value".into());
                XSelect::Latest
            }
            Some(v) => XSelect::Value(v.to_string()),
        };
        match target {
            Some(target) if problems.is_empty() => Ok(LookerLink {
                target,
                selection: Selection {
                    x,
                    measure: given(&s.measure),
                    pivot: s.pivot.iter().next().map(|(k, v)| (k.clone(), v.clone())),
                    filter: s
                        .filter
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                    aggregate: s.aggregate,
                    format: s.format,
                },
            }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(toml_text: &str) -> LookerSource {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn a_link_names_exactly_one_thing_to_read() {
        let ok = LookerLink::from_config(&source(
            "dashboard = 'Sales'\ntile = 'Demos'\nx = 'all'\naggregate = 'sum'\npivot = { 'users.team' = 'EMEA' }",
        ))
        .unwrap();
        assert_eq!(
            ok.target,
            Target::Tile {
                dashboard: DashboardRef::Title("Sales".into()),
                tile: "Demos".into()
            }
        );
        assert_eq!(ok.selection.x, XSelect::All);
        assert_eq!(
            ok.selection.pivot,
            Some(("users.team".into(), "EMEA".into()))
        );
        assert_eq!(
            LookerLink::from_config(&source("look_id = '42'"))
                .unwrap()
                .target,
            Target::LookId("42".into())
        );
        assert_eq!(
            LookerLink::from_config(&source("look = 'Weekly'"))
                .unwrap()
                .selection
                .x,
            XSelect::Latest
        );

        let err = |t: &str| LookerLink::from_config(&source(t)).unwrap_err().join("; ");
        assert_eq!(
            err("dashboard = 'Sales'"),
            "a dashboard needs a `tile` (its title)"
        );
        assert_eq!(
            err("tile = 'Demos'"),
            "a `tile` needs its `dashboard` (title) or `dashboard_id`"
        );
        assert_eq!(
            err("look = 'a'\nlook_id = '1'"),
            "give one of dashboard + tile, look, or look_id"
        );
        assert_eq!(
            err(""),
            "say what to read: dashboard + tile, look, or look_id"
        );
        assert_eq!(
            err("look = 'a'\npivot = { a = '1', b = '2' }"),
            "pivot selects one column; 2 are given (a, b)"
        );
    }
}
