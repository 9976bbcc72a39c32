//! The look of the hosted pages, as a value with its rules: brand, logo, colours and custom
//! CSS, what each may be, how one theme lies over another (a client's over the server's) and the
//! stylesheet it makes.
//!
//! Colours become CSS custom properties of the same name (`primary_text` sets
//! `--primary-text`), followed by the custom CSS: the content security policy allows no inline
//! styles, so the hosted pages link the sheet.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest custom CSS accepted, in bytes.
pub const MAX_CSS_BYTES: usize = 32 * 1024;
/// The longest brand, in characters.
pub const MAX_BRAND_CHARS: usize = 100;
/// The longest logo URL, in characters (the schema's `maxLength`).
pub const MAX_URL_CHARS: usize = 2048;

/// A character of a logo URL's path, query or fragment: neither a control character, white
/// space (as `char::is_whitespace` says) nor `\`.
macro_rules! url_char {
    ($also:literal) => {
        concat!(
            r"[^\x00-\x20",
            $also,
            r"\x7f-\xa0\\\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    };
}

/// [`is_logo_url`]'s rule as a regular expression (ECMA-262, Python and Rust `regex` alike), the
/// theme schema's `pattern` (a test holds the two equal). A path on this server (`/x`, never
/// `//x`), or `https://` with a host of letter, digit and single-hyphen labels, the last
/// starting with a letter, a port (1 to 65535, no leading zeros) and a path, query or fragment.
/// Accepted but not described: an IPv6 literal or an `xn--` label for the host (written as
/// parsed, see `accrete_oidc::client::indescribable_host`).
pub const LOGO_URL_PATTERN: &str = concat!(
    "^(/(",
    url_char!("/"),
    url_char!(""),
    "*)?|https://([A-Za-z0-9]+(-[A-Za-z0-9]+)*\\.)*[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*",
    "(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?",
    "([/?#]",
    url_char!(""),
    "*)?)$"
);

/// Every key of a theme, in the order they are documented.
pub const THEME_KEYS: [&str; 8] = [
    "brand",
    "logo_url",
    "primary",
    "primary_text",
    "background",
    "surface",
    "text",
    "css",
];

// Values from outside are checked with `Theme::from_json` or `Theme::problems` before use.
/// The look of the hosted pages. Every field is optional: an absent one falls back to the
/// server's `[theme]`, then to the built-in look.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Theme {
    /// Name shown in the page header and title instead of "Accrete" (1 to 100 characters, not
    /// only spaces, no control characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
        )
    )]
    pub brand: Option<String>,
    /// Logo shown in the page header: an `https://` URL, or a path on this server such as
    /// `/static/logo.svg`. (The pattern describes every accepted URL but those whose host is
    /// an IPv6 literal or an `xn--` name.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 2048,
            pattern = r"^(/([^\x00-\x20/\x7f-\xa0\\\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x20\x7f-\xa0\\\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?|https://([A-Za-z0-9]+(-[A-Za-z0-9]+)*\.)*[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?#][^\x00-\x20\x7f-\xa0\\\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?)$",
            examples("https://shop.example/logo.svg")
        )
    )]
    pub logo_url: Option<String>,
    /// Buttons, links and focus rings (`#rgb` or `#rrggbb`; CSS `--primary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", examples("#3b5bdb"))
    )]
    pub primary: Option<String>,
    /// Text on primary buttons (CSS `--primary-text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", examples("#ffffff"))
    )]
    pub primary_text: Option<String>,
    /// Page background (CSS `--background`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", examples("#f3f4f7"))
    )]
    pub background: Option<String>,
    /// Background of the card that holds the form (CSS `--surface`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", examples("#ffffff"))
    )]
    pub surface: Option<String>,
    /// Body text (CSS `--text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$", examples("#1c1f26"))
    )]
    pub text: Option<String>,
    /// Custom CSS served after the colours (at most 32 KiB, without `</style` or `<!--`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 32768))]
    pub css: Option<String>,
}

/// One refused value of a theme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeProblem {
    /// The key (`primary`), or empty when the theme itself is refused.
    pub key: String,
    /// Stable code: `invalid_type`, `unknown_field`, `invalid`, `invalid_url`,
    /// `invalid_colour`, `too_large`, `forbidden_text`.
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

impl ThemeProblem {
    fn new(key: &str, code: &'static str, message: impl Into<String>) -> ThemeProblem {
        ThemeProblem {
            key: key.to_owned(),
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ThemeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

impl Theme {
    /// Reads a theme object (a client's `theme`), reporting every unknown key, wrong type and
    /// refused value at once. `null` is the empty theme.
    pub fn from_json(value: &Value) -> Result<Theme, Vec<ThemeProblem>> {
        let object = match value {
            Value::Null => return Ok(Theme::default()),
            Value::Object(object) => object,
            _ => {
                return Err(vec![ThemeProblem::new("", "invalid_type", "a JSON object")]);
            }
        };
        let mut problems = Vec::new();
        for (key, value) in object {
            if !THEME_KEYS.contains(&key.as_str()) {
                problems.push(ThemeProblem::new(
                    key,
                    "unknown_field",
                    format!("not a theme setting; use {}", THEME_KEYS.join(", ")),
                ));
            } else if !(value.is_string() || value.is_null()) {
                problems.push(ThemeProblem::new(key, "invalid_type", "a string"));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let theme: Theme = serde_json::from_value(value.clone())
            .map_err(|e| vec![ThemeProblem::new("", "invalid", e.to_string())])?;
        let problems = theme.problems();
        if problems.is_empty() {
            Ok(theme)
        } else {
            Err(problems)
        }
    }

    /// Every refused value: a brand that is blank or too long, a logo that is neither an
    /// `https://` URL nor a path on this server, colours that are not `#rgb`/`#rrggbb`, custom
    /// CSS that is too large or could close an HTML `<style>` element.
    pub fn problems(&self) -> Vec<ThemeProblem> {
        let mut problems = Vec::new();
        if let Some(brand) = &self.brand
            && (brand.trim().is_empty()
                || brand.chars().count() > MAX_BRAND_CHARS
                || brand.chars().any(char::is_control))
        {
            problems.push(ThemeProblem::new(
                "brand",
                "invalid",
                format!("1 to {MAX_BRAND_CHARS} characters, without control characters"),
            ));
        }
        if let Some(logo) = &self.logo_url
            && !is_logo_url(logo)
        {
            problems.push(ThemeProblem::new(
                "logo_url",
                "invalid_url",
                "an https:// URL, or a path on this server starting with /",
            ));
        }
        for (key, colour) in self.colours() {
            if let Some(colour) = colour
                && !is_hex_colour(colour)
            {
                problems.push(ThemeProblem::new(
                    key,
                    "invalid_colour",
                    format!(
                        "`{}` is not a CSS hex colour: use #rgb or #rrggbb",
                        shorten(colour)
                    ),
                ));
            }
        }
        if let Some(css) = &self.css {
            problems.extend(css_problems("css", css));
        }
        problems
    }

    /// `self` with unset fields taken from `lower` (a client's theme over the server's).
    pub fn over(self, lower: &Theme) -> Theme {
        let or = |high: Option<String>, low: &Option<String>| high.or_else(|| low.clone());
        Theme {
            brand: or(self.brand, &lower.brand),
            logo_url: or(self.logo_url, &lower.logo_url),
            primary: or(self.primary, &lower.primary),
            primary_text: or(self.primary_text, &lower.primary_text),
            background: or(self.background, &lower.background),
            surface: or(self.surface, &lower.surface),
            text: or(self.text, &lower.text),
            css: or(self.css, &lower.css),
        }
    }

    /// Whether the theme has a stylesheet of its own (a colour or custom CSS).
    pub fn has_style(&self) -> bool {
        self.css.is_some() || self.colours().iter().any(|(_, c)| c.is_some())
    }

    /// The theme's stylesheet: the colours as custom properties on `:root`, then the custom CSS.
    pub fn stylesheet(&self) -> String {
        let mut css = String::from("/* Theme of the hosted pages (Accrete). */\n");
        let set: Vec<(&str, &String)> = self
            .colours()
            .into_iter()
            .filter_map(|(key, colour)| colour.map(|c| (key, c)))
            .collect();
        if !set.is_empty() {
            css.push_str(":root {\n");
            for (key, colour) in set {
                css.push_str(&format!("  --{}: {colour};\n", key.replace('_', "-")));
            }
            css.push_str("}\n");
        }
        if let Some(custom) = &self.css {
            css.push_str(custom);
            if !custom.ends_with('\n') {
                css.push('\n');
            }
        }
        css
    }

    fn colours(&self) -> [(&'static str, Option<&String>); 5] {
        [
            ("primary", self.primary.as_ref()),
            ("primary_text", self.primary_text.as_ref()),
            ("background", self.background.as_ref()),
            ("surface", self.surface.as_ref()),
            ("text", self.text.as_ref()),
        ]
    }
}

/// Problems of custom CSS text (`key` names where it came from, `css` or `css_file`).
pub fn css_problems(key: &str, css: &str) -> Vec<ThemeProblem> {
    let mut problems = Vec::new();
    if css.len() > MAX_CSS_BYTES {
        problems.push(ThemeProblem::new(
            key,
            "too_large",
            format!("at most {MAX_CSS_BYTES} bytes of CSS"),
        ));
    }
    let lower = css.to_ascii_lowercase();
    if lower.contains("</style") || lower.contains("<!--") || css.contains('\0') {
        problems.push(ThemeProblem::new(
            key,
            "forbidden_text",
            "CSS must not contain `</style`, `<!--` or NUL characters",
        ));
    }
    problems
}

/// `#rgb` or `#rrggbb`.
fn is_hex_colour(text: &str) -> bool {
    text.strip_prefix('#')
        .is_some_and(|hex| matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// An `https://` URL with a host, or a path on this server (`/x`, never `//host`): what
/// [`LOGO_URL_PATTERN`] describes, or an `https://` URL it would describe but for a host no
/// pattern can (an IPv6 literal, an `xn--` name).
fn is_logo_url(text: &str) -> bool {
    static DESCRIBED: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(LOGO_URL_PATTERN).ok());
    let described = |text: &str| DESCRIBED.as_ref().is_some_and(|re| re.is_match(text));
    if text.chars().count() > MAX_URL_CHARS {
        return false;
    }
    described(text)
        || url::Url::parse(text).is_ok_and(|u| {
            u.scheme() == "https"
                && accrete_oidc::client::described_but_for_its_host(&u, text, described)
        })
}

/// A value as quoted in a message: at most 40 characters.
fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys(problems: &[ThemeProblem]) -> Vec<(&str, &str)> {
        problems.iter().map(|p| (p.key.as_str(), p.code)).collect()
    }

    #[test]
    fn a_complete_theme_is_read_from_json() {
        let theme = Theme::from_json(&json!({
            "brand": "Shop",
            "logo_url": "https://cdn.shop.example/logo.svg",
            "primary": "#0a7",
            "primary_text": "#FFFFFF",
            "background": "#f3f4f7",
            "surface": "#fff",
            "text": "#111111",
            "css": ".card { border-width: 2px; }"
        }))
        .unwrap();
        assert_eq!(theme.brand.as_deref(), Some("Shop"));
        assert_eq!(theme.primary.as_deref(), Some("#0a7"));
        assert!(theme.has_style());
    }

    #[test]
    fn null_and_an_empty_object_are_the_empty_theme() {
        assert_eq!(Theme::from_json(&Value::Null).unwrap(), Theme::default());
        assert_eq!(Theme::from_json(&json!({})).unwrap(), Theme::default());
        assert!(!Theme::default().has_style());
    }

    #[test]
    fn every_refused_value_is_reported_with_its_key() {
        let problems = Theme::from_json(&json!({
            "brand": " ",
            "logo_url": "http://shop.example/logo.png",
            "primary": "blue",
            "background": "#12345",
            "text": "#1234567",
            "css": "</STYLE><script>"
        }))
        .unwrap_err();
        assert_eq!(
            keys(&problems),
            [
                ("brand", "invalid"),
                ("logo_url", "invalid_url"),
                ("primary", "invalid_colour"),
                ("background", "invalid_colour"),
                ("text", "invalid_colour"),
                ("css", "forbidden_text"),
            ]
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_reported_before_values() {
        let problems = Theme::from_json(&json!({
            "primary": 12,
            "colour": "#fff",
            "brand": "ok"
        }))
        .unwrap_err();
        assert_eq!(
            keys(&problems),
            [("primary", "invalid_type"), ("colour", "unknown_field")]
        );
        assert!(problems[1].message.contains("primary_text"), "{problems:?}");
        let not_an_object = Theme::from_json(&json!(["#fff"])).unwrap_err();
        assert_eq!(keys(&not_an_object), [("", "invalid_type")]);
    }

    #[test]
    fn a_logo_is_an_https_url_or_a_path_on_this_server() {
        for good in [
            "https://cdn.example/logo.svg",
            "/static/logo.png",
            "/logo.svg?v=2",
        ] {
            assert!(is_logo_url(good), "{good}");
        }
        for bad in [
            "http://cdn.example/logo.svg",
            "//cdn.example/logo.svg",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "logo.svg",
            "/logo .svg",
            "/\\evil.example",
            "https:/cdn.example",
        ] {
            assert!(!is_logo_url(bad), "{bad}");
        }
    }

    #[test]
    fn custom_css_is_bounded_in_size() {
        let big = "a".repeat(MAX_CSS_BYTES + 1);
        assert_eq!(keys(&css_problems("css", &big)), [("css", "too_large")]);
        assert!(css_problems("css", &"a".repeat(MAX_CSS_BYTES)).is_empty());
        assert_eq!(
            keys(&css_problems("css_file", "a <!-- b")),
            [("css_file", "forbidden_text")]
        );
    }

    #[test]
    fn a_client_theme_overrides_the_server_theme_field_by_field() {
        let server = Theme {
            brand: Some("Acme".into()),
            logo_url: Some("/logo.svg".into()),
            primary: Some("#111".into()),
            background: Some("#eee".into()),
            css: Some(".a{}".into()),
            ..Theme::default()
        };
        let client = Theme {
            brand: Some("Shop".into()),
            primary: Some("#222".into()),
            ..Theme::default()
        };
        let merged = client.over(&server);
        assert_eq!(merged.brand.as_deref(), Some("Shop"));
        assert_eq!(merged.logo_url.as_deref(), Some("/logo.svg"));
        assert_eq!(merged.primary.as_deref(), Some("#222"));
        assert_eq!(merged.background.as_deref(), Some("#eee"));
        assert_eq!(merged.css.as_deref(), Some(".a{}"));
        assert_eq!(Theme::default().over(&server), server);
    }

    #[test]
    fn the_stylesheet_sets_custom_properties_then_the_custom_css() {
        let theme = Theme {
            primary: Some("#0a7".into()),
            primary_text: Some("#fff".into()),
            css: Some(".card { border: 0 }".into()),
            ..Theme::default()
        };
        let css = theme.stylesheet();
        let colours = css.find("--primary: #0a7;").unwrap();
        assert!(css.contains("--primary-text: #fff;"), "{css}");
        assert!(!css.contains("--background"), "{css}");
        assert!(css.find(".card { border: 0 }").unwrap() > colours, "{css}");
        let plain = Theme::default().stylesheet();
        assert!(!plain.contains(":root"), "{plain}");
    }

    #[test]
    fn a_theme_is_written_back_without_its_unset_fields() {
        let theme = Theme::from_json(&json!({"primary": "#123456", "brand": null})).unwrap();
        assert_eq!(
            serde_json::to_value(&theme).unwrap(),
            json!({"primary": "#123456"})
        );
    }
}
