//! Second factors in the browser:
//! - `GET|POST /mfa` (`?tx=` between sign-in and the code; without it before the account
//!   center): one of the user's passkeys (its JSON endpoints are in `passkey.rs`), an
//!   authenticator-app code, a code sent by text message, or a recovery code;
//! - `GET|POST /mfa/setup` (`?tx=` when a client requires a second factor and the user has
//!   none; without it from the account center): the QR code and secret of a new authenticator
//!   app, confirmed by its first code, then the recovery codes shown once;
//! - `POST /account/security/recovery-codes` (new codes) and
//!   `POST /account/security/factors/{id}/remove`, both after a recent sign-in.
//!
//! The rules are `accrete_app::mfa`'s; this file only translates.

use accrete_app::facts::FlowState;
use accrete_app::mfa::{self, Answer, Enrolled, MfaError, Proof};
use accrete_app::passkeys;
use accrete_app::phone::Sent;
use accrete_app::prompts;
use accrete_app::transactions::request_of;
use accrete_sms::mask_number;
use accrete_store::{SsoSession, StoreError, User};
use axum::Form;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use std::net::SocketAddr;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::credentials::{CredentialsPage, FieldErrors};
use super::errors::store_failure;
use super::i18n::{text, text_with};
use super::transaction::urlencode;
use crate::session;
use crate::state::AppState;

/// How recent a sign-in must be to change second factors (remove one, new recovery codes).
const RECENT_SIGN_IN: Duration = Duration::minutes(10);

/// `?tx=`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct MfaQuery {
    tx: Option<String>,
    /// `recovery`: the recovery-code form.
    method: Option<String>,
}

/// The posted forms (every field optional: a malformed post gets a page, not a rejection).
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct MfaForm {
    csrf: String,
    tx: Option<String>,
    /// `totp` or `recovery`.
    method: String,
    code: String,
}

/// A page of this module: its transaction, locale and CSRF token, the signed-in user and their
/// session.
struct MfaPage {
    page: CredentialsPage,
    user: User,
    session: SsoSession,
}

impl MfaPage {
    /// The page of the signed-in user (the sign-in page otherwise); with `tx`, the user must be
    /// the one signing in there.
    async fn open(
        state: &AppState,
        headers: &HeaderMap,
        jar: CookieJar,
        tx: Option<&str>,
        template: &'static str,
    ) -> Result<MfaPage, Response> {
        let now = OffsetDateTime::now_utc();
        let page = CredentialsPage::open(state, headers, jar, tx, template, now).await?;
        let locale = page.locale;
        let sign_in = || {
            let to = match &page.tx.id {
                Some(tx) => format!("/login?tx={}", urlencode(tx)),
                None => "/login".to_owned(),
            };
            Redirect::to(&to).into_response()
        };
        let session = match session::current(state, &page.jar, now).await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(sign_in()),
            Err(error) => return Err(store_failure(state, locale, &error)),
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
        Ok(MfaPage {
            page,
            user,
            session,
        })
    }

    fn locale(&self) -> &'static str {
        self.page.locale
    }

    /// Where the user goes once the factor is proven or set up: on with the sign-in, or to the
    /// account center.
    fn next(&self) -> String {
        match &self.page.tx.id {
            Some(tx) => format!("/authorize/resume?tx={}", urlencode(tx)),
            None => "/account/security".to_owned(),
        }
    }

    fn go_on(&self) -> Response {
        (self.page.jar.clone(), Redirect::to(&self.next())).into_response()
    }

    /// After the second factor of a sign-in: on with it, or (outside an application) to the
    /// account center.
    fn go_on_signed_in(&self) -> Response {
        let to = match &self.page.tx.id {
            Some(_) => self.next(),
            None => "/account".to_owned(),
        };
        (self.page.jar.clone(), Redirect::to(&to)).into_response()
    }

    fn render(
        &self,
        state: &AppState,
        template: &str,
        status: StatusCode,
        (code, errors, alert): (&str, &FieldErrors, Option<String>),
        extra: Value,
    ) -> Response {
        self.page.render_form(
            state,
            template,
            status,
            (context! { code }, errors, alert),
            extra,
        )
    }
}

fn failed(state: &AppState, locale: &str, error: &MfaError) -> Response {
    match error {
        MfaError::Store(error) => store_failure(state, locale, error),
        MfaError::Sealed => {
            tracing::error!(%error, "a second factor cannot be used");
            store_failure(state, locale, &StoreError::unexpected(error.to_string()))
        }
    }
}

/// `GET /mfa`: the second-factor form of the signed-in user.
pub(crate) async fn show(
    State(state): State<AppState>,
    Query(query): Query<MfaQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let page = match MfaPage::open(&state, &headers, jar, query.tx.as_deref(), "mfa.html").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    if page.user.mfa_factors == 0 {
        return page.go_on_signed_in();
    }
    let factors = match mfa::status(&state.app, page.user.id).await {
        Ok(status) => status,
        Err(error) => return store_failure(&state, page.locale(), &error),
    };
    let passkey = match usable_passkeys(&state, &page).await {
        Ok(passkey) => passkey,
        Err(error) => return store_failure(&state, page.locale(), &error),
    };
    let sms = factors.sms_number(&page.user).is_some();
    let method = match query.method.as_deref() {
        Some("recovery") => "recovery",
        Some("sms") if sms => "sms_offer",
        Some("totp") if factors.totp().is_some() => "totp",
        Some("passkey") if passkey => "passkey",
        // Without a choice: a passkey (one touch, and phishing-resistant), else the app, else
        // a text message.
        _ if passkey => "passkey",
        _ if factors.totp().is_none() && sms => "sms_offer",
        _ => "totp",
    };
    let form = Challenge {
        method,
        notice: None,
        alert: None,
    };
    challenge(&state, &page, StatusCode::OK, form, &FieldErrors::new()).await
}

/// Whether the user can prove their second factor with one of their passkeys here (they have
/// one, and the server offers passkeys at its address).
async fn usable_passkeys(state: &AppState, page: &MfaPage) -> Result<bool, StoreError> {
    if passkeys::relying_party(&state.app).is_err() {
        return Ok(false);
    }
    passkeys::has_passkeys(&state.app, page.user.id).await
}

/// What the second-factor page shows: the form of `method` (`totp`, `recovery`, `sms` (a code
/// was sent), `sms_offer` (a button sends one), `passkey` (a button asks the browser for one)),
/// with a notice or an alert.
struct Challenge<'a> {
    method: &'a str,
    notice: Option<String>,
    alert: Option<String>,
}

async fn challenge(
    state: &AppState,
    page: &MfaPage,
    status: StatusCode,
    form: Challenge<'_>,
    errors: &FieldErrors,
) -> Response {
    let factors = match mfa::status(&state.app, page.user.id).await {
        Ok(status) => status,
        Err(error) => return store_failure(state, page.locale(), &error),
    };
    let sms = factors.sms_number(&page.user).map(mask_number);
    let passkey = match usable_passkeys(state, page).await {
        Ok(passkey) => passkey,
        Err(error) => return store_failure(state, page.locale(), &error),
    };
    let extra = context! {
        method => form.method,
        totp => factors.totp().is_some(),
        sms,
        passkey,
        recovery_codes => factors.recovery_codes_left > 0,
        notice => form.notice,
        client_name => page.page.tx.client_name,
    };
    page.render(state, "mfa.html", status, ("", errors, form.alert), extra)
}

/// `POST /mfa`: a code typed.
pub(crate) async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<MfaForm>,
) -> Response {
    let page = match MfaPage::open(&state, &headers, jar, form.tx.as_deref(), "mfa.html").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale();
    let method = match form.method.as_str() {
        "recovery" => "recovery",
        "sms" => "sms",
        _ => "totp",
    };
    let form_of = |alert: Option<String>| Challenge {
        method,
        notice: None,
        alert,
    };
    let mut errors = FieldErrors::new();
    if !page.page.csrf_ok(&form.csrf) {
        let alert = Some(text(locale, "error.csrf"));
        return challenge(
            &state,
            &page,
            StatusCode::FORBIDDEN,
            form_of(alert),
            &errors,
        )
        .await;
    }
    if form.code.trim().is_empty() {
        errors.insert("code".into(), text(locale, "error.required"));
        return challenge(
            &state,
            &page,
            StatusCode::BAD_REQUEST,
            form_of(None),
            &errors,
        )
        .await;
    }
    let answer = match method {
        "recovery" => Answer::RecoveryCode(&form.code),
        "sms" => Answer::Sms(&form.code),
        _ => Answer::Totp(&form.code),
    };
    let now = OffsetDateTime::now_utc();
    let client_id = page.page.tx.client_id.as_deref();
    let source = peer.ip().to_string();
    match mfa::prove(&state.app, &page.user, answer, &source, client_id, now).await {
        Ok(Proof::Proven { amr, .. }) => {
            let request = page.page.tx.transaction.as_ref().and_then(request_of);
            match mfa::complete(&state.app, &page.session, amr, request.as_ref(), now).await {
                Ok(_) => page.go_on_signed_in(),
                Err(error) => store_failure(&state, locale, &error),
            }
        }
        Ok(Proof::Wrong) => {
            let key = match method {
                "recovery" => "mfa.wrong_recovery_code",
                "sms" => "mfa.wrong_sms_code",
                _ => "mfa.wrong_code",
            };
            errors.insert("code".into(), text(locale, key));
            challenge(
                &state,
                &page,
                StatusCode::BAD_REQUEST,
                form_of(None),
                &errors,
            )
            .await
        }
        Ok(Proof::Expired) => {
            let form = Challenge {
                method: "sms_offer",
                notice: None,
                alert: Some(text(locale, "mfa.sms_expired")),
            };
            challenge(&state, &page, StatusCode::BAD_REQUEST, form, &errors).await
        }
        Ok(Proof::Throttled(wait)) => {
            let minutes = wait.as_secs().div_ceil(60).max(1).to_string();
            let alert = text_with(locale, "mfa.throttled", &[("minutes", &minutes)]);
            let status = StatusCode::TOO_MANY_REQUESTS;
            challenge(&state, &page, status, form_of(Some(alert)), &errors).await
        }
        Err(error) => failed(&state, locale, &error),
    }
}

/// `POST /mfa/sms`: texts a sign-in code to the user's phone.
pub(crate) async fn send_sms(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<MfaForm>,
) -> Response {
    let page = match MfaPage::open(&state, &headers, jar, form.tx.as_deref(), "mfa.html").await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let locale = page.locale();
    let mut shown = Challenge {
        method: "sms",
        notice: None,
        alert: None,
    };
    if !page.page.csrf_ok(&form.csrf) {
        shown.method = "sms_offer";
        shown.alert = Some(text(locale, "error.csrf"));
        return challenge(
            &state,
            &page,
            StatusCode::FORBIDDEN,
            shown,
            &FieldErrors::new(),
        )
        .await;
    }
    let now = OffsetDateTime::now_utc();
    let client = page.page.tx.client.as_ref();
    let status = match mfa::send_sms(&state.app, &page.user, client, locale, now).await {
        Ok(Sent::Sent { to, .. }) => {
            let number = mask_number(&to);
            shown.notice = Some(text_with(locale, "mfa.sms_sent", &[("number", &number)]));
            StatusCode::OK
        }
        Ok(Sent::TooSoon { retry_at }) => {
            let seconds = (retry_at - now).whole_seconds().max(1).to_string();
            let alert = text_with(locale, "mfa.sms_too_soon", &[("seconds", &seconds)]);
            shown.alert = Some(alert);
            StatusCode::TOO_MANY_REQUESTS
        }
        Ok(Sent::NotNeeded) => {
            return Redirect::to(&mfa_path(page.page.tx.id.as_deref())).into_response();
        }
        Err(error) => return store_failure(&state, locale, &error),
    };
    challenge(&state, &page, status, shown, &FieldErrors::new()).await
}

/// `GET /mfa/setup`: the QR code and secret of a new authenticator app.
pub(crate) async fn setup(
    State(state): State<AppState>,
    Query(query): Query<MfaQuery>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let template = "mfa_setup.html";
    let page = match MfaPage::open(&state, &headers, jar, query.tx.as_deref(), template).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    if let Some(response) = needs_second_factor(&state, &page) {
        return response;
    }
    setup_form(&state, &page, StatusCode::OK, &FieldErrors::new(), None).await
}

/// `POST /mfa/setup/sms`: sets up the account's verified phone number instead of an app (a
/// code is texted to it).
pub(crate) async fn setup_sms(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<MfaForm>,
) -> Response {
    let template = "mfa_setup.html";
    let page = match MfaPage::open(&state, &headers, jar, form.tx.as_deref(), template).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    if let Some(response) = needs_second_factor(&state, &page) {
        return response;
    }
    let locale = page.locale();
    let errors = FieldErrors::new();
    if !page.page.csrf_ok(&form.csrf) {
        let alert = Some(text(locale, "error.csrf"));
        return setup_form(&state, &page, StatusCode::FORBIDDEN, &errors, alert).await;
    }
    let now = OffsetDateTime::now_utc();
    let client = page.page.tx.client.as_ref();
    match mfa::start_sms(&state.app, &page.user, client, locale, now).await {
        Ok(Sent::Sent { to, .. }) => {
            let notice = text_with(locale, "mfa.sms_sent", &[("number", &mask_number(&to))]);
            sms_setup_form(&state, &page, StatusCode::OK, &errors, (Some(notice), None))
        }
        Ok(Sent::TooSoon { retry_at }) => {
            let seconds = (retry_at - now).whole_seconds().max(1).to_string();
            let alert = text_with(locale, "mfa.sms_too_soon", &[("seconds", &seconds)]);
            let status = StatusCode::TOO_MANY_REQUESTS;
            sms_setup_form(&state, &page, status, &errors, (None, Some(alert)))
        }
        Ok(Sent::NotNeeded) => setup_form(&state, &page, StatusCode::OK, &errors, None).await,
        Err(error) => store_failure(&state, locale, &error),
    }
}

/// The code form of a phone being set up.
fn sms_setup_form(
    state: &AppState,
    page: &MfaPage,
    status: StatusCode,
    errors: &FieldErrors,
    (notice, alert): (Option<String>, Option<String>),
) -> Response {
    let extra = context! {
        sms_stage => true,
        notice,
        required => page.page.tx.id.is_some(),
        client_name => page.page.tx.client_name,
        cancel => setup_cancel(page),
    };
    page.render(state, "mfa_setup.html", status, ("", errors, alert), extra)
}

/// Where "Cancel" on the set-up page goes: back to the account center, or to the
/// "protect your account" step that sent the user here (none when a client requires a factor).
fn setup_cancel(page: &MfaPage) -> Option<String> {
    match (&page.page.tx.id, &page.page.tx.transaction) {
        (None, _) => Some("/account/security".to_owned()),
        (Some(id), Some(tx)) if FlowState::of(&tx.state).current.is_some() => {
            Some(format!("/prompt?tx={}", urlencode(id)))
        }
        _ => None,
    }
}

/// A user who has a factor sets up another only after proving one in this session (otherwise
/// a stolen password could add the thief's app).
fn needs_second_factor(state: &AppState, page: &MfaPage) -> Option<Response> {
    let now = OffsetDateTime::now_utc();
    let max_age = state.app.settings().mfa.max_age;
    (page.user.mfa_factors > 0 && !mfa::session_mfa_fresh(&page.session, max_age, now))
        .then(|| Redirect::to(&mfa_path(page.page.tx.id.as_deref())).into_response())
}

fn mfa_path(tx: Option<&str>) -> String {
    match tx {
        Some(tx) => format!("/mfa?tx={}", urlencode(tx)),
        None => "/mfa".to_owned(),
    }
}

async fn setup_form(
    state: &AppState,
    page: &MfaPage,
    status: StatusCode,
    errors: &FieldErrors,
    alert: Option<String>,
) -> Response {
    let now = OffsetDateTime::now_utc();
    let locale = page.locale();
    let setup = match mfa::totp_setup(&state.app, &page.user, now).await {
        Ok(setup) => setup,
        Err(error) => return failed(state, locale, &error),
    };
    let qr = match qr_svg(&setup.uri) {
        Some(svg) => svg,
        None => return failed(state, locale, &MfaError::Sealed),
    };
    let sms_number = match mfa::status(&state.app, page.user.id).await {
        Ok(status) if status.sms().is_none() => page_sms_offer(&page.user),
        Ok(_) => None,
        Err(error) => return store_failure(state, locale, &error),
    };
    let extra = context! {
        sms_number,
        secret => setup.secret,
        qr => Value::from_safe_string(qr),
        required => page.page.tx.id.is_some(),
        client_name => page.page.tx.client_name,
        cancel => setup_cancel(page),
    };
    page.render(state, "mfa_setup.html", status, ("", errors, alert), extra)
}

/// The QR code of `uri` as an inline SVG drawing (no image service).
fn qr_svg(uri: &str) -> Option<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    let drawing = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // The drawing is the XML declaration, then the <svg> element: keep the element only, and
    // give it a name for screen readers.
    let start = drawing.find("<svg")?;
    Some(drawing[start..].replacen("<svg", "<svg role=\"img\" aria-labelledby=\"qr-title\"", 1))
}

/// `POST /mfa/setup`: the app's first code.
pub(crate) async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<MfaForm>,
) -> Response {
    let template = "mfa_setup.html";
    let page = match MfaPage::open(&state, &headers, jar, form.tx.as_deref(), template).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    if let Some(response) = needs_second_factor(&state, &page) {
        return response;
    }
    let locale = page.locale();
    let mut errors = FieldErrors::new();
    if !page.page.csrf_ok(&form.csrf) {
        let alert = Some(text(locale, "error.csrf"));
        return setup_form(&state, &page, StatusCode::FORBIDDEN, &errors, alert).await;
    }
    let now = OffsetDateTime::now_utc();
    let client_id = page.page.tx.client_id.as_deref();
    let sms = form.method == "sms";
    let confirmed = if sms {
        mfa::confirm_sms(&state.app, &page.user, &form.code, client_id, now).await
    } else {
        mfa::confirm_totp(&state.app, &page.user, &form.code, client_id, now).await
    };
    match confirmed {
        Ok(Enrolled::Done { recovery_codes }) => {
            // The code just typed proves the app: this session has passed a second factor.
            let request = page.page.tx.transaction.as_ref().and_then(request_of);
            let amr = if sms {
                accrete_oidc::mfa::AMR_SMS
            } else {
                accrete_oidc::mfa::AMR_OTP
            };
            if let Err(error) =
                mfa::complete(&state.app, &page.session, amr, request.as_ref(), now).await
            {
                return store_failure(&state, locale, &error);
            }
            // A "protect your account" step on screen is answered by this.
            if let Some(tx) = &page.page.tx.transaction
                && let Err(error) = prompts::second_factor_set_up(&state.app, tx, now).await
            {
                return store_failure(&state, locale, &error);
            }
            match recovery_codes {
                Some(codes) => show_codes(&state, &page, &codes, true),
                None => page.go_on(),
            }
        }
        Ok(Enrolled::WrongCode) if sms => {
            errors.insert("code".into(), text(locale, "mfa.wrong_sms_code"));
            sms_setup_form(
                &state,
                &page,
                StatusCode::BAD_REQUEST,
                &errors,
                (None, None),
            )
        }
        Ok(Enrolled::WrongCode) => {
            errors.insert("code".into(), text(locale, "mfa.setup.wrong_code"));
            setup_form(&state, &page, StatusCode::BAD_REQUEST, &errors, None).await
        }
        Ok(Enrolled::NoSetup) => {
            let alert = Some(text(locale, "mfa.setup.expired"));
            setup_form(&state, &page, StatusCode::CONFLICT, &errors, alert).await
        }
        Err(error) => failed(&state, locale, &error),
    }
}

/// The recovery codes, shown once, then on to `page.next()`.
fn show_codes(state: &AppState, page: &MfaPage, codes: &[String], first: bool) -> Response {
    let extra = context! {
        codes,
        first,
        next => page.next(),
    };
    let mut response = page.render(
        state,
        "mfa_recovery_codes.html",
        StatusCode::OK,
        ("", &FieldErrors::new(), None),
        extra,
    );
    // Shown once: not kept by the browser or a proxy.
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

/// Whether the session signed in (or passed a second factor) in the last ten minutes.
fn recent(session: &SsoSession, now: OffsetDateTime) -> bool {
    let last = session
        .mfa_at
        .map_or(session.auth_time, |m| m.max(session.auth_time));
    now - last <= RECENT_SIGN_IN
}

/// The form of the account center's second-factor actions.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct ActionForm {
    csrf: String,
}

/// Opens the account center's action: the signed-in user, a valid CSRF token, a recent
/// sign-in (else the sign-in page again, coming back to the security page) and, for a user with
/// factors, a second factor passed in this session.
async fn account_action(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    csrf: &str,
) -> Result<MfaPage, Response> {
    let page = MfaPage::open(state, headers, jar, None, "mfa_recovery_codes.html").await?;
    if !page.page.csrf_ok(csrf) {
        return Err(Redirect::to("/account/security").into_response());
    }
    if let Some(response) = needs_second_factor(state, &page) {
        return Err(response);
    }
    if !recent(&page.session, OffsetDateTime::now_utc()) {
        return Err(Redirect::to("/account/security?done=sign_in_again").into_response());
    }
    Ok(page)
}

/// `POST /account/security/recovery-codes`: new recovery codes, shown once.
pub(crate) async fn renew_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ActionForm>,
) -> Response {
    let page = match account_action(&state, &headers, jar, &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    if page.user.mfa_factors == 0 {
        return page.go_on();
    }
    let now = OffsetDateTime::now_utc();
    match mfa::renew_recovery_codes(&state.app, page.user.id, now).await {
        Ok(codes) => show_codes(&state, &page, &codes, false),
        Err(error) => store_failure(&state, page.locale(), &error),
    }
}

/// `POST /account/security/factors/{id}/remove`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ActionForm>,
) -> Response {
    let page = match account_action(&state, &headers, jar, &form.csrf).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return Redirect::to("/account/security").into_response();
    };
    let now = OffsetDateTime::now_utc();
    match mfa::remove(&state.app, page.user.id, id, now).await {
        Ok(_) => Redirect::to("/account/security?done=factor_removed").into_response(),
        Err(error) => store_failure(&state, page.locale(), &error),
    }
}

/// The masked verified number a user may set up for sign-in codes instead of an app.
fn page_sms_offer(user: &User) -> Option<String> {
    accrete_app::phone::verified_number(user).map(mask_number)
}
