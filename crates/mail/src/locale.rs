//! The mails' texts in English and French (`locales/*.toml`), placeholders, and times in words.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use time::OffsetDateTime;

/// Languages the mails are written in; the first is the fallback.
pub const LANGUAGES: &[&str] = &["en", "fr"];

type Catalog = BTreeMap<String, String>;

fn catalogs() -> &'static [(&'static str, Catalog)] {
    static CATALOGS: OnceLock<Vec<(&'static str, Catalog)>> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        // A file that does not parse leaves its language empty: every mail in it then fails to
        // render (a unit test parses both).
        let parse = |text: &str| toml::from_str::<Catalog>(text).unwrap_or_default();
        vec![
            ("en", parse(include_str!("../locales/en.toml"))),
            ("fr", parse(include_str!("../locales/fr.toml"))),
        ]
    })
}

/// The language a letter is written in: `locale`'s primary tag when supported, else English.
pub fn language(locale: &str) -> &'static str {
    let primary = locale
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    LANGUAGES
        .iter()
        .copied()
        .find(|language| *language == primary)
        .unwrap_or("en")
}

/// The text `key` in `language`, or `None` (a bug: a unit test renders every mail in every
/// language).
pub fn text(language: &str, key: &str) -> Option<&'static str> {
    catalogs()
        .iter()
        .find(|(l, _)| *l == language)
        .and_then(|(_, catalog)| catalog.get(key))
        .map(String::as_str)
}

/// `template` with each `{name}` replaced by its value in `values`, in one pass (a value that
/// itself holds `{name}` is left as it is); an unknown `{name}` stays.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut filled = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, value)| (*value, close))
        });
        match value {
            Some((value, close)) => {
                filled.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                filled.push('{');
                rest = after;
            }
        }
    }
    filled.push_str(rest);
    filled
}

/// When something expires, in words, in UTC: "at 14:32 UTC" the same day as `now`, "at 14:32
/// UTC on 4 December 2026" another day ("à 14 h 32 UTC", "le 4 décembre 2026 à 14 h 32 UTC",
/// with no-break spaces).
pub fn expiry(language: &str, expires_at: OffsetDateTime, now: OffsetDateTime) -> Option<String> {
    let at = expires_at.to_offset(time::UtcOffset::UTC);
    let h = at.hour().to_string();
    let hh = format!("{:02}", at.hour());
    let mm = format!("{:02}", at.minute());
    let time = fill(
        text(language, "format.time")?,
        &[("h", &h), ("hh", &hh), ("mm", &mm)],
    );
    if at.date() == now.to_offset(time::UtcOffset::UTC).date() {
        return Some(fill(
            text(language, "common.expires_time")?,
            &[("time", &time)],
        ));
    }
    let day = match at.day() {
        1 => text(language, "format.first_day")?.to_owned(),
        day => day.to_string(),
    };
    let month = text(language, &format!("month.{}", u8::from(at.month())))?;
    let year = at.year().to_string();
    let date = fill(
        text(language, "format.date")?,
        &[("day", &day), ("month", month), ("year", &year)],
    );
    Some(fill(
        text(language, "common.expires_date_time")?,
        &[("time", &time), ("date", &date)],
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use time::macros::datetime;

    use super::{catalogs, expiry, fill, language};

    #[test]
    fn every_text_is_in_every_language() {
        let catalogs = catalogs();
        let keys = |language: &str| -> BTreeSet<&String> {
            let (_, catalog) = catalogs.iter().find(|(l, _)| *l == language).unwrap();
            assert!(
                !catalog.is_empty(),
                "{language}.toml is empty or does not parse"
            );
            catalog.keys().collect()
        };
        let english = keys("en");
        for (language, _) in catalogs {
            let other = keys(language);
            let missing: Vec<_> = english.difference(&other).collect();
            let extra: Vec<_> = other.difference(&english).collect();
            assert!(
                missing.is_empty(),
                "missing in {language}.toml: {missing:?}"
            );
            assert!(extra.is_empty(), "only in {language}.toml: {extra:?}");
        }
    }

    #[test]
    fn a_locale_is_its_language_and_anything_unknown_is_english() {
        assert_eq!(language("fr"), "fr");
        assert_eq!(language("fr-CA"), "fr");
        assert_eq!(language("FR_be"), "fr");
        assert_eq!(language("en-GB"), "en");
        assert_eq!(language("de"), "en");
        assert_eq!(language(""), "en");
    }

    #[test]
    fn placeholders_are_filled_once_and_unknown_ones_stay() {
        assert_eq!(
            fill("{a} and {b} {c}", &[("a", "{b}"), ("b", "2")]),
            "{b} and 2 {c}"
        );
        assert_eq!(fill("{ unclosed", &[]), "{ unclosed");
        assert_eq!(fill("é{a}è", &[("a", "à")]), "éàè");
    }

    #[test]
    fn an_expiry_is_a_time_in_utc_with_the_date_when_it_is_another_day() {
        let now = datetime!(2026-12-03 14:00 UTC);
        assert_eq!(
            expiry("en", datetime!(2026-12-03 14:32 UTC), now).unwrap(),
            "at 14:32 UTC"
        );
        assert_eq!(
            expiry("fr", datetime!(2026-12-03 14:32 UTC), now).unwrap(),
            "à 14\u{a0}h\u{a0}32\u{a0}UTC"
        );
        assert_eq!(
            expiry("en", datetime!(2026-12-03 17:05 +02:00), now).unwrap(),
            "at 15:05 UTC"
        );
        assert_eq!(
            expiry("en", datetime!(2026-12-04 09:05 UTC), now).unwrap(),
            "at 09:05 UTC on 4 December 2026"
        );
        assert_eq!(
            expiry("fr", datetime!(2027-01-01 00:10 UTC), now).unwrap(),
            "le 1er\u{a0}janvier 2027 à 0\u{a0}h\u{a0}10\u{a0}UTC"
        );
    }
}
