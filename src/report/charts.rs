//! The report's plots, drawn by plotters into SVG strings.

use std::collections::HashSet;

use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("drawing {chart}: {message}")]
pub(crate) struct ChartError {
    /// Which chart.
    pub chart: String,
    /// What plotters said.
    pub message: String,
}

fn err(chart: &str) -> impl Fn(String) -> ChartError + '_ {
    move |message| ChartError { chart: chart.to_string(), message }
}

const WIDTH: u32 = 560;
const HEIGHT: u32 = 300;
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(150, 150, 150);
/// The cell of [`one_per_cell`], in pixels.
const DOT_CELL: i32 = 2;

/// The series legend, in the report's one style.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(GREY)
        .label_font(("sans-serif", 12))
        .position(position)
        .draw()
        .map_err(|x| x.to_string())
}

/// Tick labels for whole numbers only (epochs, trial indices).
fn whole(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{v:.0}") } else { String::new() }
}

/// A padded range around some values.
fn span(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(1e-9);
    (lo - pad, hi + pad)
}

/// The points of `points` that land in distinct cells of `cell` × `cell`
/// pixels of `chart`, the first of each cell, in order. A dot drawn over
/// another adds about 90 bytes to the SVG and almost nothing a reader sees: 10⁵
/// trials made each of their plots 9 MB. With cells of 2 pixels, a dot left
/// out lies within 1.4 pixels of one drawn, and every cell that holds a point
/// keeps its dot, so the best trial and the outliers stay visible whatever
/// the sweep's size.
fn one_per_cell<DB, X, Y>(
    chart: &ChartContext<'_, DB, Cartesian2d<X, Y>>,
    cell: i32,
    points: impl IntoIterator<Item = (f64, f64)>,
) -> Vec<(f64, f64)>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let mut seen = HashSet::new();
    points
        .into_iter()
        .filter(|p| {
            let (x, y) = chart.backend_coord(p);
            seen.insert((x.div_euclid(cell), y.div_euclid(cell)))
        })
        .collect()
}

/// The corners of the step line through `values` (index, best so far): the
/// first point, each change (the level before it and the new level at its
/// index) and the last point; drawn the same as every point, in a few
/// hundred coordinates instead of one per trial.
fn step_corners(values: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut corners: Vec<(f64, f64)> = Vec::new();
    for (i, &(x, y)) in values.iter().enumerate() {
        match corners.last() {
            Some(&(_, level)) if level == y && i + 1 < values.len() => {}
            Some(&(_, level)) if level != y => {
                let before = (values[i - 1].0, level);
                if corners.last() != Some(&before) {
                    corners.push(before);
                }
                corners.push((x, y));
            }
            _ => corners.push((x, y)),
        }
    }
    corners
}

/// One named series of (x, y) points.
pub(super) struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Points.
    pub points: Vec<(f64, f64)>,
}

/// Lines over epochs, with the best epoch marked by a vertical line and a dot on each series.
pub(super) fn epoch_lines(
    title: &str,
    y_label: &str,
    series: &[Series],
    best_epoch: Option<usize>,
) -> Result<String, ChartError> {
    let e = err(title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let max_epoch = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(1.0, f64::max);
        let (lo, hi) = span(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(1.0..max_epoch.max(2.0), lo..hi)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .x_label_formatter(&whole)
            .y_desc(y_label)
            .label_style(("sans-serif", 12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        if let Some(best) = best_epoch {
            let b = best as f64;
            chart
                .draw_series(LineSeries::new([(b, lo), (b, hi)], GREY.stroke_width(1)))
                .map_err(|x| e(x.to_string()))?
                .label(format!("best epoch {best}"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], GREY));
        }
        for (s, color) in series.iter().zip([BLUE, ORANGE, GREEN, RED]) {
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
                .map_err(|x| e(x.to_string()))?
                .label(s.label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
            if let Some(best) = best_epoch
                && let Some(&p) = s.points.iter().find(|p| p.0 as usize == best)
            {
                chart.draw_series([Circle::new(p, 5, color.filled())]).map_err(|x| e(x.to_string()))?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// One trial's point in a parameter plot.
pub(super) struct ParamPoint {
    /// The parameter's value (numeric), or its position among the categories.
    pub x: f64,
    /// The best-epoch monitored metric (None: failed, diverged).
    pub y: Option<f64>,
}

/// The best-epoch metric against one parameter; failed trials as red crosses on the bottom axis.
/// `categories` names the x positions of a categorical parameter; `log_x` uses a log axis.
pub(super) fn param_scatter(
    param: &str,
    metric: &str,
    points: &[ParamPoint],
    categories: Option<&[String]>,
    log_x: bool,
) -> Result<String, ChartError> {
    let title = format!("best {metric} by {param}");
    let e = err(&title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH / 2 + 100, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let (ylo, yhi) = span(points.iter().filter_map(|p| p.y));
        let (xlo, xhi) = match categories {
            Some(c) => (-0.5, c.len() as f64 - 0.5),
            None => span(points.iter().map(|p| p.x)),
        };
        let mut builder = ChartBuilder::on(&root);
        builder.caption(&title, ("sans-serif", 15)).margin(8).x_label_area_size(36).y_label_area_size(56);
        let failed: Vec<(f64, f64)> = points.iter().filter(|p| p.y.is_none()).map(|p| (p.x, ylo)).collect();
        let ok: Vec<(f64, f64)> = points.iter().filter_map(|p| p.y.map(|y| (p.x, y))).collect();
        if log_x && points.iter().all(|p| p.x > 0.0) {
            let (lo, hi) = (
                points.iter().map(|p| p.x).fold(f64::INFINITY, f64::min),
                points.iter().map(|p| p.x).fold(0.0, f64::max),
            );
            let mut chart =
                builder.build_cartesian_2d((lo / 1.5..hi * 1.5).log_scale(), ylo..yhi).map_err(|x| e(x.to_string()))?;
            chart
                .configure_mesh()
                .x_desc(format!("{param} (log)"))
                .y_desc(format!("best {metric}"))
                .x_label_formatter(&|v| crate::params::short_float(*v))
                .label_style(("sans-serif", 12))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(|x| e(x.to_string()))?;
            let (ok, failed) = (one_per_cell(&chart, DOT_CELL, ok), one_per_cell(&chart, DOT_CELL, failed));
            chart
                .draw_series(ok.iter().map(|&p| Circle::new(p, 4, BLUE.mix(0.7).filled())))
                .map_err(|x| e(x.to_string()))?;
            chart
                .draw_series(failed.iter().map(|&p| Cross::new(p, 5, RED.stroke_width(2))))
                .map_err(|x| e(x.to_string()))?;
        } else {
            let mut chart = builder.build_cartesian_2d(xlo..xhi, ylo..yhi).map_err(|x| e(x.to_string()))?;
            let names = categories.map(<[String]>::to_vec);
            let formatter = move |v: &f64| match &names {
                Some(n) => {
                    let i = v.round();
                    if (v - i).abs() < 1e-6 && i >= 0.0 {
                        n.get(i as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                }
                None => crate::params::short_float(*v),
            };
            let mut mesh = chart.configure_mesh();
            mesh.x_desc(param)
                .y_desc(format!("best {metric}"))
                .x_label_formatter(&formatter)
                .label_style(("sans-serif", 12))
                .light_line_style(RGBColor(235, 235, 235));
            if let Some(c) = categories {
                mesh.x_labels(c.len() * 2 + 1);
            }
            mesh.draw().map_err(|x| e(x.to_string()))?;
            let (ok, failed) = (one_per_cell(&chart, DOT_CELL, ok), one_per_cell(&chart, DOT_CELL, failed));
            chart
                .draw_series(ok.iter().map(|&p| Circle::new(p, 4, BLUE.mix(0.7).filled())))
                .map_err(|x| e(x.to_string()))?;
            chart
                .draw_series(failed.iter().map(|&p| Cross::new(p, 5, RED.stroke_width(2))))
                .map_err(|x| e(x.to_string()))?;
        }
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// Each trial's best-epoch metric in plan order, and the best so far.
pub(super) fn best_so_far(metric: &str, maximize: bool, values: &[(usize, Option<f64>)]) -> Result<String, ChartError> {
    let title = format!("best {metric} so far, by trial");
    let e = err(&title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let (lo, hi) = span(values.iter().filter_map(|v| v.1));
        let n = values.iter().map(|v| v.0).max().unwrap_or(0) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5..n + 0.5, lo..hi)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("trial index (plan order)")
            .x_label_formatter(&whole)
            .y_desc(format!("best {metric}"))
            .label_style(("sans-serif", 12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        let mut best: Option<f64> = None;
        let mut line = Vec::new();
        for &(i, v) in values {
            if let Some(v) = v {
                best = Some(match best {
                    Some(b) if (maximize && b >= v) || (!maximize && b <= v) => b,
                    _ => v,
                });
            }
            if let Some(b) = best {
                line.push((i as f64, b));
            }
        }
        let dots = one_per_cell(&chart, DOT_CELL, values.iter().filter_map(|&(i, v)| v.map(|v| (i as f64, v))));
        chart
            .draw_series(dots.into_iter().map(|p| Circle::new(p, 3, GREY.filled())))
            .map_err(|x| e(x.to_string()))?
            .label("trial")
            .legend(|(x, y)| Circle::new((x + 8, y), 3, GREY.filled()));
        chart
            .draw_series(LineSeries::new(step_corners(&line), BLUE.stroke_width(2)))
            .map_err(|x| e(x.to_string()))?
            .label("best so far")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLUE.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

/// How a model shows in a trade-off plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Standing {
    /// Dominated, meets the constraints.
    Dominated,
    /// On the Pareto front (`pareto_rank` 1).
    Front,
    /// Fails a constraint.
    Violates,
}

/// The monitored metric against one trade-off: every model a dot, the front
/// joined and orange, constraint failures red crosses, the pick ringed.
pub(super) fn trade_off(
    metric: &str,
    cost: &str,
    points: &[(f64, f64, Standing)],
    pick: Option<(f64, f64)>,
) -> Result<String, ChartError> {
    let title = format!("{metric} against {cost}");
    let e = err(&title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
        let (xlo, xhi) = span(points.iter().map(|p| p.0));
        let (ylo, yhi) = span(points.iter().map(|p| p.1));
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(xlo..xhi, ylo..yhi)
            .map_err(|x| e(x.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(cost)
            .y_desc(format!("best {metric}"))
            .x_label_formatter(&|v| crate::params::short_float(*v))
            .label_style(("sans-serif", 12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|x| e(x.to_string()))?;
        let of = |s: Standing| points.iter().filter(move |p| p.2 == s).map(|p| (p.0, p.1));
        chart
            .draw_series(
                one_per_cell(&chart, DOT_CELL, of(Standing::Dominated))
                    .into_iter()
                    .map(|p| Circle::new(p, 3, GREY.filled())),
            )
            .map_err(|x| e(x.to_string()))?
            .label("dominated")
            .legend(|(x, y)| Circle::new((x + 8, y), 3, GREY.filled()));
        let mut front: Vec<(f64, f64)> = of(Standing::Front).collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(front.clone(), ORANGE.mix(0.6).stroke_width(1)))
            .map_err(|x| e(x.to_string()))?;
        chart
            .draw_series(front.iter().map(|&p| Circle::new(p, 4, ORANGE.filled())))
            .map_err(|x| e(x.to_string()))?
            .label("Pareto front (pareto_rank 1)")
            .legend(|(x, y)| Circle::new((x + 8, y), 4, ORANGE.filled()));
        if points.iter().any(|p| p.2 == Standing::Violates) {
            chart
                .draw_series(
                    one_per_cell(&chart, DOT_CELL, of(Standing::Violates))
                        .into_iter()
                        .map(|p| Cross::new(p, 4, RED.stroke_width(2))),
                )
                .map_err(|x| e(x.to_string()))?
                .label("fails a constraint")
                .legend(|(x, y)| Cross::new((x + 8, y), 4, RED.stroke_width(2)));
        }
        if let Some(p) = pick {
            chart
                .draw_series(std::iter::once(Circle::new(p, 8, GREEN.stroke_width(2))))
                .map_err(|x| e(x.to_string()))?
                .label("the pick")
                .legend(|(x, y)| Circle::new((x + 8, y), 6, GREEN.stroke_width(2)));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        root.present().map_err(|x| e(x.to_string()))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dots(svg: &str) -> usize {
        svg.matches("<circle").count()
    }

    #[test]
    fn a_scatter_draws_one_dot_where_trials_fall_together() {
        // Few trials far apart: every one is drawn.
        let few: Vec<ParamPoint> = (0..20).map(|i| ParamPoint { x: i as f64, y: Some(i as f64 / 20.0) }).collect();
        assert_eq!(dots(&param_scatter("lr", "mcc", &few, None, false).unwrap()), 20);

        // 10⁵ trials on a 10 × 10 lattice of results: the SVG holds 100 dots, not 10⁵.
        let many: Vec<ParamPoint> = (0..100_000)
            .map(|i| ParamPoint { x: 1e-4 * 2f64.powi(i % 10), y: Some((i / 10 % 10) as f64 / 10.0) })
            .collect();
        let svg = param_scatter("lr", "mcc", &many, None, true).unwrap();
        assert_eq!(dots(&svg), 100);
        // A lone outlier among them keeps its dot.
        let mut with_outlier = many;
        with_outlier.push(ParamPoint { x: 0.03, y: Some(1.5) });
        assert_eq!(dots(&param_scatter("lr", "mcc", &with_outlier, None, true).unwrap()), 101);
    }

    #[test]
    fn the_best_so_far_line_keeps_its_shape_in_its_corners() {
        let line = [(0.0, 0.5), (1.0, 0.5), (2.0, 0.5), (3.0, 0.7), (4.0, 0.7), (5.0, 0.9), (6.0, 0.9)];
        assert_eq!(step_corners(&line), [(0.0, 0.5), (2.0, 0.5), (3.0, 0.7), (4.0, 0.7), (5.0, 0.9), (6.0, 0.9)]);
        assert_eq!(step_corners(&[(0.0, 0.1), (1.0, 0.2)]), [(0.0, 0.1), (1.0, 0.2)]);
        assert_eq!(step_corners(&[(0.0, 0.1)]), [(0.0, 0.1)]);
        assert!(step_corners(&[]).is_empty());

        // 10⁵ trials whose best changes 3 times: a few corners and one dot per cell.
        let values: Vec<(usize, Option<f64>)> =
            (0..100_000).map(|i| (i, Some([0.2, 0.4, 0.6, 0.8][i * 4 / 100_000]))).collect();
        let svg = best_so_far("mcc", true, &values).unwrap();
        assert!(svg.len() < 200_000, "{} bytes", svg.len());
        assert!(dots(&svg) < 4 * 600, "{} dots", dots(&svg));
    }
}
