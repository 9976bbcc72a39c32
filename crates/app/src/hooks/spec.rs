//! A hook as the operator declares it (a `[[hooks]]` table of the configuration file), and the
//! checks it passes at start. Imports nothing of the `App`, which holds the hooks.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::problems::Problem;
use crate::webhooks::WebhookSettings;
use crate::webhooks::signing::SECRET_PREFIX;

/// What a hook is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    /// Fills profile fields from another system (a company from the email's domain).
    Enrichment,
    /// Accepts, refuses or normalises answers before they are stored.
    Validation,
    /// After authentication, before the decision: adds facts and claims, or denies.
    PostSignIn,
}

impl HookKind {
    /// `enrichment`, `validation` or `post_sign_in` (a metrics label, a log field).
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Enrichment => "enrichment",
            HookKind::Validation => "validation",
            HookKind::PostSignIn => "post_sign_in",
        }
    }

    /// The values `when` accepts for this kind, the first ones being the default.
    fn moments(self) -> &'static [&'static str] {
        match self {
            HookKind::Enrichment => &["signup", "provider_signup", "provider_link", "api"],
            HookKind::Validation => &["prompt", "account", "api"],
            HookKind::PostSignIn => &[],
        }
    }

    fn default_timeout_ms(self) -> u64 {
        match self {
            HookKind::Enrichment => 1000,
            HookKind::Validation | HookKind::PostSignIn => 2000,
        }
    }
}

/// What happens when a hook does not answer in time or answers something unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// Carry on as if the hook were not there.
    #[default]
    Open,
    /// Stop: answers are not stored (validation), the sign-in does not go on (post-sign-in).
    Closed,
}

/// When an enrichment runs relative to the sign-in it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EnrichmentTiming {
    /// Before the decision, within its time budget: an enriched field is not asked.
    #[default]
    BeforeDecision,
    /// After the response, in the background: the sign-in never waits for it.
    AfterResponse,
}

/// A `[[hooks]]` table.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookSpec {
    /// Its name: in logs, metrics and provenance (`enrichment:<name>`).
    pub name: String,
    pub kind: HookKind,
    /// Where it is POSTed (`https://`, or `http://` when `[webhooks] allow_http`).
    pub url: String,
    /// Its own signing secret, `whsec_<base64>` (Standard Webhooks).
    pub secret: String,
    /// How long a call may take, in milliseconds (default 1000 for enrichment, 2000 otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// `open` (default) or `closed`; enrichment is always `open`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureMode>,
    /// When it runs: enrichment `signup`, `provider_signup`, `provider_link`, `api`; validation `prompt`,
    /// `account`, `api` (default: all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<String>,
    /// Enrichment: `before_decision` (default) or `after_response`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<EnrichmentTiming>,
    /// Enrichment: policy field key to the dotted path of its value in the reply
    /// (`company = "company.name"`); empty: the reply's `fields` object, by field key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Post-sign-in: the prefix of the claims it adds to ID tokens (`https://example.com/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_namespace: Option<String>,
}

// The secret never reaches a log through `{:?}`.
impl std::fmt::Debug for HookSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("secret", &"********")
            .field("timeout_ms", &self.timeout_ms)
            .field("failure", &self.failure)
            .field("when", &self.when)
            .field("timing", &self.timing)
            .field("fields", &self.fields)
            .field("claim_namespace", &self.claim_namespace)
            .finish()
    }
}

/// The longest timeout accepted, in milliseconds.
pub const MAX_TIMEOUT_MS: u64 = 30_000;

impl HookSpec {
    /// The spec as `accrete config show` prints it: the secret masked.
    pub fn redacted(&self) -> HookSpec {
        HookSpec {
            secret: "********".to_owned(),
            ..self.clone()
        }
    }

    /// How long a call may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(
            self.timeout_ms
                .unwrap_or_else(|| self.kind.default_timeout_ms()),
        )
    }

    /// What happens when the hook fails.
    pub fn failure(&self) -> FailureMode {
        match self.kind {
            HookKind::Enrichment => FailureMode::Open,
            _ => self.failure.unwrap_or_default(),
        }
    }

    /// Whether it runs at `moment` (see [`HookSpec::when`]).
    pub fn runs_at(&self, moment: &str) -> bool {
        if self.when.is_empty() {
            self.kind.moments().contains(&moment)
        } else {
            self.when.iter().any(|w| w == moment)
        }
    }

    /// Every problem of the spec, each at its key (`url`, `when[1]`, `fields.company`), with
    /// the transport rule of `webhooks` (https, private addresses).
    pub fn check(&self, webhooks: &WebhookSettings) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut push = |path: String, code: &str, message: String| {
            problems.push(Problem::new(path, code, message));
        };
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            push(
                "name".into(),
                "invalid_name",
                "the name must be 1 to 64 letters, digits, `-` or `_`".into(),
            );
        }
        match Url::parse(self.url.trim()) {
            Ok(url) if !url.username().is_empty() || url.password().is_some() => push(
                "url".into(),
                "invalid_url",
                "the URL may not hold a user name or password".into(),
            ),
            Ok(url) => {
                if let Err(problem) = crate::webhooks::settings::check_transport(&url, webhooks) {
                    push("url".into(), &problem.code, problem.message);
                }
            }
            Err(_) => push(
                "url".into(),
                "invalid_url",
                "the URL cannot be read (https://host/path)".into(),
            ),
        }
        let key = self.secret.strip_prefix(SECRET_PREFIX).map(|b64| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(b64)
        });
        if !matches!(key, Some(Ok(bytes)) if bytes.len() >= 24) {
            push(
                "secret".into(),
                "invalid_secret",
                "the secret must be `whsec_` and the base64 of at least 24 random bytes \
                 (`echo whsec_$(openssl rand -base64 32)` makes one)"
                    .into(),
            );
        }
        if let Some(ms) = self.timeout_ms
            && !(1..=MAX_TIMEOUT_MS).contains(&ms)
        {
            push(
                "timeout_ms".into(),
                "out_of_range",
                format!("the timeout must be between 1 and {MAX_TIMEOUT_MS} milliseconds"),
            );
        }
        if self.kind == HookKind::Enrichment && self.failure == Some(FailureMode::Closed) {
            push(
                "failure".into(),
                "not_allowed",
                "an enrichment hook never blocks a sign-in: its failure mode is always `open`"
                    .into(),
            );
        }
        let moments = self.kind.moments();
        for (at, moment) in self.when.iter().enumerate() {
            if !moments.contains(&moment.as_str()) {
                let message = if moments.is_empty() {
                    format!(
                        "a {} hook runs at every sign-in: leave `when` out",
                        self.kind.name()
                    )
                } else {
                    format!(
                        "`{moment}` is not a moment of a {} hook (one of {})",
                        self.kind.name(),
                        moments.join(", ")
                    )
                };
                push(format!("when[{at}]"), "unknown_moment", message);
            }
        }
        if self.kind != HookKind::Enrichment {
            if self.timing.is_some() {
                push(
                    "timing".into(),
                    "not_allowed",
                    "only an enrichment hook has a `timing`".into(),
                );
            }
            if !self.fields.is_empty() {
                push(
                    "fields".into(),
                    "not_allowed",
                    "only an enrichment hook maps `fields`".into(),
                );
            }
        }
        for (key, path) in &self.fields {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                push(
                    format!("fields.{key}"),
                    "invalid_path",
                    "the path must be member names separated by dots (`company.name`)".into(),
                );
            }
        }
        match (&self.claim_namespace, self.kind) {
            (Some(_), kind) if kind != HookKind::PostSignIn => push(
                "claim_namespace".into(),
                "not_allowed",
                "only a post_sign_in hook adds claims".into(),
            ),
            (Some(namespace), _) if !valid_namespace(namespace) => push(
                "claim_namespace".into(),
                "invalid_namespace",
                "the namespace must be an https:// URL ending with `/` (https://example.com/)"
                    .into(),
            ),
            _ => {}
        }
        problems
    }
}

/// `https://host/...` ending with `/`: claims named under it cannot collide with standard ones.
fn valid_namespace(namespace: &str) -> bool {
    namespace.ends_with('/')
        && namespace.len() <= 200
        && Url::parse(namespace).is_ok_and(|url| url.scheme() == "https" && url.host().is_some())
}

/// The problems of a list of hooks, each as `hooks[<index>].<key>: <message>`: each hook's own
/// and a name given twice.
pub fn check_all(hooks: &[HookSpec], webhooks: &WebhookSettings) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, hook) in hooks.iter().enumerate() {
        problems.extend(
            hook.check(webhooks)
                .into_iter()
                .map(|p| format!("hooks[{index}].{}: {}", p.path, p.message)),
        );
        if let Some(first) = hooks[..index].iter().position(|h| h.name == hook.name) {
            problems.push(format!(
                "hooks[{index}].name: {} is defined twice (also hooks[{first}])",
                hook.name
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(kind: HookKind) -> HookSpec {
        HookSpec {
            name: "crm".into(),
            kind,
            url: "https://hooks.example.com/crm".into(),
            secret: crate::webhooks::signing::new_secret(),
            timeout_ms: None,
            failure: None,
            when: Vec::new(),
            timing: None,
            fields: BTreeMap::new(),
            claim_namespace: None,
        }
    }

    #[test]
    fn a_plain_hook_of_each_kind_passes_with_its_defaults() {
        let settings = WebhookSettings::default();
        for kind in [
            HookKind::Enrichment,
            HookKind::Validation,
            HookKind::PostSignIn,
        ] {
            assert_eq!(check_all(&[hook(kind)], &settings), Vec::<String>::new());
        }
        assert_eq!(hook(HookKind::Enrichment).timeout().as_millis(), 1000);
        assert!(hook(HookKind::Enrichment).runs_at("signup"));
        assert!(!hook(HookKind::Enrichment).runs_at("prompt"));
    }

    #[test]
    fn every_problem_is_named_by_its_key() {
        let mut bad = hook(HookKind::Enrichment);
        bad.url = "http://127.0.0.1/hook".into();
        bad.secret = "s3cret".into();
        bad.failure = Some(FailureMode::Closed);
        bad.when = vec!["signup".into(), "login".into()];
        bad.timeout_ms = Some(0);
        bad.fields.insert("company".into(), "a..b".into());
        bad.claim_namespace = Some("x".into());
        let problems = check_all(
            &[bad, hook(HookKind::Validation)],
            &WebhookSettings::default(),
        );
        let keys: Vec<&str> = problems
            .iter()
            .map(|p| p.split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(
            keys,
            [
                "hooks[0].url",
                "hooks[0].secret",
                "hooks[0].timeout_ms",
                "hooks[0].failure",
                "hooks[0].when[1]",
                "hooks[0].fields.company",
                "hooks[0].claim_namespace",
                "hooks[1].name"
            ]
        );
        assert!(!problems.iter().any(|p| p.contains("s3cret")));
    }

    #[test]
    fn the_secret_is_not_in_the_debug_output() {
        let spec = hook(HookKind::PostSignIn);
        assert!(!format!("{spec:?}").contains(&spec.secret));
        assert_eq!(spec.redacted().secret, "********");
    }
}
