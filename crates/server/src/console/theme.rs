//! The console's Theme page (docs/console.md): the server's theme of the hosted pages, every
//! key with the configuration's value it overrides, saved (owners and editors) or reset to the
//! configuration after a confirmation, each change recorded in the audit log; beside the form,
//! previews of the sign-in, sign-up and prompt pages (`preview.rs`) that follow the form. The
//! same use-cases as `/api/v1/theme` (`accrete_app::theme`).

use std::net::SocketAddr;

use accrete_app::admins::Permission;
use accrete_app::theme::{self, ServerTheme, THEME_KEYS, Theme, ThemeError};
use axum::Form;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use serde_json::Map;
use time::OffsetDateTime;

use super::{Console, when};
use crate::hosted::csrf;
use crate::hosted::errors::store_failure;
use crate::hosted::i18n::text;
use crate::hosted::transaction::urlencode;
use crate::state::AppState;

/// The colours of the built-in look (`assets/accrete.css`): what a colour input shows when
/// neither the configuration nor a save sets it.
const BUILT_IN: [(&str, &str); 5] = [
    ("primary", "#3b5bdb"),
    ("primary_text", "#ffffff"),
    ("background", "#f3f4f7"),
    ("surface", "#ffffff"),
    ("text", "#1c1f26"),
];

/// The form's values by theme key (`theme.<key>` inputs), as typed.
type Entered = Vec<(String, String)>;

fn entered(pairs: &[(String, String)]) -> Entered {
    pairs
        .iter()
        .filter_map(|(name, value)| {
            let key = name.strip_prefix("theme.")?;
            THEME_KEYS
                .contains(&key)
                .then(|| (key.to_owned(), value.clone()))
        })
        .collect()
}

fn value_of<'a>(entered: &'a Entered, key: &str) -> Option<&'a str> {
    entered
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn field_of<'a>(theme: &'a Theme, key: &str) -> Option<&'a String> {
    match key {
        "brand" => theme.brand.as_ref(),
        "logo_url" => theme.logo_url.as_ref(),
        "primary" => theme.primary.as_ref(),
        "primary_text" => theme.primary_text.as_ref(),
        "background" => theme.background.as_ref(),
        "surface" => theme.surface.as_ref(),
        "text" => theme.text.as_ref(),
        "css" => theme.css.as_ref(),
        _ => None,
    }
}

/// The colour a colour input shows when nothing is saved: the configuration's, else built in.
fn inherited_colour(base: &Theme, key: &str) -> String {
    field_of(base, key).cloned().unwrap_or_else(|| {
        BUILT_IN
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_owned())
            .unwrap_or_default()
    })
}

fn is_colour(key: &str) -> bool {
    BUILT_IN.iter().any(|(k, _)| *k == key)
}

/// The theme object a save stores: an empty text is no value (the configuration's applies);
/// a colour input always has a value, so one left at the value it inherits is no value either.
fn to_save(entered: &Entered, base: &Theme) -> serde_json::Value {
    let mut object = Map::new();
    for (key, value) in entered {
        let value = if key == "css" {
            value.replace("\r\n", "\n")
        } else {
            value.trim().to_owned()
        };
        if value.is_empty()
            || (is_colour(key) && value.eq_ignore_ascii_case(&inherited_colour(base, key)))
        {
            continue;
        }
        object.insert(key.clone(), serde_json::Value::String(value));
    }
    serde_json::Value::Object(object)
}

/// An error next to its input, in the console's words.
fn problem_text(locale: &str, code: &str) -> String {
    let key = format!("console.theme.problem.{code}");
    let said = text(locale, &key);
    if said == key {
        text(locale, "console.theme.problem.invalid")
    } else {
        said
    }
}

/// `GET /admin/theme`; with `theme.<key>=` values (the form's "Preview" button without
/// JavaScript), the form and previews show those values, unsaved.
pub(super) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    RawQuery(raw): RawQuery,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/theme").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let typed = entered(&pairs);
    let page = Page {
        entered: (!typed.is_empty()).then_some(typed),
        ..Page::default()
    };
    render(&state, &console, StatusCode::OK, page).await
}

/// What the page shows besides the theme.
#[derive(Default)]
struct Page {
    /// Values typed (a refused save, a preview), instead of the saved ones.
    entered: Option<Entered>,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    alert: Option<String>,
    confirm_reset: bool,
}

async fn render(state: &AppState, console: &Console, status: StatusCode, page: Page) -> Response {
    let locale = console.locale;
    let server = match theme::get(&state.app).await {
        Ok(server) => server,
        Err(error) => return store_failure(state, locale, &error),
    };
    let fields: Vec<Value> = THEME_KEYS
        .iter()
        .map(|key| field_view(locale, &server, &page, key))
        .collect();
    // The previews show what the form shows.
    let mut query = format!("locale={locale}");
    for field in &fields {
        let value = field.get_attr("value").ok().map(|v| v.to_string());
        let key = field.get_attr("key").ok().map(|v| v.to_string());
        if let (Some(key), Some(value)) = (key, value)
            && !value.is_empty()
        {
            query.push_str(&format!("&theme.{key}={}", urlencode(&value)));
        }
    }
    let has_prompt = match state.app.policy().await {
        Ok(Some(policy)) => policy.steps().iter().any(|s| !s.fields.is_empty()),
        Ok(None) => false,
        Err(error) => return store_failure(state, locale, &error),
    };
    let previews: Vec<Value> = ["signin", "signup", "prompt"]
        .into_iter()
        .filter(|p| *p != "prompt" || has_prompt)
        .map(|p| {
            context! {
                title => text(locale, &format!("console.theme.preview_{p}")),
                src => format!("/admin/preview/{p}?{query}"),
            }
        })
        .collect();
    let saved = server.version.map(|_| {
        context! {
            at => server.updated_at.map(|at| when(locale, at)),
            by => server.updated_by,
        }
    });
    let extra = context! {
        fields,
        previews,
        has_prompt,
        saved,
        may_edit => console.may(Permission::EditTheme),
        notice => page.notice,
        alert => page.alert,
        confirm_reset => page.confirm_reset,
    };
    console.render(state, status, "console_theme.html", "theme", extra)
}

fn field_view(locale: &str, server: &ServerTheme, page: &Page, key: &str) -> Value {
    let configured = field_of(&server.base, key).cloned();
    let value = match &page.entered {
        Some(entered) => value_of(entered, key).unwrap_or_default().to_owned(),
        None => field_of(&server.saved, key).cloned().unwrap_or_default(),
    };
    let colour = is_colour(key);
    // A colour input cannot be empty: it shows the colour in force.
    let value = if colour && value.trim().is_empty() {
        inherited_colour(&server.base, key)
    } else {
        value
    };
    let error = page
        .errors
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, e)| e.clone());
    context! {
        key,
        name => format!("theme.{key}"),
        kind => if key == "css" { "css" } else if colour { "colour" } else { "text" },
        label => text(locale, &format!("console.theme.{key}")),
        help => text(locale, &format!("console.theme.{key}_help")),
        configured,
        value,
        error,
    }
}

/// `POST /admin/theme`: `action=save` with the `theme.<key>` values; `action=reset` asks for
/// a confirmation, then resets with `confirmed=yes`.
pub(super) async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let console = match Console::open(&state, &headers, jar, "/admin/theme").await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let locale = console.locale;
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let typed = entered(&pairs);
    if !csrf::verify(&console.jar, field("csrf")) {
        let page = Page {
            entered: Some(typed),
            alert: Some(text(locale, "error.csrf")),
            ..Page::default()
        };
        return render(&state, &console, StatusCode::FORBIDDEN, page).await;
    }
    if !console.may(Permission::EditTheme) {
        return console.forbidden(&state);
    }
    let now = OffsetDateTime::now_utc();
    let actor = console.actor(peer);
    match field("action") {
        Some("reset") if field("confirmed") == Some("yes") => {
            match theme::reset(&state.app, &actor, now).await {
                Ok(_) => {
                    let page = Page {
                        notice: Some(text(locale, "console.theme.was_reset")),
                        ..Page::default()
                    };
                    render(&state, &console, StatusCode::OK, page).await
                }
                Err(error) => store_failure(&state, locale, &error),
            }
        }
        Some("reset") => {
            let page = Page {
                confirm_reset: true,
                ..Page::default()
            };
            render(&state, &console, StatusCode::OK, page).await
        }
        _ => {
            let base = state.app.theme_cache().base().clone();
            match theme::replace(&state.app, &actor, &to_save(&typed, &base), now).await {
                Ok(_) => {
                    let page = Page {
                        notice: Some(text(locale, "console.theme.saved")),
                        ..Page::default()
                    };
                    render(&state, &console, StatusCode::OK, page).await
                }
                Err(ThemeError::Invalid(problems)) => {
                    let errors = problems
                        .iter()
                        .map(|p| (p.path.clone(), problem_text(locale, &p.code)))
                        .collect();
                    let page = Page {
                        entered: Some(typed),
                        errors,
                        alert: Some(text(locale, "error.summary")),
                        ..Page::default()
                    };
                    render(&state, &console, StatusCode::BAD_REQUEST, page).await
                }
                Err(ThemeError::Store(error)) => store_failure(&state, locale, &error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_colour_left_at_what_it_inherits_and_an_empty_text_are_not_saved() {
        let base = Theme {
            primary: Some("#0a7d5a".into()),
            ..Theme::default()
        };
        let typed: Entered = [
            ("brand", " Acme "),
            ("logo_url", ""),
            ("primary", "#0A7D5A"),
            ("surface", "#ffffff"),
            ("text", "#222222"),
            ("css", ".a{}\r\n"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(
            to_save(&typed, &base),
            serde_json::json!({"brand": "Acme", "text": "#222222", "css": ".a{}\n"})
        );
    }

    #[test]
    fn every_theme_problem_has_words_in_both_languages() {
        for code in [
            "invalid",
            "invalid_url",
            "invalid_colour",
            "too_large",
            "forbidden_text",
        ] {
            for locale in ["en", "fr"] {
                let key = format!("console.theme.problem.{code}");
                assert_ne!(text(locale, &key), key, "{locale} {key}");
            }
        }
    }
}
