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
    use accrete_app::theme::{MAX_BRAND_CHARS, MAX_URL_BYTES};

    use super::*;

    /// The pattern of `field` in the theme's schema, without its anchors (for proptest).
    fn described_by(field: &str) -> proptest::string::RegexGeneratorStrategy<String> {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(Theme::schema()).unwrap();
        let pattern = schema["properties"][field]["pattern"].as_str().unwrap();
        let inner = pattern
            .strip_prefix('^')
            .unwrap()
            .strip_suffix('$')
            .unwrap();
        proptest::string::string_regex(inner).unwrap()
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
            proptest::prop_assume!(logo_url.len() <= MAX_URL_BYTES);
            let theme = Theme {
                brand: Some(brand),
                logo_url: Some(logo_url),
                ..Theme::default()
            };
            proptest::prop_assert!(theme.problems().is_empty(), "{theme:?}");
        }
    }
}
