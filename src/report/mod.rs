//! The progress report: one self-contained HTML file for a period, read back from the
//! written snapshots. Per objective its status and progress against expected; per key result
//! a chart of its value and progress over the period against the expected line, with stale
//! and failed dates marked. The SQL in `sql/report_*.sql` picks the rows; plotters draws
//! the charts as inline SVG; minijinja fills `templates/report.html`.

mod overview;

use crate::engine::tables::{register, text};
use crate::engine::{self, EngineError, registry};
use crate::job::Plan;
use crate::model::Location;
use crate::sink::{SinkError, history};
use crate::storage::{self, StorageError};
use chrono::{NaiveDate, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use overview::Overview;
use plotters::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
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
    /// For a roll-up: `sum of A-KR1, E-KR1`.
    pub rolls_up: Option<String>,
    /// For a roll-up's child, the roll-up: `C-KR1 · Book 100 demos (FY27)`.
    pub adds_to: Option<String>,
    pub latest: Point,
    pub points: Vec<Point>,
    /// An `<svg>` element.
    pub chart: String,
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

/// Reads the snapshots of `period` (default: the newest snapshot's) from the job's output,
/// or `output` when given.
pub(crate) async fn build(
    plan: &Plan,
    period: Option<&str>,
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
    let found = history::register_files(&ctx, &opened, "kr_snapshots", "report_kr_history").await?
        && history::register_files(
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
        ],
    )
    .await?;
    register(
        &ctx,
        "report_request",
        vec![("period", text([period.map(String::from)]))],
    )?;
    for s in registry::REPORT {
        engine::register_view(&ctx, s).await?;
    }
    let krs = engine::query(&ctx, "SELECT * FROM report_krs").await?;
    let objectives = engine::query(&ctx, "SELECT * FROM report_objectives").await?;
    let points = kr_points(&krs);
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
        return Err(ReportError::UnknownPeriod {
            period: period.unwrap_or_default().to_string(),
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
                let latest = pts.last().cloned().expect("a key result has a row");
                let defined = plan.key_result(kr_id);
                let rolls_up = defined.and_then(|k| k.rollup).map(|r| {
                    let children: Vec<&str> = plan
                        .key_results
                        .iter()
                        .filter(|c| c.aligns_to.as_deref() == Some(kr_id.as_str()))
                        .map(|c| c.id.as_str())
                        .collect();
                    format!("{} of {}", r.as_str(), children.join(", "))
                });
                let adds_to = defined
                    .and_then(|k| k.aligns_to.as_deref())
                    .and_then(|p| plan.key_result(p))
                    .map(|p| format!("{} · {} ({})", p.id, p.title, p.period.label));
                key_results.push(KeyResultView {
                    rolls_up,
                    adds_to,
                    id: kr_id.clone(),
                    title: info.title.clone(),
                    owner: info.owner.clone(),
                    measure_kind: info.measure_kind.clone(),
                    start: info.start,
                    target: info.target,
                    chart: chart(kr_id, pts, start, end, info.start, info.target)?,
                    latest,
                    points: pts.clone(),
                });
            }
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
                key_results,
            });
        }
    }
    // The job's order where it knows the objective; the others after, by id.
    let position = |id: &str| {
        plan.objectives
            .iter()
            .position(|o| o.id == id)
            .unwrap_or(usize::MAX)
    };
    views.sort_by(|a, b| (position(&a.id), &a.id).cmp(&(position(&b.id), &b.id)));
    Ok(Report {
        job: plan.job_name.clone(),
        overview: overview::overview(&views, start, end, last_date),
        period,
        first_date,
        last_date,
        output: output.to_string(),
        generated_at: Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        closed,
        objectives: views,
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

/// What a key result's rows say about it besides its points.
struct KrInfo {
    objective_id: String,
    title: String,
    owner: Option<String>,
    measure_kind: Option<String>,
    start: Option<f64>,
    target: Option<f64>,
}

/// Each key result's rows from `report_krs`, oldest first (a view's order does not survive
/// parallel execution, so they are sorted here).
fn kr_points(batches: &[RecordBatch]) -> BTreeMap<String, (KrInfo, Vec<Point>)> {
    let mut out: BTreeMap<String, (KrInfo, Vec<Point>)> = BTreeMap::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let id = string(b, "kr_id", i).unwrap_or_default();
            let entry = out.entry(id).or_insert_with(|| {
                (
                    KrInfo {
                        objective_id: String::new(),
                        title: String::new(),
                        owner: None,
                        measure_kind: None,
                        start: None,
                        target: None,
                    },
                    Vec::new(),
                )
            });
            // The newest row names the key result as it is now.
            entry.0 = KrInfo {
                objective_id: string(b, "objective_id", i).unwrap_or_default(),
                title: string(b, "kr_title", i).unwrap_or_default(),
                owner: string(b, "owner", i),
                measure_kind: string(b, "measure_kind", i),
                start: float(b, "start_value", i),
                target: float(b, "target_value", i),
            };
            let as_of = date(b, "as_of", i).unwrap_or_default();
            entry.1.push(Point {
                date: as_of,
                evaluated_on: date(b, "evaluated_on", i).unwrap_or(as_of),
                charted: flag(b, "charted", i),
                value: float(b, "value", i),
                progress: float(b, "progress", i),
                expected: float(b, "expected_progress", i),
                status: string(b, "status", i),
                stale: flag(b, "stale", i),
                error: string(b, "error", i),
                note: string(b, "note", i),
                health: string(b, "health", i),
                health_note: string(b, "health_note", i),
                health_on: date(b, "health_on", i),
                health_overdue: flag(b, "health_overdue", i),
            });
        }
    }
    for (_, points) in out.values_mut() {
        points.sort_by_key(|p| p.date);
    }
    out
}

fn string(b: &RecordBatch, column: &str, i: usize) -> Option<String> {
    let c = b.column_by_name(column)?.as_string_opt::<i32>()?;
    c.is_valid(i).then(|| c.value(i).to_string())
}

fn flag(b: &RecordBatch, column: &str, i: usize) -> bool {
    b.column_by_name(column)
        .and_then(|c| c.as_boolean_opt())
        .is_some_and(|c| c.is_valid(i) && c.value(i))
}

fn float(b: &RecordBatch, column: &str, i: usize) -> Option<f64> {
    let c = b
        .column_by_name(column)?
        .as_primitive_opt::<Float64Type>()?;
    c.is_valid(i).then(|| c.value(i))
}

fn int(b: &RecordBatch, column: &str, i: usize) -> i64 {
    b.column_by_name(column)
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .filter(|c| c.is_valid(i))
        .map_or(0, |c| c.value(i))
}

fn date(b: &RecordBatch, column: &str, i: usize) -> Option<NaiveDate> {
    let c = b.column_by_name(column)?.as_primitive_opt::<Date32Type>()?;
    c.is_valid(i).then(|| engine::from_date32(c.value(i)))
}

/// A key result's chart: progress (left axis, percent) and value (right axis) by day over
/// the period, the expected line dashed, stale dates ringed in orange and failed dates
/// crossed in red.
fn chart(
    kr: &str,
    points: &[Point],
    start: NaiveDate,
    end: NaiveDate,
    start_value: Option<f64>,
    target_value: Option<f64>,
) -> Result<String, ReportError> {
    let err = |e: &dyn std::fmt::Display| ReportError::Chart {
        kr: kr.to_string(),
        message: e.to_string(),
    };
    let days = (end - start).num_days().max(1);
    let day = |d: NaiveDate| (d - start).num_days();
    let points: Vec<Point> = points
        .iter()
        .filter(|p| p.charted)
        .map(|p| Point {
            date: p.evaluated_on,
            ..p.clone()
        })
        .collect();
    let pct: Vec<f64> = points
        .iter()
        .flat_map(|p| [p.progress, p.expected])
        .flatten()
        .map(|v| v * 100.0)
        .collect();
    let top = pct.iter().copied().fold(100.0_f64, f64::max) + 5.0;
    let bottom = pct.iter().copied().fold(0.0_f64, f64::min) - 5.0;
    let values: Vec<f64> = points
        .iter()
        .filter_map(|p| p.value)
        .chain(start_value)
        .chain(target_value)
        .collect();
    let (vmin, vmax) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let (vmin, vmax) = if values.is_empty() {
        (0.0, 1.0)
    } else if vmax - vmin < 1e-9 {
        (vmin - 1.0, vmax + 1.0)
    } else {
        let pad = (vmax - vmin) * 0.05;
        (vmin - pad, vmax + pad)
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 220)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut c = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(44)
            .right_y_label_area_size(52)
            .build_cartesian_2d(0i64..days, bottom..top)
            .map_err(|e| err(&e))?
            .set_secondary_coord(0i64..days, vmin..vmax);
        c.configure_mesh()
            .x_labels(7)
            .x_label_formatter(&|d| {
                (start + chrono::Days::new(*d as u64))
                    .format("%d %b")
                    .to_string()
            })
            .y_labels(6)
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| err(&e))?;
        c.configure_secondary_axes()
            .y_labels(6)
            .y_label_formatter(&|v| {
                format!("{v:.4}")
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string()
            })
            .draw()
            .map_err(|e| err(&e))?;
        let grey = RGBColor(120, 120, 120);
        let blue = RGBColor(31, 95, 191);
        let green = RGBColor(46, 139, 87);
        let orange = RGBColor(230, 126, 34);
        let expected: Vec<(i64, f64)> = points
            .iter()
            .filter_map(|p| Some((day(p.date), p.expected? * 100.0)))
            .collect();
        c.draw_series(DashedLineSeries::new(expected, 6, 4, grey.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label("expected progress")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], grey.stroke_width(2)));
        let progress: Vec<(i64, f64)> = points
            .iter()
            .filter_map(|p| Some((day(p.date), p.progress? * 100.0)))
            .collect();
        c.draw_series(LineSeries::new(progress.clone(), blue.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label("progress")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], blue.stroke_width(2)));
        if progress.len() == 1 {
            c.draw_series(progress.iter().map(|p| Circle::new(*p, 3, blue.filled())))
                .map_err(|e| err(&e))?;
        }
        let value: Vec<(i64, f64)> = points
            .iter()
            .filter_map(|p| Some((day(p.date), p.value?)))
            .collect();
        c.draw_secondary_series(LineSeries::new(value, green.stroke_width(1)))
            .map_err(|e| err(&e))?
            .label("value (right axis)")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], green.stroke_width(1)));
        c.draw_series(points.iter().filter(|p| p.stale).filter_map(|p| {
            Some(Circle::new(
                (day(p.date), p.progress? * 100.0),
                5,
                orange.stroke_width(2),
            ))
        }))
        .map_err(|e| err(&e))?;
        c.draw_series(
            points
                .iter()
                .filter(|p| p.error.is_some() && !p.stale)
                .map(|p| Cross::new((day(p.date), bottom.max(0.0)), 5, RED.stroke_width(2))),
        )
        .map_err(|e| err(&e))?;
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(grey)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
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
