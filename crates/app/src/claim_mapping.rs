//! What a provider's claims become in the profile: each mapping of a connection reads one claim
//! (a JSON pointer into the ID token claims merged with userinfo) into one policy field, checked
//! by that field's rules. A valid value is stored (with provenance `idp:<connection>`) when the
//! field is unknown, or always when the mapping says the provider is the source of truth; a
//! value the field refuses is never stored as known: it only pre-fills the prompt.

use std::collections::BTreeMap;

use accrete_core::{
    CompiledPolicy, Field, JsonAnswers, MAX_TEXT_CHARS, Storage, validate_json_answers,
};
use accrete_federation::spec::{ClaimMapping, Sync as SyncRule};
use accrete_oidc::claims::PROFILE_CLAIMS;
use accrete_store::{Location, ProfileChange, User};
use serde_json::{Map, Value};
use time::Date;

use crate::facts::{location_of, stored_value};

/// The provenance of values a connection supplied.
pub fn source_of(connection: &str) -> String {
    format!("idp:{connection}")
}

/// What the claims of one sign-in become.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Mapped {
    /// Values to store (fields unknown so far, and `always` fields whose value changed).
    pub changes: Vec<ProfileChange>,
    /// Values the fields refused, by field key: suggestions that pre-fill the prompt.
    pub suggestions: BTreeMap<String, Value>,
}

/// Maps `claims` through `mappings` for `user` (`None`: a user about to be created). A mapping
/// names a policy field by its key, or a standard profile claim (`given_name`): the policy's
/// field stored in that claim, or, when the policy has none, the claim itself in the profile
/// (so that a plain identity server still carries the provider's names to its applications).
/// Mappings whose claim is absent or `null`, or whose target is neither, are left out.
pub fn map_claims(
    policy: Option<&CompiledPolicy>,
    mappings: &[ClaimMapping],
    claims: &Map<String, Value>,
    user: Option<&User>,
    today: Date,
) -> Mapped {
    let mut mapped = Mapped::default();
    let claims = Value::Object(claims.clone());
    for mapping in mappings {
        let Some(value) = claims.pointer(&mapping.claim).filter(|v| !v.is_null()) else {
            continue;
        };
        match policy.and_then(|p| target_field(p, &mapping.field).map(|f| (p, f))) {
            Some((policy, field)) => {
                map_field(&mut mapped, policy, field, mapping, value, user, today)
            }
            None => map_standard_claim(&mut mapped, mapping, value, user),
        }
    }
    mapped
}

/// The policy field a mapping writes: the field with that key, or the one stored in the
/// profile claim of that name.
fn target_field<'p>(policy: &'p CompiledPolicy, key: &str) -> Option<&'p Field> {
    policy.field(key).or_else(|| {
        policy
            .fields()
            .iter()
            .find(|f| matches!(&f.storage, Storage::Profile { claim } if claim.as_str() == key))
    })
}

fn map_field(
    mapped: &mut Mapped,
    policy: &CompiledPolicy,
    field: &Field,
    mapping: &ClaimMapping,
    value: &Value,
    user: Option<&User>,
    today: Date,
) {
    let key = field.key.as_str();
    let current = user.and_then(|u| stored_value(u, field));
    if current.is_some() && mapping.sync == SyncRule::IfEmpty {
        return;
    }
    let mut answer = JsonAnswers::new();
    answer.insert(key.to_owned(), value.clone());
    match validate_json_answers(policy, &[key], &answer, crate::values::MESSAGES, today) {
        Ok(mut valid) => {
            let Some(value) = valid.remove(key) else {
                return;
            };
            if current != Some(&value) {
                let (location, stored_key) = location_of(field);
                mapped
                    .changes
                    .push(ProfileChange::set(location, stored_key, value));
            }
        }
        // Never stored as known; offered to the user to correct. A user's own value is kept.
        Err(_) if current.is_none() => {
            mapped.suggestions.insert(key.to_owned(), value.clone());
        }
        Err(_) => {}
    }
}

/// A standard profile claim no policy field holds: stored as the provider gave it, when it is
/// text (the claims of OpenID Connect's `profile` and `phone` scopes are strings).
fn map_standard_claim(
    mapped: &mut Mapped,
    mapping: &ClaimMapping,
    value: &Value,
    user: Option<&User>,
) {
    let key = mapping.field.as_str();
    let standard = PROFILE_CLAIMS.contains(&key) || key == "phone_number";
    let Some(text) = value.as_str().filter(|t| standard && !t.trim().is_empty()) else {
        return;
    };
    let current = user
        .and_then(|u| u.profile.get(key))
        .filter(|v| !v.is_null());
    if current.is_some() && mapping.sync == SyncRule::IfEmpty {
        return;
    }
    let limit = usize::try_from(MAX_TEXT_CHARS).unwrap_or(usize::MAX);
    let value = Value::String(text.chars().take(limit).collect());
    if current != Some(&value) {
        mapped
            .changes
            .push(ProfileChange::set(Location::Profile, key, value));
    }
}

/// The fields `mappings` keep in step with the provider (`always`): read-only for the user
/// while their value comes from that connection.
pub fn synced_fields(mappings: &[ClaimMapping]) -> impl Iterator<Item = &str> {
    mappings
        .iter()
        .filter(|m| m.sync == SyncRule::Always)
        .map(|m| m.field.as_str())
}

#[cfg(test)]
mod tests {
    use accrete_core::Policy;
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;

    fn policy() -> CompiledPolicy {
        let document = json!({
            "version": 1,
            "fields": [
                {"key": "first_name", "kind": "text", "required": false, "labels": {"en": "First name"},
                 "storage": {"profile": {"claim": "given_name"}}},
                {"key": "size", "kind": "select", "required": false, "labels": {"en": "Size"},
                 "options": [{"value": "1-10"}, {"value": "11-50"}]},
                {"key": "company", "kind": "text", "required": false, "labels": {"en": "Company"}}
            ],
            "steps": []
        });
        Policy::from_json_str(&document.to_string())
            .unwrap()
            .compile()
            .unwrap()
    }

    fn mapping(claim: &str, field: &str, sync: SyncRule) -> ClaimMapping {
        ClaimMapping {
            claim: claim.to_owned(),
            field: field.to_owned(),
            sync,
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn user_with(profile: Value, metadata: Value) -> User {
        let now = OffsetDateTime::now_utc();
        User {
            id: uuid::Uuid::nil(),
            email: "u@example.com".to_owned(),
            email_verified: false,
            password_hash: None,
            created_at: now,
            updated_at: now,
            credentialed_logins: 1,
            sso_logins: 0,
            last_login_at: None,
            profile,
            user_metadata: metadata,
            app_metadata: json!({}),
            version: 1,
            mfa_factors: 0,
            disabled_at: None,
        }
    }

    fn today() -> Date {
        OffsetDateTime::now_utc().date()
    }

    #[test]
    fn a_standard_claim_fills_the_field_stored_in_it_and_a_pointer_reads_nested_claims() {
        let mapped = map_claims(
            Some(&policy()),
            &[
                mapping("/given_name", "given_name", SyncRule::IfEmpty),
                mapping("/org/name", "company", SyncRule::IfEmpty),
            ],
            &claims(json!({"given_name": "Ada", "org": {"name": "Engines"}})),
            None,
            today(),
        );
        assert_eq!(
            mapped.changes,
            vec![
                ProfileChange::set(Location::Profile, "given_name", json!("Ada")),
                ProfileChange::set(Location::UserMetadata, "company", json!("Engines")),
            ]
        );
        assert!(mapped.suggestions.is_empty());
    }

    #[test]
    fn if_empty_keeps_a_known_value_and_always_replaces_it() {
        let user = user_with(json!({"given_name": "Augusta"}), json!({"company": "Mine"}));
        let mappings = [
            mapping("/given_name", "first_name", SyncRule::IfEmpty),
            mapping("/org", "company", SyncRule::Always),
        ];
        let given = claims(json!({"given_name": "Ada", "org": "Engines"}));
        let mapped = map_claims(Some(&policy()), &mappings, &given, Some(&user), today());
        assert_eq!(
            mapped.changes,
            vec![ProfileChange::set(
                Location::UserMetadata,
                "company",
                json!("Engines")
            )]
        );
        // The same value again changes nothing.
        let user = user_with(
            json!({"given_name": "Augusta"}),
            json!({"company": "Engines"}),
        );
        let again = map_claims(Some(&policy()), &mappings, &given, Some(&user), today());
        assert!(again.changes.is_empty());
    }

    #[test]
    fn a_value_the_field_refuses_is_a_suggestion_never_a_known_value() {
        let mapped = map_claims(
            Some(&policy()),
            &[mapping("/size", "size", SyncRule::IfEmpty)],
            &claims(json!({"size": "a thousand"})),
            None,
            today(),
        );
        assert!(mapped.changes.is_empty());
        assert_eq!(mapped.suggestions["size"], json!("a thousand"));
    }

    #[test]
    fn without_a_policy_standard_claims_go_to_the_profile_and_others_nowhere() {
        let mapped = map_claims(
            None,
            &[
                mapping("/family_name", "family_name", SyncRule::IfEmpty),
                mapping("/org", "company", SyncRule::IfEmpty),
                mapping("/picture", "picture", SyncRule::IfEmpty),
            ],
            &claims(json!({"family_name": "Lovelace", "org": "Engines", "picture": 7})),
            None,
            today(),
        );
        assert_eq!(
            mapped.changes,
            vec![ProfileChange::set(
                Location::Profile,
                "family_name",
                json!("Lovelace")
            )]
        );
    }
}
