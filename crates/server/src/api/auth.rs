//! Bearer authentication of the API (RFC 6750): who is calling, with which scopes.
//!
//! Back ends call with client-credentials tokens (the subject is the client itself) and need a
//! scope per area; applications call `/api/v1/me/...` with a user's own access token.

use std::sync::{Arc, OnceLock};

use accrete_oidc::error::ErrorCode;
use accrete_oidc::jwt::AccessTokenClaims;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use uuid::Uuid;

use super::problem::ApiError;
use crate::oauth::AccessClaims;
use crate::state::AppState;

/// The scopes of the management API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Read users and their history.
    UsersRead,
    /// Create, change and delete users.
    UsersWrite,
    /// Read the policy, its draft and versions; simulate and preview.
    PolicyRead,
    /// Change the draft, publish, roll back.
    PolicyWrite,
    /// Read clients.
    ClientsRead,
    /// Create, change and delete clients.
    ClientsWrite,
    /// Read completion statistics.
    StatsRead,
    /// Read connections to upstream identity providers (never their secrets).
    ConnectionsRead,
    /// Create, change, delete and test connections to upstream identity providers.
    ConnectionsWrite,
    /// Read the audit log and the administrators.
    AuditRead,
    /// Grant and revoke administrator roles.
    AdminsWrite,
    /// Read the server's theme.
    ThemeRead,
    /// Change the server's theme.
    ThemeWrite,
    /// Read webhook endpoints and their deliveries (never their secrets).
    WebhooksRead,
    /// Create, change, delete webhook endpoints, rotate their secrets, replay deliveries.
    WebhooksWrite,
    /// Ask whether profiling has a step due for a user of an identity provider Accrete is the
    /// companion of (docs/companion.md).
    CompanionCheck,
}

impl Scope {
    /// The scope's name in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::PolicyRead => "policy:read",
            Scope::PolicyWrite => "policy:write",
            Scope::ClientsRead => "clients:read",
            Scope::ClientsWrite => "clients:write",
            Scope::StatsRead => "stats:read",
            Scope::ConnectionsRead => "connections:read",
            Scope::ConnectionsWrite => "connections:write",
            Scope::AuditRead => "audit:read",
            Scope::AdminsWrite => "admins:write",
            Scope::ThemeRead => "theme:read",
            Scope::ThemeWrite => "theme:write",
            Scope::WebhooksRead => "webhooks:read",
            Scope::WebhooksWrite => "webhooks:write",
            Scope::CompanionCheck => "companion:check",
        }
    }
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The client the token was issued to.
    pub client_id: String,
    /// The signed-in user, for a user's token; `None` for client credentials.
    pub user_id: Option<Uuid>,
    /// The peer address (for the audit log).
    pub ip: Option<String>,
    claims: AccessTokenClaims,
}

impl Caller {
    /// A back end (client credentials) holding `scope`; otherwise 403.
    pub fn require(&self, scope: Scope) -> Result<&Caller, ApiError> {
        if self.user_id.is_some() {
            return Err(ApiError::Forbidden(
                "the management API takes client-credentials tokens, not a user's token".into(),
            ));
        }
        if !self.claims.has_scope(scope.as_str()) {
            return Err(ApiError::InsufficientScope(scope.as_str()));
        }
        Ok(self)
    }

    /// The signed-in user of a user's token; otherwise 403.
    pub fn user(&self) -> Result<Uuid, ApiError> {
        self.user_id.ok_or_else(|| {
            ApiError::Forbidden("/api/v1/me takes the signed-in user's access token".into())
        })
    }

    /// The provenance of values this caller writes through the management API.
    pub fn source(&self) -> String {
        format!("api:{}", self.client_id)
    }

    /// Who makes a change through the API, for the audit log.
    pub fn actor(&self) -> accrete_app::admins::Actor {
        accrete_app::admins::Actor::client(&self.client_id, self.ip.clone())
    }
}

/// Where the CORS layer learns which client a `/me` request came from (set once the token is
/// verified), so that only that client's allowed origins are echoed.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(pub Arc<OnceLock<String>>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::MissingToken)?;
        let value = value.to_str().map_err(|_| {
            ApiError::Unauthenticated("the Authorization header is not text".into())
        })?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(ApiError::Unauthenticated(
                    "use the Bearer authentication scheme".into(),
                ));
            }
        };
        if token.is_empty() {
            return Err(ApiError::MissingToken);
        }
        let verified = verify(state, token).await?;
        let mut caller = caller_of(verified.claims, verified.grant_id.is_some())?;
        caller.ip = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        if let Some(slot) = parts.extensions.get::<CallerSlot>() {
            let _ = slot.0.set(caller.client_id.clone());
        }
        Ok(caller)
    }
}

/// A user's token is issued under a grant and names the user; client credentials have neither.
fn caller_of(claims: AccessTokenClaims, under_grant: bool) -> Result<Caller, ApiError> {
    let user_id = if !under_grant {
        None
    } else {
        Some(
            Uuid::parse_str(&claims.sub)
                .map_err(|_| ApiError::Unauthenticated("the token's subject is unknown".into()))?,
        )
    };
    Ok(Caller {
        client_id: claims.client_id.clone(),
        user_id,
        ip: None,
        claims,
    })
}

/// Verifies a bearer access token with the provider's keys (and that its grant is live), and
/// that it was issued for this server: a token whose `aud` names only another resource server
/// (a client-credentials token requested for its API) is refused here.
async fn verify(state: &AppState, token: &str) -> Result<AccessClaims, ApiError> {
    let verified = crate::oauth::verify_access_token(state, token)
        .await
        .map_err(|error| match error.kind {
            ErrorCode::TemporarilyUnavailable => ApiError::Unavailable(error.description),
            ErrorCode::ServerError => ApiError::Internal(error.description),
            _ => ApiError::Unauthenticated(error.description),
        })?;
    let issuer = state.config.issuer();
    if !verified.claims.aud.contains(&issuer) {
        return Err(ApiError::Unauthenticated(format!(
            "the token's audience does not include {issuer}; request a token with audience={issuer}"
        )));
    }
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;
    use accrete_oidc::jwt::Audience;
    use time::OffsetDateTime;

    fn claims(sub: &str, client: &str, scopes: &[&str]) -> AccessTokenClaims {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        AccessTokenClaims::new(
            "https://id.example",
            sub,
            client,
            Audience::from_list(vec![client.to_owned()]),
            &scopes,
            OffsetDateTime::now_utc(),
            time::Duration::minutes(5),
        )
    }

    #[test]
    fn a_client_credentials_token_needs_the_scope_of_the_route() {
        let caller = caller_of(claims("backend", "backend", &["users:read"]), false).unwrap();
        assert!(caller.require(Scope::UsersRead).is_ok());
        assert!(matches!(
            caller.require(Scope::UsersWrite),
            Err(ApiError::InsufficientScope("users:write"))
        ));
        assert!(caller.user().is_err());
    }

    #[test]
    fn a_users_token_reaches_me_but_not_the_management_api() {
        let id = Uuid::now_v7();
        let caller = caller_of(claims(&id.to_string(), "shop", &["users:read"]), true).unwrap();
        assert_eq!(caller.user().unwrap(), id);
        assert!(matches!(
            caller.require(Scope::UsersRead),
            Err(ApiError::Forbidden(_))
        ));
    }
}
