//! `GET /signup` shows the registration form; `POST /signup` creates the account.

use std::net::SocketAddr;

use accrete_oidc::credentials::{self, EmailProblem, PasswordProblem};
use accrete_oidc::password;
use accrete_store::{NewUser, SignInKind, StoreError};
use axum::extract::{ConnectInfo, Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use time::OffsetDateTime;

use super::{CredentialsPage, FieldErrors, TxQuery};
use crate::i18n::text;
use crate::state::AppState;
use crate::{profiling, session};

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
        "signup.html",
        now,
    )
    .await
    {
        Ok(mut page) => {
            // Profiling hook: the first sign-up step's fields on this page.
            if let Some(step) = profiling::signup_step(&state, query.tx.as_deref(), now).await {
                page.extra = step.view(page.locale, &Default::default(), &Default::default());
            }
            page.blank(&state)
        }
        Err(response) => response,
    }
}

/// Checks the credentials of a registration; every problem at once.
pub(crate) fn check_credentials(locale: &str, email: &str, password: &str) -> FieldErrors {
    let mut errors = FieldErrors::new();
    if let Err(problem) = credentials::check_email(email) {
        let key = match problem {
            EmailProblem::Missing => "error.required",
            EmailProblem::Invalid => "error.email_invalid",
        };
        errors.insert("email".into(), text(locale, key));
    }
    if let Err(problem) = credentials::check_new_password(password) {
        errors.insert("password".into(), password_error(locale, problem));
    }
    errors
}

/// The page's message for a refused password (being set, or presented to sign in).
pub(super) fn password_error(locale: &str, problem: PasswordProblem) -> String {
    let key = match problem {
        PasswordProblem::Missing => "error.required",
        PasswordProblem::TooShort => "error.password_short",
        PasswordProblem::TooLong => "error.password_long",
    };
    text(locale, key)
}

pub(super) async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    RawForm(body): RawForm,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let pairs = url::form_urlencoded::parse(&body).into_owned().collect();
    let (form, answers) = profiling::split_signup_post(pairs);
    let mut page = match CredentialsPage::open(
        &state,
        &headers,
        jar,
        form.tx.as_deref(),
        "signup.html",
        now,
    )
    .await
    {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale;
    let email = form.email.trim().to_owned();
    // Profiling hook: the first sign-up step, validated with the credentials.
    let step = profiling::signup_step(&state, form.tx.as_deref(), now).await;
    let profile = step.as_ref().map(|s| s.validate(&answers, locale));
    if let Some(step) = &step {
        let errors = match &profile {
            Some(Err(errors)) => errors.clone(),
            _ => Default::default(),
        };
        page.extra = step.view(locale, &answers, &errors);
    }
    let profile_invalid = matches!(profile, Some(Err(_)));
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
    let errors = check_credentials(locale, &email, &form.password);
    if !errors.is_empty() || profile_invalid {
        return again(
            StatusCode::BAD_REQUEST,
            errors,
            Some(text(locale, "error.summary")),
        );
    }
    if let Err(wait) = state.limits.check_ip(peer.ip()) {
        return super::retry_later(
            &state,
            locale,
            StatusCode::TOO_MANY_REQUESTS,
            "error.rate_limited",
            wait.seconds(),
        );
    }
    let password = form.password.clone();
    let hash = match state
        .hashing
        .run(move || password::hash_password(&password))
        .await
    {
        Ok(Ok(hash)) => hash,
        Ok(Err(error)) => {
            tracing::warn!(%error, "password could not be hashed");
            let mut errors = FieldErrors::new();
            errors.insert("password".into(), text(locale, "error.password_long"));
            return again(StatusCode::BAD_REQUEST, errors, None);
        }
        Err(_) => {
            return super::retry_later(
                &state,
                locale,
                StatusCode::SERVICE_UNAVAILABLE,
                "error.busy",
                2,
            );
        }
    };
    let mut new = NewUser::with_email(email.clone(), now);
    new.password_hash = Some(hash);
    let user = match state.store.create_user(new).await {
        Ok(user) => user,
        Err(StoreError::Conflict { .. }) => {
            let mut errors = FieldErrors::new();
            errors.insert("email".into(), text(locale, "signup.email_taken"));
            return again(
                StatusCode::CONFLICT,
                errors,
                Some(text(locale, "error.summary")),
            );
        }
        Err(error) => return super::store_failure(&state, locale, &error),
    };
    if let Err(error) = state
        .store
        .record_sign_in(user.id, SignInKind::Credentialed, now)
        .await
    {
        return super::store_failure(&state, locale, &error);
    }
    if let (Some(step), Some(Ok(changes))) = (&step, &profile)
        && let Err(error) = step.store(&state, user.id, changes, now).await
    {
        return super::store_failure(&state, locale, &error);
    }
    match session::start(&state, page.jar.clone(), user.id, now).await {
        Ok((jar, _)) => {
            let client_id = page.tx.client_id.as_deref().unwrap_or("-");
            tracing::info!(user_id = %user.id, %client_id, "sign-up succeeded");
            (jar, super::continue_to(&page.tx)).into_response()
        }
        Err(error) => super::store_failure(&state, locale, &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_problem_is_reported_at_once() {
        let errors = check_credentials("en", "not-an-email", "short");
        assert_eq!(errors.len(), 2);
        assert_eq!(errors["email"], "Enter a valid email address.");
        assert_eq!(errors["password"], "Use at least 8 characters.");
    }

    #[test]
    fn messages_follow_the_locale() {
        let errors = check_credentials("fr", "", "");
        assert_eq!(errors["email"], "Ce champ est obligatoire.");
    }

    #[test]
    fn a_valid_registration_has_no_errors() {
        assert!(check_credentials("en", "ann@example.com", "correct horse").is_empty());
    }
}
