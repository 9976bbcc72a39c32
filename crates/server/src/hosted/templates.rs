//! Hosted pages: minijinja templates (auto-escaped HTML), their shared context, and assets.
//!
//! Templates are embedded in the binary; a folder (`[theme] templates`) may override any of
//! them by name, and its sub-folder `clients/<client_id>/` may override them again for the pages
//! of one client (see [`Pages::themed`]). Every page gets `brand`, `logo` and `theme_css` from the theme of its client,
//! or of the server when there is no client (see [`theme`]).

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::Kwargs;
use minijinja::{Environment, State as TemplateState, Value};

use super::i18n;
use super::theme::Theme;
use crate::config::ThemeSettings;

const EMBEDDED: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("signin.html", include_str!("../../templates/signin.html")),
    ("signup.html", include_str!("../../templates/signup.html")),
    ("error.html", include_str!("../../templates/error.html")),
    (
        "companion_return.html",
        include_str!("../../templates/companion_return.html"),
    ),
    ("signout.html", include_str!("../../templates/signout.html")),
    ("forgot.html", include_str!("../../templates/forgot.html")),
    ("reset.html", include_str!("../../templates/reset.html")),
    (
        "verify_email.html",
        include_str!("../../templates/verify_email.html"),
    ),
    ("mfa.html", include_str!("../../templates/mfa.html")),
    (
        "mfa_setup.html",
        include_str!("../../templates/mfa_setup.html"),
    ),
    (
        "mfa_recovery_codes.html",
        include_str!("../../templates/mfa_recovery_codes.html"),
    ),
    (
        "account_email.html",
        include_str!("../../templates/account_email.html"),
    ),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("field.html", include_str!("../../templates/field.html")),
    ("prompt.html", include_str!("../../templates/prompt.html")),
    ("account.html", include_str!("../../templates/account.html")),
    (
        "account_base.html",
        include_str!("../../templates/account_base.html"),
    ),
    (
        "account_security.html",
        include_str!("../../templates/account_security.html"),
    ),
    (
        "account_phone.html",
        include_str!("../../templates/account_phone.html"),
    ),
    (
        "account_sessions.html",
        include_str!("../../templates/account_sessions.html"),
    ),
    (
        "account_data.html",
        include_str!("../../templates/account_data.html"),
    ),
    (
        "account_deleted.html",
        include_str!("../../templates/account_deleted.html"),
    ),
    ("home.html", include_str!("../../templates/home.html")),
    (
        "console_base.html",
        include_str!("../../templates/console_base.html"),
    ),
    (
        "console_overview.html",
        include_str!("../../templates/console_overview.html"),
    ),
    (
        "console_audit.html",
        include_str!("../../templates/console_audit.html"),
    ),
    (
        "console_admins.html",
        include_str!("../../templates/console_admins.html"),
    ),
    (
        "console_users.html",
        include_str!("../../templates/console_users.html"),
    ),
    (
        "console_user.html",
        include_str!("../../templates/console_user.html"),
    ),
    (
        "console_keys.html",
        include_str!("../../templates/console_keys.html"),
    ),
    (
        "console_macros.html",
        include_str!("../../templates/console_macros.html"),
    ),
    (
        "console_policy_nav.html",
        include_str!("../../templates/console_policy_nav.html"),
    ),
    (
        "console_policy.html",
        include_str!("../../templates/console_policy.html"),
    ),
    (
        "console_policy_field.html",
        include_str!("../../templates/console_policy_field.html"),
    ),
    (
        "console_policy_step.html",
        include_str!("../../templates/console_policy_step.html"),
    ),
    (
        "console_policy_source.html",
        include_str!("../../templates/console_policy_source.html"),
    ),
    (
        "console_policy_diff.html",
        include_str!("../../templates/console_policy_diff.html"),
    ),
    (
        "console_policy_history.html",
        include_str!("../../templates/console_policy_history.html"),
    ),
    (
        "console_policy_simulate.html",
        include_str!("../../templates/console_policy_simulate.html"),
    ),
    (
        "console_policy_impact.html",
        include_str!("../../templates/console_policy_impact.html"),
    ),
    (
        "console_clients.html",
        include_str!("../../templates/console_clients.html"),
    ),
    (
        "console_webhooks.html",
        include_str!("../../templates/console_webhooks.html"),
    ),
    (
        "console_webhook.html",
        include_str!("../../templates/console_webhook.html"),
    ),
    (
        "console_webhook_secret.html",
        include_str!("../../templates/console_webhook_secret.html"),
    ),
    (
        "console_webhook_confirm.html",
        include_str!("../../templates/console_webhook_confirm.html"),
    ),
    (
        "console_client_new.html",
        include_str!("../../templates/console_client_new.html"),
    ),
    (
        "console_client_created.html",
        include_str!("../../templates/console_client_created.html"),
    ),
    (
        "console_client.html",
        include_str!("../../templates/console_client.html"),
    ),
    (
        "console_client_confirm.html",
        include_str!("../../templates/console_client_confirm.html"),
    ),
    (
        "console_theme.html",
        include_str!("../../templates/console_theme.html"),
    ),
];

/// The stylesheet of the hosted pages.
pub const STYLESHEET: &str = include_str!("../../assets/accrete.css");

/// How long browsers may keep a theme stylesheet; its URL changes with its content.
const THEME_MAX_AGE: &str = "public, max-age=300";

/// The sub-folder of the override folder that holds one folder of overrides per client.
const CLIENTS_DIR: &str = "clients";

/// The template environment of the hosted pages and the server's theme.
pub struct Pages {
    env: Environment<'static>,
    /// The server's effective theme and its stylesheet, as this node last read it (a theme
    /// saved at run time replaces it: [`Pages::use_theme`]).
    look: RwLock<Arc<ServerLook>>,
    /// Clients with a folder of their own template overrides (`clients/<client_id>/`).
    client_folders: HashSet<String>,
}

/// Why the `[theme]` settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    /// The template folder is missing, unreadable, or holds a template that does not compile.
    #[error("theme.templates {}: {message}", path.display())]
    Templates { path: PathBuf, message: String },
    /// The custom CSS file is missing, unreadable or refused.
    #[error("theme.css_file {}: {message}", path.display())]
    CssFile { path: PathBuf, message: String },
}

/// A client's theme, for the pages of its authorization transactions.
#[derive(Debug, Clone)]
pub(crate) struct ClientTheme {
    pub client_id: String,
    pub theme: Theme,
}

impl ClientTheme {
    /// The theme stored with `client`; one that is no longer valid (stored before it was
    /// checked) is logged and ignored rather than breaking the client's sign-in.
    pub fn of(client: &accrete_store::Client) -> ClientTheme {
        let theme = Theme::from_json(&client.theme).unwrap_or_else(|problems| {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            tracing::warn!(client_id = %client.id, problems = %problems.join("; "),
                "the client's theme is invalid and is ignored");
            Theme::default()
        });
        ClientTheme {
            client_id: client.id.clone(),
            theme,
        }
    }
}

/// The server's theme and its stylesheet.
pub(crate) struct ServerLook {
    pub theme: Arc<Theme>,
    pub sheet: ThemeSheet,
}

impl ServerLook {
    fn of(theme: Arc<Theme>) -> ServerLook {
        ServerLook {
            sheet: ThemeSheet::of(&theme),
            theme,
        }
    }
}

/// A theme stylesheet and its version (a digest of its text, the ETag and the URL's `v`).
pub(crate) struct ThemeSheet {
    pub(crate) css: String,
    pub(crate) version: String,
}

impl ThemeSheet {
    pub(crate) fn of(theme: &Theme) -> ThemeSheet {
        let css = theme.stylesheet();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, css.as_bytes());
        let version = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        ThemeSheet { css, version }
    }

    /// Served with an ETag; a matching `If-None-Match` gets 304.
    pub(crate) fn response(&self, headers: &HeaderMap) -> Response {
        let etag = format!("\"{}\"", self.version);
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| {
                tags.split(',')
                    .any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*")
            });
        let common = [
            (header::CACHE_CONTROL, THEME_MAX_AGE.to_owned()),
            (header::ETAG, etag),
        ];
        if fresh {
            return (StatusCode::NOT_MODIFIED, common).into_response();
        }
        (
            common,
            [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
            self.css.clone(),
        )
            .into_response()
    }
}

impl Pages {
    /// Templates embedded in the binary, each overridable by a file of the same name in
    /// `override_dir`; no theme.
    pub fn new(override_dir: Option<PathBuf>) -> Pages {
        Pages::themed(override_dir, Theme::default())
    }

    /// Like [`Pages::new`], with the server's theme (already checked).
    ///
    /// Templates have two kinds of names: `signin.html` is the server's (the override folder's
    /// file, else the built-in one); `clients/<id>/signin.html` is a client's (the file in the
    /// client's folder, else the server's `signin.html`). Names a client's template extends or
    /// includes stay in that client's namespace, so a client's folder may replace `base.html`
    /// alone and every page of the client picks it up.
    pub fn themed(override_dir: Option<PathBuf>, theme: Theme) -> Pages {
        let client_folders = override_dir
            .as_deref()
            .map(client_folders)
            .unwrap_or_default();
        let mut env = Environment::new();
        env.set_loader(move |name: &str| {
            let dir = override_dir.as_deref();
            if let Some(text) = read_override(dir, name)? {
                return Ok(Some(text));
            }
            let server_name = client_template(name).map_or(name, |(_, server_name)| server_name);
            if server_name != name
                && let Some(text) = read_override(dir, server_name)?
            {
                return Ok(Some(text));
            }
            Ok(EMBEDDED
                .iter()
                .find(|(n, _)| *n == server_name)
                .map(|(_, t)| (*t).to_owned()))
        });
        env.set_path_join_callback(|name, parent| match client_template(parent) {
            Some((client, _)) if client_template(name).is_none() => {
                Cow::Owned(format!("{CLIENTS_DIR}/{client}/{name}"))
            }
            _ => Cow::Borrowed(name),
        });
        env.add_function("t", translate);
        Pages {
            env,
            look: RwLock::new(Arc::new(ServerLook::of(Arc::new(theme)))),
            client_folders,
        }
    }

    /// The pages of the `[theme]` settings: reads `css_file`, and checks that `templates` is a
    /// folder whose templates (`*.html`) compile, so that mistakes stop the start.
    pub fn from_settings(settings: &ThemeSettings) -> Result<Pages, PagesError> {
        let mut theme = settings.look.clone();
        if let Some(path) = &settings.css_file {
            let css_error = |message: String| PagesError::CssFile {
                path: path.clone(),
                message,
            };
            let css = std::fs::read_to_string(path).map_err(|e| css_error(e.to_string()))?;
            if let Some(problem) = super::theme::css_problems("css_file", &css).first() {
                return Err(css_error(problem.message.clone()));
            }
            theme.css = Some(css);
        }
        let pages = Pages::themed(settings.templates.clone(), theme);
        if let Some(dir) = &settings.templates {
            pages.check_overrides(dir)?;
        }
        Ok(pages)
    }

    /// Compiles every `*.html` of the folder, and of each client's folder under `clients/`.
    fn check_overrides(&self, dir: &Path) -> Result<(), PagesError> {
        let templates_error = |message: String| PagesError::Templates {
            path: dir.to_owned(),
            message,
        };
        let mut folders = vec![(dir.to_owned(), String::new())];
        folders.extend(self.client_folders.iter().map(|client| {
            (
                dir.join(CLIENTS_DIR).join(client),
                format!("{CLIENTS_DIR}/{client}/"),
            )
        }));
        for (folder, prefix) in folders {
            let entries = std::fs::read_dir(&folder).map_err(|e| templates_error(e.to_string()))?;
            for entry in entries {
                let path = entry.map_err(|e| templates_error(e.to_string()))?.path();
                let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if path.is_file() && file.ends_with(".html") {
                    let name = format!("{prefix}{file}");
                    self.env
                        .get_template(&name)
                        .map_err(|e| templates_error(format!("{name}: {e}")))?;
                }
            }
        }
        Ok(())
    }

    /// The server's theme as this node last read it (at start: the configuration's).
    pub fn theme(&self) -> Arc<Theme> {
        self.look().theme.clone()
    }

    /// The server's theme and its stylesheet.
    pub(crate) fn look(&self) -> Arc<ServerLook> {
        match self.look.read() {
            Ok(look) => look.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Shows `theme` as the server's from now on (the effective theme, read by the use-cases;
    /// the stylesheet is made again only when it changed).
    pub fn use_theme(&self, theme: Arc<Theme>) {
        let current = self.look();
        if Arc::ptr_eq(&current.theme, &theme) {
            return;
        }
        let look = if *current.theme == *theme {
            // The same values read again: keep the sheet, remember the new reference.
            ServerLook {
                theme,
                sheet: ThemeSheet {
                    css: current.sheet.css.clone(),
                    version: current.sheet.version.clone(),
                },
            }
        } else {
            ServerLook::of(theme)
        };
        match self.look.write() {
            Ok(mut slot) => *slot = Arc::new(look),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(look),
        }
    }

    /// What the base template shows of the theme of `client` (the server's when `None`):
    /// `brand`, `logo` and `theme_css`, the URL of the theme stylesheet (none without one).
    pub(crate) fn branding(&self, client: Option<&ClientTheme>) -> Value {
        let server = self.look();
        let server_css = server
            .theme
            .has_style()
            .then(|| format!("/assets/theme.css?v={}", server.sheet.version));
        let (look, theme_css) = match client {
            Some(client) => {
                let merged = client.theme.clone().over(&server.theme);
                let css = if client.theme.has_style() {
                    let id: String =
                        url::form_urlencoded::byte_serialize(client.client_id.as_bytes()).collect();
                    let version = ThemeSheet::of(&merged).version;
                    Some(format!("/assets/theme/{id}.css?v={version}"))
                } else {
                    server_css
                };
                (merged, css)
            }
            None => (server.theme.as_ref().clone(), server_css),
        };
        minijinja::context! {
            brand => look.brand,
            logo => look.logo_url,
            theme_css,
        }
    }

    /// Renders `template` with `context` (which must carry `locale`) and the server's theme as
    /// an HTML response.
    pub fn render(&self, status: StatusCode, template: &str, context: Value) -> Response {
        self.render_for(None, status, template, context)
    }

    /// Renders `template` with `context` in the theme of `client` (the server's when `None`).
    pub(crate) fn render_for(
        &self,
        client: Option<&ClientTheme>,
        status: StatusCode,
        template: &str,
        context: Value,
    ) -> Response {
        // Later maps win: the page's own values over the theme's.
        let context = minijinja::value::merge_maps([self.branding(client), context]);
        self.render_named(
            client.map(|c| c.client_id.as_str()),
            status,
            template,
            context,
        )
    }

    /// Renders `template` as a preview (docs/console.md): the theme `look` with its stylesheet
    /// at `theme_css`, in the template of `client` (its folder's override, if it has one), with
    /// the banner that says it is a preview.
    pub(crate) fn render_preview(
        &self,
        client: Option<&str>,
        look: &Theme,
        theme_css: Option<String>,
        template: &str,
        context: Value,
    ) -> Response {
        let branding = minijinja::context! {
            brand => look.brand,
            logo => look.logo_url,
            theme_css,
            preview => true,
        };
        let context = minijinja::value::merge_maps([context, branding]);
        self.render_named(client, StatusCode::OK, template, context)
    }

    /// Renders the template `template` of `client` (its folder's override, if it has one) with
    /// `context` as it is (the branding included).
    pub(crate) fn render_named(
        &self,
        client: Option<&str>,
        status: StatusCode,
        template: &str,
        context: Value,
    ) -> Response {
        let name = match client {
            Some(client) if self.client_folders.contains(client) => {
                Cow::Owned(format!("{CLIENTS_DIR}/{client}/{template}"))
            }
            _ => Cow::Borrowed(template),
        };
        match self.env.get_template(&name).and_then(|t| t.render(context)) {
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

/// The text of template `name` in the override folder, if it has that file.
fn read_override(dir: Option<&Path>, name: &str) -> Result<Option<String>, minijinja::Error> {
    match dir.and_then(|d| override_path(d, name)) {
        Some(path) if path.is_file() => std::fs::read_to_string(path).map(Some).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::TemplateNotFound, e.to_string())
        }),
        _ => Ok(None),
    }
}

/// A client's template name `clients/<client_id>/<name>` split into the client id and `<name>`.
fn client_template(name: &str) -> Option<(&str, &str)> {
    let (client, template) = name
        .strip_prefix(CLIENTS_DIR)?
        .strip_prefix('/')?
        .split_once('/')?;
    (!client.is_empty() && !template.is_empty()).then_some((client, template))
}

/// The clients with a folder of overrides in `dir/clients/` (a missing folder: none).
fn client_folders(dir: &Path) -> HashSet<String> {
    let Ok(entries) = std::fs::read_dir(dir.join(CLIENTS_DIR)) else {
        return HashSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect()
}

/// The file of template `name` in the override folder; `None` for names that would leave it.
fn override_path(dir: &Path, name: &str) -> Option<PathBuf> {
    let relative = Path::new(name);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| dir.join(relative))
}

/// `t("key", name=value...)`: the interface string in the page's locale with `{name}` filled in.
fn translate(state: &TemplateState, key: &str, args: Kwargs) -> Result<String, minijinja::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn a_checkbox_sits_on_the_line_of_its_label() {
        // Boolean, consent and multiselect inputs are `<div class="check">` + input + label.
        let start = STYLESHEET
            .find("\n.check {")
            .expect("the stylesheet styles .check");
        let rule = &STYLESHEET[start..start + STYLESHEET[start..].find('}').unwrap()];
        assert!(rule.contains("display: flex"), "{rule}");
        assert!(
            STYLESHEET.contains(".check label {"),
            "the label beside a checkbox is not a block above it"
        );
    }

    #[test]
    fn every_template_compiles() {
        let pages = Pages::new(None);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if let Err(error) = pages.env.get_template(&name) {
                panic!("{name}: {error:#}");
            }
        }
    }

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

    fn themed_pages() -> Pages {
        Pages::themed(
            None,
            Theme {
                brand: Some("Acme".into()),
                logo_url: Some("/logo.svg".into()),
                primary: Some("#111111".into()),
                ..Theme::default()
            },
        )
    }

    #[test]
    fn pages_without_a_client_show_the_server_brand_and_stylesheet() {
        let pages = themed_pages();
        let branding = pages.branding(None);
        assert_eq!(branding.get_attr("brand").unwrap().to_string(), "Acme");
        assert_eq!(branding.get_attr("logo").unwrap().to_string(), "/logo.svg");
        let css = branding.get_attr("theme_css").unwrap().to_string();
        assert_eq!(
            css,
            format!("/assets/theme.css?v={}", pages.look().sheet.version)
        );
        let plain = Pages::new(None).branding(None);
        assert!(plain.get_attr("theme_css").unwrap().is_none());
    }

    #[test]
    fn a_client_theme_with_colours_gets_its_own_stylesheet() {
        let pages = themed_pages();
        let client = ClientTheme {
            client_id: "shop".into(),
            theme: Theme {
                brand: Some("Shop".into()),
                primary: Some("#222".into()),
                ..Theme::default()
            },
        };
        let branding = pages.branding(Some(&client));
        assert_eq!(branding.get_attr("brand").unwrap().to_string(), "Shop");
        assert_eq!(branding.get_attr("logo").unwrap().to_string(), "/logo.svg");
        let css = branding.get_attr("theme_css").unwrap().to_string();
        assert!(css.starts_with("/assets/theme/shop.css?v="), "{css}");
        let brand_only = ClientTheme {
            client_id: "blog".into(),
            theme: Theme {
                brand: Some("Blog".into()),
                ..Theme::default()
            },
        };
        let css = pages
            .branding(Some(&brand_only))
            .get_attr("theme_css")
            .unwrap();
        assert!(css.to_string().starts_with("/assets/theme.css?v="), "{css}");
    }

    #[test]
    fn the_base_template_shows_brand_logo_and_theme_stylesheet() {
        let response_html = themed_pages()
            .env
            .get_template("error.html")
            .unwrap()
            .render(minijinja::value::merge_maps([
                themed_pages().branding(None),
                context! { locale => "en", message => "m" },
            ]))
            .unwrap();
        // minijinja escapes `/` as `&#x2f;` in HTML, which browsers decode in attributes.
        let html = response_html.replace("&#x2f;", "/");
        assert!(
            html.contains("<img src=\"/logo.svg\" alt=\"Acme\""),
            "{html}"
        );
        assert!(html.contains("href=\"/assets/theme.css?v="), "{html}");
    }

    #[test]
    fn template_names_cannot_leave_the_override_folder() {
        let dir = Path::new("/themes");
        assert_eq!(
            override_path(dir, "signin.html"),
            Some(PathBuf::from("/themes/signin.html"))
        );
        assert_eq!(
            override_path(dir, "parts/header.html"),
            Some(PathBuf::from("/themes/parts/header.html"))
        );
        assert_eq!(override_path(dir, "../secret.html"), None);
        assert_eq!(override_path(dir, "/etc/passwd"), None);
    }

    #[test]
    fn a_template_override_that_does_not_compile_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("signin.html"), "{% if %}").unwrap();
        let settings = ThemeSettings {
            templates: Some(dir.path().to_owned()),
            ..ThemeSettings::default()
        };
        let err = Pages::from_settings(&settings).err().unwrap().to_string();
        assert!(err.starts_with("theme.templates "), "{err}");
        assert!(err.contains("signin.html"), "{err}");
        let missing = ThemeSettings {
            templates: Some(dir.path().join("absent")),
            ..ThemeSettings::default()
        };
        let err = Pages::from_settings(&missing).err().unwrap().to_string();
        assert!(err.starts_with("theme.templates "), "{err}");
    }

    async fn render(pages: &Pages, client: Option<&str>, template: &str) -> String {
        let client = client.map(|id| ClientTheme {
            client_id: id.to_owned(),
            theme: Theme::default(),
        });
        let context = context! { locale => "en", message => "m", csrf => "t", tx => "x",
        values => context!{}, errors => context!{} };
        let response = pages.render_for(client.as_ref(), StatusCode::OK, template, context);
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await;
        String::from_utf8(body.unwrap().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_client_folder_overrides_templates_for_that_client_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("error.html"), "server {{ message }}").unwrap();
        let shop = dir.path().join("clients/shop");
        std::fs::create_dir_all(&shop).unwrap();
        // The client replaces only the base: every page of the client picks it up.
        std::fs::write(
            shop.join("base.html"),
            "<main id=\"shop-base\">{% block content %}{% endblock %}</main>",
        )
        .unwrap();
        std::fs::write(shop.join("error.html"), "shop {{ message }}").unwrap();
        let pages = Pages::from_settings(&ThemeSettings {
            templates: Some(dir.path().to_owned()),
            ..ThemeSettings::default()
        })
        .unwrap();

        assert_eq!(render(&pages, Some("shop"), "error.html").await, "shop m");
        assert_eq!(render(&pages, None, "error.html").await, "server m");
        assert_eq!(render(&pages, Some("blog"), "error.html").await, "server m");

        let shop_signin = render(&pages, Some("shop"), "signin.html").await;
        assert!(
            shop_signin.starts_with("<main id=\"shop-base\">"),
            "{shop_signin}"
        );
        assert!(shop_signin.contains("name=\"password\""), "{shop_signin}");
        let server_signin = render(&pages, None, "signin.html").await;
        assert!(!server_signin.contains("shop-base"), "{server_signin}");
        assert!(
            server_signin.contains("name=\"password\""),
            "{server_signin}"
        );
    }

    #[test]
    fn a_client_template_that_does_not_compile_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let shop = dir.path().join("clients/shop");
        std::fs::create_dir_all(&shop).unwrap();
        std::fs::write(shop.join("prompt.html"), "{% for %}").unwrap();
        let err = Pages::from_settings(&ThemeSettings {
            templates: Some(dir.path().to_owned()),
            ..ThemeSettings::default()
        })
        .err()
        .unwrap()
        .to_string();
        assert!(err.contains("clients/shop/prompt.html"), "{err}");
    }

    #[test]
    fn client_template_names_split_into_client_and_template() {
        assert_eq!(
            client_template("clients/shop/signin.html"),
            Some(("shop", "signin.html"))
        );
        assert_eq!(
            client_template("clients/shop/parts/a.html"),
            Some(("shop", "parts/a.html"))
        );
        assert_eq!(client_template("signin.html"), None);
        assert_eq!(client_template("clients//signin.html"), None);
        assert_eq!(client_template("clientsx/shop/signin.html"), None);
    }

    #[test]
    fn a_theme_saved_at_run_time_replaces_the_server_look_and_its_stylesheet() {
        let pages = themed_pages();
        let before = pages.look().sheet.version.clone();
        let saved = Arc::new(Theme {
            primary: Some("#0a7d5a".into()),
            ..pages.theme().as_ref().clone()
        });
        pages.use_theme(saved.clone());
        let after = pages.look();
        assert!(Arc::ptr_eq(&after.theme, &saved));
        assert_ne!(after.sheet.version, before);
        assert!(after.sheet.css.contains("--primary: #0a7d5a;"));
        let css = pages
            .branding(None)
            .get_attr("theme_css")
            .unwrap()
            .to_string();
        assert!(css.ends_with(&after.sheet.version), "{css}");
    }

    #[test]
    fn a_custom_css_file_is_read_at_start_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("theme.css");
        std::fs::write(&file, ".card { border: 0 }").unwrap();
        let settings = ThemeSettings {
            css_file: Some(file.clone()),
            ..ThemeSettings::default()
        };
        let pages = Pages::from_settings(&settings).unwrap();
        assert!(pages.look().sheet.css.contains(".card { border: 0 }"));
        std::fs::write(&file, "</style>").unwrap();
        let err = Pages::from_settings(&settings).err().unwrap().to_string();
        assert!(err.starts_with("theme.css_file "), "{err}");
        assert!(err.contains("</style"), "{err}");
    }
}
