//! Form and query parameters as the protocol reads them: empty values count as absent (RFC 6749
//! §3.1), and a parameter may appear at most once unless it is explicitly repeatable.

use std::collections::BTreeMap;

/// Requests longer than this in a single parameter are refused (state, nonce and hints are kept in
/// the database, so they must stay bounded).
pub const MAX_PARAM_LEN: usize = 4096;

/// Parameters keyed by name, with the names that were repeated.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    single: BTreeMap<String, String>,
    repeated: BTreeMap<String, Vec<String>>,
    duplicates: Vec<String>,
    too_long: Option<String>,
}

impl Params {
    /// Reads pairs; names in `repeatable` may appear several times.
    pub(crate) fn from_pairs(pairs: &[(String, String)], repeatable: &[&str]) -> Self {
        let mut params = Self::default();
        for (name, value) in pairs {
            if value.is_empty() {
                continue;
            }
            if value.len() > MAX_PARAM_LEN && params.too_long.is_none() {
                params.too_long = Some(name.clone());
            }
            if repeatable.contains(&name.as_str()) {
                params
                    .repeated
                    .entry(name.clone())
                    .or_default()
                    .push(value.clone());
            } else if params.single.contains_key(name) {
                if !params.duplicates.contains(name) {
                    params.duplicates.push(name.clone());
                }
            } else {
                params.single.insert(name.clone(), value.clone());
            }
        }
        params
    }

    /// The value of a single-valued parameter (the first one if it was repeated).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.single.get(name).map(String::as_str)
    }

    /// Every value of a repeatable parameter.
    pub(crate) fn all(&self, name: &str) -> &[String] {
        self.repeated.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether `name` was sent more than once.
    pub(crate) fn is_duplicated(&self, name: &str) -> bool {
        self.duplicates.iter().any(|d| d == name)
    }

    /// The first repeated parameter, if any.
    pub(crate) fn first_duplicate(&self) -> Option<&str> {
        self.duplicates.first().map(String::as_str)
    }

    /// The first parameter longer than [`MAX_PARAM_LEN`], if any.
    pub(crate) fn too_long(&self) -> Option<&str> {
        self.too_long.as_deref()
    }
}

/// Splits a space-delimited list (scope, prompt, ui_locales), dropping empty items and repeats while
/// keeping the order.
pub(crate) fn split_list(value: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for item in value.split(' ').filter(|s| !s.is_empty()) {
        if !items.iter().any(|seen| seen == item) {
            items.push(item.to_owned());
        }
    }
    items
}

#[cfg(test)]
pub(crate) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_absent_and_not_as_duplicates() {
        let params = Params::from_pairs(&pairs(&[("state", ""), ("state", "x")]), &[]);
        assert_eq!(params.get("state"), Some("x"));
        assert!(params.first_duplicate().is_none());
    }

    #[test]
    fn repeated_single_parameters_are_reported() {
        let params = Params::from_pairs(&pairs(&[("scope", "a"), ("scope", "b")]), &[]);
        assert!(params.is_duplicated("scope"));
        assert_eq!(params.first_duplicate(), Some("scope"));
    }

    #[test]
    fn repeatable_parameters_collect_every_value() {
        let params = Params::from_pairs(
            &pairs(&[("resource", "a"), ("resource", "b")]),
            &["resource"],
        );
        assert_eq!(params.all("resource"), ["a", "b"]);
        assert!(params.first_duplicate().is_none());
    }

    #[test]
    fn overlong_values_are_reported() {
        let long = "x".repeat(MAX_PARAM_LEN + 1);
        let params = Params::from_pairs(&[("nonce".into(), long)], &[]);
        assert_eq!(params.too_long(), Some("nonce"));
    }

    #[test]
    fn lists_split_on_spaces_without_repeats() {
        assert_eq!(split_list(" openid  email openid "), ["openid", "email"]);
    }
}
