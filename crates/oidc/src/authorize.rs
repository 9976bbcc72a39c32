//! The authorization endpoint: validating an authorization request (OpenID Connect Core §3.1.2,
//! RFC 6749 §4.1, RFC 7636) and building the redirect back to the client.
//!
//! Errors are only ever redirected once the client and an exactly registered redirect URI are
//! established; before that they are shown on a page ([`AuthorizeError::Show`]), so the endpoint
//! can never be used as an open redirector.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::{ClientView, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::params::{Params, split_list};
use crate::pkce::CodeChallenge;

/// A `prompt` value (OpenID Connect Core §3.1.2.1, and `create` from Initiating User Registration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// No page may be shown: answer at once or fail with `login_required` and friends.
    None,
    /// Re-authenticate even with an SSO session.
    Login,
    /// Ask for consent again.
    Consent,
    /// Let the user choose an account.
    SelectAccount,
    /// Show the sign-up page rather than the sign-in page.
    Create,
}

impl Prompt {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "none" => Some(Prompt::None),
            "login" => Some(Prompt::Login),
            "consent" => Some(Prompt::Consent),
            "select_account" => Some(Prompt::SelectAccount),
            "create" => Some(Prompt::Create),
            _ => None,
        }
    }
}

/// A validated authorization request: what the authorization transaction stores while the user
/// signs in and answers profiling steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: String,
    /// The registered redirect URI the request named.
    pub redirect_uri: String,
    /// Requested scopes the client may have, `openid` first, in request order otherwise.
    pub scopes: Vec<String>,
    /// Echoed back on the redirect.
    pub state: Option<String>,
    /// Copied into the ID token.
    pub nonce: Option<String>,
    /// The PKCE challenge (always present for public clients).
    pub code_challenge: Option<CodeChallenge>,
    /// `prompt` values.
    pub prompt: Vec<Prompt>,
    /// Maximum authentication age in seconds.
    pub max_age: Option<u64>,
    /// Pre-fills the sign-in form.
    pub login_hint: Option<String>,
    /// Preferred locales of the hosted pages, in order.
    pub ui_locales: Vec<String>,
    /// An ID token identifying the expected user (verified by the server with `jwt`).
    pub id_token_hint: Option<String>,
    /// Requested authentication context classes, in order (advisory).
    pub acr_values: Vec<String>,
    /// `connection`: sign in through this upstream provider at once, without the sign-in page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
}

impl AuthorizationRequest {
    /// Whether `prompt` contains `value`.
    pub fn has_prompt(&self, value: Prompt) -> bool {
        self.prompt.contains(&value)
    }

    /// Whether an SSO session authenticated at `auth_time` (Unix seconds) is fresh enough for this
    /// request at `now` (Unix seconds): not when `prompt=login`, nor when older than `max_age`.
    pub fn session_is_fresh_enough(&self, auth_time: i64, now: i64) -> bool {
        if self.has_prompt(Prompt::Login) {
            return false;
        }
        match self.max_age {
            Some(max_age) => {
                now.saturating_sub(auth_time) <= i64::try_from(max_age).unwrap_or(i64::MAX)
            }
            None => true,
        }
    }

    /// The redirect carrying an error decided later in the flow (`login_required`, `access_denied`,
    /// `interaction_required`, ...).
    pub fn error_redirect(&self, error: OAuthError) -> ErrorRedirect {
        ErrorRedirect {
            redirect_uri: self.redirect_uri.clone(),
            error,
            state: self.state.clone(),
        }
    }

    /// The success redirect: `code`, `state` when sent, and `iss` (RFC 9207).
    pub fn success_redirect(&self, code: &str, issuer: &str) -> String {
        let mut pairs = vec![("code", code)];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", issuer));
        append_query(&self.redirect_uri, &pairs)
    }
}

/// What the server knows about the browser's SSO session when an authorization request arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFacts {
    /// The signed-in user's subject.
    pub subject: String,
    /// When the user last authenticated with credentials (Unix seconds).
    pub auth_time: i64,
}

/// What to do with a validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// The session may be used: go on to the profiling decision, then issue a code.
    Proceed,
    /// Show the sign-in page (pre-filled with `login_hint`).
    SignIn,
    /// Show the sign-up page (`prompt=create`).
    SignUp,
    /// Answer the client with this error (for example `login_required` under `prompt=none`).
    Fail(ErrorRedirect),
}

impl AuthorizationRequest {
    /// Decides whether the SSO session can be used: it must exist, be fresh enough (`prompt=login`,
    /// `max_age`), and belong to the user named by the verified `id_token_hint`, if any
    /// (`hinted_subject`). Otherwise the user must sign in, which `prompt=none` forbids
    /// (`login_required`). Whether a profiling step is due (`interaction_required` under
    /// `prompt=none`) is decided after this, by the core.
    pub fn next_step(
        &self,
        session: Option<&SessionFacts>,
        hinted_subject: Option<&str>,
        now: i64,
    ) -> NextStep {
        let usable = session.is_some_and(|session| {
            self.session_is_fresh_enough(session.auth_time, now)
                && hinted_subject.is_none_or(|subject| subject == session.subject)
        });
        if usable {
            NextStep::Proceed
        } else if self.has_prompt(Prompt::None) {
            NextStep::Fail(self.error_redirect(OAuthError::new(
                ErrorCode::LoginRequired,
                "the user is not signed in",
            )))
        } else if self.has_prompt(Prompt::Create) {
            NextStep::SignUp
        } else {
            NextStep::SignIn
        }
    }

    /// The error for `prompt=none` when a required profiling step is due.
    pub fn interaction_required(&self) -> ErrorRedirect {
        self.error_redirect(OAuthError::new(
            ErrorCode::InteractionRequired,
            "the user must answer a required step",
        ))
    }
}

/// An error to be sent to the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// The registered redirect URI.
    pub redirect_uri: String,
    /// The error.
    pub error: OAuthError,
    /// The request's `state`, echoed back.
    pub state: Option<String>,
}

impl ErrorRedirect {
    /// The URL to redirect to: `error`, `error_description`, `state` when sent, and `iss`.
    pub fn to_url(&self, issuer: &str) -> String {
        let mut pairs = vec![("error", self.error.kind.as_str())];
        if !self.error.description.is_empty() {
            pairs.push(("error_description", &self.error.description));
        }
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        pairs.push(("iss", issuer));
        append_query(&self.redirect_uri, &pairs)
    }
}

/// Why an authorization request failed, and where the user should see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeError {
    /// The client or the redirect URI could not be established: show the error on a page and never
    /// redirect.
    #[error("authorization request refused (shown): {0}")]
    Show(OAuthError),
    /// Send the error to the client's registered redirect URI.
    #[error("authorization request refused (redirected): {}", .0.error)]
    Redirect(ErrorRedirect),
}

impl AuthorizeError {
    /// The error in either case.
    pub fn error(&self) -> &OAuthError {
        match self {
            AuthorizeError::Show(error) => error,
            AuthorizeError::Redirect(redirect) => &redirect.error,
        }
    }

    /// The error for a `client_id` that names no client.
    pub fn unknown_client() -> Self {
        AuthorizeError::Show(OAuthError::invalid_request("unknown client_id"))
    }
}

/// The raw parameters of an authorization request (GET query or POST form).
#[derive(Debug, Clone)]
pub struct AuthorizeParams {
    params: Params,
}

impl AuthorizeParams {
    /// Reads the parameters; nothing is validated yet.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        Self {
            params: Params::from_pairs(pairs, &[]),
        }
    }

    /// The `client_id` to look the client up with. Missing or repeated: shown, not redirected.
    pub fn client_id(&self) -> Result<&str, AuthorizeError> {
        if self.params.is_duplicated("client_id") {
            return Err(show("client_id is repeated"));
        }
        self.params
            .get("client_id")
            .ok_or_else(|| show("client_id is missing"))
    }

    /// Validates the request for `client` (looked up by [`AuthorizeParams::client_id`]).
    /// Unknown parameters are ignored.
    pub fn validate(&self, client: &ClientView) -> Result<AuthorizationRequest, AuthorizeError> {
        let p = &self.params;
        if self.client_id()? != client.id {
            return Err(show("client_id does not name this client"));
        }
        if p.is_duplicated("redirect_uri") {
            return Err(show("redirect_uri is repeated"));
        }
        let redirect_uri = p
            .get("redirect_uri")
            .ok_or_else(|| show("redirect_uri is missing"))?;
        if !client.has_redirect_uri(redirect_uri) || Url::parse(redirect_uri).is_err() {
            return Err(show("redirect_uri is not registered for this client"));
        }

        // From here on, errors go back to the client.
        let state = if p.is_duplicated("state") {
            None
        } else {
            p.get("state").map(str::to_owned)
        };
        let redirect = |kind: ErrorCode, description: &str| {
            AuthorizeError::Redirect(ErrorRedirect {
                redirect_uri: redirect_uri.to_owned(),
                error: OAuthError::new(kind, description),
                state: state.clone(),
            })
        };
        let invalid = |description: &str| redirect(ErrorCode::InvalidRequest, description);

        if let Some(name) = p.first_duplicate() {
            return Err(invalid(&format!("parameter {name} is repeated")));
        }
        if let Some(name) = p.too_long() {
            return Err(invalid(&format!("parameter {name} is too long")));
        }
        if p.get("request").is_some() {
            return Err(redirect(
                ErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if p.get("request_uri").is_some() {
            return Err(redirect(
                ErrorCode::RequestUriNotSupported,
                "request_uri is not supported",
            ));
        }
        match p.get("response_mode") {
            None | Some("query") => {}
            Some(_) => return Err(invalid("response_mode must be query")),
        }
        match p.get("response_type") {
            None => return Err(invalid("response_type is missing")),
            Some("code") => {}
            Some(_) => {
                return Err(redirect(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
        }
        if !client.allows_grant(GrantType::AuthorizationCode) {
            return Err(redirect(
                ErrorCode::UnauthorizedClient,
                "client may not use the authorization code flow",
            ));
        }

        let requested = split_list(p.get("scope").unwrap_or_default());
        if !requested.iter().any(|s| s == "openid") {
            return Err(redirect(
                ErrorCode::InvalidScope,
                "scope must include openid",
            ));
        }
        // Scopes the client may not have are dropped (RFC 6749 §3.3); `openid` comes first.
        let mut scopes = vec!["openid".to_owned()];
        scopes.extend(
            requested
                .into_iter()
                .filter(|s| s != "openid" && client.allows_scope(s)),
        );

        let code_challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
            (Some(challenge), method) => {
                Some(CodeChallenge::parse(challenge, method).map_err(|e| invalid(&e.description))?)
            }
            (None, Some(_)) => return Err(invalid("code_challenge_method without code_challenge")),
            (None, None) if client.public => {
                return Err(invalid(
                    "PKCE (code_challenge with S256) is required for public clients",
                ));
            }
            (None, None) => None,
        };

        let mut prompt = Vec::new();
        for value in split_list(p.get("prompt").unwrap_or_default()) {
            prompt.push(Prompt::parse(&value).ok_or_else(|| invalid("unknown prompt value"))?);
        }
        if prompt.contains(&Prompt::None) && prompt.len() > 1 {
            return Err(invalid("prompt=none cannot be combined with other values"));
        }

        let max_age = match p.get("max_age") {
            None => None,
            Some(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => Some(
                text.parse::<u64>()
                    .map_err(|_| invalid("max_age is too large"))?,
            ),
            Some(_) => return Err(invalid("max_age must be a non-negative integer")),
        };

        Ok(AuthorizationRequest {
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state,
            nonce: p.get("nonce").map(str::to_owned),
            code_challenge,
            prompt,
            max_age,
            login_hint: p.get("login_hint").map(str::to_owned),
            ui_locales: split_list(p.get("ui_locales").unwrap_or_default()),
            id_token_hint: p.get("id_token_hint").map(str::to_owned),
            acr_values: split_list(p.get("acr_values").unwrap_or_default()),
            connection: p
                .get("connection")
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        })
    }
}

fn show(description: &str) -> AuthorizeError {
    AuthorizeError::Show(OAuthError::invalid_request(description))
}

/// Appends query parameters to a registered URI, keeping its own query.
fn append_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.into()
        }
        // Registered URIs are validated at registration; this is only a fallback.
        Err(_) => {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            let separator = if uri.contains('?') { '&' } else { '?' };
            format!("{uri}{separator}{query}")
        }
    }
}

#[cfg(test)]
#[path = "authorize_tests.rs"]
mod tests;
