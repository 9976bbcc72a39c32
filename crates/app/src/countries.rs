//! Country names per locale (`crates/app/locales/countries.toml`): the labels of a
//! `country` field's options, in forms and in the self-service API.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The locale whose names are used when a locale has none.
const FALLBACK: &str = "en";

/// Code to name, for one locale.
type Names = BTreeMap<String, String>;

fn tables() -> &'static BTreeMap<String, Names> {
    static TABLES: OnceLock<BTreeMap<String, Names>> = OnceLock::new();
    TABLES.get_or_init(|| {
        toml::from_str(include_str!("../locales/countries.toml")).unwrap_or_default()
    })
}

/// The table for `locale` (`fr`, `fr-CA`): the tag itself, its language, else English.
fn table(locale: &str) -> Option<(&'static str, &'static Names)> {
    let tables = tables();
    let language = locale.split(['-', '_']).next().unwrap_or_default();
    [locale, language, FALLBACK]
        .into_iter()
        .find_map(|tag| tables.get_key_value(tag))
        .map(|(tag, names)| (tag.as_str(), names))
}

/// The name of the country `code` in `locale` (English when the locale has no names).
pub fn name(locale: &str, code: &str) -> Option<&'static str> {
    table(locale)?.1.get(code).map(String::as_str)
}

/// Every country the engine accepts, as `(code, name)` in `locale`, sorted by name.
pub fn all(locale: &str) -> &'static [(&'static str, &'static str)] {
    type Sorted = Vec<(&'static str, &'static str)>;
    static SORTED: OnceLock<BTreeMap<&'static str, Sorted>> = OnceLock::new();
    let sorted = SORTED.get_or_init(|| {
        tables()
            .iter()
            .map(|(tag, names)| {
                let mut list: Sorted = accrete_core::country_codes()
                    .map(|code| (code, names.get(code).map_or(code, String::as_str)))
                    .collect();
                list.sort_by_cached_key(|(_, name)| (sort_key(name), *name));
                (tag.as_str(), list)
            })
            .collect()
    });
    table(locale)
        .and_then(|(tag, _)| sorted.get(tag))
        .map_or(&[], Vec::as_slice)
}

/// What names are ordered by: without accents and case, so "Égypte" comes with the E's and
/// "Îles Caïmans" with the I's (enough for the Latin-script locales the pages speak).
fn sort_key(name: &str) -> String {
    name.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_named_in_the_page_locale() {
        assert_eq!(name("en", "FR"), Some("France"));
        assert_eq!(name("fr", "FR"), Some("France"));
        assert_eq!(name("fr", "DE"), Some("Allemagne"));
        assert_eq!(name("en", "DE"), Some("Germany"));
        assert_eq!(name("fr-CA", "GB"), Some("Royaume-Uni"));
        assert_eq!(
            name("de", "GB"),
            Some("United Kingdom"),
            "English otherwise"
        );
        assert_eq!(name("en", "XX"), None);
    }

    #[test]
    fn every_code_the_engine_accepts_has_a_name_in_every_locale_and_no_other_code_does() {
        let codes: Vec<&str> = accrete_core::country_codes().collect();
        for locale in &["en", "fr"] {
            let (tag, names) = table(locale).unwrap();
            assert_eq!(tag, *locale, "a table for {locale}");
            let missing: Vec<&&str> = codes.iter().filter(|c| !names.contains_key(**c)).collect();
            assert!(missing.is_empty(), "no {locale} name for {missing:?}");
            let extra: Vec<&String> = names
                .keys()
                .filter(|c| !codes.contains(&c.as_str()))
                .collect();
            assert!(extra.is_empty(), "{locale} names unknown codes {extra:?}");
            assert!(names.values().all(|n| !n.trim().is_empty()));
            assert_eq!(all(locale).len(), codes.len());
        }
    }

    #[test]
    fn countries_are_sorted_by_name_ignoring_accents_and_case() {
        let position =
            |locale: &str, code: &str| all(locale).iter().position(|(c, _)| *c == code).unwrap();
        // Égypte (EG) between Djibouti (DJ) and Espagne (ES), not after Zimbabwe.
        assert!(position("fr", "DJ") < position("fr", "EG"));
        assert!(position("fr", "EG") < position("fr", "ES"));
        // Îles Caïmans with the I's: after Hongrie, before Italie.
        assert!(position("fr", "HU") < position("fr", "KY"));
        assert!(position("fr", "KY") < position("fr", "IT"));
        // Åland Islands before Albania in English.
        assert!(position("en", "AX") < position("en", "AL"));
        assert_eq!(all("en").first(), Some(&("AF", "Afghanistan")));
        assert_eq!(all("fr").first(), Some(&("AF", "Afghanistan")));
        assert_eq!(all("fr").last(), Some(&("ZW", "Zimbabwe")));
    }
}
