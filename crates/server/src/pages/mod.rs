//! Hosted pages: minijinja templates (auto-escaped HTML), their shared context, and assets.
//!
//! Templates are embedded in the binary; a theme folder may override any of them by name.

use std::path::PathBuf;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::Kwargs;
use minijinja::{Environment, State, Value};

use crate::i18n;

const EMBEDDED: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("signin.html", include_str!("../../templates/signin.html")),
    ("signup.html", include_str!("../../templates/signup.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("signout.html", include_str!("../../templates/signout.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("field.html", include_str!("../../templates/field.html")),
    ("prompt.html", include_str!("../../templates/prompt.html")),
    ("account.html", include_str!("../../templates/account.html")),
];

/// The stylesheet of the hosted pages.
pub const STYLESHEET: &str = include_str!("../../assets/accrete.css");

/// The template environment of the hosted pages.
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Templates embedded in the binary, each overridable by a file of the same name in
    /// `override_dir`.
    pub fn new(override_dir: Option<PathBuf>) -> Pages {
        let mut env = Environment::new();
        env.set_loader(move |name: &str| {
            if let Some(dir) = &override_dir {
                let candidate = dir.join(name);
                if candidate.is_file() {
                    return std::fs::read_to_string(candidate).map(Some).map_err(|e| {
                        minijinja::Error::new(minijinja::ErrorKind::TemplateNotFound, e.to_string())
                    });
                }
            }
            Ok(EMBEDDED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| (*t).to_owned()))
        });
        env.add_function("t", translate);
        Pages { env }
    }

    /// Renders `template` with `context` (which must carry `locale`) as an HTML response.
    pub fn render(&self, status: StatusCode, template: &str, context: Value) -> Response {
        match self
            .env
            .get_template(template)
            .and_then(|t| t.render(context))
        {
            Ok(body) => {
                let mut response = (status, Html(body)).into_response();
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Err(error) => {
                tracing::error!(%error, template, "template failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be rendered",
                )
                    .into_response()
            }
        }
    }
}

/// `t("key", name=value...)`: the interface string in the page's locale with `{name}` filled in.
fn translate(state: &State, key: &str, args: Kwargs) -> Result<String, minijinja::Error> {
    let locale = state
        .lookup("locale")
        .and_then(|l| l.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut text = i18n::text(&locale, key);
    for name in args.args() {
        let value: Value = args.get(name)?;
        text = text.replace(&format!("{{{name}}}"), &value.to_string());
    }
    Ok(text)
}

/// Serves the stylesheet.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use minijinja::context;

    #[test]
    fn values_are_html_escaped() {
        let pages = Pages::new(None);
        let html = pages
            .env
            .get_template("error.html")
            .unwrap()
            .render(context! { locale => "en", message => "<script>alert(1)</script>" })
            .unwrap();
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
    }

    #[test]
    fn pages_are_rendered_in_the_requested_locale() {
        let pages = Pages::new(None);
        let html = pages.env.get_template("signin.html").unwrap()
            .render(context! { locale => "fr", csrf => "t", tx => "0190-ab", client_name => "Shop", values => context!{}, errors => context!{} })
            .unwrap();
        assert!(html.contains("Se connecter"), "{html}");
        assert!(html.contains("lang=\"fr\""), "{html}");
    }

    #[test]
    fn a_theme_folder_overrides_a_template_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("error.html"), "custom {{ message }}").unwrap();
        let pages = Pages::new(Some(dir.path().to_owned()));
        let html = pages
            .env
            .get_template("error.html")
            .unwrap()
            .render(context! { message => "x" })
            .unwrap();
        assert_eq!(html, "custom x");
    }
}
