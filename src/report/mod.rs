//! The progress report: one self-contained HTML file for a period, read back from the
//! written snapshots. It opens on the answer (the period, status counts, the objective tree,
//! what needs attention); then per objective its key results, each with a chart of progress
//! against expected and one of its value. The SQL in `sql/report_*.sql` picks the rows and
//! holds the rules; plotters draws the charts as inline SVG; minijinja fills
//! `templates/report.html`.

mod chart;
mod overview;
mod rows;

use crate::engine::tables::{Col, register, text};
use crate::engine::{self, EngineError, registry};
use crate::job::Plan;
use crate::model::Location;
use crate::sink::{SinkError, history};
use crate::storage::{self, StorageError};
use chrono::{NaiveDate, Utc};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
pub(crate) use overview::Attention;
use overview::Overview;
use rows::{date, float, int, string};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The report template: self-contained (inline CSS and SVG, no script, no network).
const TEMPLATE: &str = include_str!("../../templates/report.html");

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    /// The output cannot be opened; the message is whole (no second `caused by` line).
    #[error("output {0}")]
    Output(StorageError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{output} has no snapshots yet: run or backfill the job first")]
    NoSnapshots { output: String },
    #[error("no snapshots of period {period} in {output} (periods with snapshots: {known})")]
    UnknownPeriod {
        period: String,
        output: String,
        known: String,
    },
    #[error("cannot draw the chart of {kr}: {message}")]
    Chart { kr: String, message: String },
    #[error("cannot render the report: {0}")]
    Template(#[from] minijinja::Error),
    #[error("cannot write in {}", dir.display())]
    WriteIn {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing the file or renaming it into place (a `tempfile::PersistError`) failed.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// One date of a key result.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Point {
    /// The snapshot's date (`as_of`).
    pub date: NaiveDate,
    /// The day it was evaluated on: its date, or its period's last day once that is over.
    pub evaluated_on: NaiveDate,
    /// Drawn in the chart: the newest of the snapshots evaluated on its day.
    pub charted: bool,
    pub value: Option<f64>,
    pub progress: Option<f64>,
    pub expected: Option<f64>,
    /// The score so far; a closed period's final score.
    pub score: Option<f64>,
    pub status: Option<String>,
    pub stale: bool,
    pub error: Option<String>,
    /// Why there was nothing to measure, for a `no_data` snapshot.
    pub note: Option<String>,
    /// The owner's newest health check-in: health, note, date, overdue.
    pub health: Option<String>,
    pub health_note: Option<String>,
    pub health_on: Option<NaiveDate>,
    pub health_overdue: bool,
    /// The owner's grade (0 to 1), by whom, with their note (`sql/kr_grades.sql`).
    pub graded_score: Option<f64>,
    pub graded_by: Option<String>,
    pub graded_note: Option<String>,
    /// Where it ends at this pace (`sql/kr_forecasts.sql`): the value at the due date, its
    /// attainment, and the dates the line went through (0: no forecast).
    pub forecast_value: Option<f64>,
    pub forecast_attainment: Option<f64>,
    pub forecast_points: i64,
}

/// A key result: its newest snapshot, every snapshot of the period, and its chart.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct KeyResultView {
    pub id: String,
    pub title: String,
    pub owner: Option<String>,
    pub measure_kind: Option<String>,
    pub start: Option<f64>,
    pub target: Option<f64>,
    /// A threshold (guardrail): `at or above` or `at or below`, and the threshold.
    pub threshold: Option<(&'static str, f64)>,
    pub starts: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    /// For a roll-up: `sum of A-KR1, E-KR1`.
    pub rolls_up: Option<String>,
    /// For a roll-up's child, the roll-up: `C-KR1 · Book 100 demos (FY27)`.
    pub adds_to: Option<String>,
    pub latest: Point,
    pub points: Vec<Point>,
    /// Two `<svg>` elements: progress against expected, and the value.
    pub progress_chart: String,
    pub value_chart: String,
}

/// An objective as its newest snapshot says, with its key results.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ObjectiveView {
    pub id: String,
    pub title: String,
    pub owner: Option<String>,
    pub level: Option<String>,
    pub as_of: NaiveDate,
    pub status: Option<String>,
    pub progress: Option<f64>,
    pub expected: Option<f64>,
    pub score: Option<f64>,
    pub krs_total: i64,
    pub krs_no_data: i64,
    pub krs_stale: i64,
    pub krs_failed: i64,
    /// The owners' worst health among its key results, and how many gave each.
    pub health: Option<String>,
    pub health_at_risk: i64,
    pub health_needs_attention: i64,
    pub health_on_track: i64,
    /// When its status is on the other side of most of what is under it: how many of how
    /// many are, which (`C1-KR1 behind, O1 behind`), and its own key results that carry it.
    pub against_count: Option<i64>,
    pub children: i64,
    pub against: Option<String>,
    pub driven_by: Option<String>,
    /// Its depth in the report's tree: 0, or one more than the objective it aligns to.
    pub depth: usize,
    /// The key results it aligns to, with their objective's period and the contribution
    /// (`C-KR3 · Teams deliver (C, FY27) ×1`): an annual parent shows in a quarter's report.
    pub aligns_to: Vec<String>,
    pub key_results: Vec<KeyResultView>,
}

/// What the report shows.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub job: String,
    pub period: String,
    pub first_date: NaiveDate,
    /// The newest snapshot's date: the report's day, not the day it is generated.
    pub last_date: NaiveDate,
    pub output: String,
    pub generated_at: String,
    /// `FY27-Q1 closed — final, as of 2026-04-30` when the newest snapshot is after the
    /// period's end.
    pub closed: Option<String>,
    /// The opening: where the period stands and what needs attention.
    pub overview: Overview,
    pub objectives: Vec<ObjectiveView>,
}

/// Reads the snapshots of `period` up to `as_of` from the job's output, or `output` when
/// given. Without a period, of the newest snapshot's periods one still running, then the one
/// with the most key results (see `sql/report_krs.sql`); without `as_of`, the newest snapshot.
pub(crate) async fn build(
    plan: &Plan,
    period: Option<&str>,
    as_of: Option<NaiveDate>,
    output: Option<&Location>,
) -> Result<Report, ReportError> {
    let output = output.cloned().unwrap_or_else(|| plan.output.clone());
    // `fy27-q1` is FY27-Q1: the job's own spelling of a period it defines.
    let period = period.map(|p| {
        plan.objectives
            .iter()
            .find(|o| o.period.label.eq_ignore_ascii_case(p.trim()))
            .map_or(p, |o| o.period.label.as_str())
    });
    let opened = storage::open(&output, false).await?;
    let ctx = engine::new_session();
    // Only runs recorded in `runs`: not the partitions of a run killed half-way through.
    let found = history::register_committed(&ctx, &opened, "kr_snapshots", "report_kr_history")
        .await?
        && history::register_committed(
            &ctx,
            &opened,
            "objective_snapshots",
            "report_objective_history",
        )
        .await?;
    if !found {
        return Err(ReportError::NoSnapshots {
            output: output.to_string(),
        });
    }
    // Outputs written by an earlier okrflow lack the newer columns.
    history::pad_columns(
        &ctx,
        "report_kr_history",
        &[
            ("note", DataType::Utf8),
            ("health", DataType::Utf8),
            ("health_note", DataType::Utf8),
            ("health_on", DataType::Date32),
            ("health_overdue", DataType::Boolean),
            ("graded_score", DataType::Float64),
            ("graded_by", DataType::Utf8),
            ("graded_note", DataType::Utf8),
            ("threshold_above", DataType::Float64),
            ("threshold_below", DataType::Float64),
            ("forecast_value", DataType::Float64),
            ("forecast_attainment", DataType::Float64),
            ("forecast_points", DataType::Int64),
        ],
    )
    .await?;
    history::pad_columns(
        &ctx,
        "report_objective_history",
        &[
            ("krs_no_data", DataType::Int64),
            ("objective_title", DataType::Utf8),
            ("title", DataType::Utf8),
            ("aligns_to", DataType::Utf8),
            ("health", DataType::Utf8),
            ("health_at_risk", DataType::Int64),
            ("health_needs_attention", DataType::Int64),
            ("health_on_track", DataType::Int64),
        ],
    )
    .await?;
    register(
        &ctx,
        "report_request",
        vec![
            ("period", text([period.map(String::from)])),
            ("as_of", Col::Date(vec![as_of.map(engine::date32)])),
        ],
    )?;
    for s in registry::REPORT {
        engine::register_view(&ctx, s).await?;
    }
    let krs = engine::query(&ctx, "SELECT * FROM report_krs").await?;
    let objectives = engine::query(&ctx, "SELECT * FROM report_objectives").await?;
    let attention = engine::query(&ctx, "SELECT * FROM report_attention").await?;
    let points = rows::kr_points(&krs);
    let Some(period) = krs
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| string(b, "period", 0))
    else {
        let known = engine::query(
            &ctx,
            "SELECT DISTINCT arrow_cast(period, 'Utf8') FROM report_kr_history ORDER BY 1",
        )
        .await?;
        let mut wanted = period.unwrap_or("any period").to_string();
        if let Some(day) = as_of {
            wanted = format!("{wanted} on or before {day}");
        }
        return Err(ReportError::UnknownPeriod {
            period: wanted,
            output: output.to_string(),
            known: known
                .iter()
                .flat_map(|b| {
                    let c = b.column(0).as_string::<i32>();
                    (0..b.num_rows())
                        .map(|i| c.value(i).to_string())
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let dates: Vec<NaiveDate> = points
        .values()
        .flat_map(|(_, p)| p.iter().map(|p| p.date))
        .collect();
    let (first_date, last_date) = (
        dates.iter().min().copied().unwrap_or_default(),
        dates.iter().max().copied().unwrap_or_default(),
    );
    // The chart spans the period as the job defines it, else the dates there are.
    let defined = plan.objectives.iter().find(|o| o.period.label == period);
    let (start, end) = defined.map_or((first_date, last_date), |o| (o.period.start, o.period.end));
    let closed = defined.and_then(|o| o.period.closed_note(last_date));

    let mut views = Vec::new();
    for b in &objectives {
        for i in 0..b.num_rows() {
            let id = string(b, "objective_id", i).unwrap_or_default();
            let mut key_results = Vec::new();
            for (kr_id, (info, pts)) in points
                .iter()
                .filter(|(_, (info, _))| info.objective_id == id)
            {
                key_results.push(key_result(plan, kr_id, info, pts, start, end)?);
            }
            let position = |k: &KeyResultView| {
                plan.key_results
                    .iter()
                    .position(|d| d.id == k.id)
                    .unwrap_or(usize::MAX)
            };
            key_results.sort_by(|a, b| (position(a), &a.id).cmp(&(position(b), &b.id)));
            let aligns_to = plan
                .objectives
                .iter()
                .find(|o| o.id == id)
                .map(|o| {
                    o.aligns_to
                        .iter()
                        .filter_map(|(kr, w)| {
                            plan.key_result(kr).map(|k| {
                                format!(
                                    "{kr} · {} ({}, {}) ×{w}",
                                    k.title, k.objective_id, k.period.label
                                )
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let against_count = b
                .column_by_name("against_count")
                .filter(|c| c.is_valid(i))
                .map(|_| int(b, "against_count", i));
            views.push(ObjectiveView {
                aligns_to,
                id,
                title: string(b, "title", i).unwrap_or_default(),
                owner: string(b, "owner", i),
                level: string(b, "level", i),
                as_of: date(b, "as_of", i).unwrap_or_default(),
                status: string(b, "status", i),
                progress: float(b, "progress", i),
                expected: float(b, "expected_progress", i),
                score: float(b, "score", i),
                krs_total: int(b, "krs_total", i),
                krs_no_data: int(b, "krs_no_data", i),
                krs_stale: int(b, "krs_stale", i),
                krs_failed: int(b, "krs_failed", i),
                health: string(b, "health", i),
                health_at_risk: int(b, "health_at_risk", i),
                health_needs_attention: int(b, "health_needs_attention", i),
                health_on_track: int(b, "health_on_track", i),
                against_count,
                children: int(b, "children", i),
                against: string(b, "against", i),
                driven_by: string(b, "driven_by", i),
                depth: 0,
                key_results,
            });
        }
    }
    // The job's order where it knows the objective; the others after, by id; then as a tree.
    let position = |id: &str| {
        plan.objectives
            .iter()
            .position(|o| o.id == id)
            .unwrap_or(usize::MAX)
    };
    views.sort_by(|a, b| (position(&a.id), &a.id).cmp(&(position(&b.id), &b.id)));
    let views = overview::tree(views, |id| {
        plan.objectives
            .iter()
            .find(|o| o.id == id)
            .and_then(|o| o.aligns_to.first())
            .map(|(kr, _)| kr.clone())
    });
    Ok(Report {
        job: plan.job_name.clone(),
        overview: overview::overview(&views, rows::attention(&attention), start, end, last_date),
        period,
        first_date,
        last_date,
        output: output.to_string(),
        generated_at: Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        closed,
        objectives: views,
    })
}

/// A key result's view: its rows, what the job says it rolls up or adds to, its charts.
fn key_result(
    plan: &Plan,
    kr_id: &str,
    info: &rows::KrInfo,
    points: &[Point],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<KeyResultView, ReportError> {
    let latest = points.last().cloned().expect("a key result has a row");
    let defined = plan.key_result(kr_id);
    let rolls_up = defined.and_then(|k| k.rollup).map(|r| {
        let children: Vec<&str> = plan
            .key_results
            .iter()
            .filter(|c| c.aligns_to.as_deref() == Some(kr_id))
            .map(|c| c.id.as_str())
            .collect();
        format!("{} of {}", r.as_str(), children.join(", "))
    });
    let adds_to = defined
        .and_then(|k| k.aligns_to.as_deref())
        .and_then(|p| plan.key_result(p))
        .map(|p| format!("{} · {} ({})", p.id, p.title, p.period.label));
    let days = chart::Days::new(points, start, end);
    Ok(KeyResultView {
        rolls_up,
        adds_to,
        id: kr_id.to_string(),
        title: info.title.clone(),
        owner: info.owner.clone(),
        measure_kind: info.measure_kind.clone(),
        start: info.start,
        target: info.target,
        threshold: info.threshold,
        starts: info.starts,
        due: info.due,
        progress_chart: chart::progress(kr_id, &days)?,
        // a threshold is drawn where a target is
        value_chart: chart::value(
            kr_id,
            &days,
            (info.start, info.target.or(info.threshold.map(|t| t.1))),
            info.axis,
        )?,
        latest,
        points: points.to_vec(),
    })
}

/// Renders the report as one HTML document.
pub(crate) fn render(report: &Report) -> Result<String, ReportError> {
    let mut env = minijinja::Environment::new();
    env.add_filter("pct", |v: Option<f64>| {
        v.map_or_else(|| "–".to_string(), |v| format!("{:.1}%", v * 100.0))
    });
    env.add_filter("num", |v: Option<f64>| match v {
        None => "–".to_string(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e12 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    });
    env.add_filter("width", |v: Option<f64>| {
        format!("{:.1}", (v.unwrap_or(0.0) * 100.0).clamp(0.0, 100.0))
    });
    env.add_template("report.html", TEMPLATE)?;
    Ok(env.get_template("report.html")?.render(report)?)
}

/// Writes a rendered report to `out`: aside in its folder, then renamed, so a reader never
/// opens half a report.
pub(crate) fn write(out: &Path, html: &str) -> Result<(), ReportError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(|source| ReportError::WriteIn {
            dir: dir.to_path_buf(),
            source,
        })?;
    let write_err = |source: Box<dyn std::error::Error + Send + Sync>| ReportError::Write {
        path: out.to_path_buf(),
        source,
    };
    std::io::Write::write_all(&mut file, html.as_bytes()).map_err(|e| write_err(e.into()))?;
    file.persist(out).map_err(|e| write_err(e.into()))?;
    Ok(())
}

impl From<StorageError> for ReportError {
    fn from(e: StorageError) -> Self {
        ReportError::Output(e)
    }
}
