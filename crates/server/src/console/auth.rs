//! The console's own sign-in: it is an OpenID Connect client of this server (`accrete-console`,
//! public, code + PKCE), so administrators sign in on the hosted pages like anyone, second
//! factors and providers included. `/admin/login` starts the authorization, `/admin/callback`
//! redeems the code (in process: the same single-use consumption and PKCE check as the token
//! endpoint) and opens a console session for an administrator; `/admin/setup?token=` lets the
//! first one in as owner.

use std::net::SocketAddr;

use accrete_app::admins::{self, AdminError};
use accrete_oidc::pkce::s256;
use accrete_oidc::secrets::{constant_time_eq, random_opaque};
use accrete_oidc::token::check_code_redemption;
use accrete_store::CodeConsumption;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use time::OffsetDateTime;

use super::{COOKIE, console_locale, problem_page};
use crate::hosted::i18n::text;
use crate::hosted::transaction::urlencode;
use crate::state::AppState;

/// The cookie that carries the sign-in's `state` and PKCE verifier between `/admin/login` and
/// `/admin/callback` (HttpOnly, only sent to `/admin`).
const LOGIN_COOKIE: &str = "accrete_console_login";
/// The setup link's token, kept across the sign-in.
const SETUP_COOKIE: &str = "accrete_console_setup";

fn cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/admin")
        .http_only(true)
        .secure(state.secure_cookies())
        .same_site(SameSite::Lax)
        .build()
}

fn removal(name: &'static str) -> Cookie<'static> {
    Cookie::build((name, "")).path("/admin").build()
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}/admin/callback", state.config.issuer())
}

/// `?next=`: the console page to open after signing in; `fresh`: the password (or other
/// credential) is asked again even if the browser is signed in (`prompt=login`), before the
/// most dangerous actions.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    fresh: Option<String>,
}

/// A console page to go back to: a path under `/admin` (never another site, nor this
/// server's other pages).
fn console_path(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if (path == "/admin" || path.starts_with("/admin/") || path.starts_with("/admin?"))
                && !path.contains("//")
                && !path.contains('\\')
                && path.chars().all(|c| c.is_ascii_graphic()) =>
        {
            path
        }
        _ => "/admin",
    }
}

/// `GET /admin/login`: to this server's `/authorize` as the console client.
pub(crate) async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<LoginQuery>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let locale = console_locale(&headers);
    let redirect = redirect_uri(&state);
    let client_id = match admins::console_client(&state.app, &redirect, now).await {
        Ok(id) => id,
        Err(error) => return crate::hosted::errors::store_failure(&state, locale, &error),
    };
    let login_state = random_opaque();
    let verifier = random_opaque();
    let mut to = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state={}\
         &code_challenge={}&code_challenge_method=S256",
        urlencode(&client_id),
        urlencode(&redirect),
        urlencode(&login_state),
        urlencode(&s256(&verifier)),
    );
    if query.fresh.is_some() {
        to.push_str("&prompt=login");
    }
    let jar = jar.add(cookie(
        &state,
        LOGIN_COOKIE,
        format!(
            "{login_state}.{verifier}.{}",
            urlencode(console_path(query.next.as_deref()))
        ),
    ));
    (jar, Redirect::to(&to)).into_response()
}

/// `GET /admin/setup?token=`: the setup link printed at start while no administrator exists;
/// the token waits in a cookie for the sign-in.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SetupQuery {
    token: String,
}

pub(crate) async fn setup(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<SetupQuery>,
) -> Response {
    let locale = console_locale(&headers);
    match admins::setup_open(&state.app).await {
        Ok(true) => {}
        Ok(false) => {
            return problem_page(
                &state,
                locale,
                StatusCode::GONE,
                &text(locale, "console.setup_closed"),
            );
        }
        Err(error) => return crate::hosted::errors::store_failure(&state, locale, &error),
    }
    let jar = jar.add(cookie(&state, SETUP_COOKIE, query.token));
    (jar, Redirect::to("/admin/login")).into_response()
}

/// `GET /admin/callback?code=&state=`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

pub(crate) async fn callback(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let locale = console_locale(&headers);
    let refused =
        |key: &str| problem_page(&state, locale, StatusCode::BAD_REQUEST, &text(locale, key));
    let Some((expected, verifier, next)) = jar.get(LOGIN_COOKIE).and_then(|c| {
        let mut parts = c.value().splitn(3, '.');
        let state = parts.next()?.to_owned();
        let verifier = parts.next()?.to_owned();
        let next = url::form_urlencoded::parse(format!("n={}", parts.next()?).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
        Some((state, verifier, next))
    }) else {
        return refused("console.sign_in_expired");
    };
    let jar = jar.remove(removal(LOGIN_COOKIE));
    let same_state = query
        .state
        .as_deref()
        .is_some_and(|s| constant_time_eq(s.as_bytes(), expected.as_bytes()));
    if !same_state || query.error.is_some() {
        return (jar, refused("console.sign_in_expired")).into_response();
    }
    let Some(code) = query.code.as_deref() else {
        return (jar, refused("console.sign_in_expired")).into_response();
    };
    let hash = state.secrets.token_hasher.hash(code);
    let consumed = match state.store.consume_code(&hash, now).await {
        Ok(CodeConsumption::Fresh(code)) => code,
        Ok(_) => return (jar, refused("console.sign_in_expired")).into_response(),
        Err(error) => return crate::hosted::errors::store_failure(&state, locale, &error),
    };
    let request = match crate::oauth::authorization_request_of(&consumed) {
        Some(request) => request,
        None => return (jar, refused("console.sign_in_expired")).into_response(),
    };
    let client_id = admins::CONSOLE_CLIENT;
    let redirect = redirect_uri(&state);
    if check_code_redemption(
        &request,
        consumed.expires_at,
        client_id,
        Some(&redirect),
        Some(&verifier),
        now,
    )
    .is_err()
    {
        return (jar, refused("console.sign_in_expired")).into_response();
    }
    let user_id = consumed.user_id;
    let ip = Some(peer.ip().to_string());
    let mut jar = jar;
    if let Some(token) = jar.get(SETUP_COOKIE).map(|c| c.value().to_owned()) {
        jar = jar.remove(removal(SETUP_COOKIE));
        match admins::claim_setup(&state.app, user_id, &token, ip.clone(), now).await {
            Ok(()) | Err(AdminError::SetupClosed) => {}
            Err(AdminError::Store(error)) => {
                return crate::hosted::errors::store_failure(&state, locale, &error);
            }
            Err(other) => tracing::warn!(%other, "console setup refused"),
        }
    }
    match admins::role_of(&state.app, user_id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            tracing::info!(%user_id, "a user who is no administrator signed in to the console");
            let page = problem_page(
                &state,
                locale,
                StatusCode::FORBIDDEN,
                &text(locale, "console.not_admin"),
            );
            return (jar, page).into_response();
        }
        Err(error) => return crate::hosted::errors::store_failure(&state, locale, &error),
    }
    match admins::start_session(&state.app, user_id, consumed.auth_time, now).await {
        Ok(token) => {
            tracing::info!(%user_id, "console sign-in");
            let jar = jar.add(cookie(&state, COOKIE, token));
            (jar, Redirect::to(console_path(Some(&next)))).into_response()
        }
        Err(error) => crate::hosted::errors::store_failure(&state, locale, &error),
    }
}

/// `POST /admin/logout`: ends the console session (the sign-in session of the hosted pages
/// stays; `/logout` ends that one).
pub(crate) async fn logout(State(state): State<AppState>, jar: CookieJar) -> Response {
    if let Some(token) = jar.get(COOKIE).map(|c| c.value().to_owned())
        && let Err(error) = admins::end_session(&state.app, &token).await
    {
        tracing::warn!(%error, "could not end a console session");
    }
    let jar = jar.remove(removal(COOKIE));
    (jar, Redirect::to("/")).into_response()
}

#[cfg(test)]
mod tests {
    use super::console_path;

    #[test]
    fn only_console_pages_are_gone_back_to() {
        assert_eq!(
            console_path(Some("/admin/audit?before=3")),
            "/admin/audit?before=3"
        );
        assert_eq!(console_path(Some("/admin")), "/admin");
        for other in [
            "//evil.example/admin",
            "/admin//evil.example",
            "https://evil.example/admin",
            "/account",
            "/administrator",
            "/admin/\\evil",
            "/admin/ x",
        ] {
            assert_eq!(console_path(Some(other)), "/admin", "{other}");
        }
        assert_eq!(console_path(None), "/admin");
    }
}
