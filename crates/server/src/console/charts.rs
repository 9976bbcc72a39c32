//! The overview's charts as geometry: bars in SVG user units that the templates draw (the
//! template engine escapes every label), each beside a table of the same figures.

use accrete_app::stats::FieldFigures;
use accrete_store::{DayCounts, StepStats};
use minijinja::{Value, context};

/// Width of the drawing, label column included.
const WIDTH: f64 = 640.0;
/// Where bars start (labels on the left).
const LABEL: f64 = 170.0;
const ROW: f64 = 28.0;
const BAR: f64 = 18.0;

/// `part / whole` as a whole percentage ("0%" of nothing).
pub(crate) fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "0%".to_owned();
    }
    percent_of(part as f64 / whole as f64)
}

/// A share (0..1) as a whole percentage.
pub(crate) fn percent_of(share: f64) -> String {
    format!("{:.0}%", (share * 100.0).clamp(0.0, 100.0))
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// Per step, one bar as long as the most shown step's, split into answered, skipped, abandoned
/// and still open (shown, no outcome yet).
pub(crate) fn funnel_svg(steps: &[StepStats], title: &str) -> Value {
    let most = steps.iter().map(|s| s.shown).max().unwrap_or(0).max(1) as f64;
    let span = WIDTH - LABEL - 10.0;
    let rows: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let y = 10.0 + i as f64 * ROW;
            let open = (s.shown - s.answered - s.skipped - s.abandoned).max(0);
            let mut x = LABEL;
            let segments: Vec<Value> = [
                ("answered", s.answered),
                ("skipped", s.skipped),
                ("abandoned", s.abandoned),
                ("open", open),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(class, n)| {
                let w = span * n as f64 / most;
                let segment = context! { class, x => round(x), w => round(w), n };
                x += w;
                segment
            })
            .collect();
            context! {
                label => s.step,
                y => round(y),
                text_y => round(y + BAR - 4.0),
                h => BAR,
                segments,
            }
        })
        .collect();
    context! {
        title,
        width => WIDTH,
        height => round(20.0 + steps.len() as f64 * ROW),
        label_x => LABEL - 8.0,
        rows,
    }
}

/// Per field, a bar of the share of users who have it.
pub(crate) fn completeness_svg(fields: &[FieldFigures], title: &str) -> Value {
    let span = WIDTH - LABEL - 60.0;
    let rows: Vec<Value> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let y = 10.0 + i as f64 * ROW;
            let w = span * f.share.clamp(0.0, 1.0);
            context! {
                label => f.field,
                y => round(y),
                text_y => round(y + BAR - 4.0),
                h => BAR,
                x => LABEL,
                w => round(w),
                value_x => round(LABEL + w + 6.0),
                value => percent_of(f.share),
            }
        })
        .collect();
    context! {
        title,
        width => WIDTH,
        height => round(20.0 + fields.len() as f64 * ROW),
        label_x => LABEL - 8.0,
        rows,
    }
}

/// Where the per-day plot starts (the scale's numbers on the left).
const AXIS: f64 = 48.0;
/// Height of the per-day plot, its day labels below.
const PLOT: f64 = 160.0;

/// Per day, two columns side by side: sign-ins (with credentials, then reusing a single
/// sign-on session, stacked) and sign-ups, on one scale from 0 to the busiest figure.
/// `label` writes a day as the page does (first and last under the axis, each in the bars'
/// tooltips).
pub(crate) fn days_svg(
    days: &[DayCounts],
    title: &str,
    label: impl Fn(&DayCounts) -> String,
) -> Value {
    let most = days
        .iter()
        .map(|d| (d.credentialed_sign_ins + d.sso_sign_ins).max(d.sign_ups))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let top = 10.0;
    let base = top + PLOT;
    let slot = (WIDTH - AXIS - 10.0) / days.len().max(1) as f64;
    let column = slot * 0.4;
    let height = |n: i64| PLOT * n as f64 / most;
    let columns: Vec<Value> = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = AXIS + i as f64 * slot + slot * 0.1;
            let mut y = base;
            let mut bars = Vec::new();
            for (class, n, dx) in [
                ("signin", d.credentialed_sign_ins, 0.0),
                ("sso", d.sso_sign_ins, 0.0),
                ("signup", d.sign_ups, column),
            ] {
                if n <= 0 {
                    continue;
                }
                let h = height(n);
                // Sign-ups start again from the axis, beside the sign-ins.
                let from = if class == "signup" { base } else { y };
                bars.push(context! {
                    class,
                    n,
                    x => round(x + dx),
                    y => round(from - h),
                    w => round(column),
                    h => round(h),
                });
                if class != "signup" {
                    y -= h;
                }
            }
            context! { day => label(d), bars }
        })
        .collect();
    let (first, last) = match (days.first(), days.last()) {
        (Some(first), Some(last)) => (label(first), label(last)),
        _ => (String::new(), String::new()),
    };
    context! {
        title,
        width => WIDTH,
        height => round(base + 24.0),
        axis_x => AXIS - 6.0,
        plot_x => AXIS,
        plot_end => WIDTH - 10.0,
        top => round(top + 4.0),
        base => round(base),
        most => most as i64,
        label_y => round(base + 18.0),
        first,
        last,
        columns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, shown: i64, answered: i64, skipped: i64, abandoned: i64) -> StepStats {
        StepStats {
            step: name.into(),
            shown,
            answered,
            skipped,
            abandoned,
        }
    }

    #[test]
    fn a_funnel_bar_is_split_by_outcome_in_proportion() {
        let chart = funnel_svg(&[step("work", 10, 5, 3, 1), step("phone", 5, 5, 0, 0)], "t");
        let rows = chart.get_attr("rows").unwrap();
        let work = rows.get_item(&Value::from(0)).unwrap();
        let segments = work.get_attr("segments").unwrap();
        let widths: Vec<f64> = (0..4)
            .map(|i| {
                f64::try_from(
                    segments
                        .get_item(&Value::from(i))
                        .unwrap()
                        .get_attr("w")
                        .unwrap(),
                )
                .unwrap()
            })
            .collect();
        // 460 units for the most shown step: 5, 3, 1 and 1 still open of 10.
        assert_eq!(widths, vec![230.0, 138.0, 46.0, 46.0]);
        let phone = rows.get_item(&Value::from(1)).unwrap();
        assert_eq!(phone.get_attr("segments").unwrap().len(), Some(1));
    }

    #[test]
    fn a_day_shows_its_sign_ins_stacked_beside_its_sign_ups_on_one_scale() {
        let day = |n: u8, ups: i64, ins: i64, sso: i64| DayCounts {
            day: time::Date::from_calendar_date(2026, time::Month::December, n).unwrap(),
            sign_ups: ups,
            credentialed_sign_ins: ins,
            sso_sign_ins: sso,
        };
        let chart = days_svg(&[day(1, 2, 3, 1), day(2, 0, 0, 0)], "t", |d| {
            d.day.to_string()
        });
        assert_eq!(chart.get_attr("most").unwrap(), Value::from(4));
        assert_eq!(chart.get_attr("first").unwrap(), Value::from("2026-12-01"));
        assert_eq!(chart.get_attr("last").unwrap(), Value::from("2026-12-02"));
        let columns = chart.get_attr("columns").unwrap();
        let first = columns.get_item(&Value::from(0)).unwrap();
        let bars = first.get_attr("bars").unwrap();
        let attr = |i: i64, name: &str| {
            f64::try_from(
                bars.get_item(&Value::from(i))
                    .unwrap()
                    .get_attr(name)
                    .unwrap(),
            )
            .unwrap()
        };
        // 160 units for 4: 3 sign-ins (120) from the axis at 170, 1 SSO (40) on top, 2
        // sign-ups (80) from the axis again.
        assert_eq!((attr(0, "y"), attr(0, "h")), (50.0, 120.0));
        assert_eq!((attr(1, "y"), attr(1, "h")), (10.0, 40.0));
        assert_eq!((attr(2, "y"), attr(2, "h")), (90.0, 80.0));
        assert!(attr(2, "x") > attr(0, "x"));
        // A day without any has no bars, and is still a column.
        let second = columns.get_item(&Value::from(1)).unwrap();
        assert_eq!(second.get_attr("bars").unwrap().len(), Some(0));
    }

    #[test]
    fn percentages_are_whole_and_bounded() {
        assert_eq!(percent(1, 3), "33%");
        assert_eq!(percent(5, 0), "0%");
        assert_eq!(percent_of(1.5), "100%");
    }
}
