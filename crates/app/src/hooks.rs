//! Synchronous hooks (docs/hooks.md): calls to the operator's own services in the middle of a
//! sign-in or of an answer, each declared by a `[[hooks]]` table.
//!
//! - enrichment (`enrichment.rs`): fills fields from another system, with provenance
//!   `enrichment:<hook>`, never over a value a person gave;
//! - validation (`validation.rs`): accepts, refuses or normalises answers before they are stored;
//! - post-sign-in (`sign_in.rs`): after authentication, adds facts for step conditions and
//!   claims for the ID token, or denies the sign-in.
//!
//! This file holds the configured hooks and imports nothing of the `App`, which holds them.

pub mod call;
pub mod enrichment;
pub mod sign_in;
pub mod spec;
pub mod validation;

use serde_json::Value;

use crate::webhooks::WebhookSettings;
use call::Caller;
use spec::{EnrichmentTiming, HookKind, HookSpec};

/// The longest message of a hook shown to a person, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// The configured hooks and the client that calls them.
pub struct Hooks {
    specs: Vec<HookSpec>,
    caller: Option<Caller>,
    /// Whether anything runs between authentication and the decision (checked on every
    /// sign-in, so it is one load).
    at_sign_in: bool,
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks::none()
    }
}

impl Hooks {
    /// No hooks: sign-ins and answers do no extra work.
    pub fn none() -> Hooks {
        Hooks {
            specs: Vec::new(),
            caller: None,
            at_sign_in: false,
        }
    }

    /// The hooks of `specs`, called as `webhooks` says (private addresses, plain http, reply
    /// size); every problem of the specs at once when they are not right.
    pub fn new(specs: Vec<HookSpec>, webhooks: &WebhookSettings) -> Result<Hooks, String> {
        if specs.is_empty() {
            return Ok(Hooks::none());
        }
        let problems = spec::check_all(&specs, webhooks);
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        let at_sign_in = specs.iter().any(|s| {
            s.kind == HookKind::PostSignIn
                || (s.kind == HookKind::Enrichment
                    && ["signup", "provider_signup", "provider_link"]
                        .iter()
                        .any(|moment| s.runs_at(moment)))
        });
        Ok(Hooks {
            caller: Some(Caller::new(webhooks)?),
            specs,
            at_sign_in,
        })
    }

    /// Whether no hook is configured.
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Whether a hook runs between authentication and the decision.
    pub fn at_sign_in(&self) -> bool {
        self.at_sign_in
    }

    /// The hooks as configured.
    pub fn specs(&self) -> &[HookSpec] {
        &self.specs
    }

    /// The hooks of `kind`, in the order of the configuration.
    pub(crate) fn of(&self, kind: HookKind) -> impl Iterator<Item = &HookSpec> {
        self.specs.iter().filter(move |s| s.kind == kind)
    }

    /// The enrichment hooks with `timing` that run at one of `moments`, each once, with the
    /// first of them it runs at (its `trigger`).
    pub(crate) fn enrichments<'a>(
        &'a self,
        moments: &'a [&'a str],
        timing: EnrichmentTiming,
    ) -> impl Iterator<Item = (&'a HookSpec, &'a str)> {
        self.of(HookKind::Enrichment)
            .filter(move |s| s.timing.unwrap_or_default() == timing)
            .filter_map(|s| Some((s, *moments.iter().find(|m| s.runs_at(m))?)))
    }

    /// Calls `hook` with `body` (see [`Caller::call`]).
    pub(crate) async fn call(
        &self,
        hook: &HookSpec,
        body: &Value,
    ) -> Result<Value, call::CallFailure> {
        match &self.caller {
            Some(caller) => caller.call(hook, body).await,
            None => Err(call::CallFailure::Transport(
                "no hooks are configured".into(),
            )),
        }
    }
}

/// A message of a hook for a person: a string, or an object of strings by locale (`{"en": ...,
/// "fr": ...}`) of which the one of `locale` is taken (else its language's, else English's,
/// else the first); at most [`MAX_MESSAGE_CHARS`] characters.
pub fn message_in(value: &Value, locale: &str) -> Option<String> {
    let text = match value {
        Value::String(text) => Some(text.as_str()),
        Value::Object(by_locale) => {
            let language = locale.split(['-', '_']).next().unwrap_or(locale);
            [locale, language, "en"]
                .iter()
                .find_map(|l| by_locale.get(*l).and_then(Value::as_str))
                .or_else(|| by_locale.values().find_map(Value::as_str))
        }
        _ => None,
    }?;
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(text.chars().take(MAX_MESSAGE_CHARS).collect())
}

/// The value at a dotted `path` (`company.name`) of a reply; `null` counts as absent.
pub(crate) fn at_path<'a>(reply: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(reply, |value, member| value.get(member))
        .filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_message_is_taken_in_the_locale_else_its_language_else_english() {
        let both = json!({ "en": "Too short", "fr": "Trop court" });
        assert_eq!(message_in(&both, "fr").as_deref(), Some("Trop court"));
        assert_eq!(message_in(&both, "fr-CA").as_deref(), Some("Trop court"));
        assert_eq!(message_in(&both, "de").as_deref(), Some("Too short"));
        assert_eq!(message_in(&json!("Plain"), "fr").as_deref(), Some("Plain"));
        assert_eq!(
            message_in(&json!({ "de": "Nein" }), "fr").as_deref(),
            Some("Nein")
        );
        assert_eq!(message_in(&json!(12), "en"), None);
        assert_eq!(message_in(&json!("  "), "en"), None);
        let long = "x".repeat(2000);
        assert_eq!(
            message_in(&json!(long), "en").map(|m| m.chars().count()),
            Some(MAX_MESSAGE_CHARS)
        );
    }

    #[test]
    fn an_enrichment_runs_once_per_sign_in_with_the_first_of_its_moments() {
        let spec = |name: &str, when: &[&str], timing: EnrichmentTiming| {
            serde_json::from_value::<HookSpec>(json!({
                "name": name, "kind": "enrichment", "url": "https://hooks.example.com/e",
                "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr",
                "when": when, "timing": timing,
            }))
            .unwrap()
        };
        let hooks = Hooks::new(
            vec![
                spec("every", &[], EnrichmentTiming::AfterResponse),
                spec(
                    "linked",
                    &["provider_link"],
                    EnrichmentTiming::AfterResponse,
                ),
                spec("sooner", &[], EnrichmentTiming::BeforeDecision),
            ],
            &WebhookSettings::default(),
        )
        .unwrap();
        let provider_signup = ["signup", "provider_signup"];
        let later: Vec<_> = hooks
            .enrichments(&provider_signup, EnrichmentTiming::AfterResponse)
            .map(|(hook, moment)| (hook.name.as_str(), moment))
            .collect();
        assert_eq!(later, [("every", "signup")]);
        let link = ["provider_link"];
        let later: Vec<_> = hooks
            .enrichments(&link, EnrichmentTiming::AfterResponse)
            .map(|(hook, moment)| (hook.name.as_str(), moment))
            .collect();
        assert_eq!(
            later,
            [("every", "provider_link"), ("linked", "provider_link")]
        );
        assert!(hooks.at_sign_in());
    }

    #[test]
    fn a_dotted_path_reaches_into_the_reply() {
        let reply = json!({ "company": { "name": "Acme", "size": null } });
        assert_eq!(at_path(&reply, "company.name"), Some(&json!("Acme")));
        assert_eq!(at_path(&reply, "company.size"), None);
        assert_eq!(at_path(&reply, "company.domain"), None);
    }
}
