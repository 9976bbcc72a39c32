//! A letter rendered: subject, plain text and HTML in the letter's language, under its brand.
//! Templates are minijinja's (`templates/letter.{html,txt}`); HTML is escaped by the engine,
//! never assembled by hand.

use std::fmt::Write as _;
use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, Error, Output, State, UndefinedBehavior, Value};
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::MailError;
use crate::letter::{Brand, Letter, LetterKind};
use crate::locale;

/// The accent when a brand has none (the hosted pages' default primary colour).
const DEFAULT_ACCENT: &str = "#3b5bdb";

/// A letter ready to be put in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The language it is written in (`en`, `fr`).
    pub language: &'static str,
    /// The subject line.
    pub subject: String,
    /// The plain-text alternative.
    pub text: String,
    /// The HTML alternative.
    pub html: String,
}

/// What the templates show; the texts already in the letter's language.
#[derive(Serialize)]
struct Content<'a> {
    lang: &'static str,
    subject: &'a str,
    product: &'a str,
    heading: String,
    paragraphs: Vec<String>,
    code: Option<&'a str>,
    action: Option<Action<'a>>,
    expiry: Option<String>,
    not_you: String,
    footer: String,
    link_fallback: String,
    accent: String,
    accent_text: &'static str,
    logo_url: Option<&'a str>,
}

/// The link of a letter and the words around it.
#[derive(Serialize)]
struct Action<'a> {
    intro: String,
    intro_text: String,
    button: String,
    link: &'a str,
}

/// Renders `letter`; `default_product` names the product when the brand does not, and `now`
/// decides whether an expiry needs its date.
pub fn render(
    letter: &Letter,
    default_product: &str,
    now: OffsetDateTime,
) -> Result<Rendered, MailError> {
    let name = letter.kind.name();
    let failed = |message: String| MailError::Render {
        letter: name,
        message,
    };
    let language = locale::language(&letter.locale);
    let product = [letter.brand.product_name.as_str(), default_product]
        .into_iter()
        .map(one_line)
        .find(|product| !product.is_empty())
        .unwrap_or_else(|| "Accrete".to_owned());
    let new_email = match &letter.kind {
        LetterKind::EmailChanged { new_email } => one_line(new_email),
        _ => String::new(),
    };
    // Every text in the letter's language, its placeholders filled.
    let say = |key: &str, when: &str| {
        locale::text(language, key)
            .map(|text| {
                locale::fill(
                    text,
                    &[("product", &product), ("email", &new_email), ("when", when)],
                )
            })
            .ok_or_else(|| failed(format!("no text {key:?} in {language}.toml")))
    };
    let own = |key: &str| say(&format!("{name}.{key}"), "");

    let action = match letter.kind.link() {
        Some(link) => {
            if !is_web_url(link) {
                return Err(failed("its link is not an http(s) URL".to_owned()));
            }
            Some(Action {
                intro: own("link_intro")?,
                intro_text: own("link_intro_text")?,
                button: own("button")?,
                link,
            })
        }
        None => None,
    };
    let expiry = match letter.kind.expires_at() {
        Some(expires_at) => {
            let when = locale::expiry(language, expires_at, now)
                .ok_or_else(|| failed(format!("the expiry texts of {language}.toml")))?;
            Some(say(&format!("{name}.expiry"), &when)?)
        }
        None => None,
    };
    let accent = accent(&letter.brand);
    let subject = own("subject")?;
    let content = Content {
        lang: language,
        subject: &subject,
        product: &product,
        heading: own("heading")?,
        paragraphs: vec![own("intro")?],
        code: letter.kind.code(),
        action,
        expiry,
        not_you: own("not_you")?,
        footer: say("common.footer", "")?,
        link_fallback: say("common.link_fallback", "")?,
        accent_text: text_on(&accent),
        accent,
        logo_url: letter
            .brand
            .logo_url
            .as_deref()
            .filter(|url| is_web_url(url)),
    };

    let environment = environment().as_ref().map_err(|e| failed(e.clone()))?;
    let render = |template: &str| {
        environment
            .get_template(template)
            .and_then(|template| template.render(&content))
            .map_err(|error| failed(format!("{template}: {error:#}")))
    };
    Ok(Rendered {
        language,
        text: render("letter.txt")?,
        html: render("letter.html")?,
        subject,
    })
}

/// The templates, loaded once; an error (a bug) is kept as its message.
fn environment() -> &'static Result<Environment<'static>, String> {
    static ENVIRONMENT: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        // `.html` templates are HTML-escaped by name; `.txt` ones are not.
        environment.set_trim_blocks(true);
        environment.set_lstrip_blocks(true);
        environment.set_keep_trailing_newline(true);
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        environment.set_formatter(format_value);
        for (name, source) in [
            ("letter.html", include_str!("../templates/letter.html")),
            ("letter.txt", include_str!("../templates/letter.txt")),
        ] {
            environment
                .add_template(name, source)
                .map_err(|error| format!("{name}: {error:#}"))?;
        }
        Ok(environment)
    })
}

/// Writes a value into a template: in HTML, a string with `&`, `<`, `>`, `"` and `'` escaped
/// (minijinja's own escaping also turns `/` into `&#x2f;`, which makes every link look
/// obfuscated to spam filters); everything else as minijinja does.
fn format_value(out: &mut Output, state: &State, value: &Value) -> Result<(), Error> {
    match value.as_str() {
        Some(text) if matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe() => {
            for c in text.chars() {
                match c {
                    '&' => out.write_str("&amp;")?,
                    '<' => out.write_str("&lt;")?,
                    '>' => out.write_str("&gt;")?,
                    '"' => out.write_str("&quot;")?,
                    '\'' => out.write_str("&#39;")?,
                    c => out.write_char(c)?,
                }
            }
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// `text` on one line: control characters (line breaks) become spaces, ends trimmed.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Whether `url` is an absolute `http` or `https` URL (links and logos; never `javascript:`).
fn is_web_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "https" | "http"))
}

/// The brand's accent as `#rrggbb` when it is `#rrggbb` or `#rgb`, else the default.
fn accent(brand: &Brand) -> String {
    let hex = brand
        .accent_color
        .as_deref()
        .map(str::trim)
        .and_then(|color| color.strip_prefix('#'))
        .filter(|hex| hex.chars().all(|c| c.is_ascii_hexdigit()));
    match hex {
        Some(hex) if hex.len() == 6 => format!("#{}", hex.to_ascii_lowercase()),
        Some(hex) if hex.len() == 3 => {
            let doubled: String = hex.chars().flat_map(|c| [c, c]).collect();
            format!("#{}", doubled.to_ascii_lowercase())
        }
        _ => DEFAULT_ACCENT.to_owned(),
    }
}

/// The colour of text on `accent` (`#rrggbb`): white or near-black, whichever contrasts more
/// (WCAG relative luminance).
fn text_on(accent: &str) -> &'static str {
    let channel = |at: usize| {
        let value = accent
            .get(at..at + 2)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .unwrap_or(0);
        let c = f64::from(value) / 255.0;
        if c <= 0.040_45 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    // #111111 has a relative luminance of about 0.0056.
    let on_white = 1.05 / (luminance + 0.05);
    let on_dark = (luminance + 0.05) / 0.0556;
    if on_white >= on_dark {
        "#ffffff"
    } else {
        "#111111"
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::{accent, render, text_on};
    use crate::letter::{Brand, Letter, LetterKind};

    fn every_kind() -> Vec<LetterKind> {
        let expires_at = datetime!(2026-12-03 14:32 UTC);
        vec![
            LetterKind::VerifyEmail {
                code: "204816".to_owned(),
                link: "https://id.example.com/verify?t=abc&x=1".to_owned(),
                expires_at,
            },
            LetterKind::ConfirmNewEmail {
                code: "551902".to_owned(),
                link: "https://id.example.com/confirm?t=def".to_owned(),
                expires_at,
            },
            LetterKind::EmailChanged {
                new_email: "new@example.com".to_owned(),
            },
            LetterKind::PasswordReset {
                link: "https://id.example.com/reset?t=ghi".to_owned(),
                expires_at,
            },
            LetterKind::PasswordChanged,
            LetterKind::AccountDeleted,
        ]
    }

    fn letter(locale: &str, kind: LetterKind) -> Letter {
        Letter {
            to: "ada@example.com".to_owned(),
            locale: locale.to_owned(),
            brand: Brand {
                product_name: "<Acme & Co>".to_owned(),
                accent_color: Some("#0a7".to_owned()),
                logo_url: Some("https://cdn.example.com/logo.png".to_owned()),
            },
            kind,
            user: None,
        }
    }

    #[test]
    fn every_letter_renders_in_every_language_with_its_code_link_and_escaped_brand() {
        let now = datetime!(2026-12-03 14:17 UTC);
        for language in ["en", "fr"] {
            for kind in every_kind() {
                let name = kind.name();
                let rendered = render(&letter(language, kind.clone()), "Accrete", now)
                    .unwrap_or_else(|e| panic!("{language} {name}: {e}"));
                assert_eq!(rendered.language, language);
                assert!(rendered.subject.contains("<Acme & Co>"), "{name}");
                assert!(rendered.html.contains("&lt;Acme &amp; Co&gt;"), "{name}");
                assert!(!rendered.html.contains("<Acme"), "{name}");
                assert!(rendered.text.contains("<Acme & Co>"), "{name}");
                assert!(rendered.html.contains("#00aa77"), "{name}");
                assert!(rendered.html.contains(&format!("lang=\"{language}\"")));
                if let Some(code) = kind.code() {
                    assert!(rendered.text.contains(code), "{name}");
                    assert!(rendered.html.contains(code), "{name}");
                }
                if let Some(link) = kind.link() {
                    assert!(rendered.text.contains(link), "{name}");
                    let escaped = link.replace('&', "&amp;");
                    assert!(rendered.html.contains(&escaped), "{name}");
                }
                if kind.expires_at().is_some() {
                    let time = if language == "en" {
                        "14:32 UTC"
                    } else {
                        "14\u{a0}h\u{a0}32\u{a0}UTC"
                    };
                    assert!(rendered.text.contains(time), "{name}: {}", rendered.text);
                }
                assert!(!rendered.text.contains('{'), "{name}: {}", rendered.text);
                assert!(!rendered.html.contains("{{"), "{name}");
            }
        }
    }

    #[test]
    fn the_plain_text_reads_as_a_plain_mail() {
        let kind = every_kind().remove(0);
        let rendered = render(
            &letter("en", kind),
            "Accrete",
            datetime!(2026-12-03 14:17 UTC),
        )
        .unwrap();
        assert_eq!(
            rendered.text,
            "Confirm your email address\n\n\
             To finish creating your <Acme & Co> account, enter this code:\n\n    204816\n\n\
             Or confirm your address by opening this link:\n\
             https://id.example.com/verify?t=abc&x=1\n\n\
             This code and the link expire at 14:32 UTC.\n\n\
             If you did not create an account, you can ignore this mail.\n\n\
             -- \nThis is an automatic message from <Acme & Co>; replies are not read.\n"
        );
        let french = render(
            &letter("fr-CA", every_kind().remove(3)),
            "Accrete",
            datetime!(2026-12-02 10:00 UTC),
        )
        .unwrap();
        assert!(
            french
                .text
                .contains("Le lien expire le 3\u{a0}décembre 2026 à 14\u{a0}h\u{a0}32\u{a0}UTC."),
            "{}",
            french.text
        );
    }

    #[test]
    fn an_email_address_in_a_notice_is_escaped_in_html() {
        let kind = LetterKind::EmailChanged {
            new_email: "\"<b>\"@example.com".to_owned(),
        };
        let rendered = render(&letter("en", kind), "", datetime!(2026-12-03 14:17 UTC)).unwrap();
        assert!(rendered.text.contains("\"<b>\"@example.com"));
        assert!(rendered.html.contains("&quot;&lt;b&gt;&quot;@example.com"));
    }

    #[test]
    fn a_link_that_is_not_http_is_a_render_error_not_a_button() {
        let kind = LetterKind::PasswordReset {
            link: "javascript:alert(1)".to_owned(),
            expires_at: datetime!(2026-12-03 14:32 UTC),
        };
        let error = render(&letter("en", kind), "", datetime!(2026-12-03 14:17 UTC)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the password_reset mail could not be rendered: its link is not an http(s) URL"
        );
    }

    #[test]
    fn the_product_falls_back_to_the_senders_name_and_brand_extras_are_checked() {
        let mut plain = letter("en", LetterKind::PasswordChanged);
        plain.brand = Brand {
            product_name: " \n".to_owned(),
            accent_color: Some("red; background:url(x)".to_owned()),
            logo_url: Some("javascript:alert(1)".to_owned()),
        };
        let rendered = render(&plain, "Example ID", datetime!(2026-12-03 14:17 UTC)).unwrap();
        assert_eq!(rendered.subject, "Your Example ID password was changed");
        assert!(rendered.html.contains("#3b5bdb"));
        assert!(!rendered.html.contains("red;"));
        assert!(!rendered.html.contains("javascript"));
        assert!(!rendered.html.contains("<img"));
    }

    #[test]
    fn accents_are_normalised_and_their_text_contrasts() {
        let brand = |color: &str| Brand {
            accent_color: Some(color.to_owned()),
            ..Brand::default()
        };
        assert_eq!(accent(&brand("#ABCDEF")), "#abcdef");
        assert_eq!(accent(&brand("#fc0")), "#ffcc00");
        assert_eq!(accent(&brand("#12345")), "#3b5bdb");
        assert_eq!(accent(&Brand::default()), "#3b5bdb");
        assert_eq!(text_on("#3b5bdb"), "#ffffff");
        assert_eq!(text_on("#ffcc00"), "#111111");
        assert_eq!(text_on("#000000"), "#ffffff");
    }
}
