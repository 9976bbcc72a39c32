//! What every page of the account center shares: the signed-in user and session (otherwise the
//! sign-in page), the application to go back to (`return_to`: only a redirect or post-logout URI
//! registered by a client, exactly; anything else is ignored), the navigation between sections,
//! the notice after a POST-redirect-GET, and rendering in the application's theme.

use accrete_store::{Client, SsoSession, StoreError, User};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use time::OffsetDateTime;

use super::super::csrf;
use super::super::errors::store_failure;
use super::super::i18n::text;
use super::super::templates::ClientTheme;
use super::super::transaction::{TransactionView, locale as page_locale, urlencode};
use crate::session;
use crate::state::AppState;

/// The sections, in the navigation's order: (id, path, title key).
const SECTIONS: [(&str, &str, &str); 4] = [
    ("profile", "/account", "account.nav.profile"),
    ("security", "/account/security", "account.nav.security"),
    ("sessions", "/account/sessions", "account.nav.sessions"),
    ("data", "/account/data", "account.nav.data"),
];

/// Notices a section may show after a redirect (`?done=<key>`): the keys it knows, so that a
/// link cannot put words on the page.
const NOTICES: [&str; 14] = [
    "password_changed",
    "session_ended",
    "others_ended",
    "app_revoked",
    "linked",
    "unlinked",
    "saved",
    "factor_removed",
    "sign_in_again",
    "phone_sent",
    "phone_verified",
    "passkey_added",
    "passkey_renamed",
    "passkey_removed",
];

/// Query parameters every section takes.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct AccountQuery {
    pub return_to: Option<String>,
    pub done: Option<String>,
    // The link and unlink outcomes of the ways to sign in (kept for old links).
    pub linked: Option<String>,
    pub unlinked: Option<String>,
    pub last_way_in: Option<String>,
}

impl AccountQuery {
    /// The notice and alert a section shows.
    pub(crate) fn message(&self, locale: &str) -> (Option<String>, Option<String>) {
        if self.last_way_in.is_some() {
            return (None, Some(text(locale, "account.last_way_in")));
        }
        let done = if self.linked.is_some() {
            Some("linked")
        } else if self.unlinked.is_some() {
            Some("unlinked")
        } else {
            self.done
                .as_deref()
                .and_then(|d| NOTICES.iter().copied().find(|n| *n == d))
        };
        (
            done.map(|d| text(locale, &format!("account.done.{d}"))),
            None,
        )
    }
}

/// The application the user came from, known by a URI it registered.
pub(crate) struct Back {
    pub uri: String,
    pub client: Client,
}

/// A page of the account center being answered.
pub(crate) struct AccountPage {
    pub user: User,
    pub session: SsoSession,
    pub locale: &'static str,
    pub back: Option<Back>,
    pub jar: CookieJar,
}

impl AccountPage {
    /// The signed-in user of this browser (else a redirect to the sign-in page), and the
    /// application to go back to.
    pub(crate) async fn open(
        state: &AppState,
        headers: &HeaderMap,
        jar: CookieJar,
        return_to: Option<&str>,
    ) -> Result<AccountPage, Response> {
        let locale = page_locale(&TransactionView::default(), headers);
        let now = OffsetDateTime::now_utc();
        let failed = |e: &StoreError| store_failure(state, locale, e);
        let session = match session::current(state, &jar, now).await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(Redirect::to("/login").into_response()),
            Err(error) => return Err(failed(&error)),
        };
        let user = match state.store.get_user(session.user_id).await {
            Ok(user) => user,
            Err(StoreError::NotFound) => return Err(Redirect::to("/login").into_response()),
            Err(error) => return Err(failed(&error)),
        };
        // A password alone does not open the account of someone who set up a second factor.
        let max_age = state.app.settings().mfa.max_age;
        if user.mfa_factors > 0 && !accrete_app::mfa::session_mfa_fresh(&session, max_age, now) {
            return Err(Redirect::to("/mfa").into_response());
        }
        let back = match return_to {
            Some(uri) => accrete_app::account::client_for_return(&state.app, uri)
                .await
                .map_err(|e| failed(&e))?
                .map(|client| Back {
                    uri: uri.to_owned(),
                    client,
                }),
            None => None,
        };
        Ok(AccountPage {
            user,
            session,
            locale,
            back,
            jar,
        })
    }

    /// `path` of the account center with this page's `return_to` (and `extra`, a query
    /// string without `?`).
    pub(crate) fn link(&self, path: &str, extra: &str) -> String {
        let mut query: Vec<String> = Vec::new();
        if !extra.is_empty() {
            query.push(extra.to_owned());
        }
        if let Some(back) = &self.back {
            query.push(format!("return_to={}", urlencode(&back.uri)));
        }
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", query.join("&"))
        }
    }

    /// A redirect (POST-redirect-GET) to `path` with the notice `done`.
    pub(crate) fn redirect(&self, path: &str, done: &str) -> Response {
        (
            self.jar.clone(),
            Redirect::to(&self.link(path, &format!("done={done}"))),
        )
            .into_response()
    }

    /// Renders `template` as section `current`, with `extra` (the section's own values) and
    /// what every section shows.
    pub(crate) fn render(
        self,
        state: &AppState,
        status: StatusCode,
        current: &str,
        template: &str,
        (notice, alert): (Option<String>, Option<String>),
        extra: Value,
    ) -> Response {
        let locale = self.locale;
        let nav: Vec<Value> = SECTIONS
            .iter()
            .map(|(id, path, title)| {
                context! {
                    href => self.link(path, ""),
                    title => text(locale, title),
                    current => *id == current,
                }
            })
            .collect();
        let back = self.back.as_ref().map(|b| {
            context! {
                uri => b.uri,
                client_id => b.client.id,
                logout => b.client.post_logout_redirect_uris.contains(&b.uri),
                label => text(locale, "federation.back_to").replace("{client}", &b.client.name),
            }
        });
        let return_to = self.back.as_ref().map(|b| b.uri.clone());
        let theme = self.back.as_ref().map(|b| ClientTheme::of(&b.client));
        let (jar, csrf) = csrf::token(self.jar, state.secure_cookies());
        let title = SECTIONS
            .iter()
            .find(|(id, _, _)| *id == current)
            .map(|(_, _, key)| text(locale, key))
            .unwrap_or_default();
        let context = context! {
            locale,
            csrf,
            email => self.user.email,
            nav,
            back,
            return_to,
            section => current,
            section_title => title,
            notice,
            alert,
            ..extra
        };
        (
            jar,
            state
                .pages
                .render_for(theme.as_ref(), status, template, context),
        )
            .into_response()
    }
}
