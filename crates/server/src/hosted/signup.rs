//! `GET /signup` shows the registration form; `POST /signup` creates the account.

use std::net::SocketAddr;

use accrete_oidc::credentials::{self, EmailProblem, PasswordProblem};
use axum::extract::{ConnectInfo, Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use time::OffsetDateTime;

use accrete_app::accounts::{self, SignUp, SignUpError};
use accrete_app::signup::signup_step;

use super::credentials::{CredentialsPage, FieldErrors, TxQuery, split_signup_post};
use super::errors::{hashing_busy, rate_limited, store_failure};
use super::form::signup_view;
use super::i18n::text;
use super::transaction::continue_to;
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
        "signup.html",
        now,
    )
    .await
    {
        Ok(page) if !page.self_signup => page.signup_closed(&state),
        Ok(mut page) => {
            // Profiling hook: the first sign-up step's fields on this page.
            if let Some(step) = signup_step(&state.app, page.tx.transaction.as_ref(), now).await {
                page.extra =
                    signup_view(&step, page.locale, &Default::default(), &Default::default());
            }
            page.blank(&state)
        }
        Err(response) => response,
    }
}

/// Checks the credentials of a registration; every problem at once. `hints`: what else the
/// person entered (the sign-up step's answers, such as a name), which the password should not
/// be built on.
pub(crate) fn check_credentials(
    locale: &str,
    email: &str,
    password: &str,
    hints: &[&str],
) -> FieldErrors {
    let mut errors = FieldErrors::new();
    if let Err(problem) = credentials::check_email(email) {
        errors.insert("email".into(), email_error(locale, problem));
    }
    let mut known = vec![email];
    known.extend_from_slice(hints);
    if let Err(problem) = credentials::check_new_password(password, &known) {
        errors.insert("password".into(), password_error(locale, problem));
    }
    errors
}

/// The page's message for a refused email address.
pub(super) fn email_error(locale: &str, problem: EmailProblem) -> String {
    let key = match problem {
        EmailProblem::Missing => "error.required",
        EmailProblem::Invalid => "error.email_invalid",
    };
    text(locale, key)
}

/// The page's message for a refused password (being set, or presented to sign in).
pub(super) fn password_error(locale: &str, problem: PasswordProblem) -> String {
    let key = match problem {
        PasswordProblem::Missing => "error.required",
        PasswordProblem::TooShort => "error.password_short",
        PasswordProblem::TooLong => "error.password_long",
        PasswordProblem::TooWeak => "error.password_weak",
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
    let (form, answers) = split_signup_post(pairs);
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
    if !page.self_signup {
        return page.signup_closed(&state);
    }
    let locale = page.locale;
    let email = form.email.trim().to_owned();
    // Profiling hook: the first sign-up step, validated with the credentials.
    let step = signup_step(&state.app, page.tx.transaction.as_ref(), now).await;
    let profile = step.as_ref().map(|s| s.validate(&answers, locale, now));
    if let Some(step) = &step {
        let errors = match &profile {
            Some(Err(errors)) => errors.clone(),
            _ => Default::default(),
        };
        page.extra = signup_view(step, locale, &answers, &errors);
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
    if !page.password {
        return again(
            StatusCode::FORBIDDEN,
            FieldErrors::new(),
            Some(text(locale, "federation.no_password")),
        );
    }
    let hints: Vec<&str> = answers.values().flatten().map(String::as_str).collect();
    let errors = check_credentials(locale, &email, &form.password, &hints);
    if !errors.is_empty() || profile_invalid {
        return again(
            StatusCode::BAD_REQUEST,
            errors,
            Some(text(locale, "error.summary")),
        );
    }
    if let Err(wait) = state.limits.check_ip(peer.ip()) {
        return rate_limited(&state, locale, wait);
    }
    let new = SignUp {
        email: &email,
        password: form.password.clone(),
        step: match (&step, &profile) {
            (Some(step), Some(Ok(answers))) => Some((step, answers)),
            _ => None,
        },
        client_id: page.tx.client_id.as_deref(),
        locale,
        now,
    };
    let user = match accounts::sign_up(&state.app, new).await {
        Ok(user) => user,
        Err(SignUpError::EmailTaken) => {
            let mut errors = FieldErrors::new();
            errors.insert("email".into(), text(locale, "signup.email_taken"));
            return again(
                StatusCode::CONFLICT,
                errors,
                Some(text(locale, "error.summary")),
            );
        }
        Err(SignUpError::Password(_)) => {
            let mut errors = FieldErrors::new();
            errors.insert("password".into(), text(locale, "error.password_long"));
            return again(StatusCode::BAD_REQUEST, errors, None);
        }
        Err(SignUpError::Busy) => {
            return hashing_busy(&state, locale);
        }
        Err(SignUpError::Store(error)) => return store_failure(&state, locale, &error),
    };
    let method = accrete_app::federation::SignInMethod::password();
    match session::start(
        &state,
        page.jar.clone(),
        user.id,
        &method,
        session::Device::of(&headers, peer),
        now,
    )
    .await
    {
        Ok((jar, _)) => {
            let client_id = page.tx.client_id.as_deref().unwrap_or("-");
            tracing::info!(user_id = %user.id, %client_id, "sign-up succeeded");
            (jar, continue_to(&page.tx)).into_response()
        }
        Err(error) => store_failure(&state, locale, &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_problem_is_reported_at_once() {
        let errors = check_credentials("en", "not-an-email", "short", &[]);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors["email"], "Enter a valid email address.");
        assert_eq!(errors["password"], "Use at least 8 characters.");
    }

    #[test]
    fn messages_follow_the_locale() {
        let errors = check_credentials("fr", "", "", &[]);
        assert_eq!(errors["email"], "Ce champ est obligatoire.");
    }

    #[test]
    fn a_valid_registration_has_no_errors() {
        assert!(
            check_credentials("en", "ann@example.com", "correct horse battery staple", &[])
                .is_empty()
        );
    }

    #[test]
    fn a_weak_password_is_refused_with_a_sentence() {
        let errors = check_credentials("en", "ada@example.com", "ada@example.com1", &[]);
        assert_eq!(
            errors["password"],
            "This password is too easy to guess. Try a few unrelated words, or a longer mix of characters."
        );
        let errors = check_credentials("fr", "ann@example.com", "Lovelace1815", &["Lovelace"]);
        assert!(
            errors["password"].starts_with("Ce mot de passe"),
            "{errors:?}"
        );
    }
}
