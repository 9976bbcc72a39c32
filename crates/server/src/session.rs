//! The SSO session: an opaque random value in an HttpOnly, SameSite=Lax cookie; only its keyed
//! hash is stored, so a database leak does not reveal live sessions.

use accrete_app::federation::SignInMethod;
use accrete_oidc::secrets::random_opaque;
use std::net::SocketAddr;

use accrete_store::{SsoSession, StoreError};
use axum::http::{HeaderMap, header};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::state::AppState;

const COOKIE: &str = "accrete_session";

/// A used session's idle expiry is pushed forward at most this often (one write a minute at
/// most per session, not one per page).
const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// The signed-in session of this browser, if any and not expired. With an idle limit
/// (`lifetimes.sso_session_idle`), using the session pushes its expiry forward, never past its
/// absolute lifetime from the sign-in.
pub async fn current(
    state: &AppState,
    jar: &CookieJar,
    now: OffsetDateTime,
) -> Result<Option<SsoSession>, StoreError> {
    let Some(cookie) = jar.get(COOKIE) else {
        return Ok(None);
    };
    if cookie.value().len() < 32 {
        return Ok(None);
    }
    let hash = state.secrets.token_hasher.hash(cookie.value());
    let Some(session) = state.store.get_session(&hash, now).await? else {
        return Ok(None);
    };
    let lifetimes = state.app.settings().lifetimes;
    match lifetimes.sso_session_idle {
        Some(idle) if now - session.last_seen_at >= TOUCH_INTERVAL => {
            let ends = session.created_at + lifetimes.sso_session;
            state
                .store
                .touch_session(&hash, now, (now + idle).min(ends))
                .await
        }
        _ => Ok(Some(session)),
    }
}

/// When a session opened at `now` expires if unused: its idle limit, within its lifetime.
fn first_expiry(state: &AppState, now: OffsetDateTime) -> OffsetDateTime {
    let lifetimes = state.app.settings().lifetimes;
    let absolute = now + lifetimes.sso_session;
    lifetimes
        .sso_session_idle
        .map_or(absolute, |idle| (now + idle).min(absolute))
}

/// The device a session is started from, kept with it for its owner to recognise on the
/// account center's sessions page: the browser's `User-Agent` (cut to 512 bytes by the store)
/// and the address of the connection (the same the rate limits count by).
#[derive(Debug, Clone, Default)]
pub struct Device {
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl Device {
    /// The device of a request.
    pub fn of(headers: &HeaderMap, peer: SocketAddr) -> Device {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .and_then(accrete_store::truncate_user_agent);
        Device {
            user_agent,
            ip: Some(peer.ip().to_string()),
        }
    }
}

/// Starts a session for `user_id` after an interactive sign-in by `method` (its `amr` and
/// `acr` go into the ID tokens of the session) from `device`, and sets its cookie.
pub async fn start(
    state: &AppState,
    jar: CookieJar,
    user_id: Uuid,
    method: &SignInMethod,
    device: Device,
    now: OffsetDateTime,
) -> Result<(CookieJar, SsoSession), StoreError> {
    // A new sign-in replaces whatever session this browser had.
    let jar = end(state, jar).await;
    let value = random_opaque();
    let session = SsoSession {
        hash: state.secrets.token_hasher.hash(&value),
        user_id,
        created_at: now,
        auth_time: now,
        last_seen_at: now,
        expires_at: first_expiry(state, now),
        credentialed: true,
        amr: method.amr.clone(),
        acr: method.acr.clone(),
        id: Uuid::new_v4(),
        user_agent: device.user_agent,
        ip: device.ip,
        mfa_at: None,
    };
    state.store.create_session(session.clone()).await?;
    let cookie = Cookie::build((COOKIE, value))
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies())
        .same_site(SameSite::Lax)
        .max_age(state.app.settings().lifetimes.sso_session)
        .build();
    Ok((jar.add(cookie), session))
}

/// Forgets this browser's session cookie (after its session was ended elsewhere, such as by
/// deleting the account).
pub fn forget(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(COOKIE).path("/").build())
}

/// Ends this browser's session (in the database and the cookie).
pub async fn end(state: &AppState, jar: CookieJar) -> CookieJar {
    if let Some(cookie) = jar.get(COOKIE) {
        let hash = state.secrets.token_hasher.hash(cookie.value());
        if let Err(error) = state.store.delete_session(&hash).await {
            tracing::warn!(%error, "could not delete the session");
        }
        return jar.remove(Cookie::build(COOKIE).path("/").build());
    }
    jar
}
