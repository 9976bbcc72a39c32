//! `/account/security`: change the password (the current one, then the new one twice), the
//! email address (its verified state; changing it is the email section's, marked in the
//! template), and the ways to sign in (link and unlink are `hosted/federation.rs`'s).

use accrete_app::account::{self, PasswordChange, PasswordChangeError};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use minijinja::context;
use time::OffsetDateTime;

use super::super::credentials::FieldErrors;
use super::super::csrf;
use super::super::errors::{hashing_busy, store_failure};
use super::super::i18n::text;
use super::super::signup::password_error;
use super::methods::Methods;
use super::page::{AccountPage, AccountQuery};
use crate::state::AppState;

/// `GET /account/security`.
pub(crate) async fn show(
    State(state): State<AppState>,
    Query(query): Query<AccountQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let page = match AccountPage::open(&state, &headers, jar, query.return_to.as_deref()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let message = query.message(page.locale);
    render(&state, page, StatusCode::OK, &FieldErrors::new(), message).await
}

/// The change-password form.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct PasswordForm {
    csrf: String,
    return_to: Option<String>,
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// `POST /account/security/password`.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<PasswordForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page = match AccountPage::open(&state, &headers, jar, form.return_to.as_deref()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale;
    let mut errors = FieldErrors::new();
    if !csrf::verify(&page.jar, Some(&form.csrf)) {
        let alert = Some(text(locale, "error.csrf"));
        return render(&state, page, StatusCode::FORBIDDEN, &errors, (None, alert)).await;
    }
    if form.current_password.is_empty() {
        errors.insert("current_password".into(), text(locale, "error.required"));
    }
    if form.new_password != form.confirm_password {
        errors.insert(
            "confirm_password".into(),
            text(locale, "account.password.mismatch"),
        );
    }
    if !errors.is_empty() {
        let alert = Some(text(locale, "error.summary"));
        return render(
            &state,
            page,
            StatusCode::BAD_REQUEST,
            &errors,
            (None, alert),
        )
        .await;
    }
    let change = PasswordChange {
        user_id: page.user.id,
        current: form.current_password,
        new: form.new_password,
        now,
    };
    match account::change_password(&state.app, change).await {
        Ok(()) => page.redirect("/account/security", "password_changed"),
        Err(PasswordChangeError::WrongCurrent) => {
            errors.insert(
                "current_password".into(),
                text(locale, "account.password.wrong_current"),
            );
            let alert = Some(text(locale, "error.summary"));
            render(
                &state,
                page,
                StatusCode::BAD_REQUEST,
                &errors,
                (None, alert),
            )
            .await
        }
        Err(PasswordChangeError::Refused(problem)) => {
            errors.insert("new_password".into(), password_error(locale, problem));
            let alert = Some(text(locale, "error.summary"));
            render(
                &state,
                page,
                StatusCode::BAD_REQUEST,
                &errors,
                (None, alert),
            )
            .await
        }
        Err(PasswordChangeError::Busy) => hashing_busy(&state, locale),
        Err(PasswordChangeError::Store(error)) => store_failure(&state, locale, &error),
    }
}

async fn render(
    state: &AppState,
    page: AccountPage,
    status: StatusCode,
    errors: &FieldErrors,
    message: (Option<String>, Option<String>),
) -> Response {
    let methods = match Methods::of(state, &page.user).await {
        Ok(methods) => methods,
        Err(error) => return store_failure(state, page.locale, &error),
    };
    let extra = context! {
        methods => methods.view(page.locale),
        has_password => methods.password,
        email_verified => page.user.email_verified,
        errors,
    };
    page.render(
        state,
        status,
        "security",
        "account_security.html",
        message,
        extra,
    )
}
