//! The look of the hosted pages: the theme's rules are `accrete_app::theme` (shared with the
//! use-cases that save the server's theme); here for the pages, the API and the command line.

pub use accrete_app::theme::{MAX_CSS_BYTES, THEME_KEYS, Theme, ThemeProblem, css_problems};
use serde_json::Value;

/// A client's theme as `accrete_app::client_admin` takes it: stored without its unset fields,
/// or its problems under `theme.<key>` (`theme` when the whole value is refused). The API and
/// the console read a client's theme with it.
pub fn client_setting(value: &Value) -> Result<Value, Vec<accrete_app::problems::Problem>> {
    match Theme::from_json(value) {
        Ok(theme) => {
            Ok(serde_json::to_value(&theme).unwrap_or_else(|_| Value::Object(Default::default())))
        }
        Err(refused) => Err(refused
            .into_iter()
            .map(|problem| {
                let path = match problem.key.as_str() {
                    "" => "theme".to_owned(),
                    field => format!("theme.{field}"),
                };
                accrete_app::problems::Problem::new(path, problem.code, problem.message)
            })
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use accrete_app::theme::{MAX_BRAND_CHARS, MAX_URL_CHARS};

    use super::*;
    use crate::schema_patterns::{changes, indescribable_host, matches};

    /// The pattern of `field` in the theme's schema.
    fn pattern_of(field: &str) -> String {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(Theme::schema()).unwrap();
        schema["properties"][field]["pattern"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The pattern of `field` in the theme's schema, without its anchors (for proptest).
    fn described_by(field: &str) -> proptest::string::RegexGeneratorStrategy<String> {
        let pattern = pattern_of(field);
        let inner = pattern
            .strip_prefix('^')
            .unwrap()
            .strip_suffix('$')
            .unwrap();
        proptest::string::string_regex(inner).unwrap()
    }

    #[test]
    fn the_logo_pattern_of_the_schema_is_the_rule_s_own() {
        assert_eq!(pattern_of("logo_url"), accrete_app::theme::LOGO_URL_PATTERN);
    }

    /// Whether `theme` refuses `logo_url`.
    fn refuses_logo(logo_url: &str) -> bool {
        let theme = Theme {
            logo_url: Some(logo_url.to_owned()),
            ..Theme::default()
        };
        !theme.problems().is_empty()
    }

    #[test]
    fn a_logo_the_schema_refuses_is_refused_unless_its_host_is_indescribable() {
        let described = |logo: &str| matches(accrete_app::theme::LOGO_URL_PATTERN, logo);
        for logo in [
            "https://a*b.example/logo.svg",
            "https://cdn.example:0/logo.svg",
            "https://cdn.example:080/logo.svg",
            "https://cdn.example./logo.svg",
            "https://bücher.example/logo.svg",
            "https://cdn.example/logo\u{a0}.svg",
        ] {
            assert!(!described(logo), "{logo}");
            assert!(refuses_logo(logo), "{logo}");
        }
        for logo in [
            "https://[::1]:8443/logo.svg",
            "https://xn--bcher-kva.example/l.svg",
        ] {
            assert!(!described(logo), "{logo}");
            assert!(!refuses_logo(logo), "{logo}");
        }
        for logo in ["/static/logé.svg", "https://cdn.example:65535/a?b=é#c"] {
            assert!(described(logo), "{logo}");
            assert!(!refuses_logo(logo), "{logo}");
        }
    }

    proptest::proptest! {
        /// Schemathesis's negative cases: a described logo with one character inserted or
        /// replaced is refused, unless its host is one the pattern cannot describe.
        #[test]
        fn a_changed_logo_the_schema_refuses_is_refused(
            logo_url in described_by("logo_url"),
            change in changes(),
        ) {
            let changed = change.apply(&logo_url);
            if !matches(accrete_app::theme::LOGO_URL_PATTERN, &changed)
                && changed.chars().count() <= MAX_URL_CHARS
            {
                proptest::prop_assert!(
                    indescribable_host(&changed) || refuses_logo(&changed),
                    "{changed:?}"
                );
            }
        }
    }

    proptest::proptest! {
        // Long generated URLs are set aside rather than cut (a cut can end a host in a digit).
        #![proptest_config(proptest::prelude::ProptestConfig {
            max_global_rejects: u32::MAX,
            ..proptest::prelude::ProptestConfig::default()
        })]
        #[test]
        fn every_brand_and_logo_the_schema_describes_is_accepted(
            brand in described_by("brand"),
            logo_url in described_by("logo_url"),
        ) {
            // Lengths are the schema's `maxLength`, not its pattern.
            proptest::prop_assume!(brand.chars().count() <= MAX_BRAND_CHARS);
            proptest::prop_assume!(logo_url.chars().count() <= MAX_URL_CHARS);
            let theme = Theme {
                brand: Some(brand),
                logo_url: Some(logo_url),
                ..Theme::default()
            };
            proptest::prop_assert!(theme.problems().is_empty(), "{theme:?}");
        }
    }
}
