//! What a provider's claims become in the profile: each mapping of a connection reads one claim
//! (a JSON pointer into the ID token claims merged with userinfo) into one policy field, checked
//! by that field's rules. A valid value is stored (with provenance `idp:<connection>`) when the
//! field is unknown, or always when the mapping says the provider is the source of truth; a
//! value the field refuses is never stored as known: it only pre-fills the prompt.

use std::collections::BTreeMap;

use accrete_core::{CompiledPolicy, JsonAnswers, validate_json_answers};
use accrete_federation::spec::{ClaimMapping, Sync as SyncRule};
use accrete_store::{ProfileChange, User};
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

/// Maps `claims` through `mappings` for `user` (`None`: a user about to be created). Mappings
/// whose field the policy does not have, or whose claim is absent or `null`, are left out.
pub fn map_claims(
    policy: Option<&CompiledPolicy>,
    mappings: &[ClaimMapping],
    claims: &Map<String, Value>,
    user: Option<&User>,
    today: Date,
) -> Mapped {
    let mut mapped = Mapped::default();
    let Some(policy) = policy else {
        return mapped;
    };
    let claims = Value::Object(claims.clone());
    for mapping in mappings {
        let Some(field) = policy.field(&mapping.field) else {
            continue;
        };
        let Some(value) = claims.pointer(&mapping.claim).filter(|v| !v.is_null()) else {
            continue;
        };
        let key = field.key.as_str();
        let current = user.and_then(|u| stored_value(u, field));
        if current.is_some() && mapping.sync == SyncRule::IfEmpty {
            continue;
        }
        let mut answer = JsonAnswers::new();
        answer.insert(key.to_owned(), value.clone());
        match validate_json_answers(policy, &[key], &answer, "en", today) {
            Ok(mut valid) => {
                let Some(value) = valid.remove(key) else {
                    continue;
                };
                if current == Some(&value) {
                    continue;
                }
                let (location, stored_key) = location_of(field);
                mapped
                    .changes
                    .push(ProfileChange::set(location, stored_key, value));
            }
            Err(_) => {
                // Never stored as known; offered to the user to correct. A user's own value
                // is kept as it is.
                if current.is_none() {
                    mapped.suggestions.insert(key.to_owned(), value.clone());
                }
            }
        }
    }
    mapped
}

/// The fields `mappings` keep in step with the provider (`always`): read-only for the user
/// while their value comes from that connection.
pub fn synced_fields(mappings: &[ClaimMapping]) -> impl Iterator<Item = &str> {
    mappings
        .iter()
        .filter(|m| m.sync == SyncRule::Always)
        .map(|m| m.field.as_str())
}
