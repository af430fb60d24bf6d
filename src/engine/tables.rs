//! The input tables the scoring SQL reads, built from the plan and the extracted values:
//! `run_info`, `kr_definitions`, `kr_milestones`, `kr_phases`, `objective_definitions`,
//! `objective_alignments` and `kr_values`.
//! Rust only moves data here; what the columns mean is decided in `sql/`.

use super::{EngineError, date32, register_batches};
use crate::model::value::KrValue;
use crate::model::{KeyResult, LatePenalty, Measure, Phase, Plan, Threshold};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// What identifies one run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: String,
    pub as_of: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub computed_at: DateTime<Utc>,
    /// SHA-256 of the job file's text.
    pub definition_hash: String,
}

/// A column of a table under construction.
pub enum Col {
    Text(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
    Float(Vec<Option<f64>>),
    Int(Vec<Option<i64>>),
    Date(Vec<Option<i32>>),
    Millis(Vec<Option<i64>>),
}

impl Col {
    fn data_type(&self) -> DataType {
        match self {
            Col::Text(_) => DataType::Utf8,
            Col::Bool(_) => DataType::Boolean,
            Col::Float(_) => DataType::Float64,
            Col::Int(_) => DataType::Int64,
            Col::Date(_) => DataType::Date32,
            Col::Millis(_) => DataType::Timestamp(TimeUnit::Millisecond, None),
        }
    }
    fn into_array(self) -> ArrayRef {
        match self {
            Col::Text(v) => Arc::new(StringArray::from(v)),
            Col::Bool(v) => Arc::new(BooleanArray::from(v)),
            Col::Float(v) => Arc::new(Float64Array::from(v)),
            Col::Int(v) => Arc::new(Int64Array::from(v)),
            Col::Date(v) => Arc::new(Date32Array::from(v)),
            Col::Millis(v) => Arc::new(TimestampMillisecondArray::from(v)),
        }
    }
}

/// The day each key result is evaluated on for a run date: the `eval_date` column of every
/// input table that has one.
pub fn evaluation_dates<'a, L: 'a>(
    krs: impl Iterator<Item = &'a KeyResult<L>>,
    as_of: NaiveDate,
) -> Col {
    Col::Date(
        krs.map(|k| Some(date32(k.evaluation_date(as_of))))
            .collect(),
    )
}

/// The day each key result's value is read as of (the evaluation date less its offset): the
/// date the sources extract for.
pub fn value_dates<'a, L: 'a>(
    krs: impl Iterator<Item = &'a KeyResult<L>>,
    as_of: NaiveDate,
) -> Col {
    Col::Date(krs.map(|k| Some(date32(k.value_date(as_of)))).collect())
}

/// Registers `name` with the given named columns (all nullable).
pub fn register(
    ctx: &SessionContext,
    name: &str,
    cols: Vec<(&str, Col)>,
) -> Result<(), EngineError> {
    let batch = batch(name, cols)?;
    register_batches(ctx, name, vec![batch.clone()], batch.schema())
}

/// The given named columns (all nullable) as one batch of table `name` (named in errors).
pub fn batch(name: &str, cols: Vec<(&str, Col)>) -> Result<RecordBatch, EngineError> {
    let schema: SchemaRef = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, c)| Field::new(*n, c.data_type(), true))
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = cols.into_iter().map(|(_, c)| c.into_array()).collect();
    RecordBatch::try_new(schema, arrays).map_err(|e| EngineError::Register {
        table: name.to_string(),
        message: e.to_string(),
    })
}

/// A text column.
pub fn text(v: impl IntoIterator<Item = Option<String>>) -> Col {
    Col::Text(v.into_iter().collect())
}

/// Registers `run_info`, `kr_definitions`, `kr_milestones` and `objective_definitions`.
pub fn register_definitions<C, L>(
    ctx: &SessionContext,
    plan: &Plan<C, L>,
    run: &RunInfo,
) -> Result<(), EngineError> {
    register(
        ctx,
        "run_info",
        vec![
            ("run_id", text([Some(run.run_id.clone())])),
            ("job_name", text([Some(plan.job_name.clone())])),
            ("as_of", Col::Date(vec![Some(date32(run.as_of))])),
            (
                "started_at",
                Col::Millis(vec![Some(run.started_at.timestamp_millis())]),
            ),
            (
                "computed_at",
                Col::Millis(vec![Some(run.computed_at.timestamp_millis())]),
            ),
            (
                "behind_below",
                Col::Float(vec![Some(plan.thresholds.behind_below)]),
            ),
            (
                "at_risk_below",
                Col::Float(vec![Some(plan.thresholds.at_risk_below)]),
            ),
            (
                "okrflow_version",
                text([Some(env!("CARGO_PKG_VERSION").to_string())]),
            ),
            ("definition_hash", text([Some(run.definition_hash.clone())])),
            ("job_definition", text([Some(plan.job_text.clone())])),
        ],
    )?;

    let krs = &plan.key_results;
    let (start, target): (Vec<_>, Vec<_>) = krs
        .iter()
        .map(|k| match k.measure {
            Measure::Kpi { start, target, .. } => (Some(start), Some(target)),
            _ => (None, None),
        })
        .unzip();
    let threshold = |k: &KeyResult<L>| match k.measure {
        Measure::Threshold(Threshold::Above(v)) => (Some(v), None),
        Measure::Threshold(Threshold::Below(v)) => (None, Some(v)),
        _ => (None, None),
    };
    let penalty = |k: &KeyResult<L>| match k.late_penalty {
        LatePenalty::None => ("none", None),
        LatePenalty::PerWeek(w) => ("per_week", Some(w)),
        LatePenalty::ZeroIfMissed => ("zero_if_missed", None),
    };
    register(
        ctx,
        "kr_definitions",
        vec![
            ("kr_id", text(krs.iter().map(|k| Some(k.id.clone())))),
            (
                "objective_id",
                text(krs.iter().map(|k| Some(k.objective_id.clone()))),
            ),
            (
                "period",
                text(krs.iter().map(|k| Some(k.period.label.clone()))),
            ),
            (
                "period_start",
                Col::Date(krs.iter().map(|k| Some(date32(k.period.start))).collect()),
            ),
            (
                "period_end",
                Col::Date(krs.iter().map(|k| Some(date32(k.period.end))).collect()),
            ),
            ("kr_title", text(krs.iter().map(|k| Some(k.title.clone())))),
            (
                "definition",
                text(krs.iter().map(|k| Some(k.definition.clone()))),
            ),
            ("owner", text(krs.iter().map(|k| k.owner.clone()))),
            (
                "measure_kind",
                text(krs.iter().map(|k| Some(k.measure.kind().to_string()))),
            ),
            ("start_value", Col::Float(start)),
            ("target_value", Col::Float(target)),
            (
                "threshold_above",
                Col::Float(krs.iter().map(|k| threshold(k).0).collect()),
            ),
            (
                "threshold_below",
                Col::Float(krs.iter().map(|k| threshold(k).1).collect()),
            ),
            (
                "weight",
                Col::Float(krs.iter().map(|k| Some(k.weight)).collect()),
            ),
            (
                "window_start",
                Col::Date(krs.iter().map(|k| Some(date32(k.window_start))).collect()),
            ),
            (
                "due",
                Col::Date(krs.iter().map(|k| Some(date32(k.due))).collect()),
            ),
            ("eval_date", evaluation_dates(krs.iter(), run.as_of)),
            ("value_date", value_dates(krs.iter(), run.as_of)),
            (
                "offset_days",
                Col::Int(krs.iter().map(|k| Some(i64::from(k.offset_days))).collect()),
            ),
            (
                "rollup",
                text(krs.iter().map(|k| k.rollup.map(|r| r.as_str().to_string()))),
            ),
            (
                "aligns_to_kr",
                text(krs.iter().map(|k| k.aligns_to.clone())),
            ),
            (
                "health_max_age_days",
                Col::Int(
                    krs.iter()
                        .map(|_| Some(i64::from(plan.health_max_age_days)))
                        .collect(),
                ),
            ),
            (
                "late_penalty_kind",
                text(krs.iter().map(|k| Some(penalty(k).0.to_string()))),
            ),
            (
                "late_penalty_per_week",
                Col::Float(krs.iter().map(|k| penalty(k).1).collect()),
            ),
            (
                "source_kind",
                text(krs.iter().map(|k| {
                    k.source
                        .as_ref()
                        .map(|s| s.kind().to_string())
                        .or(k.rollup.map(|_| "aligned".to_string()))
                })),
            ),
            (
                "connection",
                text(
                    krs.iter()
                        .map(|k| k.source.as_ref().map(|s| s.connection().to_string())),
                ),
            ),
        ],
    )?;

    let milestones: Vec<(&str, usize, &crate::model::Milestone)> = krs
        .iter()
        .flat_map(|k| match &k.measure {
            Measure::Milestones(m) => m
                .iter()
                .enumerate()
                .map(|(i, m)| (k.id.as_str(), i + 1, m))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    register(
        ctx,
        "kr_milestones",
        vec![
            (
                "kr_id",
                text(milestones.iter().map(|m| Some(m.0.to_string()))),
            ),
            (
                "position",
                Col::Int(milestones.iter().map(|m| Some(m.1 as i64)).collect()),
            ),
            (
                "title",
                text(milestones.iter().map(|m| Some(m.2.title.clone()))),
            ),
            (
                "at_value",
                Col::Float(milestones.iter().map(|m| Some(m.2.at)).collect()),
            ),
            (
                "progress",
                Col::Float(milestones.iter().map(|m| Some(m.2.progress)).collect()),
            ),
        ],
    )?;

    let objs = &plan.objectives;
    register(
        ctx,
        "objective_definitions",
        vec![
            (
                "objective_id",
                text(objs.iter().map(|o| Some(o.id.clone()))),
            ),
            ("title", text(objs.iter().map(|o| Some(o.title.clone())))),
            ("owner", text(objs.iter().map(|o| o.owner.clone()))),
            (
                "level",
                text(objs.iter().map(|o| Some(o.level.as_str().to_string()))),
            ),
            (
                "period",
                text(objs.iter().map(|o| Some(o.period.label.clone()))),
            ),
            (
                "period_start",
                Col::Date(objs.iter().map(|o| Some(date32(o.period.start))).collect()),
            ),
            (
                "period_end",
                Col::Date(objs.iter().map(|o| Some(date32(o.period.end))).collect()),
            ),
            (
                "eval_date",
                Col::Date(
                    objs.iter()
                        .map(|o| Some(date32(o.period.evaluation_date(run.as_of))))
                        .collect(),
                ),
            ),
            (
                "status_rule",
                text(
                    objs.iter()
                        .map(|o| Some(o.status_rule.as_str().to_string())),
                ),
            ),
        ],
    )?;

    let phases: Vec<(&str, &Phase)> = krs
        .iter()
        .flat_map(|k| match &k.measure {
            Measure::Kpi { phases, .. } => phases.iter().map(|p| (k.id.as_str(), p)).collect(),
            _ => Vec::new(),
        })
        .collect();
    register(
        ctx,
        "kr_phases",
        vec![
            ("kr_id", text(phases.iter().map(|p| Some(p.0.to_string())))),
            (
                "on_date",
                Col::Date(phases.iter().map(|p| Some(date32(p.1.on))).collect()),
            ),
            (
                "target_value",
                Col::Float(phases.iter().map(|p| Some(p.1.target)).collect()),
            ),
        ],
    )?;

    let links: Vec<(&str, usize, &(String, f64))> = objs
        .iter()
        .flat_map(|o| {
            o.aligns_to
                .iter()
                .enumerate()
                .map(|(i, a)| (o.id.as_str(), i + 1, a))
        })
        .collect();
    register(
        ctx,
        "objective_alignments",
        vec![
            (
                "objective_id",
                text(links.iter().map(|l| Some(l.0.to_string()))),
            ),
            (
                "position",
                Col::Int(links.iter().map(|l| Some(l.1 as i64)).collect()),
            ),
            (
                "parent_kr_id",
                text(links.iter().map(|l| Some(l.2.0.clone()))),
            ),
            (
                "contribution",
                Col::Float(links.iter().map(|l| Some(l.2.1)).collect()),
            ),
        ],
    )
}

/// Registers `kr_values`: one row per key result with a source, its value or its error, or
/// neither and a `note` saying why there is nothing to measure yet.
pub fn register_values(ctx: &SessionContext, values: &[KrValue]) -> Result<(), EngineError> {
    register(
        ctx,
        "kr_values",
        vec![
            ("kr_id", text(values.iter().map(|v| Some(v.kr_id.clone())))),
            (
                "value",
                Col::Float(values.iter().map(KrValue::number).collect()),
            ),
            (
                "error",
                text(
                    values
                        .iter()
                        .map(|v| v.value.as_ref().err().map(|e| e.to_string())),
                ),
            ),
            (
                "note",
                text(values.iter().map(|v| {
                    v.value
                        .as_ref()
                        .ok()
                        .and_then(|m| m.note())
                        .map(String::from)
                })),
            ),
        ],
    )
}
