//! Reading the report's SQL results (`report_krs`, `report_objectives`, `report_attention`)
//! into the structs the template shows. Rust only moves the rows here; which rows and what
//! they mean is decided in `sql/report_*.sql`.

use super::Point;
use super::overview::Attention;
use crate::engine;
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Date32Type, Float64Type, Int64Type};
use std::collections::BTreeMap;

/// What a key result's rows say about it besides its points.
#[derive(Default)]
pub(super) struct KrInfo {
    pub objective_id: String,
    pub title: String,
    pub owner: Option<String>,
    pub measure_kind: Option<String>,
    pub start: Option<f64>,
    pub target: Option<f64>,
    /// A threshold (guardrail): `(at or above | at or below, the threshold)`.
    pub threshold: Option<(&'static str, f64)>,
    /// Its window: first day and due date.
    pub starts: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    /// What the value chart's axis spans at least (`axis_from`, `axis_to` of `report_krs`).
    pub axis: (Option<f64>, Option<f64>),
}

/// Each key result's rows from `report_krs`, oldest first (a view's order does not survive
/// parallel execution, so they are sorted here).
pub(super) fn kr_points(batches: &[RecordBatch]) -> BTreeMap<String, (KrInfo, Vec<Point>)> {
    let mut out: BTreeMap<String, (KrInfo, Vec<Point>)> = BTreeMap::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let id = string(b, "kr_id", i).unwrap_or_default();
            let entry = out.entry(id).or_default();
            let as_of = date(b, "as_of", i).unwrap_or_default();
            // The newest row names the key result as it is now.
            if entry.1.iter().all(|p| p.date < as_of) {
                entry.0 = KrInfo {
                    objective_id: string(b, "objective_id", i).unwrap_or_default(),
                    title: string(b, "kr_title", i).unwrap_or_default(),
                    owner: string(b, "owner", i),
                    measure_kind: string(b, "measure_kind", i),
                    start: float(b, "start_value", i),
                    target: float(b, "target_value", i),
                    threshold: float(b, "threshold_above", i)
                        .map(|v| ("at or above", v))
                        .or(float(b, "threshold_below", i).map(|v| ("at or below", v))),
                    starts: date(b, "starts", i),
                    due: date(b, "due", i),
                    axis: (float(b, "axis_from", i), float(b, "axis_to", i)),
                };
            }
            entry.1.push(Point {
                date: as_of,
                evaluated_on: date(b, "evaluated_on", i).unwrap_or(as_of),
                charted: flag(b, "charted", i),
                value: float(b, "value", i),
                progress: float(b, "progress", i),
                expected: float(b, "expected_progress", i),
                score: float(b, "score", i),
                status: string(b, "status", i),
                stale: flag(b, "stale", i),
                error: string(b, "error", i),
                note: string(b, "note", i),
                health: string(b, "health", i),
                health_note: string(b, "health_note", i),
                health_on: date(b, "health_on", i),
                health_overdue: flag(b, "health_overdue", i),
                graded_score: float(b, "graded_score", i),
                graded_by: string(b, "graded_by", i),
                graded_note: string(b, "graded_note", i),
                forecast_value: float(b, "forecast_value", i),
                forecast_attainment: float(b, "forecast_attainment", i),
                forecast_points: int(b, "forecast_points", i),
            });
        }
    }
    for (_, points) in out.values_mut() {
        points.sort_by_key(|p| p.date);
    }
    out
}

/// The rows of `report_attention`.
pub(super) fn attention(batches: &[RecordBatch]) -> Vec<Attention> {
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            out.push(Attention {
                id: string(b, "kr_id", i).unwrap_or_default(),
                title: string(b, "kr_title", i).unwrap_or_default(),
                owner: string(b, "owner", i),
                objective_id: string(b, "objective_id", i).unwrap_or_default(),
                reasons: string(b, "reasons", i).unwrap_or_default(),
                why: string(b, "why", i),
                off_pace: flag(b, "off_pace", i),
                failing: flag(b, "failing", i),
                health_overdue: flag(b, "health_overdue", i),
            });
        }
    }
    out
}

pub(super) fn string(b: &RecordBatch, column: &str, i: usize) -> Option<String> {
    let c = b.column_by_name(column)?.as_string_opt::<i32>()?;
    c.is_valid(i).then(|| c.value(i).to_string())
}

pub(super) fn flag(b: &RecordBatch, column: &str, i: usize) -> bool {
    b.column_by_name(column)
        .and_then(|c| c.as_boolean_opt())
        .is_some_and(|c| c.is_valid(i) && c.value(i))
}

pub(super) fn float(b: &RecordBatch, column: &str, i: usize) -> Option<f64> {
    let c = b
        .column_by_name(column)?
        .as_primitive_opt::<Float64Type>()?;
    c.is_valid(i).then(|| c.value(i))
}

pub(super) fn int(b: &RecordBatch, column: &str, i: usize) -> i64 {
    b.column_by_name(column)
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .filter(|c| c.is_valid(i))
        .map_or(0, |c| c.value(i))
}

pub(super) fn date(b: &RecordBatch, column: &str, i: usize) -> Option<NaiveDate> {
    let c = b.column_by_name(column)?.as_primitive_opt::<Date32Type>()?;
    c.is_valid(i).then(|| engine::from_date32(c.value(i)))
}
