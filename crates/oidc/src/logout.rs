//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `id_token_hint` (verified, expiry
//! ignored), `client_id`, a `post_logout_redirect_uri` that must be registered for the client, and
//! `state` echoed back. Errors are shown on a page, never redirected.

use time::OffsetDateTime;
use url::Url;

use crate::client::ClientView;
use crate::error::OAuthError;
use crate::jwt::{ExpiryCheck, IdTokenClaims, verify_id_token};
use crate::keys::KeySet;
use crate::params::{Params, split_list};

/// The parameters of a logout request (GET query or POST form).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogoutParams {
    /// A previously issued ID token naming the user and the client.
    pub id_token_hint: Option<String>,
    /// Where to send the user afterwards (must be registered).
    pub post_logout_redirect_uri: Option<String>,
    /// Echoed back on the redirect.
    pub state: Option<String>,
    /// The client, when no hint is sent (or to confirm it).
    pub client_id: Option<String>,
    /// A hint about the user (advisory).
    pub logout_hint: Option<String>,
    /// Locales of the confirmation page.
    pub ui_locales: Vec<String>,
}

/// Parses the parameters; repeated parameters are `invalid_request`.
pub fn parse_logout_request(pairs: &[(String, String)]) -> Result<LogoutParams, OAuthError> {
    let params = Params::from_pairs(pairs, &[]);
    if let Some(name) = params.first_duplicate() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} is repeated"
        )));
    }
    let get = |name: &str| params.get(name).map(str::to_owned);
    Ok(LogoutParams {
        id_token_hint: get("id_token_hint"),
        post_logout_redirect_uri: get("post_logout_redirect_uri"),
        state: get("state"),
        client_id: get("client_id"),
        logout_hint: get("logout_hint"),
        ui_locales: split_list(params.get("ui_locales").unwrap_or_default()),
    })
}

/// Verifies an `id_token_hint`: signature, `kid` and issuer as for any ID token we issued, but an
/// expired hint is accepted (it usually is expired by logout time).
pub fn verify_id_token_hint(
    keys: &KeySet,
    issuer: &str,
    hint: &str,
    now: OffsetDateTime,
) -> Result<IdTokenClaims, OAuthError> {
    verify_id_token(keys, issuer, hint, now, ExpiryCheck::Ignore)
        .map_err(|error| OAuthError::invalid_request(format!("id_token_hint is invalid: {error}")))
}

impl LogoutParams {
    /// The client to look up: named by the verified hint (its `aud`) or by `client_id`. When both
    /// are present they must agree.
    pub fn client_to_look_up<'a>(
        &'a self,
        hint: Option<&'a IdTokenClaims>,
    ) -> Result<Option<&'a str>, OAuthError> {
        match (hint, self.client_id.as_deref()) {
            (Some(hint), Some(client_id)) if hint.aud != client_id => Err(
                OAuthError::invalid_request("client_id does not match the id_token_hint"),
            ),
            (Some(hint), _) => Ok(Some(hint.aud.as_str())),
            (None, client_id) => Ok(client_id),
        }
    }
}

/// What the server should do after ending the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutOutcome {
    /// The client the logout came from, when known.
    pub client_id: Option<String>,
    /// The user named by the hint: end only a session of this user (or ask for confirmation).
    pub subject: Option<String>,
    /// The session named by the hint's `sid`, when present.
    pub session_id: Option<String>,
    /// Where to redirect (the registered URI with `state`); `None` shows a "signed out" page.
    pub redirect: Option<String>,
}

/// Decides a logout once the hint is verified and the client looked up (with
/// [`LogoutParams::client_to_look_up`]). A `post_logout_redirect_uri` is honoured only when it is
/// registered for that client, by exact match.
pub fn resolve_logout(
    params: &LogoutParams,
    hint: Option<&IdTokenClaims>,
    client: Option<&ClientView>,
) -> Result<LogoutOutcome, OAuthError> {
    let expected_client = params.client_to_look_up(hint)?;
    if let (Some(expected), Some(client)) = (expected_client, client)
        && expected != client.id
    {
        return Err(OAuthError::invalid_request(
            "client does not match the logout request",
        ));
    }
    let redirect = match (&params.post_logout_redirect_uri, client) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "post_logout_redirect_uri needs an id_token_hint or a client_id",
            ));
        }
        (Some(uri), Some(client)) => {
            if !client.has_post_logout_redirect_uri(uri) {
                return Err(OAuthError::invalid_request(
                    "post_logout_redirect_uri is not registered for this client",
                ));
            }
            let mut url = Url::parse(uri)
                .map_err(|_| OAuthError::invalid_request("post_logout_redirect_uri is invalid"))?;
            if let Some(state) = &params.state {
                url.query_pairs_mut().append_pair("state", state);
            }
            Some(String::from(url))
        }
    };
    Ok(LogoutOutcome {
        client_id: client.map(|c| c.id.clone()),
        subject: hint.map(|h| h.sub.clone()),
        session_id: hint.and_then(|h| h.sid.clone()),
        redirect,
    })
}

#[cfg(test)]
#[path = "logout_tests.rs"]
mod tests;
