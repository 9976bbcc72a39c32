//! `/account/phone`: the account's phone number and whether it is verified; a code sent to it
//! by text message (`POST /account/phone/send`, again after the resend wait) and entered
//! (`POST /account/phone/verify`) verifies it. The number itself is changed on the profile
//! page, which makes it unverified until its code is entered.

use accrete_app::phone::{self, NumberAt, Proven, Sent};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use minijinja::context;
use time::OffsetDateTime;

use super::super::credentials::FieldErrors;
use super::super::csrf;
use super::super::errors::store_failure;
use super::super::i18n::{text, text_with, utc_time};
use super::page::{AccountPage, AccountQuery};
use crate::state::AppState;

/// The posted forms (every field optional: a malformed post gets a page, not a rejection).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct PhoneForm {
    csrf: String,
    return_to: Option<String>,
    code: String,
}

/// `GET /account/phone`.
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

/// `POST /account/phone/send`: a code to the account's number (unless verified already).
pub(crate) async fn send(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<PhoneForm>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page = match AccountPage::open(&state, &headers, jar, form.return_to.as_deref()).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale;
    let errors = FieldErrors::new();
    if !csrf::verify(&page.jar, Some(&form.csrf)) {
        let alert = Some(text(locale, "error.csrf"));
        return render(&state, page, StatusCode::FORBIDDEN, &errors, (None, alert)).await;
    }
    let Some(number) = phone::stored_number(&page.user).map(str::to_owned) else {
        let alert = Some(text(locale, "phone.none"));
        return render(
            &state,
            page,
            StatusCode::BAD_REQUEST,
            &errors,
            (None, alert),
        )
        .await;
    };
    let client = page.back.as_ref().map(|b| b.client.clone());
    match phone::send_code(
        &state.app,
        &page.user,
        &number,
        client.as_ref(),
        locale,
        now,
    )
    .await
    {
        Ok(Sent::Sent { .. }) => page.redirect("/account/phone", "phone_sent"),
        Ok(Sent::NotNeeded) => page.redirect("/account/phone", "phone_verified"),
        Ok(Sent::TooSoon { retry_at }) => {
            let time = utc_time(locale, retry_at);
            let alert = Some(text_with(locale, "verify.too_soon", &[("time", &time)]));
            render(
                &state,
                page,
                StatusCode::TOO_MANY_REQUESTS,
                &errors,
                (None, alert),
            )
            .await
        }
        Err(error) => store_failure(&state, locale, &error),
    }
}

/// `POST /account/phone/verify`: the code sent to the account's number.
pub(crate) async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<PhoneForm>,
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
    let client_id = page.back.as_ref().map(|b| b.client.id.clone());
    let proven = phone::enter_code(
        &state.app,
        page.user.id,
        NumberAt::Profile,
        &form.code,
        client_id.as_deref(),
        now,
    )
    .await;
    let (key, left) = match proven {
        Ok(Proven::Verified { .. }) => return page.redirect("/account/security", "phone_verified"),
        Ok(Proven::NotACode) => ("verify.not_a_code", 0),
        Ok(Proven::WrongCode { attempts_left: 0 }) => ("verify.wrong_last", 0),
        Ok(Proven::WrongCode { attempts_left }) => ("verify.wrong", attempts_left),
        Ok(Proven::Expired) => ("verify.expired", 0),
        Err(error) => return store_failure(&state, locale, &error),
    };
    errors.insert(
        "code".into(),
        text_with(locale, key, &[("left", &left.to_string())]),
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

async fn render(
    state: &AppState,
    page: AccountPage,
    status: StatusCode,
    errors: &FieldErrors,
    message: (Option<String>, Option<String>),
) -> Response {
    let now = OffsetDateTime::now_utc();
    let locale = page.locale;
    let number = phone::stored_number(&page.user).map(str::to_owned);
    let verified = phone::verified_number(&page.user).is_some();
    let pending = match phone::pending_code(&state.app, page.user.id, now).await {
        Ok(pending) => pending
            // A code sent to a number the account no longer has is of no use here.
            .filter(|(to, _)| Some(to) == number.as_ref() && !verified)
            .map(|(to, until)| {
                context! {
                    help => text_with(
                        locale,
                        "phone.sent_to",
                        &[("number", &to), ("time", &utc_time(locale, until))],
                    ),
                }
            }),
        Err(error) => return store_failure(state, locale, &error),
    };
    let extra = context! {
        number,
        verified,
        pending,
        errors,
        profile_link => page.link("/account", ""),
        security_link => page.link("/account/security", ""),
    };
    page.render(
        state,
        status,
        "security",
        "account_phone.html",
        message,
        extra,
    )
}
