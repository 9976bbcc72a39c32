//! For the tests of the OpenAPI document's `pattern`s against the rules they describe: values
//! generated from a pattern, and the values schemathesis's negative cases are made of (a
//! described value with one character inserted or replaced).

use proptest::prelude::*;
use proptest::string::{RegexGeneratorStrategy, string_regex};

/// Strings a schema pattern describes (proptest generates from patterns without anchors).
pub(crate) fn described_by(pattern: &str) -> RegexGeneratorStrategy<String> {
    let inner = pattern.strip_prefix('^').and_then(|p| p.strip_suffix('$'));
    string_regex(inner.unwrap()).unwrap()
}

pub(crate) fn matches(pattern: &str, text: &str) -> bool {
    regex::Regex::new(pattern).unwrap().is_match(text)
}

/// Whether `uri`'s host, once parsed, is one the patterns cannot describe: an IPv6 literal, or
/// a name with an `xn--` label written as parsed.
pub(crate) fn indescribable_host(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| match u.host() {
        Some(url::Host::Ipv6(_)) => true,
        Some(url::Host::Domain(name)) => name.contains("xn--") && uri.contains(name),
        _ => false,
    })
}

/// One character inserted into a string, or put in place of one of its characters.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    at: prop::sample::Index,
    extra: char,
    replace: bool,
}

impl Change {
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        let i = self.at.index(chars.len() + 1);
        if self.replace && i < chars.len() {
            chars[i] = self.extra;
        } else {
            chars.insert(i, self.extra);
        }
        chars.into_iter().collect()
    }
}

/// Changes of one character, favouring those URL parsing lets through.
pub(crate) fn changes() -> impl Strategy<Value = Change> {
    let extra = prop_oneof![
        prop::sample::select(
            &[
                '*', '_', '~', '!', '$', '-', '.', 'A', '0', ':', '/', '%', '@', '[', ']', ' ',
                '\\', '#', '?', 'é',
            ][..]
        ),
        any::<char>(),
    ];
    (any::<prop::sample::Index>(), extra, any::<bool>()).prop_map(|(at, extra, replace)| Change {
        at,
        extra,
        replace,
    })
}
