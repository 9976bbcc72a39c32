//! Signing ID tokens and JWT access tokens (RFC 9068), and verifying tokens this provider issued.
//!
//! Verification is strict: the header must name one of our algorithms (never `none`, never HMAC)
//! and a `kid` that is published, the algorithm must be the key's, the signature must hold, `iss`
//! must be ours, the `typ` must fit the kind of token (an access token cannot pass as an ID token
//! or the reverse), and `exp` and `nbf` are checked against the `now` passed in, with [`LEEWAY`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256, Sha512};
use time::{Duration, OffsetDateTime};

use crate::error::OAuthError;
use crate::keys::{Alg, KeySet, SigningKey};
use crate::secrets::random_opaque;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY: Duration = Duration::seconds(10);

/// The `typ` header of JWT access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Claims that the provider sets itself and that profile claims can never override.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "azp",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "nonce",
    "at_hash",
    "c_hash",
    "s_hash",
    "amr",
    "acr",
    "sid",
    "client_id",
    "scope",
    "cnf",
    "typ",
];

/// Why a token was refused (or could not be signed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a compact JWS, or its header or claims do not parse.
    #[error("token is malformed")]
    Malformed,
    /// The header names an algorithm we never sign with (including `none` and HMAC).
    #[error("token algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// The header has no `kid`, or names a key that is not published.
    #[error("token was not signed by a known key")]
    UnknownKey,
    /// The header's algorithm is not the algorithm of the key named by `kid`.
    #[error("token algorithm does not match its key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// The `typ` header does not fit (an access token used as an ID token, or the reverse), or a
    /// `crit` header asks for extensions we do not implement.
    #[error("token is of the wrong type")]
    WrongType,
    /// The `iss` claim is not this provider.
    #[error("token was issued by another issuer")]
    WrongIssuer,
    /// `exp` is past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` is still to come (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// Signing failed in the crypto library.
    #[error("token could not be signed: {0}")]
    Signing(String),
}

impl From<TokenError> for OAuthError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Signing(_) => OAuthError::server_error("token could not be signed"),
            other => OAuthError::invalid_token(other.to_string()),
        }
    }
}

/// Whether verification enforces `exp` (logout accepts an expired `id_token_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryCheck {
    /// Refuse tokens whose `exp` is past.
    Enforce,
    /// Accept expired tokens (the signature and issuer are still checked).
    Ignore,
}

/// The claims of an ID token (OpenID Connect Core §2), plus the profile claims released by scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject: the user's stable id.
    pub sub: String,
    /// Audience: the client id.
    pub aud: String,
    /// Authorized party: the client id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub azp: Option<String>,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not before (seconds since the epoch): we never set it, but honour it when present.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nbf: Option<i64>,
    /// When the user authenticated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// The `nonce` of the authorization request, when one was sent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nonce: Option<String>,
    /// Access token hash (left half of its digest).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub at_hash: Option<String>,
    /// Authentication methods (`pwd`, ...).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub amr: Option<Vec<String>>,
    /// Authentication context class.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
    /// The SSO session id (for logout).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    /// Profile claims (name, email, ...), types preserved.
    #[serde(flatten)]
    pub profile: Map<String, Value>,
}

impl IdTokenClaims {
    /// Claims for `subject` and `client_id`, issued at `now` and valid for `lifetime`; `azp` is set
    /// to the client id. Set the optional claims on the returned value.
    pub fn new(
        issuer: &str,
        subject: &str,
        client_id: &str,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Self {
        Self {
            iss: issuer.to_owned(),
            sub: subject.to_owned(),
            aud: client_id.to_owned(),
            azp: Some(client_id.to_owned()),
            exp: (now + lifetime).unix_timestamp(),
            iat: now.unix_timestamp(),
            nbf: None,
            auth_time: None,
            nonce: None,
            at_hash: None,
            amr: None,
            acr: None,
            sid: None,
            profile: Map::new(),
        }
    }

    /// Claims for the code issued to `request`: `nonce` copied from the request, `auth_time` (always
    /// sent; required when `max_age` was used), and `at_hash` of the access token issued alongside
    /// for the key's algorithm.
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per claim source of an ID token"
    )]
    pub fn for_authorization(
        issuer: &str,
        subject: &str,
        request: &crate::authorize::AuthorizationRequest,
        auth_time: i64,
        access_token: Option<&str>,
        alg: Alg,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Self {
        let mut claims = Self::new(issuer, subject, &request.client_id, now, lifetime);
        claims.nonce = request.nonce.clone();
        claims.auth_time = Some(auth_time);
        claims.at_hash = access_token.map(|token| at_hash(alg, token));
        claims
    }

    /// Adds profile claims, dropping any that would override a protocol claim.
    #[must_use]
    pub fn with_profile(mut self, claims: Map<String, Value>) -> Self {
        self.profile
            .extend(claims.into_iter().filter(|(name, _)| !is_reserved(name)));
        self
    }
}

/// Whether a claim name belongs to the protocol (see [`RESERVED_CLAIMS`]).
pub fn is_reserved(name: &str) -> bool {
    RESERVED_CLAIMS.contains(&name)
}

/// A `aud` value: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience (serialized as a string).
    One(String),
    /// Several audiences (serialized as an array).
    Many(Vec<String>),
}

impl Audience {
    /// A single string for one audience, an array for several.
    pub fn from_list(mut list: Vec<String>) -> Self {
        if list.len() == 1 {
            Audience::One(list.remove(0))
        } else {
            Audience::Many(list)
        }
    }

    /// Whether `audience` is among them.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }

    /// The audiences as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Audience::One(one) => vec![one.clone()],
            Audience::Many(many) => many.clone(),
        }
    }
}

/// The claims of a JWT access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The user, or the client id for client credentials.
    pub sub: String,
    /// The resource servers the token is for.
    pub aud: Audience,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not before (seconds since the epoch): we never set it, but honour it when present.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nbf: Option<i64>,
    /// Unique token id (for revocation lists).
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space separated.
    #[serde(default)]
    pub scope: String,
    /// When the user authenticated (absent for client credentials).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// The SSO session id, when a user signed in.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
}

impl AccessTokenClaims {
    /// Claims with a fresh random `jti`, issued at `now` and valid for `lifetime`.
    pub fn new(
        issuer: &str,
        subject: &str,
        client_id: &str,
        audience: Audience,
        scopes: &[String],
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Self {
        Self {
            iss: issuer.to_owned(),
            sub: subject.to_owned(),
            aud: audience,
            exp: (now + lifetime).unix_timestamp(),
            iat: now.unix_timestamp(),
            nbf: None,
            jti: random_opaque(),
            client_id: client_id.to_owned(),
            scope: scopes.join(" "),
            auth_time: None,
            sid: None,
        }
    }

    /// The granted scopes as a list.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
}

/// Signs an ID token with `key` (header `alg`, `kid`, `typ: JWT`).
pub fn sign_id_token(key: &SigningKey, claims: &IdTokenClaims) -> Result<String, TokenError> {
    sign(key, claims, "JWT")
}

/// Signs a JWT access token with `key` (header `typ: at+jwt`).
pub fn sign_access_token(
    key: &SigningKey,
    claims: &AccessTokenClaims,
) -> Result<String, TokenError> {
    sign(key, claims, ACCESS_TOKEN_TYP)
}

/// Signs a JWT access token with claims of its own beside the standard ones (RFC 9068 §2.2.3:
/// the claims post-sign-in hooks add). A name of the protocol's, or of the access token's own
/// claims (`client_id`, `scope`), is left out.
pub fn sign_access_token_with(
    key: &SigningKey,
    claims: &AccessTokenClaims,
    extra: &Map<String, Value>,
) -> Result<String, TokenError> {
    const OWN: &[&str] = &["client_id", "scope", "auth_time", "sid"];
    let mut all = serde_json::to_value(claims).map_err(|e| TokenError::Signing(e.to_string()))?;
    if let Some(map) = all.as_object_mut() {
        for (name, value) in extra {
            if !is_reserved(name) && !OWN.contains(&name.as_str()) {
                map.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
    }
    sign(key, &all, ACCESS_TOKEN_TYP)
}

fn sign<T: Serialize>(key: &SigningKey, claims: &T, typ: &str) -> Result<String, TokenError> {
    let mut header = Header::new(key.alg().jwt());
    header.typ = Some(typ.to_owned());
    header.kid = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, claims, key.encoding_key())
        .map_err(|e| TokenError::Signing(e.to_string()))
}

/// The `at_hash` for `access_token` signed with `alg`: base64url of the left half of its digest
/// (SHA-256 for RS256 and ES256, SHA-512 for EdDSA with Ed25519).
pub fn at_hash(alg: Alg, access_token: &str) -> String {
    match alg {
        Alg::RS256 | Alg::ES256 => {
            let digest = Sha256::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..16])
        }
        Alg::EdDSA => {
            let digest = Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
    }
}

/// Verifies an ID token we issued (for example an `id_token_hint`).
pub fn verify_id_token(
    keys: &KeySet,
    issuer: &str,
    token: &str,
    now: OffsetDateTime,
    expiry: ExpiryCheck,
) -> Result<IdTokenClaims, TokenError> {
    let claims = verify::<IdTokenClaims>(keys, token, now, TokenKind::Id)?;
    check_times(issuer, &claims.iss, claims.exp, claims.nbf, now, expiry)?;
    Ok(claims)
}

/// Verifies a JWT access token we issued (userinfo bearer tokens, introspection).
pub fn verify_access_token(
    keys: &KeySet,
    issuer: &str,
    token: &str,
    now: OffsetDateTime,
) -> Result<AccessTokenClaims, TokenError> {
    let claims = verify::<AccessTokenClaims>(keys, token, now, TokenKind::Access)?;
    check_access_token_times(&claims, issuer, now)?;
    Ok(claims)
}

/// The checks of [`verify_access_token`] that depend on the time (and the issuer), for claims
/// whose signature was verified earlier: `iss`, `exp` and `nbf` at `now`.
pub fn check_access_token_times(
    claims: &AccessTokenClaims,
    issuer: &str,
    now: OffsetDateTime,
) -> Result<(), TokenError> {
    check_times(
        issuer,
        &claims.iss,
        claims.exp,
        claims.nbf,
        now,
        ExpiryCheck::Enforce,
    )
}

fn is_access_token_typ(typ: &str) -> bool {
    typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || typ.eq_ignore_ascii_case("application/at+jwt")
}

/// Checks `iss`, then `exp` (unless ignored) and `nbf` (always: a token that is not valid yet is
/// refused even where an expired one is accepted), both with [`LEEWAY`].
fn check_times(
    issuer: &str,
    iss: &str,
    exp: i64,
    nbf: Option<i64>,
    now: OffsetDateTime,
    expiry: ExpiryCheck,
) -> Result<(), TokenError> {
    if iss != issuer {
        return Err(TokenError::WrongIssuer);
    }
    if nbf.is_some_and(|nbf| nbf > now.unix_timestamp().saturating_add(LEEWAY.whole_seconds())) {
        return Err(TokenError::NotYetValid);
    }
    if expiry == ExpiryCheck::Enforce
        && exp.saturating_add(LEEWAY.whole_seconds()) <= now.unix_timestamp()
    {
        return Err(TokenError::Expired);
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Id,
    Access,
}

fn verify<T: DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    now: OffsetDateTime,
    kind: TokenKind,
) -> Result<T, TokenError> {
    // An unknown `alg` (such as `none`) makes the header itself fail to parse.
    let header = jsonwebtoken::decode_header(token).map_err(|error| match error.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => TokenError::UnsupportedAlgorithm,
        _ => TokenError::Malformed,
    })?;
    let alg = Alg::from_jwt(header.alg).ok_or(TokenError::UnsupportedAlgorithm)?;
    let is_access = header.typ.as_deref().is_some_and(is_access_token_typ);
    if header.crit.is_some() || is_access != (kind == TokenKind::Access) {
        return Err(TokenError::WrongType);
    }
    let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
    let key = keys
        .verification_key(kid, now)
        .ok_or(TokenError::UnknownKey)?;
    if key.alg() != alg {
        return Err(TokenError::AlgorithmMismatch);
    }
    let mut validation = Validation::new(alg.jwt());
    // Time and issuer are checked by the caller against the `now` it was given.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data =
        jsonwebtoken::decode::<T>(token, key.decoding_key(), &validation).map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            match error.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::UnsupportedAlgorithm
                }
                _ => TokenError::Malformed,
            }
        })?;
    Ok(data.claims)
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;
