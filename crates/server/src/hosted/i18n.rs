//! Interface strings of the hosted pages (English and French) and locale negotiation.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Locales the hosted pages are translated into; the first is the fallback.
pub const SUPPORTED: &[&str] = &["en", "fr"];

type Catalog = BTreeMap<String, String>;

fn catalogs() -> &'static [(&'static str, Catalog)] {
    static CATALOGS: OnceLock<Vec<(&'static str, Catalog)>> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        let parse = |text: &str| toml::from_str::<Catalog>(text).unwrap_or_default();
        vec![
            ("en", parse(include_str!("../../locales/en.toml"))),
            ("fr", parse(include_str!("../../locales/fr.toml"))),
        ]
    })
}

/// The string `key` in `locale`, falling back to English, then to the key itself.
pub fn text(locale: &str, key: &str) -> String {
    let catalogs = catalogs();
    catalogs
        .iter()
        .find(|(l, _)| *l == locale)
        .and_then(|(_, c)| c.get(key))
        .or_else(|| catalogs.first().and_then(|(_, c)| c.get(key)))
        .cloned()
        .unwrap_or_else(|| key.to_owned())
}

/// The string `key` in `locale` with its `{name}` placeholders filled (values are text: the
/// templates escape what they show).
pub fn text_with(locale: &str, key: &str, values: &[(&str, &str)]) -> String {
    values
        .iter()
        .fold(text(locale, key), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}

/// A count as people of `locale` write it: "1,000,001", "1 000 001" (a narrow no-break space,
/// as French typography groups digits).
pub fn count(locale: &str, n: i64) -> String {
    let separator = if locale == "fr" { '\u{202f}' } else { ',' };
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        grouped.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(separator);
        }
        grouped.push(digit);
    }
    grouped
}

/// A time of day in UTC as people of `locale` write it: "14:32 UTC".
pub fn utc_time(locale: &str, at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    // French writes "14 h 32", as the mails do.
    let time = if locale == "fr" {
        format!("{}\u{a0}h\u{a0}{:02}", at.hour(), at.minute())
    } else {
        format!("{:02}:{:02}", at.hour(), at.minute())
    };
    text_with(locale, "time.utc", &[("time", &time)])
}

/// A date as people of `locale` write it: "3 December 2026", "3 décembre 2026".
pub fn long_date(locale: &str, date: time::Date) -> String {
    const EN: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const FR: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let months = if locale.starts_with("fr") { FR } else { EN };
    let month = months[usize::from(u8::from(date.month())) - 1];
    format!("{} {month} {}", date.day(), date.year())
}

/// Picks the page locale: the first supported tag of `ui_locales` (space separated, per OpenID
/// Connect), then of `Accept-Language` (by quality), then English.
pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>) -> &'static str {
    let supported = |tag: &str| {
        let primary = tag
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        SUPPORTED.iter().copied().find(|s| *s == primary)
    };
    if let Some(found) = ui_locales
        .into_iter()
        .flat_map(str::split_whitespace)
        .find_map(supported)
    {
        return found;
    }
    if let Some(header) = accept_language {
        let mut ranked: Vec<(f32, &str)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        if let Some(found) = ranked
            .iter()
            .filter(|(q, _)| *q > 0.0)
            .find_map(|(_, t)| supported(t))
        {
            return found;
        }
    }
    SUPPORTED[0]
}

/// The locale of a request's page: [`negotiate`] between the transaction's `ui_locales` (if
/// any) and the request's `Accept-Language` header.
pub fn page_locale(ui_locales: Option<&str>, headers: &axum::http::HeaderMap) -> &'static str {
    negotiate(ui_locales, accept_language(headers))
}

/// The locale of an API answer's labels and messages: a well-formed tag the caller asked for
/// (`?locale=`) is used as it is, since a policy may carry labels in any locale; otherwise the
/// pages' negotiation of `Accept-Language`.
pub fn answer_locale(requested: Option<&str>, headers: &axum::http::HeaderMap) -> String {
    match requested.filter(|l| {
        !l.is_empty() && l.len() <= 16 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    }) {
        Some(locale) => locale.to_owned(),
        None => page_locale(None, headers).to_owned(),
    }
}

fn accept_language(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {

    #[test]
    fn counts_are_grouped_by_thousands_as_each_language_writes_them() {
        assert_eq!(count("en", 0), "0");
        assert_eq!(count("en", 999), "999");
        assert_eq!(count("en", 1_000_001), "1,000,001");
        assert_eq!(count("en", -12_345), "-12,345");
        assert_eq!(count("fr", 49_606), "49\u{202f}606");
    }
    use super::*;

    #[test]
    fn dates_are_written_in_the_page_language() {
        let date = time::macros::date!(2026 - 12 - 03);
        assert_eq!(long_date("en", date), "3 December 2026");
        assert_eq!(long_date("fr", date), "3 décembre 2026");
        assert_eq!(
            long_date("fr", time::macros::date!(2027 - 08 - 15)),
            "15 août 2027"
        );
    }

    #[test]
    fn ui_locales_win_over_accept_language() {
        assert_eq!(negotiate(Some("de fr-CA"), Some("en")), "fr");
    }

    #[test]
    fn accept_language_is_ranked_by_quality() {
        assert_eq!(negotiate(None, Some("en;q=0.5, fr-FR;q=0.9, de")), "fr");
        assert_eq!(negotiate(None, Some("de, es")), "en");
    }

    #[test]
    fn every_english_string_has_a_french_translation() {
        let catalogs = catalogs();
        let (_, en) = &catalogs[0];
        let (_, fr) = &catalogs[1];
        assert!(en.len() > 20);
        let missing: Vec<_> = en.keys().filter(|k| !fr.contains_key(*k)).collect();
        assert!(missing.is_empty(), "missing French strings: {missing:?}");
    }

    #[test]
    fn unknown_keys_fall_back_to_the_key() {
        assert_eq!(text("fr", "no.such.key"), "no.such.key");
        assert_eq!(text("fr", "signin.submit"), "Se connecter");
    }
}
