//! `GET /admin`: the overview for a chosen period (a plain GET form): sign-ins and sign-ups per
//! day, completion per step with the step where most people leave, and profile completeness;
//! charts drawn here as SVG, each beside a table of its figures (`accrete_app::stats`).

use accrete_app::stats::{self, Period, StatsError};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use time::{Date, OffsetDateTime};

use super::{Console, charts};
use crate::hosted::errors::store_failure;
use crate::hosted::i18n::{long_date, text, text_with};
use crate::state::AppState;

/// The periods offered in the list, in days.
const LAST: [u16; 3] = [7, 30, 90];
/// The period shown when none is chosen (or the chosen one is refused).
const DEFAULT: Period = Period::Last(30);

/// `?period=7|30|90|dates&from=YYYY-MM-DD&to=YYYY-MM-DD`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(super) struct PeriodQuery {
    period: Option<String>,
    from: String,
    to: String,
}

/// What was wrong with the chosen period, said next to the input it concerns.
#[derive(Debug, Default)]
struct PeriodErrors {
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// The period the form asks for. Dates without a choice in the list mean "between the dates".
fn chosen(query: &PeriodQuery, locale: &str, now: OffsetDateTime) -> Result<Period, PeriodErrors> {
    let (from, to) = (query.from.trim(), query.to.trim());
    let by_dates = !from.is_empty() || !to.is_empty();
    let period = match query.period.as_deref() {
        None | Some("") if by_dates => "dates",
        None | Some("") => "30",
        Some(period) => period,
    };
    let mut errors = PeriodErrors::default();
    let period = if period == "dates" {
        let date = |text_in: &str, missing: &str, slot: &mut Option<String>| {
            if text_in.is_empty() {
                *slot = Some(text(locale, missing));
                return None;
            }
            let parsed = Date::parse(
                text_in,
                time::macros::format_description!("[year]-[month]-[day]"),
            );
            if parsed.is_err() {
                *slot = Some(text(locale, "console.overview.period.not_a_date"));
            }
            parsed.ok()
        };
        let first = date(
            from,
            "console.overview.period.from_missing",
            &mut errors.from,
        );
        let last = date(to, "console.overview.period.to_missing", &mut errors.to);
        match (first, last) {
            (Some(first), Some(last)) => Period::Days { first, last },
            _ => return Err(errors),
        }
    } else {
        match LAST.into_iter().find(|days| days.to_string() == period) {
            Some(days) => Period::Last(days),
            None => {
                errors.period = Some(text(locale, "console.overview.period.unknown"));
                return Err(errors);
            }
        }
    };
    // The rules of a period are the figures' own: a refusal is placed on its input.
    if let Err(problem) = period.range(now) {
        let message = match problem.path.as_str() {
            "to" => text(locale, "console.overview.period.backwards"),
            _ => text_with(
                locale,
                "console.overview.period.too_long",
                &[("days", &stats::MAX_DAYS.to_string())],
            ),
        };
        match problem.path.as_str() {
            "to" => errors.to = Some(message),
            _ => errors.from = Some(message),
        }
        return Err(errors);
    }
    Ok(period)
}

/// `GET /admin`.
pub(super) async fn overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<PeriodQuery>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let locale = console.locale;
    let now = OffsetDateTime::now_utc();
    let (period, errors, status) = match chosen(&query, locale, now) {
        Ok(period) => (period, PeriodErrors::default(), StatusCode::OK),
        Err(errors) => (DEFAULT, errors, StatusCode::BAD_REQUEST),
    };
    let range = period.range(now);
    let figures = match range {
        Ok((from, to)) => stats::figures(&state.app, Some(from), Some(to), now).await,
        Err(problem) => Err(StatsError::Refused(problem)),
    };
    let figures = match figures {
        Ok(figures) => figures,
        Err(StatsError::Store(error)) => return store_failure(&state, locale, &error),
        Err(StatsError::Refused(problem)) => {
            tracing::error!(?problem, "the overview's own period was refused");
            return console.forbidden(&state);
        }
    };
    let first_day = figures.days.first().map(|d| d.day);
    let last_day = figures.days.last().map(|d| d.day);
    // The form as sent when it is refused, else as the figures shown.
    let form = if status == StatusCode::OK {
        let chosen = match period {
            Period::Last(days) => days.to_string(),
            Period::Days { .. } => "dates".to_owned(),
        };
        let iso = |day: Option<Date>| day.map(|d| d.to_string()).unwrap_or_default();
        context! { period => chosen, from => iso(first_day), to => iso(last_day) }
    } else {
        context! {
            period => query.period.clone().unwrap_or_else(|| "dates".to_owned()),
            from => query.from.clone(),
            to => query.to.clone(),
        }
    };
    let choices: Vec<Value> = LAST
        .into_iter()
        .map(|days| {
            context! {
                value => days.to_string(),
                label => text_with(locale, "console.overview.period.last", &[("days", &days.to_string())]),
            }
        })
        .chain(std::iter::once(context! {
            value => "dates",
            label => text(locale, "console.overview.period.dates"),
        }))
        .collect();

    let day_label = |d: &accrete_store::DayCounts| long_date(locale, d.day);
    let days: Vec<Value> = figures
        .days
        .iter()
        .map(|d| {
            context! {
                day => day_label(d),
                sign_ups => d.sign_ups,
                credentialed => d.credentialed_sign_ins,
                sso => d.sso_sign_ins,
            }
        })
        .collect();
    let totals = context! {
        sign_ups => figures.days.iter().map(|d| d.sign_ups).sum::<i64>(),
        credentialed => figures.days.iter().map(|d| d.credentialed_sign_ins).sum::<i64>(),
        sso => figures.days.iter().map(|d| d.sso_sign_ins).sum::<i64>(),
    };
    let activity = charts::days_svg(
        &figures.days,
        &text(locale, "console.overview.days_title"),
        day_label,
    );

    let steps: Vec<Value> = figures
        .steps
        .iter()
        .map(|s| {
            context! {
                step => s.step,
                shown => s.shown,
                answered => s.answered,
                skipped => s.skipped,
                abandoned => s.abandoned,
                completion => charts::percent(s.answered, s.shown),
                lost => s.skipped + s.abandoned,
            }
        })
        .collect();
    let drop_off = figures
        .steps
        .iter()
        .filter(|s| s.shown > 0)
        .max_by(|a, b| {
            let share =
                |s: &accrete_store::StepStats| (s.skipped + s.abandoned) as f64 / s.shown as f64;
            share(a).total_cmp(&share(b))
        })
        .filter(|s| s.skipped + s.abandoned > 0)
        .map(|s| {
            text_with(
                locale,
                "console.overview.drop_off",
                &[
                    ("step", &s.step),
                    ("share", &charts::percent(s.skipped + s.abandoned, s.shown)),
                ],
            )
        });
    let funnel = charts::funnel_svg(
        &figures.steps,
        &text(locale, "console.overview.funnel_title"),
    );
    let fields: Vec<Value> = figures
        .fields
        .iter()
        .map(|f| {
            context! {
                field => f.field,
                known => f.known,
                share => charts::percent_of(f.share),
            }
        })
        .collect();
    let completeness = charts::completeness_svg(
        &figures.fields,
        &text(locale, "console.overview.completeness_title"),
    );
    let extra = context! {
        users => figures.users,
        from => first_day.map(|d| long_date(locale, d)),
        to => last_day.map(|d| long_date(locale, d)),
        form,
        choices,
        errors => context! { period => errors.period, from => errors.from, to => errors.to },
        days,
        totals,
        activity,
        steps,
        fields,
        funnel,
        completeness,
        drop_off,
    };
    console.render(&state, status, "console_overview.html", "overview", extra)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-04 15:30 UTC);

    fn query(period: Option<&str>, from: &str, to: &str) -> PeriodQuery {
        PeriodQuery {
            period: period.map(str::to_owned),
            from: from.to_owned(),
            to: to.to_owned(),
        }
    }

    #[test]
    fn the_form_chooses_a_listed_period_or_dates() {
        let chose = |q: PeriodQuery| chosen(&q, "en", NOW).ok();
        assert_eq!(chose(query(None, "", "")), Some(Period::Last(30)));
        assert_eq!(
            chose(query(Some("7"), "2026-01-01", "")),
            Some(Period::Last(7))
        );
        let dates = Some(Period::Days {
            first: time::macros::date!(2026 - 11 - 01),
            last: time::macros::date!(2026 - 11 - 03),
        });
        assert_eq!(chose(query(None, "2026-11-01", "2026-11-03")), dates);
        assert_eq!(
            chose(query(Some("dates"), " 2026-11-01 ", "2026-11-03")),
            dates
        );
    }

    #[test]
    fn a_refused_period_is_said_on_the_input_it_concerns() {
        let errors = |q: PeriodQuery| chosen(&q, "en", NOW).unwrap_err();
        let e = errors(query(Some("dates"), "yesterday", "2026-11-03"));
        assert!(e.from.is_some() && e.to.is_none() && e.period.is_none());
        let e = errors(query(Some("dates"), "2026-11-03", ""));
        assert!(e.from.is_none() && e.to.is_some());
        let e = errors(query(None, "2026-11-03", "2026-11-01"));
        assert!(e.from.is_none() && e.to.is_some());
        let e = errors(query(None, "2020-01-01", "2026-11-01"));
        assert!(e.from.is_some() && e.to.is_none());
        let e = errors(query(Some("12"), "", ""));
        assert!(e.period.is_some());
    }
}
