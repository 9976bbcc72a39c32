//! Previews of the hosted pages for the console (docs/console.md):
//! `GET /admin/preview/{signin|signup|prompt}` renders the real template with the context the
//! hosted pages build, outside any transaction, in a theme made of the server's, the client's
//! (`client=`) and the `theme.<key>=` values of the query (checked by the theme's own rules; a
//! refused one is left out and named in a notice). `prompt` shows a step (`step=`) of the
//! published policy, or of the draft with `source=draft`, as a person sees it, in `locale=`.
//!
//! The page does nothing: its response's content security policy forbids submitting forms and
//! running scripts (`sandbox`) and lets only the console frame it; a banner says it is a preview.
//! Its stylesheet is `GET /admin/preview/theme.css` with the same query.

use std::sync::Arc;

use accrete_app::facts::Shown;
use accrete_app::policy_admin::{self, PolicyError, Source};
use accrete_app::signup::signup_step_for;
use accrete_core::{CompiledPolicy, FieldErrors as AnswerErrors, Presentation};
use accrete_store::Client;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{Console, problem_page};
use crate::hosted::credentials::{CredentialsPage, FieldErrors};
use crate::hosted::errors::store_failure;
use crate::hosted::form::signup_view;
use crate::hosted::i18n::{text, text_with};
use crate::hosted::prompt::{PromptFrame, prompt_context};
use crate::hosted::templates::{ClientTheme, ThemeSheet};
use crate::hosted::theme::Theme;
use crate::state::AppState;

/// The policy of preview responses: the console's own, framed by the console only, with
/// forms and scripts off.
const PREVIEW_CSP: &str = "default-src 'self'; script-src 'none'; style-src 'self'; \
                           img-src 'self' data: https:; object-src 'none'; base-uri 'none'; \
                           form-action 'none'; frame-ancestors 'self'; sandbox allow-same-origin";

/// What a preview's query says.
#[derive(Debug, Default)]
pub(crate) struct PreviewQuery {
    client: Option<String>,
    locale: Option<&'static str>,
    step: Option<String>,
    source: Source,
    /// The `theme.<key>` values, keys without their prefix (empty values left out).
    theme: Map<String, Value>,
}

impl PreviewQuery {
    fn parse(raw: Option<&str>) -> PreviewQuery {
        let mut query = PreviewQuery::default();
        for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match name.as_ref() {
                "client" if !value.is_empty() => query.client = Some(value.into_owned()),
                "locale" => {
                    query.locale = match value.as_ref() {
                        "fr" => Some("fr"),
                        "en" => Some("en"),
                        _ => None,
                    }
                }
                "step" if !value.is_empty() => query.step = Some(value.into_owned()),
                "source" if value == "draft" => query.source = Source::Draft,
                name => {
                    if let Some(key) = name.strip_prefix("theme.")
                        && !value.trim().is_empty()
                    {
                        query
                            .theme
                            .insert(key.to_owned(), Value::String(value.into_owned()));
                    }
                }
            }
        }
        query
    }

    /// The query's own theme values that the theme's rules accept, and the keys of the refused.
    fn overrides(&self) -> (Theme, Vec<String>) {
        let mut values = self.theme.clone();
        let mut refused: Vec<String> = Vec::new();
        // Unknown keys are reported before values are checked: leave out, check again.
        loop {
            match Theme::from_json(&Value::Object(values.clone())) {
                Ok(theme) => return (theme, refused),
                Err(problems) => {
                    let keys: Vec<String> = problems.into_iter().map(|p| p.key).collect();
                    if keys.iter().all(|key| !values.contains_key(key)) {
                        return (Theme::default(), refused);
                    }
                    values.retain(|key, _| !keys.contains(key));
                    refused.extend(keys);
                }
            }
        }
    }
}

/// The client named by the query, its theme over the server's, and the query's over both.
struct Look {
    client: Option<Client>,
    theme: Theme,
    refused: Vec<String>,
}

async fn look(state: &AppState, console: &Console, query: &PreviewQuery) -> Result<Look, Response> {
    let client = match &query.client {
        Some(id) => match state.app.clients.get(state.store.as_ref(), id).await {
            Ok(Some(client)) => Some(client),
            Ok(None) => {
                let message = text_with(console.locale, "console.preview.no_client", &[("id", id)]);
                return Err(problem_page(
                    state,
                    console.locale,
                    StatusCode::NOT_FOUND,
                    &message,
                ));
            }
            Err(error) => return Err(store_failure(state, console.locale, &error)),
        },
        None => None,
    };
    let server = state.pages.theme();
    let mut theme = server.as_ref().clone();
    if let Some(client) = &client {
        theme = ClientTheme::of(client).theme.over(&theme);
    }
    let (overrides, refused) = query.overrides();
    Ok(Look {
        client,
        theme: overrides.over(&theme),
        refused,
    })
}

/// `GET /admin/preview/{page}`.
pub(super) async fn page(
    State(state): State<AppState>,
    Path(page): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    RawQuery(raw): RawQuery,
) -> Response {
    let path = format!("/admin/preview/{page}");
    let console = match Console::open(&state, &headers, jar, &path).await {
        Ok(console) => console,
        Err(response) => return response,
    };
    let query = PreviewQuery::parse(raw.as_deref());
    if page == "theme.css" {
        return match look(&state, &console, &query).await {
            Ok(look) => ThemeSheet::of(&look.theme).response(&headers),
            Err(response) => response,
        };
    }
    let locale = query.locale.unwrap_or(console.locale);
    let look = match look(&state, &console, &query).await {
        Ok(look) => look,
        Err(response) => return response,
    };
    let rendered = match page.as_str() {
        "signin" | "signup" => credentials(&state, &look, locale, &page).await,
        "prompt" => prompt(&state, &console, &query, locale).await,
        _ => {
            let message = text(console.locale, "console.preview.no_page");
            return problem_page(&state, console.locale, StatusCode::NOT_FOUND, &message);
        }
    };
    let (template, context) = match rendered {
        Ok(page) => page,
        Err(response) => return response,
    };
    let notice = (!look.refused.is_empty()).then(|| {
        text_with(
            locale,
            "console.preview.refused",
            &[("keys", &look.refused.join(", "))],
        )
    });
    let context =
        minijinja::value::merge_maps([context, minijinja::context! { preview_notice => notice }]);
    let mut response = state.pages.render_preview(
        look.client.as_ref().map(|c| c.id.as_str()),
        &look.theme,
        Some(stylesheet_url(raw.as_deref())),
        template,
        context,
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PREVIEW_CSP),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    response
}

/// The preview's stylesheet: the same query at `/admin/preview/theme.css`.
fn stylesheet_url(raw: Option<&str>) -> String {
    match raw.filter(|q| !q.is_empty()) {
        Some(query) => format!("/admin/preview/theme.css?{query}"),
        None => "/admin/preview/theme.css".to_owned(),
    }
}

type Page = (&'static str, minijinja::Value);

/// The sign-in or sign-up page of the client, blank.
async fn credentials(
    state: &AppState,
    look: &Look,
    locale: &'static str,
    page: &str,
) -> Result<Page, Response> {
    let template = if page == "signup" {
        "signup.html"
    } else {
        "signin.html"
    };
    let mut credentials = CredentialsPage::preview(state, look.client.clone(), locale, template)
        .await
        .map_err(|error| store_failure(state, locale, &error))?;
    if template == "signup.html" {
        let client_id = look.client.as_ref().map(|c| c.id.clone());
        if let Some(step) = signup_step_for(&state.app, client_id, OffsetDateTime::now_utc()).await
        {
            credentials.extra =
                signup_view(&step, locale, &Default::default(), &Default::default());
        }
    }
    Ok((
        template,
        credentials.context("", &FieldErrors::new(), None, false),
    ))
}

/// The prompt page of a step, as a person sees it.
async fn prompt(
    state: &AppState,
    console: &Console,
    query: &PreviewQuery,
    locale: &'static str,
) -> Result<Page, Response> {
    let not_found = |key: &str| {
        let message = text(console.locale, key);
        problem_page(state, console.locale, StatusCode::NOT_FOUND, &message)
    };
    let policy: Arc<CompiledPolicy> = match policy_admin::select(&state.app, query.source).await {
        Ok(policy) => Arc::new(policy),
        Err(PolicyError::NoPublished | PolicyError::NoDraft) => {
            return Err(not_found("console.preview.no_policy"));
        }
        Err(PolicyError::Store(error)) => return Err(store_failure(state, locale, &error)),
        Err(error) => {
            tracing::warn!(%error, "a policy to preview could not be read");
            return Err(not_found("console.preview.no_policy"));
        }
    };
    let step = match &query.step {
        Some(id) => policy.step(id),
        None => policy.steps().iter().find(|s| !s.fields.is_empty()),
    };
    let Some(step) = step else {
        return Err(not_found("console.preview.no_step"));
    };
    let mut fields: Vec<String> = step.fields.iter().map(ToString::to_string).collect();
    // One question at a time: the first question, as the person sees it first.
    let questions = (step.presentation == Presentation::OneAtATime && fields.len() > 1)
        .then_some((1, fields.len()));
    if questions.is_some() {
        fields.truncate(1);
    }
    let shown = Shown {
        step: step.id.to_string(),
        fields,
        required: step.mode.is_required(),
        prefill: Default::default(),
        progress: None,
        questions,
    };
    let frame = PromptFrame {
        locale,
        csrf: String::new(),
        tx: String::new(),
        client_name: None,
        email: text(locale, "console.preview.someone"),
        setup_link: "#".to_owned(),
        companion: false,
    };
    let context = prompt_context(
        &policy,
        &shown,
        &frame,
        &|_| Vec::new(),
        &AnswerErrors::default(),
        None,
    );
    Ok(("prompt.html", context))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_says_the_client_locale_step_source_and_theme() {
        let query = PreviewQuery::parse(Some(
            "client=shop&locale=fr&step=about_you&source=draft&theme.primary=%23d9480f&theme.brand=",
        ));
        assert_eq!(query.client.as_deref(), Some("shop"));
        assert_eq!(query.locale, Some("fr"));
        assert_eq!(query.step.as_deref(), Some("about_you"));
        assert_eq!(query.source, Source::Draft);
        assert_eq!(query.theme.len(), 1, "an empty value is no value");
        let (theme, refused) = query.overrides();
        assert_eq!(theme.primary.as_deref(), Some("#d9480f"));
        assert!(refused.is_empty());
    }

    #[test]
    fn refused_theme_values_are_left_out_and_named() {
        let query =
            PreviewQuery::parse(Some("theme.primary=teal&theme.font=serif&theme.brand=Shop"));
        let (theme, refused) = query.overrides();
        // Unknown keys are reported first; the colour is checked once they are gone.
        assert_eq!(refused, ["font", "primary"]);
        assert_eq!(theme.primary, None);
        assert_eq!(theme.brand.as_deref(), Some("Shop"));
        assert_eq!(query.locale, None);
    }
}
