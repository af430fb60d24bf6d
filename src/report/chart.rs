//! A key result's charts, as inline SVG: progress against expected on one percent axis, and
//! the value on its own chart whose axis spans the key result's start and target. Days
//! without a snapshot are gaps (a lone day is a dot), never a line drawn across them; stale
//! days are ringed and failed days crossed. The legend is HTML under the charts (see the
//! template), so it never covers a line.

use super::{Point, ReportError};
use chrono::NaiveDate;
use plotters::coord::types::{RangedCoordf64, RangedCoordi64};
use plotters::prelude::*;

const GREY: RGBColor = RGBColor(120, 120, 120);
const BLUE: RGBColor = RGBColor(31, 95, 191);
const GREEN: RGBColor = RGBColor(46, 139, 87);
const ORANGE: RGBColor = RGBColor(230, 126, 34);
const WIDTH: u32 = 640;

/// The period's days, and the snapshots placed on them.
pub(crate) struct Days<'a> {
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// The charted snapshots, each at its evaluation date, oldest first.
    pub points: Vec<(i64, &'a Point)>,
}

impl<'a> Days<'a> {
    /// The snapshots of `points` to draw between `start` and `end`: the newest of each
    /// evaluation date.
    pub fn new(points: &'a [Point], start: NaiveDate, end: NaiveDate) -> Self {
        let mut charted: Vec<(i64, &Point)> = points
            .iter()
            .filter(|p| p.charted)
            .map(|p| ((p.evaluated_on - start).num_days(), p))
            .collect();
        charted.sort_by_key(|(d, _)| *d);
        Self {
            start,
            end,
            points: charted,
        }
    }

    fn span(&self) -> i64 {
        (self.end - self.start).num_days().max(1)
    }

    fn label(&self, day: &i64) -> String {
        (self.start + chrono::Days::new((*day).max(0) as u64))
            .format("%d %b")
            .to_string()
    }
}

/// The runs of consecutive days on which `y` has a value: a line is drawn within a run, never
/// across a day without a snapshot.
fn runs(points: &[(i64, &Point)], y: impl Fn(&Point) -> Option<f64>) -> Vec<Vec<(i64, f64)>> {
    let mut out: Vec<Vec<(i64, f64)>> = Vec::new();
    let mut last_day = None;
    for (day, p) in points {
        match y(p) {
            Some(v) => {
                match out.last_mut() {
                    Some(run) if last_day == Some(day - 1) => run.push((*day, v)),
                    _ => out.push(vec![(*day, v)]),
                }
                last_day = Some(*day);
            }
            None => last_day = None,
        }
    }
    out
}

/// A chart's plotting area: days across, values up.
type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordi64, RangedCoordf64>>;

/// Each run of consecutive days as a line in `colour`, a lone day as a dot.
fn draw_runs(c: &mut Plot, runs: Vec<Vec<(i64, f64)>>, colour: RGBColor) -> Result<(), String> {
    for run in runs {
        let drawn = if run.len() == 1 {
            c.draw_series(run.iter().map(|p| Circle::new(*p, 3, colour.filled())))
                .map(|_| ())
        } else {
            c.draw_series(LineSeries::new(run, colour.stroke_width(2)))
                .map(|_| ())
        };
        drawn.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn chart_error(kr: &str) -> impl Fn(&dyn std::fmt::Display) -> ReportError + '_ {
    move |e| ReportError::Chart {
        kr: kr.to_string(),
        message: e.to_string(),
    }
}

/// Progress (solid) and expected progress (dashed) in percent by day, stale days ringed in
/// orange, failed days crossed in red on the axis.
pub(crate) fn progress(kr: &str, days: &Days) -> Result<String, ReportError> {
    let err = chart_error(kr);
    let pct: Vec<f64> = days
        .points
        .iter()
        .flat_map(|(_, p)| [p.progress, p.expected])
        .flatten()
        .map(|v| v * 100.0)
        .collect();
    let top = pct.iter().copied().fold(100.0_f64, f64::max) + 5.0;
    let bottom = pct.iter().copied().fold(0.0_f64, f64::min) - 5.0;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 200)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut c = ChartBuilder::on(&root)
            .margin(8)
            .margin_right(20)
            .x_label_area_size(24)
            .y_label_area_size(52)
            .build_cartesian_2d(0i64..days.span(), bottom..top)
            .map_err(|e| err(&e))?;
        c.configure_mesh()
            .x_labels(7)
            .x_label_formatter(&|d| days.label(d))
            .y_labels(6)
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| err(&e))?;
        let expected: Vec<(i64, f64)> = days
            .points
            .iter()
            .filter_map(|(d, p)| Some((*d, p.expected? * 100.0)))
            .collect();
        c.draw_series(DashedLineSeries::new(expected, 6, 4, GREY.stroke_width(2)))
            .map_err(|e| err(&e))?;
        draw_runs(
            &mut c,
            runs(&days.points, |p| p.progress.map(|v| v * 100.0)),
            BLUE,
        )
        .map_err(|e| err(&e))?;
        c.draw_series(
            days.points
                .iter()
                .filter(|(_, p)| p.stale)
                .filter_map(|(d, p)| {
                    Some(Circle::new(
                        (*d, p.progress? * 100.0),
                        5,
                        ORANGE.stroke_width(2),
                    ))
                }),
        )
        .map_err(|e| err(&e))?;
        c.draw_series(
            days.points
                .iter()
                .filter(|(_, p)| p.error.is_some() && !p.stale)
                .map(|(d, _)| Cross::new((*d, bottom.max(0.0)), 5, RED.stroke_width(2))),
        )
        .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// The value by day on an axis that spans `axis` (the start and the target, or 0 and 100 for
/// a percent) and every value, `start` and `target` drawn as thin lines: a fall from 100 to 67
/// is drawn as a third of the way down, not as a crash to the floor.
pub(crate) fn value(
    kr: &str,
    days: &Days,
    (start, target): (Option<f64>, Option<f64>),
    axis: (Option<f64>, Option<f64>),
) -> Result<String, ReportError> {
    let err = chart_error(kr);
    let values: Vec<f64> = days
        .points
        .iter()
        .filter_map(|(_, p)| p.value)
        .chain(axis.0)
        .chain(axis.1)
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let (lo, hi) = if values.is_empty() {
        (0.0, 1.0)
    } else if hi - lo < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        let pad = (hi - lo) * 0.06;
        (lo - pad, hi + pad)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 130)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut c = ChartBuilder::on(&root)
            .margin(8)
            .margin_right(20)
            .x_label_area_size(24)
            .y_label_area_size(52)
            .build_cartesian_2d(0i64..days.span(), lo..hi)
            .map_err(|e| err(&e))?;
        c.configure_mesh()
            .x_labels(7)
            .x_label_formatter(&|d| days.label(d))
            .y_labels(4)
            .y_label_formatter(&|v| {
                format!("{v:.4}")
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string()
            })
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| err(&e))?;
        for (level, dash) in [(start, 2), (target, 5)] {
            if let Some(v) = level {
                c.draw_series(DashedLineSeries::new(
                    [(0, v), (days.span(), v)],
                    dash,
                    3,
                    GREY.mix(0.6).stroke_width(1),
                ))
                .map_err(|e| err(&e))?;
            }
        }
        draw_runs(&mut c, runs(&days.points, |p| p.value), GREEN).map_err(|e| err(&e))?;
        c.draw_series(
            days.points
                .iter()
                .filter(|(_, p)| p.stale)
                .filter_map(|(d, p)| Some(Circle::new((*d, p.value?), 5, ORANGE.stroke_width(2)))),
        )
        .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(day: u32, progress: Option<f64>) -> Point {
        let date = NaiveDate::from_ymd_opt(2026, 3, day).unwrap();
        Point {
            date,
            evaluated_on: date,
            charted: true,
            value: progress.map(|p| p * 10.0),
            progress,
            expected: Some(0.5),
            score: None,
            status: None,
            stale: false,
            error: None,
            note: None,
            health: None,
            health_note: None,
            health_on: None,
            health_overdue: false,
            graded_score: None,
            graded_by: None,
            graded_note: None,
            forecast_value: None,
            forecast_attainment: None,
            forecast_points: 0,
        }
    }

    #[test]
    fn a_day_without_a_snapshot_or_a_value_breaks_the_line() {
        let points = vec![
            point(1, Some(0.1)),
            point(2, Some(0.2)),
            // 3 March: no snapshot
            point(4, Some(0.4)),
            point(5, None),
            point(6, Some(0.6)),
            point(7, Some(0.7)),
        ];
        let start = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let days = Days::new(&points, start, start + chrono::Days::new(30));
        let lines = runs(&days.points, |p| p.progress);
        assert_eq!(
            lines,
            vec![
                vec![(0, 0.1), (1, 0.2)],
                vec![(3, 0.4)],
                vec![(5, 0.6), (6, 0.7)]
            ]
        );
    }

    #[test]
    fn the_value_axis_spans_start_and_target() {
        let points = vec![point(1, Some(9.0)), point(2, Some(8.0))];
        let start = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let days = Days::new(&points, start, start + chrono::Days::new(30));
        // values 90 and 80, start 100, target 0: the axis is labelled from 0 up to 100
        let svg = value(
            "K",
            &days,
            (Some(100.0), Some(0.0)),
            (Some(100.0), Some(0.0)),
        )
        .unwrap();
        let labels: Vec<f64> = svg
            .split("</text>")
            .filter_map(|t| t.rsplit('>').next()?.trim().parse().ok())
            .collect();
        let (lo, hi) = labels
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        assert!(lo <= 0.0 && hi >= 100.0, "{labels:?}");
    }
}
