//! RP-initiated logout (`GET`/`POST /logout`, OpenID Connect RP-Initiated Logout 1.0).
//!
//! With a valid `id_token_hint` for the signed-in user (or no session at all) the SSO session ends
//! at once; otherwise the user confirms on a page (a CSRF-protected form), so that a stray link
//! cannot sign anyone out. The browser then goes to the registered `post_logout_redirect_uri`
//! (with `state`), or sees a "signed out" page. Errors are shown, never redirected.

use std::collections::BTreeMap;

use accrete_oidc::OAuthError;
use accrete_oidc::jwt::IdTokenClaims;
use accrete_oidc::logout::{
    LogoutOutcome, LogoutParams, parse_logout_request, resolve_logout, verify_id_token_hint,
};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use time::OffsetDateTime;

use crate::hosted::csrf;
use crate::hosted::errors::{protocol_error_page, store_failure};
use crate::hosted::templates::ClientTheme;
use crate::hosted::transaction::{TransactionView, locale as page_locale};
use crate::session;
use crate::state::AppState;

pub(super) async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    logout(&state, &headers, jar, pairs, false).await
}

pub(super) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    let mut pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    // The confirmation form carries `csrf` and `action`; they are not logout parameters.
    let submitted_csrf = take(&mut pairs, "csrf");
    let action = take(&mut pairs, "action");
    let confirmed =
        action.as_deref() == Some("submit") && csrf::verify(&jar, submitted_csrf.as_deref());
    logout(&state, &headers, jar, pairs, confirmed).await
}

fn take(pairs: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let index = pairs.iter().position(|(key, _)| key == name)?;
    Some(pairs.remove(index).1)
}

async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    pairs: Vec<(String, String)>,
    confirmed: bool,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let ui_locales = pairs
        .iter()
        .find(|(key, _)| key == "ui_locales")
        .map(|(_, value)| value.clone());
    let view = TransactionView {
        ui_locales,
        ..TransactionView::default()
    };
    let locale = page_locale(&view, headers);
    let shown =
        |error: OAuthError| protocol_error_page(state, StatusCode::BAD_REQUEST, locale, &error);
    let (params, hint, outcome, theme) = match resolve(state, &pairs, now).await {
        Ok(resolved) => resolved,
        Err(Problem::Refused(error)) => return shown(error),
        Err(Problem::Store(error)) => return store_failure(state, locale, &error),
    };
    let session = match session::current(state, &jar, now).await {
        Ok(session) => session,
        Err(error) => return store_failure(state, locale, &error),
    };
    let hint_matches = hint.as_ref().is_some_and(|hint| {
        session
            .as_ref()
            .is_none_or(|s| s.user_id.to_string() == hint.sub)
    });
    if session.is_some() && !hint_matches && !confirmed {
        return confirmation_page(state, locale, jar, &params, &outcome, theme.as_ref());
    }
    let jar = session::end(state, jar).await;
    if hint_matches
        && let Some(sid) = &outcome.session_id
        && let Err(error) = state.store.delete_session(sid).await
    {
        tracing::warn!(%error, "could not end the session named by the id_token_hint");
    }
    match &outcome.redirect {
        Some(uri) => (jar, Redirect::to(uri)).into_response(),
        None => {
            let page = state.pages.render_for(
                theme.as_ref(),
                StatusCode::OK,
                "signout.html",
                minijinja::context! { locale, done => true },
            );
            (jar, page).into_response()
        }
    }
}

enum Problem {
    Refused(OAuthError),
    Store(accrete_store::StoreError),
}

impl From<OAuthError> for Problem {
    fn from(error: OAuthError) -> Self {
        Problem::Refused(error)
    }
}

/// What a checked logout request names: its parameters, hint, outcome and the client's theme.
type Resolved = (
    LogoutParams,
    Option<IdTokenClaims>,
    LogoutOutcome,
    Option<ClientTheme>,
);

/// Parses and checks the request: hint signature and issuer, client, registered redirect URI.
async fn resolve(
    state: &AppState,
    pairs: &[(String, String)],
    now: OffsetDateTime,
) -> Result<Resolved, Problem> {
    let params = parse_logout_request(pairs)?;
    let hint = match &params.id_token_hint {
        Some(token) => {
            let keys = state
                .keys
                .current(state.store.as_ref())
                .await
                .map_err(|_| OAuthError::server_error("signing keys are unavailable"))?;
            Some(verify_id_token_hint(
                &keys,
                &state.config.issuer(),
                token,
                now,
            )?)
        }
        None => None,
    };
    let (client, theme) = match params.client_to_look_up(hint.as_ref())? {
        Some(id) => match state.app.clients.get(state.store.as_ref(), id).await {
            Ok(Some(client)) => (
                Some(accrete_app::clients::client_view(&client)),
                Some(ClientTheme::of(&client)),
            ),
            Ok(None) => return Err(OAuthError::invalid_request("unknown client_id").into()),
            Err(error) => return Err(Problem::Store(error)),
        },
        None => (None, None),
    };
    let outcome = resolve_logout(&params, hint.as_ref(), client.as_ref())?;
    Ok((params, hint, outcome, theme))
}

/// "Do you want to sign out?", carrying the request's parameters to the confirming POST.
fn confirmation_page(
    state: &AppState,
    locale: &str,
    jar: CookieJar,
    params: &LogoutParams,
    outcome: &LogoutOutcome,
    theme: Option<&ClientTheme>,
) -> Response {
    let (jar, token) = csrf::token(jar, state.secure_cookies());
    let mut hidden = BTreeMap::new();
    let fields = [
        ("post_logout_redirect_uri", &params.post_logout_redirect_uri),
        ("client_id", &outcome.client_id),
        ("state", &params.state),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            hidden.insert(name, value.clone());
        }
    }
    if !params.ui_locales.is_empty() {
        hidden.insert("ui_locales", params.ui_locales.join(" "));
    }
    let page = state.pages.render_for(
        theme,
        StatusCode::OK,
        "signout.html",
        minijinja::context! {
            locale,
            csrf => token,
            action => "/logout",
            hidden => minijinja::Value::from_serialize(&hidden),
            done => false,
        },
    );
    (jar, page).into_response()
}
