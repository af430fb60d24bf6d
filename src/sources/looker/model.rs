//! Looker API 4.0 bodies okrflow reads (only the fields it uses), and `json_detail` results
//! flattened into rows. Shapes follow Looker's OpenAPI 4.0 spec and the real `json_detail`
//! body copied into `tests/fixtures/looker/`.

use serde::Deserialize;
use serde_json::{Map, Value};

/// `POST /login`.
#[derive(Deserialize)]
pub struct AccessToken {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<f64>,
}

/// An entry of `GET /dashboards/search` or `GET /looks/search`.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchHit {
    pub id: Value,
    #[serde(default)]
    pub title: Option<String>,
}

/// `GET /dashboards/{id}/dashboard_filters`.
#[derive(Debug, Clone, Deserialize)]
pub struct DashboardFilter {
    pub name: String,
    #[serde(default)]
    pub default_value: Option<String>,
}

/// `GET /dashboards/{id}/dashboard_elements`.
#[derive(Debug, Clone, Deserialize)]
pub struct DashboardElement {
    #[serde(default)]
    pub id: Option<Value>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub title_text: Option<String>,
    #[serde(default)]
    pub query_id: Option<Value>,
    #[serde(default)]
    pub query: Option<Query>,
    #[serde(default)]
    pub look_id: Option<Value>,
    #[serde(default)]
    pub look: Option<Look>,
    #[serde(default)]
    pub merge_result_id: Option<Value>,
    #[serde(default)]
    pub result_maker: Option<ResultMaker>,
}

impl DashboardElement {
    /// The title a user sees: the tile's own, or its look's.
    pub fn shown_title(&self) -> Option<&str> {
        self.title
            .as_deref()
            .or(self.title_text.as_deref())
            .or(self.look.as_ref().and_then(|l| l.title.as_deref()))
            .filter(|t| !t.is_empty())
    }
}

/// `DashboardElement.result_maker`.
#[derive(Debug, Clone, Deserialize)]
pub struct ResultMaker {
    #[serde(default)]
    pub query_id: Option<Value>,
    #[serde(default)]
    pub query: Option<Query>,
    #[serde(default)]
    pub sql_query_id: Option<Value>,
    #[serde(default)]
    pub merge_result_id: Option<Value>,
    #[serde(default)]
    pub filterables: Option<Vec<Filterable>>,
}

/// Which dashboard filters a tile listens to.
#[derive(Debug, Clone, Deserialize)]
pub struct Filterable {
    #[serde(default)]
    pub listen: Option<Vec<Listen>>,
}

/// One dashboard filter applied to one field of the tile's query.
#[derive(Debug, Clone, Deserialize)]
pub struct Listen {
    pub dashboard_filter_name: String,
    pub field: String,
}

/// A look (`GET /looks/search`, `DashboardElement.look`).
#[derive(Debug, Clone, Deserialize)]
pub struct Look {
    pub id: Value,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub query_id: Option<Value>,
}

/// A query (`GET /queries/{id}`): kept as JSON, so that re-running it inline with dashboard
/// filters sends back every field Looker gave.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct Query(pub Map<String, Value>);

/// Looker ids are strings in the spec, but some instances send numbers.
pub fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A `json_detail` result.
#[derive(Debug, Clone, Deserialize)]
pub struct JsonDetail {
    #[serde(default)]
    pub fields: Fields,
    #[serde(default)]
    pub pivots: Option<Vec<Pivot>>,
    #[serde(default)]
    pub data: Vec<Map<String, Value>>,
    /// Query errors come back in a 200 body.
    #[serde(default)]
    pub errors: Option<Vec<Value>>,
    /// The day Looker gave this result (earlier when it is read from a raw archive).
    #[serde(skip)]
    pub fetched_on: Option<chrono::NaiveDate>,
}

/// `json_detail.fields`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Fields {
    #[serde(default)]
    pub dimensions: Vec<Field>,
    #[serde(default)]
    pub measures: Vec<Field>,
    #[serde(default)]
    pub table_calculations: Vec<Field>,
    #[serde(default)]
    pub pivots: Vec<Field>,
}

/// One field's metadata.
#[derive(Debug, Clone, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub is_numeric: Option<bool>,
    #[serde(default)]
    pub is_timeframe: Option<bool>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// json_bi's flag on table calculations; json_detail uses `is_numeric`.
    #[serde(default)]
    pub measure: Option<bool>,
}

impl Field {
    /// A time x-axis: a timeframe, or a `date_*` type.
    pub fn is_time(&self) -> bool {
        self.is_timeframe == Some(true)
            || self.kind.as_deref().is_some_and(|t| t.starts_with("date_"))
    }
}

/// One pivot column.
#[derive(Debug, Clone, Deserialize)]
pub struct Pivot {
    pub key: String,
    #[serde(default)]
    pub is_total: Option<bool>,
    #[serde(default)]
    pub data: Map<String, Value>,
}

/// The key of the row-total column of a pivoted result.
pub const ROW_TOTAL_KEY: &str = "$$$_row_total_$$$";

/// What kind of field a column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Dimension,
    Measure,
    Pivot,
}

impl Role {
    /// As stored in `looker_fields.role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Dimension => "dimension",
            Role::Measure => "measure",
            Role::Pivot => "pivot",
        }
    }
}

/// A field of a result, in query order.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldInfo {
    pub name: String,
    pub role: Role,
    pub is_time: bool,
}

/// One cell of a measure column: row, measure, pivot key and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub row: usize,
    pub measure: String,
    /// `None` when the result is not pivoted.
    pub pivot_key: Option<String>,
    /// The number, when the cell is one.
    pub value: Option<f64>,
    /// The cell as Looker sent it (`None` for null).
    pub text: Option<String>,
}

/// A `json_detail` result flattened: fields, pivot columns, dimension values per row and
/// measure cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flattened {
    pub fields: Vec<FieldInfo>,
    /// `(pivot key, pivot field, value)` for every non-total pivot column.
    pub pivots: Vec<(String, String, String)>,
    /// `(row, dimension, value as text)`.
    pub dimensions: Vec<(usize, String, Option<String>)>,
    pub cells: Vec<Cell>,
    /// The day Looker gave the result (`None`: today).
    pub fetched_on: Option<chrono::NaiveDate>,
}

impl JsonDetail {
    /// Flattens the result. Measures are the `measures` plus numeric table calculations;
    /// total pivot columns and the row total are left out.
    pub fn flatten(&self) -> Flattened {
        let mut out = Flattened {
            fetched_on: self.fetched_on,
            ..Flattened::default()
        };
        let pivot_fields: Vec<&str> = self.fields.pivots.iter().map(|f| f.name.as_str()).collect();
        for f in &self.fields.dimensions {
            if !pivot_fields.contains(&f.name.as_str()) {
                out.fields.push(FieldInfo {
                    name: f.name.clone(),
                    role: Role::Dimension,
                    is_time: f.is_time(),
                });
            }
        }
        for f in &self.fields.pivots {
            out.fields.push(FieldInfo {
                name: f.name.clone(),
                role: Role::Pivot,
                is_time: f.is_time(),
            });
        }
        let measures: Vec<&Field> = self
            .fields
            .measures
            .iter()
            .chain(
                self.fields
                    .table_calculations
                    .iter()
                    .filter(|f| f.is_numeric.or(f.measure).unwrap_or(true)),
            )
            .collect();
        for f in &measures {
            out.fields.push(FieldInfo {
                name: f.name.clone(),
                role: Role::Measure,
                is_time: false,
            });
        }
        let pivots: Vec<&Pivot> = self
            .pivots
            .iter()
            .flatten()
            .filter(|p| p.is_total != Some(true) && p.key != ROW_TOTAL_KEY)
            .collect();
        for p in &pivots {
            for (field, value) in &p.data {
                out.pivots.push((
                    p.key.clone(),
                    field.clone(),
                    text(value).unwrap_or_default(),
                ));
            }
        }
        let dimension_names: Vec<&str> = out
            .fields
            .iter()
            .filter(|f| f.role == Role::Dimension)
            .map(|f| f.name.as_str())
            .collect();
        for (i, row) in self.data.iter().enumerate() {
            for d in &dimension_names {
                let value = row.get(*d).and_then(cell_value);
                out.dimensions
                    .push((i, d.to_string(), value.and_then(text)));
            }
            for m in &measures {
                let Some(cell) = row.get(&m.name) else {
                    continue;
                };
                match cell_value(cell) {
                    // A plain cell: the result is not pivoted (or this column is not).
                    Some(v) => out.cells.push(make_cell(i, &m.name, None, v)),
                    None if is_plain_cell(cell) => {
                        out.cells.push(make_cell(i, &m.name, None, &Value::Null))
                    }
                    None => {
                        for p in &pivots {
                            let v = cell
                                .get(&p.key)
                                .and_then(cell_value)
                                .unwrap_or(&Value::Null);
                            out.cells.push(make_cell(i, &m.name, Some(&p.key), v));
                        }
                    }
                }
            }
        }
        out
    }
}

/// `{value: …}` → the value; anything else (a map of pivot keys) → `None`.
fn cell_value(cell: &Value) -> Option<&Value> {
    match cell {
        Value::Object(m) => m.get("value").filter(|v| !v.is_null()),
        _ => None,
    }
}

/// A cell object whose value is null (`{"value": null}`).
fn is_plain_cell(cell: &Value) -> bool {
    matches!(cell, Value::Object(m) if m.contains_key("value"))
}

fn make_cell(row: usize, measure: &str, pivot_key: Option<&str>, v: &Value) -> Cell {
    Cell {
        row,
        measure: measure.to_string(),
        pivot_key: pivot_key.map(String::from),
        value: number(v),
        text: text(v),
    }
}

/// A numeric cell: a JSON number, or a string that reads as a finite number.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_real_json_detail_body_flattens_to_one_cell_per_month() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/looker/looker-json_detail.actions-docs-example.json"
        ))
        .expect("the contract example is in tests/fixtures/looker");
        let detail: JsonDetail = serde_json::from_str(&text).unwrap();
        let flat = detail.flatten();
        assert_eq!(
            flat.fields,
            vec![
                FieldInfo {
                    name: "orders.created_month".into(),
                    role: Role::Dimension,
                    is_time: true
                },
                FieldInfo {
                    name: "orders.count".into(),
                    role: Role::Measure,
                    is_time: false
                },
            ]
        );
        assert_eq!(flat.cells.len(), 13);
        assert_eq!(flat.cells[0].value, Some(773.0));
        assert_eq!(
            flat.dimensions[0],
            (0, "orders.created_month".into(), Some("2017-07".into()))
        );
        assert!(flat.pivots.is_empty());
    }

    #[test]
    fn pivoted_measures_skip_totals_and_keep_nulls_and_text() {
        let detail: JsonDetail = serde_json::from_value(json!({
            "fields": {
                "dimensions": [{"name": "d.month", "is_timeframe": true}],
                "measures": [{"name": "m.count", "is_numeric": true}],
                "pivots": [{"name": "u.team"}],
                "table_calculations": [{"name": "share", "is_numeric": true}, {"name": "label", "is_numeric": false}]
            },
            "pivots": [
                {"key": "EMEA", "data": {"u.team": "EMEA"}},
                {"key": "AMER", "data": {"u.team": "AMER"}},
                {"key": "$$$_row_total_$$$", "is_total": true, "data": {}}
            ],
            "data": [{
                "d.month": {"value": "2026-10"},
                "m.count": {"EMEA": {"value": 3}, "AMER": {"value": null}, "$$$_row_total_$$$": {"value": 3}},
                "share": {"value": "n/a"},
                "label": {"value": "x"}
            }]
        }))
        .unwrap();
        let flat = detail.flatten();
        assert_eq!(
            flat.pivots,
            vec![
                ("EMEA".into(), "u.team".into(), "EMEA".into()),
                ("AMER".into(), "u.team".into(), "AMER".into()),
            ]
        );
        let cells: Vec<_> = flat
            .cells
            .iter()
            .map(|c| {
                (
                    c.measure.as_str(),
                    c.pivot_key.as_deref(),
                    c.value,
                    c.text.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            cells,
            vec![
                ("m.count", Some("EMEA"), Some(3.0), Some("3")),
                ("m.count", Some("AMER"), None, None),
                ("share", None, None, Some("n/a")),
            ]
        );
    }
}
