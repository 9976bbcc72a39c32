//! OpenID Connect state: clients, signing keys, single sign-on sessions, authorization
//! transactions, grants, authorization codes and refresh tokens.
//!
//! Cookie values, codes and refresh tokens are never stored: callers pass a hash of them
//! (`hash` fields), so a database leak gives nothing usable.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// A registered application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    /// The `client_id`.
    pub id: String,
    /// Keyed hash of the client secret; `None` for public clients.
    #[serde(skip_serializing)]
    pub secret_hash: Option<String>,
    /// Display name.
    pub name: String,
    /// Registered redirect URIs (exact match).
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed grant types (`authorization_code`, `refresh_token`, `client_credentials`).
    pub grant_types: Vec<String>,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
    /// Audiences of access tokens issued by client credentials.
    pub audience: Vec<String>,
    /// A public client (no secret, PKCE required).
    pub public: bool,
    /// Algorithm of its ID tokens (`RS256`, `ES256`, `EdDSA`).
    pub id_token_alg: String,
    /// Web origins allowed by CORS.
    pub allowed_origins: Vec<String>,
    /// Theme of the hosted pages for this client (a JSON object).
    pub theme: Value,
    /// The names of the upstream connections offered to its users; `None`: every enabled one.
    #[serde(default)]
    pub connections: Option<Vec<String>>,
    /// Whether its users may sign in (and up) with a password.
    #[serde(default = "yes")]
    pub password_signin: bool,
    /// Whether people may create their own account through it; `None`: the server's setting.
    #[serde(default)]
    pub self_signup: Option<bool>,
    /// Whether a new account's email address is verified (`off`, `optional`, `required`);
    /// `None`: the server's setting.
    #[serde(default)]
    pub email_verification: Option<String>,
    /// When a second factor is asked: `off`, `if_enrolled` or `required`; `None`: the
    /// server's setting.
    #[serde(default)]
    pub mfa: Option<String>,
    /// When registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `true`, the default of [`Client::password_signin`] when absent.
fn yes() -> bool {
    true
}

/// A signing key as stored: the private key is encrypted by the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSigningKey {
    /// Key id (`kid`).
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// The private key, encrypted (sealed) by the caller.
    #[serde(skip_serializing)]
    pub private_key: Vec<u8>,
    /// The public key as a JWK.
    pub public_jwk: Value,
    /// When generated.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// From when it may sign (published before).
    #[serde(with = "time::serde::rfc3339")]
    pub active_from: OffsetDateTime,
    /// From when it is neither used nor published.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
}

/// The longest User-Agent kept with a session, in bytes.
pub const USER_AGENT_MAX_BYTES: usize = 512;

/// A single sign-on session, keyed by a hash of its cookie value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SsoSession {
    /// Hash of the cookie value. Never shown: pages and forms name a session by its `id`.
    pub hash: String,
    /// The session's name outside the server (the account center's sessions page): random, and
    /// unrelated to the cookie.
    pub id: Uuid,
    /// Whose session.
    pub user_id: Uuid,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the user last authenticated with credentials (`auth_time`).
    #[serde(with = "time::serde::rfc3339")]
    pub auth_time: OffsetDateTime,
    /// Last use.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    /// When it stops being valid.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whether it was opened by a credentialed sign-in.
    pub credentialed: bool,
    /// How the user authenticated, as OpenID Connect's `amr` names it (`["pwd"]`: a password).
    pub amr: Vec<String>,
    /// The authentication context class reached (`acr`), if any.
    pub acr: Option<String>,
    /// The browser's `User-Agent` when the session was created (at most
    /// [`USER_AGENT_MAX_BYTES`]; see [`truncate_user_agent`]).
    pub user_agent: Option<String>,
    /// The address the session was created from.
    pub ip: Option<String>,
    /// When the session last passed a second factor (`None`: never).
    pub mfa_at: Option<OffsetDateTime>,
}

/// A `User-Agent` as a session keeps it: at most [`USER_AGENT_MAX_BYTES`], cut on a character
/// boundary; `None` when empty.
pub fn truncate_user_agent(user_agent: &str) -> Option<String> {
    let user_agent = user_agent.trim();
    let mut end = user_agent.len().min(USER_AGENT_MAX_BYTES);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    let kept = &user_agent[..end];
    (!kept.is_empty()).then(|| kept.to_owned())
}

/// An application that holds live refresh tokens of a user (one entry per client: its live
/// grants together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizedApplication {
    /// The client.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// The scopes granted (every live grant's, sorted, once each).
    pub scopes: Vec<String>,
    /// When the first of its live grants was given.
    #[serde(with = "time::serde::rfc3339")]
    pub first_used_at: OffsetDateTime,
    /// When it last received a refresh token (at a sign-in or a refresh).
    #[serde(with = "time::serde::rfc3339")]
    pub last_used_at: OffsetDateTime,
}

/// An authorization request in progress (sign-in, prompts, consent), kept in the database so
/// it survives restarts and works across nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthTransaction {
    /// Time-ordered id, carried in the hosted pages' URLs.
    pub id: Uuid,
    /// The requesting client.
    pub client_id: String,
    /// The validated authorization request.
    pub request: Value,
    /// The user, once authenticated.
    pub user_id: Option<Uuid>,
    /// Hash of the SSO session used, once known.
    pub session_hash: Option<String>,
    /// State of the profiling flow (prompts shown, answers pending, ...).
    pub state: Value,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When a code was issued for it; a completed transaction cannot complete again.
    #[serde(with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    /// Bumped on every update; updates name the version they are based on.
    pub version: i64,
}

/// What is needed to start an authorization transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAuthTransaction {
    /// The requesting client.
    pub client_id: String,
    /// The validated authorization request.
    pub request: Value,
    /// Initial flow state (`null` means an empty object).
    pub state: Value,
    /// Now.
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A transaction that expired without completing (the server emits `prompt.abandoned`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpiredTransaction {
    /// Its id.
    pub id: Uuid,
    /// The requesting client.
    pub client_id: String,
    /// The user, if one had authenticated.
    pub user_id: Option<Uuid>,
    /// Its last flow state.
    pub state: Value,
}

/// What a user allowed a client: ties an authorization code to the tokens issued from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// Time-ordered id; also the refresh-token family.
    pub id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// The client.
    pub client_id: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When revoked: every token of the grant is dead from then on.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// An authorization code, keyed by a hash of the code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthorizationCode {
    /// Hash of the code.
    pub hash: String,
    /// The grant it belongs to.
    pub grant_id: Uuid,
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub user_id: Uuid,
    /// The redirect URI it was sent to (must match at the token endpoint).
    pub redirect_uri: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The request's nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// When the user authenticated.
    #[serde(with = "time::serde::rfc3339")]
    pub auth_time: OffsetDateTime,
    /// Anything else the token endpoint needs (session id, claims requested, locale...).
    pub context: Value,
    /// When issued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When it was exchanged.
    #[serde(with = "time::serde::rfc3339::option")]
    pub consumed_at: Option<OffsetDateTime>,
}

/// What is needed to issue an authorization code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAuthorizationCode {
    /// Hash of the code.
    pub hash: String,
    /// The grant it belongs to.
    pub grant_id: Uuid,
    /// The redirect URI it is sent to.
    pub redirect_uri: String,
    /// The request's nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// When the user authenticated.
    #[serde(with = "time::serde::rfc3339")]
    pub auth_time: OffsetDateTime,
    /// Anything else the token endpoint needs.
    pub context: Value,
    /// Now.
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A code issued at the end of an authorization, written in one database transaction: the
/// authorization transaction completed (exactly once), a new grant, and the code under it.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeIssue {
    /// The authorization transaction to complete; `None` when the code is issued by the
    /// request that started the authorization, which stored none.
    pub transaction: Option<Uuid>,
    /// Who is granted what.
    pub user_id: Uuid,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// The code; its `grant_id` is replaced by the new grant's.
    pub code: NewAuthorizationCode,
}

/// The outcome of exchanging an authorization code.
// Returned once per token request and matched at once: boxing would only cost ergonomics.
#[expect(
    clippy::large_enum_variant,
    reason = "returned once per token request and matched at once"
)]
#[derive(Debug, Clone, PartialEq)]
pub enum CodeConsumption {
    /// First use: the code, now marked consumed.
    Fresh(AuthorizationCode),
    /// The code was already exchanged; its grant has been revoked (with every token issued
    /// from it).
    AlreadyUsed {
        /// The revoked grant.
        grant_id: Uuid,
    },
    /// No such code, it expired, or its grant was revoked.
    Unknown,
}

/// The successor of a refresh token being rotated. Grant, user and scopes are the parent's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshSuccessor {
    /// Hash of the new token.
    pub hash: String,
    /// The client presenting the parent: a parent issued to another client is not rotated.
    pub client_id: String,
    /// When the new token expires if unused (its idle limit), unless its grant's end
    /// (`grant_lifetime`) comes first.
    pub expires_at: OffsetDateTime,
    /// How long after its grant was created (the code, the first sign-in) the grant's refresh
    /// tokens end, however often they are rotated.
    pub grant_lifetime: time::Duration,
}

/// A refresh token, keyed by a hash of the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshToken {
    /// Hash of the token.
    pub hash: String,
    /// The grant (token family).
    pub grant_id: Uuid,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: Uuid,
    /// Scopes it may obtain.
    pub scopes: Vec<String>,
    /// When issued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// When it was rotated (used).
    #[serde(with = "time::serde::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// What is needed to issue a refresh token. Its client and user are those of the grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewRefreshToken {
    /// Hash of the token.
    pub hash: String,
    /// The grant (token family).
    pub grant_id: Uuid,
    /// Scopes it may obtain.
    pub scopes: Vec<String>,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The outcome of using a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is now marked used; this is the new one, stored.
    Rotated(RefreshToken),
    /// The token had already been used: its whole grant is now revoked.
    Reused {
        /// The revoked grant.
        grant_id: Uuid,
    },
    /// No such token.
    Unknown,
    /// The token expired.
    Expired,
    /// The token or its grant was revoked.
    Revoked,
    /// The token was issued to another client than the one presenting it (left untouched).
    OtherClient,
}
