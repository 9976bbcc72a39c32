//! What the protocol needs to know of a connection, resolved from its spec by
//! [`ConnectionSpec::provider`](crate::spec::ConnectionSpec::provider): which protocol and
//! endpoints, how the client authenticates, which scopes, and the provider's quirks.

use std::fmt;

use url::Url;

/// A connection resolved for the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The connection's name.
    pub name: String,
    /// OpenID Connect from an issuer, or OAuth 2 with configured endpoints.
    pub protocol: Protocol,
    /// The client id registered at the provider.
    pub client_id: String,
    /// How Accrete authenticates at the token endpoint.
    pub client_auth: ClientAuth,
    /// The scopes asked for (with OpenID Connect, `openid` is always asked for).
    pub scopes: Vec<String>,
    /// The `response_mode` sent with the authorization request (`form_post` for Apple).
    pub response_mode: Option<String>,
    /// What the provider does differently.
    pub quirks: Quirks,
}

/// The protocol spoken with a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// OpenID Connect: endpoints and keys found by discovery from the issuer.
    Oidc {
        /// The issuer; its discovery document is at `{issuer}/.well-known/openid-configuration`.
        issuer: Url,
        /// Entra ID's issuers other than a tenant id (`common`, `organizations`, `consumers`, a
        /// domain): the discovery document's issuer has this shape,
        /// `https://login.microsoftonline.com/{tenantid}/v2.0`, either literally (several
        /// tenants: an ID token's `iss` is this with its own `tid`) or with one tenant's id (then
        /// an ID token's `iss` is exactly that).
        issuer_template: Option<String>,
        /// Hosts other than the issuer's where its discovery document may place the token,
        /// userinfo and JWKS endpoints (Google's `*.googleapis.com`, Microsoft Graph's
        /// userinfo). Any other host is refused.
        endpoint_hosts: Vec<String>,
    },
    /// OAuth 2 with configured endpoints and a JSON profile endpoint.
    OAuth2 {
        /// Where the browser is sent.
        authorization_endpoint: Url,
        /// Where the code is exchanged.
        token_endpoint: Url,
        /// Where the profile is read with the access token.
        userinfo_endpoint: Url,
    },
}

impl Protocol {
    /// The issuer, for OpenID Connect.
    pub fn issuer(&self) -> Option<&Url> {
        match self {
            Protocol::Oidc { issuer, .. } => Some(issuer),
            Protocol::OAuth2 { .. } => None,
        }
    }
}

/// How Accrete authenticates at the token endpoint.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client secret: `client_secret_basic`, or `client_secret_post` when the provider's
    /// discovery document lists only that.
    Secret(String),
    /// Sign in with Apple: `client_secret_post` with an ES256 JWT signed with this key.
    Apple {
        /// The Apple Developer team id (the JWT's `iss`).
        team_id: String,
        /// The key's id (the JWT header's `kid`).
        key_id: String,
        /// The key, PEM, PKCS#8.
        private_key_pem: String,
    },
    /// A public client: its `client_id` in the request body, PKCE only.
    None,
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::Secret(_) => f.debug_tuple("Secret").field(&"********").finish(),
            ClientAuth::Apple {
                team_id, key_id, ..
            } => f
                .debug_struct("Apple")
                .field("team_id", team_id)
                .field("key_id", key_id)
                .field("private_key_pem", &"********")
                .finish(),
            ClientAuth::None => f.write_str("None"),
        }
    }
}

/// What a provider does differently from the protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quirks {
    /// GitHub: the verified primary address is read from this endpoint (`GET /user/emails`);
    /// the profile's `email` is the public one, no proof of anything.
    pub github_emails: Option<Url>,
    /// Apple: the user's name arrives once, on the first sign-in, as the `user` form field of
    /// the callback, not in the ID token.
    pub apple_user_param: bool,
}
