//! Our JWT access tokens (RFC 9068): signing them, and verifying a bearer token presented to
//! userinfo, introspection or the management API, including whether its grant was revoked.
//!
//! A user's access token carries its grant in the `jti` (`<grant id>.<random>`), so revoking the
//! grant (code reuse, refresh-token reuse, revocation, the user's own choice) makes every access
//! token issued under it invalid at once, without a token table. Deleting a client ends its
//! tokens too: its grants go with it, and every check asks the client cache whether the token's
//! client still exists (client-credentials tokens have no grant).

use std::sync::Arc;

use accrete_oidc::OAuthError;
use accrete_oidc::jwt::{self, AccessTokenClaims, TokenError};
use accrete_oidc::keys::{Alg, KeySet, SigningKey};
use time::OffsetDateTime;
use uuid::Uuid;

use super::error::{EndpointError, store_oauth_error};
use crate::state::AppState;

/// Access tokens are signed with ES256: compact, and cheap to sign and verify.
pub const ACCESS_TOKEN_ALG: Alg = Alg::ES256;

/// A verified access token of ours.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessClaims {
    /// The token's claims (`sub`, `client_id`, `scope`, `aud`, ...).
    pub claims: AccessTokenClaims,
    /// The grant it was issued under (user tokens); `None` for client credentials.
    pub grant_id: Option<Uuid>,
}

impl AccessClaims {
    /// The user the token acts for (`None` for a client-credentials token).
    pub fn user_id(&self) -> Option<Uuid> {
        self.grant_id
            .and_then(|_| Uuid::parse_str(&self.claims.sub).ok())
    }

    /// The client the token was issued to.
    pub fn client_id(&self) -> &str {
        &self.claims.client_id
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.claims.has_scope(scope)
    }
}

/// The `jti` of a token issued under `grant_id`.
pub(crate) fn grant_jti(grant_id: Uuid, random: &str) -> String {
    format!("{grant_id}.{random}")
}

fn grant_of(jti: &str) -> Option<Uuid> {
    jti.split_once('.')
        .and_then(|(grant, _)| Uuid::parse_str(grant).ok())
}

/// Verifies a bearer access token: signature, `kid`, `typ`, issuer and expiry, then that its
/// client still exists (through the client cache) and its grant (if any) is still live. Every
/// failure is `invalid_token` (with a Bearer challenge), except storage trouble
/// (`server_error` / `temporarily_unavailable`). A signature this node verified before with the
/// same keys is not verified again ([`super::VerifiedTokens`]).
pub async fn verify_access_token(
    state: &AppState,
    token: &str,
) -> Result<AccessClaims, OAuthError> {
    let now = OffsetDateTime::now_utc();
    let issuer = state.config.issuer();
    let keys = state
        .keys
        .current(state.store.as_ref())
        .await
        .map_err(|_| OAuthError::server_error("signing keys are unavailable"))?;
    let claims = match state.verified_tokens.get(&keys, token) {
        Some(claims) => {
            jwt::check_access_token_times(&claims, &issuer, now)?;
            claims
        }
        None => {
            let (keys, claims) = match jwt::verify_access_token(&keys, &issuer, token, now) {
                Err(TokenError::UnknownKey) => {
                    // Another node may have rotated: look again (rate-limited), then decide.
                    match state
                        .keys
                        .reload_for_unknown_kid(state.store.as_ref())
                        .await
                    {
                        Some(keys) => {
                            let claims = jwt::verify_access_token(&keys, &issuer, token, now)?;
                            (keys, claims)
                        }
                        None => return Err(TokenError::UnknownKey.into()),
                    }
                }
                other => (keys, other?),
            };
            state.verified_tokens.put(&keys, token, &claims);
            claims
        }
    };
    // A deleted client's tokens stop working: at once on this node, within the client cache's
    // time on the others (its users' tokens also lose their grant, deleted with the client).
    let client_exists = state
        .app
        .clients
        .holds_token_issued_at(state.store.as_ref(), &claims.client_id, claims.iat)
        .await
        .map_err(store_oauth_error)?;
    if !client_exists {
        return Err(OAuthError::invalid_token(
            "the client of this token no longer exists",
        ));
    }
    let grant_id = grant_of(&claims.jti);
    if let Some(grant_id) = grant_id {
        let revoked = state
            .store
            .is_grant_revoked(grant_id)
            .await
            .map_err(store_oauth_error)?;
        if revoked {
            return Err(OAuthError::invalid_token("the token has been revoked"));
        }
    }
    Ok(AccessClaims { claims, grant_id })
}

/// The key that signs for `alg` now.
pub(crate) fn signing_key(
    keys: &Arc<KeySet>,
    alg: Alg,
    now: OffsetDateTime,
) -> Result<&SigningKey, EndpointError> {
    keys.signing_key(alg, now)
        .ok_or_else(|| OAuthError::server_error(format!("no {alg} signing key")).into())
}

/// Signs an access token with the access-token key.
pub(crate) fn sign_access_token(
    keys: &Arc<KeySet>,
    claims: &AccessTokenClaims,
    now: OffsetDateTime,
) -> Result<String, EndpointError> {
    let key = signing_key(keys, ACCESS_TOKEN_ALG, now)?;
    Ok(jwt::sign_access_token(key, claims).map_err(OAuthError::from)?)
}

/// [`sign_access_token`] with the claims post-sign-in hooks added at the sign-in (none: the
/// same token).
pub(crate) fn sign_access_token_with(
    keys: &Arc<KeySet>,
    claims: &AccessTokenClaims,
    extra: Option<&serde_json::Map<String, serde_json::Value>>,
    now: OffsetDateTime,
) -> Result<String, EndpointError> {
    match extra.filter(|extra| !extra.is_empty()) {
        None => sign_access_token(keys, claims, now),
        Some(extra) => {
            let key = signing_key(keys, ACCESS_TOKEN_ALG, now)?;
            Ok(jwt::sign_access_token_with(key, claims, extra).map_err(OAuthError::from)?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_token_jti_names_its_grant_and_a_client_token_jti_names_none() {
        let grant = Uuid::now_v7();
        assert_eq!(grant_of(&grant_jti(grant, "abc")), Some(grant));
        assert_eq!(grant_of(&accrete_oidc::secrets::random_opaque()), None);
        assert_eq!(grant_of("not-a-uuid.abc"), None);
    }
}
