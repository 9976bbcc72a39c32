//! `GET /login` shows the sign-in form; `POST /login` checks the credentials.

use std::net::SocketAddr;

use accrete_oidc::password::{self, PasswordCheck};
use accrete_store::{CredentialFailures, SignInKind};
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use time::OffsetDateTime;

use super::{CredentialsForm, CredentialsPage, FieldErrors, TxQuery};
use crate::i18n::text;
use crate::ratelimit;
use crate::session;
use crate::state::AppState;

pub(super) async fn show(
    State(state): State<AppState>,
    Query(query): Query<TxQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let now = OffsetDateTime::now_utc();
    match CredentialsPage::open(
        &state,
        &headers,
        jar,
        query.tx.as_deref(),
        "signin.html",
        now,
    )
    .await
    {
        Ok(page) => page.blank(&state),
        Err(response) => response,
    }
}

pub(super) async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<CredentialsForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page = match CredentialsPage::open(
        &state,
        &headers,
        jar,
        form.tx.as_deref(),
        "signin.html",
        now,
    )
    .await
    {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale;
    let email = form.email.trim().to_owned();
    let again = |status: StatusCode, errors: FieldErrors, alert: Option<String>| {
        page.render(&state, status, &email, &errors, alert)
    };
    if !page.csrf_ok(&form.csrf) {
        return again(
            StatusCode::FORBIDDEN,
            FieldErrors::new(),
            Some(text(locale, "error.csrf")),
        );
    }
    let mut errors = FieldErrors::new();
    if email.is_empty() {
        errors.insert("email".into(), text(locale, "error.required"));
    }
    // Counted in characters, as when it was set: any password that could be set is presented.
    if let Err(problem) = accrete_oidc::credentials::check_presented_password(&form.password) {
        let message = super::signup::password_error(locale, problem);
        errors.insert("password".into(), message);
    }
    if !errors.is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            errors,
            Some(text(locale, "error.summary")),
        );
    }
    // The throttle counts failures per (account, source address) in the store (see
    // `ratelimit.rs`): one read here, one write on a failure.
    let account = accrete_store::normalize_email(&email);
    let source = peer.ip().to_string();
    let throttle = state.limits.sign_in_throttle();
    let counters = match throttle {
        Some(_) => match state.store.credential_failures(&account, &source).await {
            Ok(counters) => counters,
            Err(error) => return super::store_failure(&state, locale, &error),
        },
        None => CredentialFailures::default(),
    };
    if let Err(wait) = state.limits.check_ip(peer.ip()).and_then(|()| {
        throttle.map_or(Ok(()), |throttle| {
            ratelimit::check_sign_in(throttle, &counters, now)
        })
    }) {
        return super::retry_later(
            &state,
            locale,
            StatusCode::TOO_MANY_REQUESTS,
            "error.rate_limited",
            wait.seconds(),
        );
    }

    let user = match state.store.find_user_by_email(&email).await {
        Ok(user) => user,
        Err(error) => return super::store_failure(&state, locale, &error),
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let password = form.password.clone();
    let check = state
        .hashing
        .run(move || match stored {
            Some(hash) => password::verify_password(&password, &hash)
                .ok()
                .map(|check| (check, password)),
            None => {
                // Unknown account, or one without a password: same cost as a wrong password.
                password::verify_dummy(&password);
                None
            }
        })
        .await;
    let (user, needs_rehash, password) = match (check, user) {
        (Err(busy), _) => {
            tracing::warn!(%busy, "hashing pool full");
            return super::retry_later(
                &state,
                locale,
                StatusCode::SERVICE_UNAVAILABLE,
                "error.busy",
                2,
            );
        }
        (Ok(Some((PasswordCheck::Verified { needs_rehash }, password))), Some(user)) => {
            (user, needs_rehash, password)
        }
        _ => {
            tracing::info!("sign-in refused: wrong credentials");
            if let Some(throttle) = throttle
                && let Err(error) = state
                    .store
                    .record_credential_failure(&account, &source, now, throttle.forget_before(now))
                    .await
            {
                tracing::warn!(%error, "could not count a failed sign-in");
            }
            return again(
                StatusCode::UNAUTHORIZED,
                FieldErrors::new(),
                Some(text(locale, "signin.invalid")),
            );
        }
    };
    if counters.from_source.is_some()
        && let Err(error) = state
            .store
            .clear_credential_failures(&account, &source)
            .await
    {
        tracing::warn!(%error, "could not forget the failed sign-ins of a source");
    }
    if needs_rehash {
        rehash(&state, user.id, password).await;
    }
    if let Err(error) = state
        .store
        .record_sign_in(user.id, SignInKind::Credentialed, now)
        .await
    {
        return super::store_failure(&state, locale, &error);
    }
    match session::start(&state, page.jar.clone(), user.id, now).await {
        Ok((jar, _)) => {
            let client_id = page.tx.client_id.as_deref().unwrap_or("-");
            tracing::info!(user_id = %user.id, %client_id, "sign-in succeeded");
            (jar, super::continue_to(&page.tx)).into_response()
        }
        Err(error) => super::store_failure(&state, locale, &error),
    }
}

/// Replaces a hash made with old parameters; a failure only delays the upgrade.
async fn rehash(state: &AppState, user_id: uuid::Uuid, password: String) {
    match state
        .hashing
        .run(move || password::hash_password(&password))
        .await
    {
        Ok(Ok(hash)) => {
            if let Err(error) = state.store.set_password_hash(user_id, &hash).await {
                tracing::warn!(%error, "could not store the upgraded password hash");
            }
        }
        _ => tracing::warn!("could not rehash a password with the current parameters"),
    }
}
