//! The hosted pages people see: sign-in and sign-up, the prompt page of progressive profiling,
//! the account page, the home page and error pages, with their templates, themes, translations
//! and CSRF tokens.
//!
//! Pages translate between a browser and the use-cases of `accrete-app`: a handler reads the
//! form, calls a use-case and renders its outcome. The ground floor (`templates`, `theme`,
//! `i18n`, `csrf`, `errors`, `transaction`) imports nothing of the pages above it.

mod account;
mod assets;
pub(crate) mod credentials;
pub mod csrf;
mod email;
pub(crate) mod errors;
mod federation;
mod form;
pub mod i18n;
mod prompt;
mod recovery;
mod signin;
mod signup;
pub mod templates;
pub mod theme;
pub(crate) mod transaction;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// The routes of the hosted pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(assets::home))
        .route("/assets/accrete.css", get(assets::stylesheet))
        .route("/assets/theme.css", get(assets::server_theme))
        .route("/assets/theme/{file}", get(assets::client_theme))
        .route("/login", get(signin::show).post(signin::submit))
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
        .route(
            "/account/security/password",
            post(account::security::change_password),
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
        .route("/verify-email", get(email::show).post(email::submit))
        .route("/verify-email/resend", post(email::resend))
        .route("/account/email", get(email::account).post(email::change))
        .route(
            "/account/email/confirm",
            get(email::confirm_link).post(email::confirm),
        )
}
