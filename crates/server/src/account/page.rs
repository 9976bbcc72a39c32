//! What every credentials page shares: its transaction, locale, CSRF token and rendering.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use minijinja::context;
use time::OffsetDateTime;

use super::{FieldErrors, TransactionView};
use crate::csrf;
use crate::state::AppState;

/// A credentials page (sign-in, sign-up) being served or posted to.
pub(crate) struct CredentialsPage {
    /// The authorization transaction it belongs to, if any.
    pub tx: TransactionView,
    /// The page locale.
    pub locale: &'static str,
    /// The browser's cookies, with the CSRF cookie set.
    pub jar: CookieJar,
    token: String,
    template: &'static str,
    /// Extra template context (the sign-up page's profile fields, under `signup`).
    pub extra: minijinja::Value,
}

impl CredentialsPage {
    /// Loads the transaction named by `tx` and the browser's CSRF token; a gone transaction is
    /// answered with its error page.
    pub async fn open(
        state: &AppState,
        headers: &HeaderMap,
        jar: CookieJar,
        tx: Option<&str>,
        template: &'static str,
        now: OffsetDateTime,
    ) -> Result<CredentialsPage, Response> {
        let tx = match super::load_transaction(state, tx, now).await {
            Ok(tx) => tx,
            Err(problem) => {
                let locale = super::locale(&TransactionView::default(), headers);
                return Err(super::transaction_problem(state, locale, problem));
            }
        };
        let locale = super::locale(&tx, headers);
        let (jar, token) = csrf::token(jar, state.secure_cookies());
        Ok(CredentialsPage {
            tx,
            locale,
            jar,
            token,
            template,
            extra: minijinja::Value::UNDEFINED,
        })
    }

    /// Whether the posted CSRF token matches this browser's.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        csrf::verify(&self.jar, Some(submitted))
    }

    /// Renders the form again after a post, with the entered email, per-field errors and an
    /// optional alert. The password is never sent back, so the page says to enter it again.
    pub fn render(
        &self,
        state: &AppState,
        status: StatusCode,
        email: &str,
        errors: &FieldErrors,
        alert: Option<String>,
    ) -> Response {
        self.page(state, status, email, errors, alert, true)
    }

    fn page(
        &self,
        state: &AppState,
        status: StatusCode,
        email: &str,
        errors: &FieldErrors,
        alert: Option<String>,
        password_again: bool,
    ) -> Response {
        let values = context! { email };
        let page = super::form_context(self.locale, &self.token, &self.tx, values, errors, alert);
        let page = context! { signup => self.extra.clone(), password_again, ..page };
        (
            self.jar.clone(),
            state
                .pages
                .render_for(self.tx.client_theme.as_ref(), status, self.template, page),
        )
            .into_response()
    }

    /// The blank form (the email pre-filled from `login_hint`).
    pub fn blank(&self, state: &AppState) -> Response {
        let hint = self.tx.login_hint.clone().unwrap_or_default();
        self.page(
            state,
            StatusCode::OK,
            &hint,
            &FieldErrors::new(),
            None,
            false,
        )
    }
}
