//! What a spec means for the protocol: its preset resolved into a [`Provider`].

use url::Url;

use super::check::{UrlKind, check_url, is_guid};
use super::{ConnectionSpec, Preset, SpecProblem};
use crate::presets::{
    APPLE_ISSUER, GITHUB_AUTHORIZATION_ENDPOINT, GITHUB_TOKEN_ENDPOINT, GITHUB_USER_ENDPOINT,
    GITLAB_ISSUER, GOOGLE_ENDPOINT_HOSTS, GOOGLE_ISSUER, MICROSOFT_DEFAULT_TENANT,
    MICROSOFT_ENDPOINT_HOSTS, MICROSOFT_ISSUER, TENANT_PLACEHOLDER,
};
use crate::provider::{ClientAuth, Protocol, Provider, Quirks};

impl ConnectionSpec {
    /// Resolves the preset into what the protocol needs. Refuses the spec with its first
    /// problem (see [`ConnectionSpec::check`], whose other problems an administrator sees when
    /// writing it); Apple's key is not test-signed here, only when checked.
    pub fn provider(&self) -> Result<Provider, SpecProblem> {
        if let Some(problem) = self.problems(false).into_iter().next() {
            return Err(problem);
        }
        let protocol = match self.preset {
            Preset::Oidc => self.oidc(None, &[])?,
            Preset::Google => self.oidc(Some(GOOGLE_ISSUER), &GOOGLE_ENDPOINT_HOSTS)?,
            Preset::Apple => self.oidc(Some(APPLE_ISSUER), &[])?,
            Preset::GitLab => self.oidc(Some(GITLAB_ISSUER), &[])?,
            Preset::Microsoft => self.microsoft()?,
            Preset::GitHub => Protocol::OAuth2 {
                authorization_endpoint: self.endpoint(
                    "authorization_endpoint",
                    &self.authorization_endpoint,
                    GITHUB_AUTHORIZATION_ENDPOINT,
                )?,
                token_endpoint: self.endpoint(
                    "token_endpoint",
                    &self.token_endpoint,
                    GITHUB_TOKEN_ENDPOINT,
                )?,
                userinfo_endpoint: self.endpoint(
                    "userinfo_endpoint",
                    &self.userinfo_endpoint,
                    GITHUB_USER_ENDPOINT,
                )?,
            },
            Preset::OAuth2 => Protocol::OAuth2 {
                authorization_endpoint: self.endpoint(
                    "authorization_endpoint",
                    &self.authorization_endpoint,
                    "",
                )?,
                token_endpoint: self.endpoint("token_endpoint", &self.token_endpoint, "")?,
                userinfo_endpoint: self.endpoint(
                    "userinfo_endpoint",
                    &self.userinfo_endpoint,
                    "",
                )?,
            },
        };

        let quirks = match (self.preset, &protocol) {
            (
                Preset::GitHub,
                Protocol::OAuth2 {
                    userinfo_endpoint, ..
                },
            ) => Quirks {
                github_emails: Some(emails_endpoint(userinfo_endpoint)),
                apple_user_param: false,
            },
            (Preset::Apple, _) => Quirks {
                github_emails: None,
                apple_user_param: true,
            },
            _ => Quirks::default(),
        };

        let client_auth = match (&self.apple, &self.client_secret) {
            (Some(key), _) if self.preset == Preset::Apple => ClientAuth::Apple {
                team_id: key.team_id.clone(),
                key_id: key.key_id.clone(),
                private_key_pem: key.private_key.clone(),
            },
            (_, Some(secret)) => ClientAuth::Secret(secret.clone()),
            (_, None) => ClientAuth::None,
        };

        Ok(Provider {
            name: self.name.clone(),
            protocol,
            client_id: self.client_id.clone(),
            client_auth,
            scopes: self.scopes_or_default(),
            response_mode: (self.preset == Preset::Apple).then(|| "form_post".to_owned()),
            quirks,
        })
    }

    /// An OpenID Connect provider at the spec's issuer, else the preset's.
    fn oidc(
        &self,
        default: Option<&str>,
        endpoint_hosts: &[&str],
    ) -> Result<Protocol, SpecProblem> {
        let (issuer, endpoint_hosts) = self.resolved_issuer(default, endpoint_hosts)?;
        Ok(Protocol::Oidc {
            issuer,
            issuer_template: None,
            endpoint_hosts,
        })
    }

    /// Entra ID: the tenant's issuer; a template of issuers unless the tenant is an id (a
    /// domain's discovery document names its tenant's id, `common`'s the template itself).
    fn microsoft(&self) -> Result<Protocol, SpecProblem> {
        let tenant = self.tenant.as_deref().unwrap_or(MICROSOFT_DEFAULT_TENANT);
        let default = MICROSOFT_ISSUER.replace("{tenant}", tenant);
        let (issuer, endpoint_hosts) =
            self.resolved_issuer(Some(&default), &MICROSOFT_ENDPOINT_HOSTS)?;
        let issuer_template = if is_guid(tenant) {
            None
        } else {
            tenant_template(&issuer, tenant)
        };
        Ok(Protocol::Oidc {
            issuer,
            issuer_template,
            endpoint_hosts,
        })
    }

    /// The spec's issuer, else the preset's; the preset's `endpoint_hosts` only go with the
    /// preset's own issuer.
    fn resolved_issuer(
        &self,
        default: Option<&str>,
        endpoint_hosts: &[&str],
    ) -> Result<(Url, Vec<String>), SpecProblem> {
        let (issuer, hosts) = match (&self.issuer, default) {
            (Some(issuer), _) => (issuer.as_str(), &[][..]),
            (None, Some(default)) => (default, endpoint_hosts),
            (None, None) => {
                return Err(SpecProblem::new("issuer", "required", "issuer is required"));
            }
        };
        let issuer = check_url("issuer", issuer, UrlKind::Issuer)?;
        Ok((
            issuer,
            hosts.iter().map(|host| (*host).to_owned()).collect(),
        ))
    }

    /// A configured endpoint, else the preset's (`problems` has made sure `oauth2` has all).
    fn endpoint(
        &self,
        path: &str,
        value: &Option<String>,
        default: &str,
    ) -> Result<Url, SpecProblem> {
        let value = value.as_deref().unwrap_or(default);
        check_url(path, value, UrlKind::Endpoint)
    }
}

/// The issuer with its tenant path segment replaced by [`TENANT_PLACEHOLDER`]; `None` when the
/// issuer has no such segment (an overridden issuer of another shape is matched exactly).
fn tenant_template(issuer: &Url, tenant: &str) -> Option<String> {
    let path = issuer.path();
    let segments: Vec<&str> = path.split('/').collect();
    let position = segments.iter().position(|segment| *segment == tenant)?;
    let replaced: Vec<&str> = segments
        .iter()
        .enumerate()
        .map(|(index, segment)| {
            if index == position {
                TENANT_PLACEHOLDER
            } else {
                segment
            }
        })
        .collect();
    let origin = issuer.origin().ascii_serialization();
    Some(format!("{origin}{}", replaced.join("/")))
}

/// GitHub's email addresses: `{user endpoint}/emails`.
fn emails_endpoint(user: &Url) -> Url {
    let mut emails = user.clone();
    let path = format!("{}/emails", user.path().trim_end_matches('/'));
    emails.set_path(&path);
    emails
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_replaces_the_tenant_segment() {
        let issuer = Url::parse("https://login.microsoftonline.com/common/v2.0").unwrap();
        assert_eq!(
            tenant_template(&issuer, "common").as_deref(),
            Some("https://login.microsoftonline.com/{tenantid}/v2.0")
        );
        let local = Url::parse("http://127.0.0.1:4000/organizations/v2.0").unwrap();
        assert_eq!(
            tenant_template(&local, "organizations").as_deref(),
            Some("http://127.0.0.1:4000/{tenantid}/v2.0")
        );
        assert_eq!(tenant_template(&local, "common"), None);
    }

    #[test]
    fn github_emails_are_under_the_user_endpoint() {
        let user = Url::parse("https://ghe.example/api/v3/user").unwrap();
        assert_eq!(
            emails_endpoint(&user).as_str(),
            "https://ghe.example/api/v3/user/emails"
        );
    }
}
