//! The YAML form of a LookML dashboard, as typed structs serde writes in the current syntax
//! (`layout: newspaper`, `fields:`, `note_text`, `looker_grid`), and a builder that names
//! fields under the project's prefix and places tiles on the newspaper grid row by row.

use super::super::Project;
use serde::Serialize;
use std::collections::BTreeMap;

/// The newspaper grid's width in columns.
pub const GRID_WIDTH: u32 = 24;

/// One LookML dashboard (the mapping inside the file's one-item list).
#[derive(Debug, Serialize)]
pub struct Dashboard {
    /// Its name, unique in the model (`<prefix>company_overview`).
    pub dashboard: String,
    /// Its title.
    pub title: String,
    /// What it shows.
    pub description: String,
    /// Always `newspaper`.
    pub layout: String,
    /// `dashboards-next`.
    pub preferred_viewer: String,
    /// Run the queries on opening.
    pub auto_run: bool,
    /// The dashboard's filters.
    pub filters: Vec<Filter>,
    /// The tiles.
    pub elements: Vec<Element>,
}

/// A dashboard filter on a field of an explore (`type: field_filter`).
#[derive(Debug, Serialize)]
pub struct Filter {
    /// What tiles' `listen` name.
    pub name: String,
    /// Its title.
    pub title: String,
    /// `field_filter`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A Looker filter expression (empty: any value).
    pub default_value: String,
    /// Several values at once.
    pub allow_multiple_values: bool,
    /// Must be set.
    pub required: bool,
    /// How it is shown.
    pub ui_config: UiConfig,
    /// The model the field is in.
    pub model: String,
    /// The explore the field is in.
    pub explore: String,
    /// Filters that narrow this one's suggestions.
    pub listens_to_filters: Vec<String>,
    /// `view.field`.
    pub field: String,
}

/// A filter's control.
#[derive(Debug, Serialize)]
pub struct UiConfig {
    /// `dropdown_menu`, `tag_list`, `advanced`…
    #[serde(rename = "type")]
    pub kind: String,
    /// `inline` or `popover`.
    pub display: String,
}

/// A tile.
#[derive(Debug, Serialize)]
pub struct Element {
    /// Unique in the dashboard.
    pub name: String,
    /// Its title.
    pub title: String,
    /// The model.
    pub model: String,
    /// The explore.
    pub explore: String,
    /// `looker_grid`, `looker_line`, `looker_column`, `looker_bar`, `single_value`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `view.field`, in order.
    pub fields: Vec<String>,
    /// Pivoted dimensions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pivots: Vec<String>,
    /// `view.field` or `view.field desc`.
    pub sorts: Vec<String>,
    /// Row limit.
    pub limit: u32,
    /// Fixed filters: `view.field` → expression.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub filters: BTreeMap<String, String>,
    /// Dashboard filter name → `view.field` it sets.
    pub listen: BTreeMap<String, String>,
    /// A note shown with the tile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note_text: Option<String>,
    /// Where the note goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note_display: Option<String>,
    /// Grid row.
    pub row: u32,
    /// Grid column.
    pub col: u32,
    /// Columns wide.
    pub width: u32,
    /// Rows high.
    pub height: u32,
}

/// Builds one dashboard's tiles: the model, the tiles placed row by row.
pub(super) struct Builder<'a> {
    project: &'a Project,
    filters: Vec<Filter>,
    elements: Vec<Element>,
    row: u32,
    col: u32,
    row_height: u32,
}

/// A tile's query, before it is placed.
pub(super) struct Tile<'a> {
    pub(super) name: &'a str,
    pub(super) title: &'a str,
    pub(super) explore: &'a str,
    pub(super) kind: &'a str,
    pub(super) fields: &'a [&'a str],
    pub(super) pivots: &'a [&'a str],
    pub(super) sorts: &'a [&'a str],
    pub(super) filters: &'a [(&'a str, &'a str)],
    pub(super) listen: &'a [(&'a str, &'a str)],
    pub(super) note: Option<&'a str>,
}

impl<'a> Tile<'a> {
    pub(super) fn new(name: &'a str, title: &'a str, explore: &'a str, kind: &'a str) -> Self {
        Tile {
            name,
            title,
            explore,
            kind,
            fields: &[],
            pivots: &[],
            sorts: &[],
            filters: &[],
            listen: &[],
            note: None,
        }
    }
}

impl<'a> Builder<'a> {
    pub(super) fn new(project: &'a Project) -> Self {
        Builder {
            project,
            filters: Vec::new(),
            elements: Vec::new(),
            row: 0,
            col: 0,
            row_height: 0,
        }
    }

    /// A scoped field: `field` of the prefixed `view`.
    pub(super) fn field(&self, view: &str, field: &str) -> String {
        format!("{}.{field}", self.project.name(view))
    }

    /// A dashboard filter on `view.field` of `explore` (unprefixed names).
    pub(super) fn filter(&mut self, name: &str, title: &str, explore: &str, field: &str, ui: &str) {
        let (view, field) = field.split_once('.').unwrap_or((explore, field));
        self.filters.push(Filter {
            name: name.to_string(),
            title: title.to_string(),
            kind: "field_filter".into(),
            default_value: String::new(),
            // a drop-down menu picks one value; tag lists and checkboxes several
            allow_multiple_values: !matches!(
                ui,
                "dropdown_menu" | "radio_buttons" | "button_toggles"
            ),
            required: false,
            ui_config: UiConfig {
                kind: ui.into(),
                display: "popover".into(),
            },
            model: self.project.model_name(),
            explore: self.project.name(explore),
            listens_to_filters: Vec::new(),
            field: self.field(view, field),
        });
    }

    /// Makes the last filter added required and of one value (the dashboard waits for it).
    pub(super) fn one_required(&mut self) {
        if let Some(f) = self.filters.last_mut() {
            f.required = true;
            f.allow_multiple_values = false;
        }
    }

    /// Places `tile` `width` × `height` after the previous one, on a new row when it does not
    /// fit. Fields are `view.field` with unprefixed views (a bare field is the explore's).
    pub(super) fn tile(&mut self, tile: Tile, width: u32, height: u32) {
        if self.col + width > GRID_WIDTH {
            self.row += self.row_height;
            self.col = 0;
            self.row_height = 0;
        }
        let scope = |f: &str| {
            let (f, order) = match f.split_once(' ') {
                Some((f, o)) => (f, format!(" {o}")),
                None => (f, String::new()),
            };
            let (view, field) = f.split_once('.').unwrap_or((tile.explore, f));
            format!("{}{order}", self.field(view, field))
        };
        let element = Element {
            name: tile.name.to_string(),
            title: tile.title.to_string(),
            model: self.project.model_name(),
            explore: self.project.name(tile.explore),
            kind: tile.kind.to_string(),
            fields: tile.fields.iter().map(|f| scope(f)).collect(),
            pivots: tile.pivots.iter().map(|f| scope(f)).collect(),
            sorts: tile.sorts.iter().map(|f| scope(f)).collect(),
            limit: 500,
            filters: tile
                .filters
                .iter()
                .map(|(f, v)| (scope(f), v.to_string()))
                .collect(),
            listen: tile
                .listen
                .iter()
                .map(|(name, f)| (name.to_string(), scope(f)))
                .collect(),
            note_text: tile.note.map(str::to_string),
            note_display: tile.note.map(|_| "below".to_string()),
            row: self.row,
            col: self.col,
            width,
            height,
        };
        self.elements.push(element);
        self.col += width;
        self.row_height = self.row_height.max(height);
    }

    pub(super) fn build(self, name: &str, title: &str, description: &str) -> Dashboard {
        Dashboard {
            dashboard: self.project.name(name),
            title: title.to_string(),
            description: description.to_string(),
            layout: "newspaper".into(),
            preferred_viewer: "dashboards-next".into(),
            auto_run: true,
            filters: self.filters,
            elements: self.elements,
        }
    }
}
