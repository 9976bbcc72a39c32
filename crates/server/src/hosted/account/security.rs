//! `/account/security`: change the password (the current one, then the new one twice), the
//! email address (its verified state; changing it is the email section's, marked in the
//! template), and the ways to sign in (link and unlink are `hosted/federation.rs`'s; passkeys
//! are `passkeys.rs`'s).

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
use super::passkey_list;
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
    render_page(state, page, status, errors, message, false).await
}

/// The section after a refused passkey change (`reauth`: with the way to sign in again).
pub(super) async fn render_with(
    state: &AppState,
    page: AccountPage,
    status: StatusCode,
    message: (Option<String>, Option<String>),
    reauth: bool,
) -> Response {
    render_page(state, page, status, &FieldErrors::new(), message, reauth).await
}

async fn render_page(
    state: &AppState,
    page: AccountPage,
    status: StatusCode,
    errors: &FieldErrors,
    message: (Option<String>, Option<String>),
    reauth: bool,
) -> Response {
    let methods = match Methods::of(state, &page.user).await {
        Ok(methods) => methods,
        Err(error) => return store_failure(state, page.locale, &error),
    };
    let mfa = match accrete_app::mfa::status(&state.app, page.user.id).await {
        Ok(status) => status,
        Err(error) => return store_failure(state, page.locale, &error),
    };
    let locale = page.locale;
    let factors: Vec<minijinja::Value> = mfa
        .factors
        .iter()
        .map(|f| {
            let date = f.confirmed_at.unwrap_or(f.created_at).date().to_string();
            let label = match f.kind {
                accrete_store::FactorKind::Totp => text(locale, "account.mfa.totp"),
                accrete_store::FactorKind::Sms => {
                    text(locale, "account.mfa.sms").replace("{number}", &f.label)
                }
            };
            context! {
                id => f.id.to_string(),
                label,
                since => text(locale, "account.mfa.since").replace("{date}", &date),
            }
        })
        .collect();
    let (passkeys, passkey_count) =
        match accrete_app::passkeys::list(&state.app, page.user.id).await {
            Ok(list) => (passkey_list::view(state, page.locale, &list), list.len()),
            Err(error) => return store_failure(state, page.locale, &error),
        };
    let extra = context! {
        mfa => context! {
            factors,
            has_totp => mfa.totp().is_some(),
            // Passkeys are second factors too (listed in their own section).
            passkeys => (passkey_count > 0).then(|| {
                text(page.locale, "account.mfa.passkeys")
                    .replace("{count}", &passkey_count.to_string())
            }),
            codes_left => (!mfa.factors.is_empty()).then(|| {
                text(page.locale, "account.mfa.codes_left")
                    .replace("{count}", &mfa.recovery_codes_left.to_string())
            }),
        },
        methods => methods.view(page.locale),
        has_password => methods.password,
        email_verified => page.user.email_verified,
        phone => context! {
            number => accrete_app::phone::stored_number(&page.user),
            verified => accrete_app::phone::verified_number(&page.user).is_some(),
            href => page.link("/account/phone", ""),
        },
        errors,
        passkeys,
        reauth,
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
