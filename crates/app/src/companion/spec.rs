//! A companion as the operator declares it (a `[[companions]]` table of the configuration
//! file; docs/companion.md), its checks at start, and what a transaction of a companion keeps
//! in its `state`. Imports nothing of the `App`, which holds the companions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use accrete_oidc::companion::{
    CompanionKey, EcKeys, SharedSecret, StartClaims, start_kid, verify_start, verify_start_with,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::jwks::{RemoteKeys, VerifyFailure};
use super::management_spec::ManagementSpec;
use super::outbound::Outbound;
use crate::clients::CLIENT_CACHE_TTL;
use crate::webhooks::settings::{WebhookSettings, check_transport};

/// Which identity provider a companion works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CompanionKind {
    /// Auth0: a post-login Action (examples/auth0/); the continue URL is the tenant's.
    #[default]
    Auth0,
    /// Any provider following docs/companion.md.
    Generic,
}

/// How a companion's tokens are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CompanionAlgorithm {
    /// A shared secret both ways (Auth0's `encodeToken` / `validateToken`).
    #[default]
    HS256,
    /// The provider's P-256 keys one way, Accrete's own the other.
    ES256,
}

/// A `[[companions]]` table.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanionSpec {
    /// Its name, in URLs (`/companion/<name>/start`) and provenance (`companion:<name>`).
    pub name: String,
    /// `auth0` (default) or `generic`.
    #[serde(default)]
    pub kind: CompanionKind,
    /// The `iss` of start tokens (Auth0: the tenant's domain, `example.eu.auth0.com`).
    pub issuer: String,
    /// `HS256` (default: a shared secret) or `ES256` (the provider's JWKS, Accrete's own key).
    #[serde(default)]
    pub algorithm: CompanionAlgorithm,
    /// HS256: the secret shared with the provider (at least 32 characters).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret: String,
    /// ES256: the provider's public keys (a JWKS, as JSON text), which verify start tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// ES256, instead of `jwks`: where the provider publishes its keys (fetched, kept, fetched
    /// again for a key it rotated in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// ES256: Accrete's P-256 private key for this companion (PKCS#8 PEM), which signs answers
    /// tokens; its public key is published at `/companion/<name>/jwks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
    /// Where the browser goes back (Auth0's default: `https://<issuer>/continue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_url: Option<String>,
    /// The Accrete client of the check calls, and of the pages of applications that have no
    /// client of their own.
    pub client: String,
    /// Auth0: answers to root attributes (`given_name`, ...) are also written through the
    /// Management API with these credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<ManagementSpec>,
}

// The secret never reaches a log through `{:?}`.
impl std::fmt::Debug for CompanionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompanionSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("algorithm", &self.algorithm)
            .field("secret", &"********")
            .field("jwks", &self.jwks)
            .field("jwks_uri", &self.jwks_uri)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "********"),
            )
            .field("continue_url", &self.continue_url)
            .field("client", &self.client)
            .field("management", &self.management)
            .finish()
    }
}

impl CompanionSpec {
    /// The spec as `accrete config show` prints it: the secret masked.
    pub fn redacted(&self) -> CompanionSpec {
        let masked = |set: bool| set.then(|| "********".to_owned());
        CompanionSpec {
            secret: masked(!self.secret.is_empty()).unwrap_or_default(),
            signing_key: masked(self.signing_key.is_some()),
            management: self.management.as_ref().map(ManagementSpec::redacted),
            ..self.clone()
        }
    }

    /// The continue URL: the configured one, or Auth0's `https://<issuer>/continue`.
    pub fn continue_url(&self) -> Option<String> {
        match (&self.continue_url, self.kind) {
            (Some(url), _) => Some(url.clone()),
            (None, CompanionKind::Auth0) => Some(format!("https://{}/continue", self.issuer)),
            (None, CompanionKind::Generic) => None,
        }
    }

    /// Its problems, as `(path, message)`.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            problems.push((
                "name",
                "1 to 64 lower-case letters, digits, - or _ (it is part of URLs)".to_owned(),
            ));
        }
        if self.issuer.trim().is_empty() {
            problems.push((
                "issuer",
                "the iss of the provider's tokens is required".into(),
            ));
        }
        if let Err(problem) = self.key() {
            problems.push(problem);
        }
        if let Some(url) = &self.jwks_uri {
            if self.algorithm != CompanionAlgorithm::ES256 {
                problems.push(("jwks_uri", "only with algorithm = \"ES256\"".into()));
            }
            match url::Url::parse(url.trim()) {
                Ok(parsed) if matches!(parsed.scheme(), "https" | "http") => {}
                _ => problems.push(("jwks_uri", format!("not an http(s) URL: {url}"))),
            }
        }
        if let Some(management) = &self.management {
            if self.kind != CompanionKind::Auth0 {
                problems.push((
                    "management",
                    "only for kind = \"auth0\" (Auth0's Management API)".into(),
                ));
            }
            problems.extend(management.problems(&self.issuer));
        }
        match self.continue_url() {
            None => problems.push(("continue_url", "required for a generic companion".into())),
            Some(url) => match url::Url::parse(&url) {
                Ok(parsed) if matches!(parsed.scheme(), "https" | "http") => {}
                _ => problems.push(("continue_url", format!("not an http(s) URL: {url}"))),
            },
        }
        if self.client.trim().is_empty() {
            problems.push((
                "client",
                "the Accrete client of the check calls is required".into(),
            ));
        }
        problems
    }
}

impl CompanionSpec {
    /// The key its tokens are signed with, or the problem with its settings.
    pub fn key(&self) -> Result<CompanionKey, (&'static str, String)> {
        match self.algorithm {
            CompanionAlgorithm::HS256 => SharedSecret::new(&self.secret)
                .map(CompanionKey::Shared)
                .ok_or_else(|| {
                    let min = SharedSecret::MIN_BYTES;
                    (
                        "secret",
                        format!("at least {min} characters (HS256 needs 256 bits)"),
                    )
                }),
            CompanionAlgorithm::ES256 => {
                match (&self.jwks, &self.jwks_uri) {
                    (Some(_), Some(_)) => {
                        return Err((
                            "jwks_uri",
                            "give the provider's keys (jwks) or their address (jwks_uri), not both"
                                .to_owned(),
                        ));
                    }
                    (None, None) => {
                        return Err((
                            "jwks",
                            "the provider's JWKS (jwks) or its address (jwks_uri) is required \
                             with ES256"
                                .to_owned(),
                        ));
                    }
                    _ => {}
                }
                let pem = self.signing_key.as_deref().ok_or((
                    "signing_key",
                    "Accrete's P-256 key is required with ES256".to_owned(),
                ))?;
                EcKeys::new(self.jwks.as_deref(), pem).map(|keys| CompanionKey::Ec(Box::new(keys)))
            }
        }
    }
}

/// The problems of the `[[companions]]` of the file, as `companions[<index>].<path>: <message>`;
/// the addresses Accrete calls (`jwks_uri`, `management.base_url`) follow the transport rules of
/// `webhooks` (`https`, no private address unless allowed).
pub fn check_all(specs: &[CompanionSpec], webhooks: &WebhookSettings) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let mut own = spec.check();
        let called = [
            ("jwks_uri", spec.jwks_uri.as_ref()),
            (
                "management.base_url",
                spec.management.as_ref().and_then(|m| m.base_url.as_ref()),
            ),
        ];
        for (path, url) in called {
            let Some(url) = url.and_then(|url| url::Url::parse(url.trim()).ok()) else {
                continue;
            };
            if let Err(problem) = check_transport(&url, webhooks) {
                own.push((
                    path,
                    format!(
                        "{} ([webhooks] allow_http and allow_private allow it)",
                        problem.message
                    ),
                ));
            }
        }
        problems.extend(
            own.into_iter()
                .map(|(path, message)| format!("companions[{index}].{path}: {message}")),
        );
        if let Some(first) = specs[..index].iter().position(|s| s.name == spec.name) {
            problems.push(format!(
                "companions[{index}].name: {} is defined twice (also companions[{first}])",
                spec.name
            ));
        }
    }
    problems
}

/// A configured companion.
#[derive(Debug, Clone)]
pub struct Companion {
    pub(crate) spec: CompanionSpec,
    pub(crate) key: CompanionKey,
    pub(crate) continue_url: String,
    /// The provider's published keys (`jwks_uri`).
    remote: Option<Arc<RemoteKeys>>,
}

impl Companion {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Accrete's public key for it, as a JWKS (ES256 companions only).
    pub fn jwks(&self) -> Option<serde_json::Value> {
        match &self.key {
            CompanionKey::Ec(keys) => Some(keys.jwks()),
            CompanionKey::Shared(_) => None,
        }
    }

    /// The Accrete client of its check calls.
    pub fn client(&self) -> &str {
        &self.spec.client
    }

    /// The provenance of the values it brings and the answers given through it.
    pub fn source(&self) -> String {
        source_of(&self.spec.name)
    }

    /// The `aud` its start tokens must name: Accrete's address for it.
    pub fn audience(&self, issuer: &str) -> String {
        format!(
            "{}/companion/{}",
            issuer.trim_end_matches('/'),
            self.spec.name
        )
    }

    /// The Management API credentials it writes answers with, if any.
    pub fn management(&self) -> Option<&ManagementSpec> {
        self.spec.management.as_ref()
    }

    /// Verifies a start token for the server at `issuer` at `now`: with the shared secret or
    /// the provider's keys of the configuration, or (`jwks_uri`) with its published keys, kept
    /// or fetched now.
    pub(crate) async fn verify_start(
        &self,
        token: &str,
        issuer: &str,
        now: OffsetDateTime,
    ) -> Result<StartClaims, VerifyFailure> {
        let audience = self.audience(issuer);
        let Some(remote) = &self.remote else {
            return Ok(verify_start(
                token,
                &self.key,
                &self.spec.issuer,
                &audience,
                now,
            )?);
        };
        // The header first: a token that is not a JWT costs no fetch.
        let kid = start_kid(token)?;
        let keys = remote
            .keys_for(kid.as_deref())
            .await
            .map_err(VerifyFailure::KeysUnavailable)?;
        Ok(verify_start_with(
            token,
            &keys,
            &self.spec.issuer,
            &audience,
            now,
        )?)
    }
}

/// The configured companions (none by default).
#[derive(Debug, Default)]
pub struct Companions {
    list: Vec<Companion>,
    /// The client of calls to providers, when a companion makes any.
    pub(crate) outbound: Option<Outbound>,
    /// Rung when a visit recorded a write for the Management API, to wake this node's writer.
    pub(crate) written: tokio::sync::Notify,
    /// The providers' client ids found to have no Accrete client of the same id, and when: an
    /// application without a client of its own (the common case) then costs no read per check
    /// for [`CLIENT_CACHE_TTL`]. The ids come from the providers (authenticated check calls,
    /// signed start tokens), so they cannot be used to fill it; it is bounded all the same.
    unregistered: Mutex<HashMap<String, Instant>>,
}

/// Most unregistered client ids remembered; beyond it the memory starts over.
const UNREGISTERED_CAPACITY: usize = 1024;

impl Companions {
    /// The companions of `specs`, calling providers as `webhooks` says (private addresses,
    /// plain http, time limit), or their problems.
    pub fn new(
        specs: Vec<CompanionSpec>,
        webhooks: &WebhookSettings,
    ) -> Result<Companions, String> {
        let problems = check_all(&specs, webhooks);
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let calls = specs
            .iter()
            .any(|spec| spec.jwks_uri.is_some() || spec.management.is_some());
        let outbound = calls.then(|| Outbound::new(webhooks)).transpose()?;
        let list = specs
            .into_iter()
            .filter_map(|spec| {
                let key = spec.key().ok()?;
                let continue_url = spec.continue_url()?;
                let remote = match (&spec.jwks_uri, &outbound) {
                    (Some(url), Some(outbound)) => Some(Arc::new(RemoteKeys::new(
                        url.trim().to_owned(),
                        outbound.clone(),
                    ))),
                    _ => None,
                };
                Some(Companion {
                    spec,
                    key,
                    continue_url,
                    remote,
                })
            })
            .collect();
        Ok(Companions {
            list,
            outbound,
            written: tokio::sync::Notify::new(),
            unregistered: Mutex::default(),
        })
    }

    /// Whether a companion writes answers through a Management API.
    pub fn write_back(&self) -> bool {
        self.list.iter().any(|c| c.spec.management.is_some())
    }

    /// The companion `name`.
    pub fn get(&self, name: &str) -> Option<&Companion> {
        self.list.iter().find(|c| c.spec.name == name)
    }

    /// Whether `client_id` was found unregistered less than [`CLIENT_CACHE_TTL`] before `now`.
    pub(crate) fn known_unregistered(&self, client_id: &str, now: Instant) -> bool {
        let seen = self
            .unregistered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        seen.get(client_id)
            .is_some_and(|at| now.saturating_duration_since(*at) < CLIENT_CACHE_TTL)
    }

    /// Remembers that `client_id` has no Accrete client, as of `now`.
    pub(crate) fn note_unregistered(&self, client_id: &str, now: Instant) {
        let mut seen = self
            .unregistered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= UNREGISTERED_CAPACITY {
            seen.clear();
        }
        seen.insert(client_id.to_owned(), now);
    }
}

/// The provenance of what companion `name` brings: `companion:<name>`.
pub fn source_of(name: &str) -> String {
    format!("companion:{name}")
}

/// What a transaction of a companion keeps in its `state`, under `"companion"`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanionState {
    /// The companion.
    pub name: String,
    /// The user's id at the provider.
    pub subject: String,
    /// The provider's `iss` (the answers token's `aud`).
    pub issuer: String,
    /// The provider's `state`, given back at the end.
    pub state: String,
    /// The provider's count of the user's sign-ins.
    pub logins: u64,
    /// The person left a required step: the visit ends declined.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub declined: bool,
}

impl CompanionState {
    /// The companion part of a transaction's state, if it is a companion's.
    pub fn of(state: &serde_json::Value) -> Option<CompanionState> {
        state
            .get("companion")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
    }

    /// Writes it into a transaction's state, keeping whatever else is there.
    pub fn store_into(&self, state: &mut serde_json::Value) {
        if !state.is_object() {
            *state = serde_json::Value::Object(serde_json::Map::new());
        }
        if let (Some(map), Ok(value)) = (state.as_object_mut(), serde_json::to_value(self)) {
            map.insert("companion".to_owned(), value);
        }
    }

    /// Whether a sign-up's steps are due: the provider counts this as the first sign-in.
    pub fn signup(&self) -> bool {
        self.logins <= 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CompanionSpec {
        CompanionSpec {
            name: "auth0".into(),
            kind: CompanionKind::Auth0,
            issuer: "example.eu.auth0.com".into(),
            algorithm: CompanionAlgorithm::HS256,
            secret: "0123456789abcdef0123456789abcdef".into(),
            jwks: None,
            jwks_uri: None,
            signing_key: None,
            continue_url: None,
            client: "auth0-companion".into(),
            management: None,
        }
    }

    #[test]
    fn an_auth0_companion_continues_at_its_tenant() {
        assert!(spec().check().is_empty());
        assert_eq!(
            spec().continue_url().as_deref(),
            Some("https://example.eu.auth0.com/continue")
        );
        assert!(!format!("{:?}", spec()).contains("0123456789"));
        assert_eq!(spec().redacted().secret, "********");
    }

    #[test]
    fn every_mistake_is_named_with_its_place() {
        let bad = CompanionSpec {
            name: "Auth 0".into(),
            kind: CompanionKind::Generic,
            issuer: " ".into(),
            algorithm: CompanionAlgorithm::HS256,
            secret: "short".into(),
            jwks: None,
            jwks_uri: None,
            signing_key: None,
            continue_url: None,
            client: String::new(),
            management: None,
        };
        let strict = WebhookSettings::default();
        let problems = check_all(&[spec(), bad, spec()], &strict);
        for path in ["name", "issuer", "secret", "continue_url", "client"] {
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with(&format!("companions[1].{path}:"))),
                "{path}: {problems:?}"
            );
        }
        assert!(problems.iter().any(|p| p.contains("defined twice")));
        let es256 = CompanionSpec {
            algorithm: CompanionAlgorithm::ES256,
            ..spec()
        };
        let problems = check_all(std::slice::from_ref(&es256), &strict);
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("companions[0].jwks:")),
            "{problems:?}"
        );
        // Keys at an address: https, not both forms, ES256 only.
        let both = CompanionSpec {
            jwks: Some("{}".into()),
            jwks_uri: Some("https://sso.example.com/certs".into()),
            ..es256.clone()
        };
        let plain = CompanionSpec {
            jwks_uri: Some("http://127.0.0.1:9/certs".into()),
            ..es256
        };
        let hs = CompanionSpec {
            jwks_uri: Some("https://sso.example.com/certs".into()),
            ..spec()
        };
        let problems = check_all(&[both, plain, hs], &strict);
        for expected in [
            "companions[0].jwks_uri: give the provider's keys",
            "companions[1].jwks_uri: the URL must start with https://",
            "companions[2].jwks_uri: only with algorithm",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "{expected}: {problems:?}"
            );
        }
        // A Management API of a generic companion, and its own mistakes.
        let generic = CompanionSpec {
            kind: CompanionKind::Generic,
            continue_url: Some("https://sso.example.com/continue".into()),
            management: Some(ManagementSpec {
                client_id: String::new(),
                client_secret: "s".into(),
                domain: None,
                base_url: Some("http://127.0.0.1:9".into()),
            }),
            ..spec()
        };
        let problems = check_all(&[generic], &strict);
        for expected in [
            "companions[0].management: only for kind",
            "companions[0].management.client_id:",
            "companions[0].management.base_url: the URL must start with https://",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(expected)),
                "{expected}: {problems:?}"
            );
        }
    }

    #[test]
    fn the_management_secret_is_masked_everywhere() {
        let with = CompanionSpec {
            management: Some(ManagementSpec {
                client_id: "m2m".into(),
                client_secret: "the m2m secret".into(),
                domain: None,
                base_url: None,
            }),
            ..spec()
        };
        assert!(with.check().is_empty(), "{:?}", with.check());
        assert!(!format!("{with:?}").contains("the m2m secret"));
        let shown = with.redacted();
        assert_eq!(shown.management.unwrap().client_secret, "********");
    }

    #[test]
    fn the_state_round_trips_and_keeps_the_rest() {
        let mut state = serde_json::json!({ "profiling": { "skipped": [] } });
        let companion = CompanionState {
            name: "auth0".into(),
            subject: "auth0|1".into(),
            logins: 1,
            ..CompanionState::default()
        };
        companion.store_into(&mut state);
        assert_eq!(CompanionState::of(&state), Some(companion.clone()));
        assert!(state.get("profiling").is_some());
        assert!(companion.signup());
        assert_eq!(CompanionState::of(&serde_json::json!({})), None);
    }
}
