//! What every credentials page shares: its transaction, locale, CSRF token and rendering.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use time::OffsetDateTime;

use accrete_app::federation::{self, PendingLink};
use accrete_app::settings::self_signup_for;

use super::csrf;
use super::errors::{PageError, store_failure, transaction_problem};
use super::i18n;
use super::transaction::{TransactionView, load_transaction, locale};
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
    /// The upstream providers the client offers, in its order: `(name, display name)`.
    pub connections: Vec<(String, String)>,
    /// Whether home-realm discovery may send an email to a provider.
    pub home_realms: bool,
    /// Whether the client offers signing in (and up) with a password.
    pub password: bool,
    /// Whether people may create their own account here (the client's setting, else the
    /// server's).
    pub self_signup: bool,
    /// A provider sign-in waiting for the person to prove the account with its email is theirs.
    pub pending_link: Option<PendingLink>,
    /// Whether the page offers signing in with a passkey.
    pub passkeys: bool,
    /// The email of the account this browser is already signed in to (the sign-in page outside
    /// a transaction links it to the account center).
    pub signed_in: Option<String>,
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
        let tx = match load_transaction(state, tx, now).await {
            Ok(tx) => tx,
            Err(problem) => {
                let locale = locale(&TransactionView::default(), headers);
                return Err(transaction_problem(state, locale, problem));
            }
        };
        let locale = locale(&tx, headers);
        let (jar, token) = csrf::token(jar, state.secure_cookies());
        CredentialsPage::of(state, tx, locale, (jar, token), template)
            .await
            .map_err(|error| store_failure(state, locale, &error))
    }

    /// The page of `client`'s sign-ins (`None`: outside any application) as a person sees it,
    /// outside any transaction and without a CSRF token: what the console's previews show.
    pub async fn preview(
        state: &AppState,
        client: Option<accrete_store::Client>,
        locale: &'static str,
        template: &'static str,
    ) -> Result<CredentialsPage, accrete_store::StoreError> {
        let tx = TransactionView {
            client_name: client.as_ref().map(|c| c.name.clone()),
            client_id: client.as_ref().map(|c| c.id.clone()),
            client,
            ..TransactionView::default()
        };
        let none = (CookieJar::new(), String::new());
        CredentialsPage::of(state, tx, locale, none, template).await
    }

    /// What the page offers in the transaction `tx`.
    async fn of(
        state: &AppState,
        tx: TransactionView,
        locale: &'static str,
        (jar, token): (CookieJar, String),
        template: &'static str,
    ) -> Result<CredentialsPage, accrete_store::StoreError> {
        let offered = federation::offered(&state.app, tx.client.as_ref()).await?;
        Ok(CredentialsPage {
            locale,
            jar,
            token,
            template,
            extra: minijinja::Value::UNDEFINED,
            home_realms: offered.iter().any(|c| !c.spec.domains.is_empty()),
            connections: offered
                .iter()
                .map(|c| (c.name().to_owned(), c.display_name()))
                .collect(),
            pending_link: tx.transaction.as_ref().and_then(federation::pending_link),
            signed_in: None,
            passkeys: accrete_app::passkeys::offered(&state.app, tx.client.as_ref()),
            // Proving an account to link a provider to it may take its password, even where
            // the application signs people in through providers only.
            password: federation::password_offered(tx.client.as_ref())
                || tx
                    .transaction
                    .as_ref()
                    .is_some_and(|t| federation::pending_link(t).is_some()),
            self_signup: self_signup_for(&state.app, tx.client.as_ref()),
            tx,
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
        let page = self.context(email, errors, alert, password_again);
        (
            self.jar.clone(),
            state
                .pages
                .render_for(self.tx.client_theme.as_ref(), status, self.template, page),
        )
            .into_response()
    }

    /// What the page's template is given (without the theme's branding).
    pub fn context(
        &self,
        email: &str,
        errors: &FieldErrors,
        alert: Option<String>,
        password_again: bool,
    ) -> Value {
        let values = context! { email };
        let page = form_context(self.locale, &self.token, &self.tx, values, errors, alert);
        let connections: Vec<Value> = self
            .connections
            .iter()
            .map(|(name, display_name)| context! { name, display_name })
            .collect();
        let pending_link = self.pending_link.as_ref().map(|p| {
            context! { provider => p.display_name, email => p.email }
        });
        context! {
            signup => self.extra.clone(),
            password_again,
            connections,
            password => self.password,
            self_signup => self.self_signup,
            home_realms => self.home_realms,
            pending_link,
            signed_in => self.signed_in,
            passkeys => self.passkeys,
            ..page
        }
    }

    /// Renders `template` (a page of its own, not the sign-in or sign-up form) with the form
    /// context — entered `values`, per-field `errors`, an `alert` — and the page's `extra`
    /// values, in the client's theme.
    pub fn render_form(
        &self,
        state: &AppState,
        template: &str,
        status: StatusCode,
        (values, errors, alert): (Value, &FieldErrors, Option<String>),
        extra: Value,
    ) -> Response {
        let base = form_context(self.locale, &self.token, &self.tx, values, errors, alert);
        let context = minijinja::value::merge_maps([base, extra]);
        (
            self.jar.clone(),
            state
                .pages
                .render_for(self.tx.client_theme.as_ref(), status, template, context),
        )
            .into_response()
    }

    /// The answer of the sign-up page when people may not create their own account: a plain
    /// sentence (403), with the ways on inside a transaction (sign in, back to the
    /// application).
    pub fn signup_closed(&self, state: &AppState) -> Response {
        let message = i18n::text(self.locale, "signup.closed");
        let mut page = PageError::new(state, StatusCode::FORBIDDEN, self.locale, message);
        if let Some(tx) = &self.tx.id {
            page = page.ways_on(tx, &self.token, self.tx.client_name.clone());
        }
        (self.jar.clone(), page).into_response()
    }

    /// The blank form (the email pre-filled from `login_hint`, or the pending link's).
    pub fn blank(&self, state: &AppState) -> Response {
        let hint = match &self.pending_link {
            Some(pending) => pending.email.clone(),
            None => self.tx.login_hint.clone().unwrap_or_default(),
        };
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

/// Per-field error messages of a form, keyed by input name.
pub(crate) type FieldErrors = BTreeMap<String, String>;

/// Context shared by the credentials forms.
pub(crate) fn form_context(
    locale: &str,
    csrf: &str,
    tx: &TransactionView,
    values: Value,
    errors: &FieldErrors,
    alert: Option<String>,
) -> Value {
    minijinja::context! {
        locale,
        csrf,
        tx => tx.id,
        client_name => tx.client_name,
        values,
        errors => Value::from_serialize(errors),
        alert,
    }
}

/// Form fields common to the credentials pages; every field optional so that a malformed post
/// gets a page with messages rather than a bare rejection.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct CredentialsForm {
    pub csrf: String,
    pub tx: Option<String>,
    pub email: String,
    pub password: String,
    pub action: Option<String>,
}

impl std::fmt::Display for CredentialsForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        write!(
            f,
            "CredentialsForm {{ email: {:?}, tx: {:?} }}",
            self.email, self.tx
        )
    }
}

/// Query of the GET credentials pages.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct TxQuery {
    pub tx: Option<String>,
}

/// Splits a sign-up post into the credentials form and the profile answers.
pub(crate) fn split_signup_post(
    pairs: Vec<(String, String)>,
) -> (CredentialsForm, accrete_core::RawAnswers) {
    let mut form = CredentialsForm::default();
    let mut raw = accrete_core::RawAnswers::new();
    for (name, value) in pairs {
        match name.as_str() {
            "csrf" => form.csrf = value,
            "tx" => form.tx = Some(value),
            "email" => form.email = value,
            "password" => form.password = value,
            "action" => form.action = Some(value),
            _ => raw.entry(name).or_default().push(value),
        }
    }
    (form, raw)
}
