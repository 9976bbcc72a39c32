//! What `decide` is told: the user's facts from the store, the moment from the transaction,
//! and the part of the transaction's `state` JSON that profiling keeps between pages.

use std::collections::BTreeMap;

use accrete_core::{
    CompiledPolicy, Field, KnownValue, Moment, MomentKind, PromptState, Storage, UserFacts,
};
use accrete_store::{Location, Provenance, StoreError, User, UserState};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::App;

/// Where a field's value is stored: the bag and the key in it.
pub fn location_of(field: &Field) -> (Location, &str) {
    match &field.storage {
        Storage::Profile { claim } => (Location::Profile, claim.as_str()),
        Storage::UserMetadata => (Location::UserMetadata, field.key.as_str()),
        Storage::AppMetadata => (Location::AppMetadata, field.key.as_str()),
    }
}

/// The bag of a user at `location`.
pub fn bag(user: &User, location: Location) -> &Value {
    match location {
        Location::Profile => &user.profile,
        Location::UserMetadata => &user.user_metadata,
        Location::AppMetadata => &user.app_metadata,
    }
}

/// The stored value of a field, if any (`null` counts as absent).
pub fn stored_value<'a>(user: &'a User, field: &Field) -> Option<&'a Value> {
    let (location, key) = location_of(field);
    bag(user, location).get(key).filter(|v| !v.is_null())
}

/// A stored user with prompt state and provenance: everything [`user_facts`] reads.
pub async fn load_user_state(app: &App, user: User) -> Result<UserState, StoreError> {
    let (prompts, provenance) = tokio::try_join!(
        app.store().prompt_states(user.id),
        app.store().value_provenance(user.id)
    )?;
    Ok(UserState {
        user,
        prompts,
        provenance,
    })
}

/// [`user_facts`] of a loaded [`UserState`].
pub fn state_facts(policy: &CompiledPolicy, state: &UserState) -> UserFacts {
    user_facts(policy, &state.user, &state.prompts, &state.provenance)
}

/// The user's facts for the fields of `policy`.
pub fn user_facts(
    policy: &CompiledPolicy,
    user: &User,
    prompts: &[accrete_store::PromptState],
    provenance: &[Provenance],
) -> UserFacts {
    let mut facts = UserFacts::new(user.created_at);
    facts.credentialed_logins = u64::try_from(user.credentialed_logins).unwrap_or(0);
    facts.sso_logins = u64::try_from(user.sso_logins).unwrap_or(0);
    facts.second_factor = user.mfa_factors > 0;
    for field in policy.fields() {
        let Some(value) = stored_value(user, field) else {
            continue;
        };
        if field.verify && crate::phone::verified_number(user).is_none() {
            // A number to verify counts as missing until its code is entered; it pre-fills
            // the question.
            facts
                .suggestions
                .insert(field.key.as_str().to_owned(), value.clone());
            continue;
        }
        let (location, key) = location_of(field);
        let origin = provenance
            .iter()
            .find(|p| p.location == location && p.key == key);
        facts.values.insert(
            field.key.as_str().to_owned(),
            KnownValue {
                value: value.clone(),
                updated_at: origin.map(|p| p.updated_at),
                source: origin.map(|p| p.source.clone()).unwrap_or_default(),
            },
        );
    }
    facts.prompts = prompt_states(prompts);
    facts
}

/// The engine's view of the stored prompt states, by step.
pub fn prompt_states(prompts: &[accrete_store::PromptState]) -> BTreeMap<String, PromptState> {
    let count = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
    prompts
        .iter()
        .map(|p| {
            (
                p.step.clone(),
                PromptState {
                    shown: count(p.shown),
                    skipped: count(p.skipped),
                    answered: count(p.answered),
                    last_shown_at: p.last_shown_at,
                    last_skipped_at: p.last_skipped_at,
                    last_answered_at: p.last_answered_at,
                    logins_at_last_skip: p.logins_at_last_skip.and_then(|n| u64::try_from(n).ok()),
                    declined: p.declined.clone(),
                },
            )
        })
        .collect()
}

/// Marks every known value of a field with `reconfirm_after` as set at the Unix epoch, hence
/// stale: the worst case, for deciding before the provenance (the value dates) is read.
pub fn assume_stale(policy: &CompiledPolicy, facts: &mut UserFacts) {
    for field in policy.fields() {
        if field.reconfirm_after.is_some()
            && let Some(known) = facts.values.get_mut(field.key.as_str())
        {
            known.updated_at = Some(time::OffsetDateTime::UNIX_EPOCH);
        }
    }
}

/// Whether any field of the policy needs value dates (re-confirmation): when none does, the
/// provenance query is not needed to decide (sources are not used by conditions).
pub fn needs_provenance(policy: &CompiledPolicy) -> bool {
    policy.fields().iter().any(|f| f.reconfirm_after.is_some())
}

/// A step shown in this transaction and not yet answered or skipped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Shown {
    /// The step.
    pub step: String,
    /// The fields asked.
    pub fields: Vec<String>,
    /// No "skip for now".
    pub required: bool,
    /// Values to pre-fill.
    #[serde(default)]
    pub prefill: BTreeMap<String, Value>,
    /// `Some((current, total))` for a sign-up split over several pages.
    #[serde(default)]
    pub progress: Option<(usize, usize)>,
    /// `Some((current, total))` for a `one_at_a_time` step with several questions.
    #[serde(default)]
    pub questions: Option<(usize, usize)>,
}

/// What profiling keeps in the transaction's `state` JSON, under `"profiling"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlowState {
    /// Optional steps shown during this sign-in.
    pub optional_steps_asked: u32,
    /// Steps skipped during this sign-in.
    pub skipped: Vec<String>,
    /// Steps answered during this sign-in (for sign-up progress).
    pub answered: Vec<String>,
    /// The step on screen, if any.
    pub current: Option<Shown>,
    /// The sign-up page held the first `signup` step.
    pub signup_page: bool,
    /// The user signed up through an upstream provider: no credentials page of ours to count
    /// in the sign-up's progress.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub provider_signup: bool,
    /// A provider was linked at this sign-in to the account that already had its email (its
    /// first sign-in through that provider): the `provider_link` enrichments run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub provider_link: bool,
    /// Values an upstream provider gave that the fields refused: they pre-fill the prompt
    /// (never stored as known).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub suggestions: BTreeMap<String, Value>,
    /// The step on screen's answers, held until the code sent to the number among them is
    /// entered (a field with `verify = true`): the number is not stored before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<PendingPhone>,
    /// What the hooks between authentication and the decision said (`Some` once they ran in
    /// this transaction: they run once per sign-in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<HookResults>,
}

/// What post-sign-in hooks said for this sign-in.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HookResults {
    /// Facts for step conditions (`user.facts.<name>`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, Value>,
    /// Claims for the ID token, namespaced.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub claims: serde_json::Map<String, Value>,
}

/// Answers of the step on screen waiting for the code sent to `number`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PendingPhone {
    /// The step whose answers these are.
    pub step: String,
    /// The number (E.164) the code was sent to.
    pub number: String,
    /// The valid answers of the step, by field key.
    pub answers: serde_json::Map<String, Value>,
}

impl FlowState {
    /// Reads the profiling part of a transaction's state (absent or unreadable: empty).
    pub fn of(state: &Value) -> FlowState {
        state
            .get("profiling")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// Writes it back into the transaction's state, keeping whatever else is there.
    pub fn store_into(&self, state: &mut Value) {
        if !state.is_object() {
            *state = Value::Object(serde_json::Map::new());
        }
        if let (Some(map), Ok(value)) = (state.as_object_mut(), serde_json::to_value(self)) {
            map.insert("profiling".to_owned(), value);
        }
    }

    /// The moment for `decide`.
    pub fn moment(&self, kind: MomentKind, client_id: &str, scopes: &[String]) -> Moment {
        let mut moment = Moment::new(kind);
        moment.client_id = Some(client_id.to_owned());
        moment.scopes = scopes.to_vec();
        moment.optional_steps_asked = self.optional_steps_asked;
        moment.skipped_this_signin = self.skipped.clone();
        moment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_state_round_trips_through_the_transaction_state_and_keeps_other_keys() {
        let mut state = serde_json::json!({ "other": 1 });
        let flow = FlowState {
            optional_steps_asked: 1,
            skipped: vec!["birthday".into()],
            ..FlowState::default()
        };
        flow.store_into(&mut state);
        assert_eq!(state["other"], 1);
        assert_eq!(FlowState::of(&state), flow);
        assert_eq!(FlowState::of(&Value::Null), FlowState::default());
    }
}
