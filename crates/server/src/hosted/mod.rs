//! The hosted pages people see: sign-in and sign-up, the prompt page of progressive profiling,
//! the account page, the home page and error pages, with their templates, themes, translations
//! and CSRF tokens.
//!
//! Pages translate between a browser and the use-cases of `accrete-app`: a handler reads the
//! form, calls a use-case and renders its outcome. The ground floor (`templates`, `theme`,
//! `i18n`, `csrf`, `errors`, `transaction`) imports nothing of the pages above it.

pub(crate) mod account;
mod assets;
pub(crate) mod companion;
pub(crate) mod credentials;
pub mod csrf;
mod email;
pub(crate) mod errors;
mod federation;
pub(crate) mod form;
pub mod i18n;
mod mfa;
mod passkey;
pub(crate) mod prompt;
mod recovery;
mod signin;
mod signup;
pub mod templates;
pub mod theme;
pub(crate) mod transaction;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;

/// Middleware of the routes that render pages: the pages show the server's effective theme
/// (this node's cache, re-read every few seconds); if the store cannot say, the last one read.
pub(crate) async fn current_theme(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    match state.app.theme().await {
        Ok(theme) => state.pages.use_theme(theme),
        Err(error) => {
            tracing::warn!(%error, "the server's theme could not be read; the last one read is shown")
        }
    }
    next.run(req).await
}

/// The routes of the hosted pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(assets::home))
        .route("/assets/accrete.css", get(assets::stylesheet))
        .route("/assets/theme.css", get(assets::server_theme))
        .route("/assets/theme/{file}", get(assets::client_theme))
        .route("/assets/passkeys.js", get(passkey::script))
        .route("/assets/companion.js", get(companion::script))
        .route("/companion/{name}/start", get(companion::start))
        .route("/companion/{name}/jwks", get(companion::jwks))
        .route("/login", get(signin::show).post(signin::submit))
        .route("/passkeys/login", post(passkey::sign_in))
        .route("/passkeys/login/options", post(passkey::sign_in_options))
        .route("/login/cancel", post(federation::cancel))
        .route("/login/{connection}", get(federation::start))
        .route(
            "/login/{connection}/callback",
            get(federation::callback).post(federation::callback_post),
        )
        .route(
            "/account/connections/{connection}/link",
            post(federation::link),
        )
        .route(
            "/account/connections/{connection}/unlink",
            post(federation::unlink),
        )
        .route("/signup", get(signup::show).post(signup::submit))
        .route("/prompt", get(prompt::show).post(prompt::submit))
        .route(
            "/account",
            get(account::profile::show).post(account::profile::submit),
        )
        .route("/account/security", get(account::security::show))
        .route("/account/phone", get(account::phone::show))
        .route("/account/phone/send", post(account::phone::send))
        .route("/account/phone/verify", post(account::phone::verify))
        .route(
            "/account/security/password",
            post(account::security::change_password),
        )
        .route("/account/security/passkeys", post(account::passkeys::add))
        .route(
            "/account/security/passkeys/options",
            post(account::passkeys::add_options),
        )
        .route(
            "/account/security/passkeys/{id}/rename",
            post(account::passkeys::rename),
        )
        .route(
            "/account/security/passkeys/{id}/remove",
            post(account::passkeys::remove),
        )
        .route(
            "/account/sessions",
            get(account::sessions::show).post(account::sessions::submit),
        )
        .route("/account/data", get(account::data::show))
        .route("/account/data/export", get(account::data::export))
        .route("/account/data/delete", post(account::data::delete))
        .route(
            "/forgot-password",
            get(recovery::forgot).post(recovery::ask),
        )
        .route(
            "/reset-password",
            get(recovery::show_reset).post(recovery::reset),
        )
        .route("/mfa", get(mfa::show).post(mfa::submit))
        .route("/mfa/setup", get(mfa::setup).post(mfa::confirm))
        .route("/mfa/sms", post(mfa::send_sms))
        .route("/mfa/passkey", post(passkey::second_factor))
        .route("/mfa/passkey/options", post(passkey::second_factor_options))
        .route("/mfa/setup/sms", post(mfa::setup_sms))
        .route("/account/security/recovery-codes", post(mfa::renew_codes))
        .route("/account/security/factors/{id}/remove", post(mfa::remove))
        .route("/verify-email", get(email::show).post(email::submit))
        .route("/verify-email/resend", post(email::resend))
        .route("/account/email", get(email::account).post(email::change))
        .route(
            "/account/email/confirm",
            get(email::confirm_link).post(email::confirm),
        )
}
