//! Proving and changing the account's email address:
//! - `GET|POST /verify-email` (`?tx=` between sign-in and the code of a client that requires a
//!   verified address; without it from the account center; `?token=` the mailed link),
//!   `POST /verify-email/resend`;
//! - `GET|POST /account/email` (the address, its state, a new one asked for),
//!   `POST /account/email/confirm` (the code mailed to the new address), and
//!   `GET /account/email/confirm?token=` (its link).

use accrete_app::email_verification::{self, ChangeError, Proven, Sent};
use accrete_store::{StoreError, User};
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use time::OffsetDateTime;

use super::credentials::{CredentialsPage, FieldErrors};
use super::errors::{hashing_busy, store_failure};
use super::i18n::{text, text_with, utc_time};
use super::signup::email_error;
use super::transaction::urlencode;
use crate::session;
use crate::state::AppState;

/// `?tx=`, `?token=` and the account page's notices.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct EmailQuery {
    tx: Option<String>,
    token: Option<String>,
    changed: Option<String>,
    sent: Option<String>,
}

/// The posted forms (every field optional: a malformed post gets a page, not a rejection).
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct EmailForm {
    csrf: String,
    tx: Option<String>,
    code: String,
    email: String,
    password: String,
}

/// A page of this module: its transaction, locale, CSRF token, and the signed-in user.
struct EmailPage {
    page: CredentialsPage,
    user: User,
}

impl EmailPage {
    /// The page of the signed-in user (the sign-in page otherwise); with `tx`, the user must
    /// be the one signing in there.
    async fn open(
        state: &AppState,
        headers: &HeaderMap,
        jar: CookieJar,
        tx: Option<&str>,
        template: &'static str,
    ) -> Result<EmailPage, Response> {
        let now = OffsetDateTime::now_utc();
        let page = CredentialsPage::open(state, headers, jar, tx, template, now).await?;
        let locale = page.locale;
        let session = session::current(state, &page.jar, now)
            .await
            .map_err(|e| store_failure(state, locale, &e))?;
        let sign_in = || {
            let to = match &page.tx.id {
                Some(tx) => format!("/login?tx={}", urlencode(tx)),
                None => "/login".to_owned(),
            };
            Redirect::to(&to).into_response()
        };
        let Some(session) = session else {
            return Err(sign_in());
        };
        let in_tx = page.tx.transaction.as_ref().map(|t| t.user_id);
        if in_tx.is_some_and(|user| user != Some(session.user_id)) {
            return Err(sign_in());
        }
        let user = match state.store.get_user(session.user_id).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Err(sign_in()),
            Err(error) => return Err(store_failure(state, locale, &error)),
        };
        Ok(EmailPage { page, user })
    }

    fn locale(&self) -> &'static str {
        self.page.locale
    }

    /// Where the user goes once the address is proven: on with the sign-in, or back to the
    /// account's email page.
    fn next(&self) -> String {
        match &self.page.tx.id {
            Some(tx) => format!("/authorize/resume?tx={}", urlencode(tx)),
            None => "/account/email".to_owned(),
        }
    }

    /// The verification form, saying where the code went.
    async fn code_form(
        &self,
        state: &AppState,
        status: StatusCode,
        code: &str,
        errors: &FieldErrors,
        (notice, alert): (Option<String>, Option<String>),
    ) -> Response {
        let locale = self.locale();
        let now = OffsetDateTime::now_utc();
        let live = state
            .store
            .live_account_token(self.user.id, accrete_store::TokenPurpose::VerifyEmail, now)
            .await;
        let sent_to = match live {
            Ok(Some(token)) => Some(text_with(
                locale,
                "verify.sent_to",
                &[
                    ("email", &token.email),
                    ("time", &utc_time(locale, token.expires_at)),
                ],
            )),
            Ok(None) => None,
            Err(error) => return store_failure(state, locale, &error),
        };
        let extra = context! {
            sent_to,
            notice,
            action => "/verify-email",
            resend_action => "/verify-email/resend",
        };
        self.page.render_form(
            state,
            "verify_email.html",
            status,
            (context! { code }, errors, alert),
            extra,
        )
    }
}

/// `GET /verify-email`: the mailed link (`?token=`), or the code form of the signed-in user,
/// whose code is mailed when none is live.
pub(crate) async fn show(
    State(state): State<AppState>,
    Query(query): Query<EmailQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    if let Some(token) = &query.token {
        return follow_link(&state, &headers, jar, token, false).await;
    }
    let page = match EmailPage::open(
        &state,
        &headers,
        jar,
        query.tx.as_deref(),
        "verify_email.html",
    )
    .await
    {
        Ok(page) => page,
        Err(response) => return response,
    };
    if page.user.email_verified {
        return (page.page.jar.clone(), Redirect::to(&page.next())).into_response();
    }
    let now = OffsetDateTime::now_utc();
    let locale = page.locale();
    let live = state
        .store
        .live_account_token(page.user.id, accrete_store::TokenPurpose::VerifyEmail, now)
        .await;
    match live {
        Ok(Some(_)) => {}
        Ok(None) => {
            let client = page.page.tx.client.as_ref();
            if let Err(error) =
                email_verification::send_code(&state.app, &page.user, client, locale, now).await
            {
                return store_failure(&state, locale, &error);
            }
        }
        Err(error) => return store_failure(&state, locale, &error),
    }
    page.code_form(
        &state,
        StatusCode::OK,
        "",
        &FieldErrors::new(),
        (None, None),
    )
    .await
}

/// `POST /verify-email`: the code typed.
pub(crate) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<EmailForm>,
) -> Response {
    let page = match EmailPage::open(
        &state,
        &headers,
        jar,
        form.tx.as_deref(),
        "verify_email.html",
    )
    .await
    {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale();
    let mut errors = FieldErrors::new();
    if !page.page.csrf_ok(&form.csrf) {
        let alert = Some(text(locale, "error.csrf"));
        return page
            .code_form(
                &state,
                StatusCode::FORBIDDEN,
                &form.code,
                &errors,
                (None, alert),
            )
            .await;
    }
    let client_id = page.page.tx.client_id.as_deref();
    let now = OffsetDateTime::now_utc();
    let outcome = email_verification::enter_code(
        &state.app,
        page.user.id,
        false,
        &form.code,
        client_id,
        locale,
        now,
    )
    .await;
    let (status, message) = match outcome {
        Ok(Proven::Verified { .. }) => {
            return (page.page.jar.clone(), Redirect::to(&page.next())).into_response();
        }
        Ok(other) => code_problem(locale, &other),
        Err(error) => return store_failure(&state, locale, &error),
    };
    errors.insert("code".into(), message);
    page.code_form(&state, status, &form.code, &errors, (None, None))
        .await
}

/// What the pages say of a code that did not prove the address.
fn code_problem(locale: &str, outcome: &Proven) -> (StatusCode, String) {
    match outcome {
        Proven::NotACode => (StatusCode::BAD_REQUEST, text(locale, "verify.not_a_code")),
        Proven::WrongCode { attempts_left: 0 } => {
            (StatusCode::BAD_REQUEST, text(locale, "verify.wrong_last"))
        }
        Proven::WrongCode { attempts_left } => (
            StatusCode::BAD_REQUEST,
            text_with(
                locale,
                "verify.wrong",
                &[("left", &attempts_left.to_string())],
            ),
        ),
        Proven::EmailTaken => (StatusCode::CONFLICT, text(locale, "verify.taken")),
        Proven::Expired | Proven::Verified { .. } => {
            (StatusCode::GONE, text(locale, "verify.expired"))
        }
    }
}

/// `POST /verify-email/resend`: a new code, within the resend limits.
pub(crate) async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<EmailForm>,
) -> Response {
    let page = match EmailPage::open(
        &state,
        &headers,
        jar,
        form.tx.as_deref(),
        "verify_email.html",
    )
    .await
    {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale();
    let errors = FieldErrors::new();
    if !page.page.csrf_ok(&form.csrf) {
        let alert = Some(text(locale, "error.csrf"));
        return page
            .code_form(&state, StatusCode::FORBIDDEN, "", &errors, (None, alert))
            .await;
    }
    let now = OffsetDateTime::now_utc();
    let client = page.page.tx.client.as_ref();
    let sent = email_verification::send_code(&state.app, &page.user, client, locale, now).await;
    let (status, messages) = match sent {
        Ok(Sent::Sent { .. }) => (StatusCode::OK, (Some(text(locale, "verify.resent")), None)),
        Ok(Sent::TooSoon { retry_at }) => {
            let time = utc_time(locale, retry_at);
            let alert = text_with(locale, "verify.too_soon", &[("time", &time)]);
            (StatusCode::TOO_MANY_REQUESTS, (None, Some(alert)))
        }
        Ok(Sent::AlreadyVerified) => {
            return (page.page.jar.clone(), Redirect::to(&page.next())).into_response();
        }
        Err(error) => return store_failure(&state, locale, &error),
    };
    page.code_form(&state, status, "", &errors, messages).await
}

/// A mailed link: verifies the address (or confirms the new one) and says so.
async fn follow_link(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    token: &str,
    change: bool,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let page =
        match CredentialsPage::open(state, headers, jar, None, "verify_email.html", now).await {
            Ok(page) => page,
            Err(response) => return response,
        };
    let locale = page.locale;
    let outcome =
        match email_verification::follow_link(&state.app, token, change, locale, now).await {
            Ok(outcome) => outcome,
            Err(error) => return store_failure(state, locale, &error),
        };
    let extra = match outcome {
        Proven::Verified { user_id } => {
            let email = match state.store.get_user(user_id).await {
                Ok(user) => user.email,
                Err(error) => return store_failure(state, locale, &error),
            };
            context! { verified => true, email, next => "/account/email" }
        }
        Proven::EmailTaken => {
            let alert = text(locale, "verify.taken");
            context! { expired_link => true, alert, next => "/account/email" }
        }
        _ => context! { expired_link => true, next => "/account/email" },
    };
    let status = if extra.get_attr("verified").is_ok_and(|v| v.is_true()) {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    let form = (context! {}, &FieldErrors::new(), None);
    page.render_form(state, "verify_email.html", status, form, extra)
}

/// `GET /account/email`: the address, whether it is confirmed, the change waiting for its
/// code, and the form to ask for another address.
pub(crate) async fn account(
    State(state): State<AppState>,
    Query(query): Query<EmailQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let page = match EmailPage::open(&state, &headers, jar, None, "account_email.html").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale();
    let notice = if query.changed.is_some() {
        Some(text(locale, "email.changed"))
    } else if query.sent.is_some() {
        Some(text(locale, "verify.resent"))
    } else {
        None
    };
    account_page(
        &state,
        &page,
        StatusCode::OK,
        context! {},
        &FieldErrors::new(),
        (notice, None),
    )
    .await
}

async fn account_page(
    state: &AppState,
    page: &EmailPage,
    status: StatusCode,
    values: Value,
    errors: &FieldErrors,
    (notice, alert): (Option<String>, Option<String>),
) -> Response {
    let locale = page.locale();
    let now = OffsetDateTime::now_utc();
    let pending = match email_verification::pending_change(&state.app, page.user.id, now).await {
        Ok(pending) => pending.map(|(email, until)| {
            context! { email, until => utc_time(locale, until) }
        }),
        Err(error) => return store_failure(state, locale, &error),
    };
    let extra = context! {
        email => page.user.email,
        verified => page.user.email_verified,
        has_password => page.user.password_hash.is_some(),
        pending,
        notice,
    };
    page.page.render_form(
        state,
        "account_email.html",
        status,
        (values, errors, alert),
        extra,
    )
}

/// `POST /account/email`: asks for another address (a code mailed there).
pub(crate) async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<EmailForm>,
) -> Response {
    let page = match EmailPage::open(&state, &headers, jar, None, "account_email.html").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale();
    let values = context! { email => form.email.trim() };
    let mut errors = FieldErrors::new();
    if !page.page.csrf_ok(&form.csrf) {
        let alert = Some(text(locale, "error.csrf"));
        return account_page(
            &state,
            &page,
            StatusCode::FORBIDDEN,
            values,
            &errors,
            (None, alert),
        )
        .await;
    }
    let now = OffsetDateTime::now_utc();
    let asked = email_verification::request_change(
        &state.app,
        &page.user,
        &form.email,
        Some(form.password),
        None,
        locale,
        now,
    )
    .await;
    let status = match asked {
        Ok(_) => {
            return (page.page.jar.clone(), Redirect::to("/account/email")).into_response();
        }
        Err(ChangeError::Email(problem)) => {
            errors.insert("email".into(), email_error(locale, problem));
            StatusCode::BAD_REQUEST
        }
        Err(ChangeError::Same) => {
            errors.insert("email".into(), text(locale, "email.same"));
            StatusCode::BAD_REQUEST
        }
        Err(ChangeError::WrongPassword) => {
            errors.insert("password".into(), text(locale, "email.wrong_password"));
            StatusCode::BAD_REQUEST
        }
        Err(ChangeError::TooSoon(retry_at)) => {
            let time = utc_time(locale, retry_at);
            let alert = text_with(locale, "verify.too_soon", &[("time", &time)]);
            return account_page(
                &state,
                &page,
                StatusCode::TOO_MANY_REQUESTS,
                values,
                &errors,
                (None, Some(alert)),
            )
            .await;
        }
        Err(ChangeError::Busy) => return hashing_busy(&state, locale),
        Err(ChangeError::Store(error)) => return store_failure(&state, locale, &error),
    };
    let alert = Some(text(locale, "error.summary"));
    account_page(&state, &page, status, values, &errors, (None, alert)).await
}

/// `POST /account/email/confirm`: the code mailed to the new address.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<EmailForm>,
) -> Response {
    let page = match EmailPage::open(&state, &headers, jar, None, "account_email.html").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale();
    let values = context! { code => form.code.clone() };
    let mut errors = FieldErrors::new();
    if !page.page.csrf_ok(&form.csrf) {
        let alert = Some(text(locale, "error.csrf"));
        return account_page(
            &state,
            &page,
            StatusCode::FORBIDDEN,
            values,
            &errors,
            (None, alert),
        )
        .await;
    }
    let now = OffsetDateTime::now_utc();
    let outcome = email_verification::enter_code(
        &state.app,
        page.user.id,
        true,
        &form.code,
        None,
        locale,
        now,
    )
    .await;
    let (status, message) = match outcome {
        Ok(Proven::Verified { .. }) => {
            let to = "/account/email?changed=1";
            return (page.page.jar.clone(), Redirect::to(to)).into_response();
        }
        Ok(other) => code_problem(locale, &other),
        Err(error) => return store_failure(&state, locale, &error),
    };
    errors.insert("code".into(), message);
    account_page(&state, &page, status, values, &errors, (None, None)).await
}

/// `GET /account/email/confirm?token=`: the link mailed to the new address.
pub(crate) async fn confirm_link(
    State(state): State<AppState>,
    Query(query): Query<EmailQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let token = query.token.unwrap_or_default();
    follow_link(&state, &headers, jar, &token, true).await
}
