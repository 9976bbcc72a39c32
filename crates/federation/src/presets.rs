//! The presets' fixed values: issuers, endpoints and the hosts their discovery documents name.

/// Google's issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// Where Google's discovery document places its token, userinfo and JWKS endpoints.
pub const GOOGLE_ENDPOINT_HOSTS: [&str; 3] = [
    "oauth2.googleapis.com",
    "openidconnect.googleapis.com",
    "www.googleapis.com",
];
/// Entra ID's issuers, by tenant.
pub const MICROSOFT_ISSUER: &str = "https://login.microsoftonline.com/{tenant}/v2.0";
/// Where Entra ID's discovery document places its userinfo endpoint (Microsoft Graph).
pub const MICROSOFT_ENDPOINT_HOSTS: [&str; 1] = ["graph.microsoft.com"];
/// The tenant of a Microsoft connection that names none.
pub const MICROSOFT_DEFAULT_TENANT: &str = "common";
/// The placeholder of Entra ID's multi-tenant issuer.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";
/// Apple's issuer.
pub const APPLE_ISSUER: &str = "https://appleid.apple.com";
/// GitLab.com's issuer.
pub const GITLAB_ISSUER: &str = "https://gitlab.com";
/// GitHub's authorization endpoint.
pub const GITHUB_AUTHORIZATION_ENDPOINT: &str = "https://github.com/login/oauth/authorize";
/// GitHub's token endpoint.
pub const GITHUB_TOKEN_ENDPOINT: &str = "https://github.com/login/oauth/access_token";
/// GitHub's profile endpoint; the email addresses are at `{this}/emails`.
pub const GITHUB_USER_ENDPOINT: &str = "https://api.github.com/user";
