//! What a user does with a step put in front of them, on every surface: answer or skip it on
//! the hosted prompt page or through the API (the widget), leave it (cancel, "not you?"), answer
//! the first sign-up step on the sign-up page, or edit values on the account page.
//!
//! One definition each of: answers turned into profile changes ([`changes_for`]), consents
//! completed into the records that prove them ([`stamp_consents`]), a prompt event
//! ([`prompt_event`]), and the writes of one outcome, which go to the store as one unit of work
//! (the transaction's step, the values with their history and provenance, the event: all or
//! nothing).

use accrete_core::{Answers, CompiledPolicy, Field, FieldType, PromptState, UserAccess};
use std::sync::Arc;

use accrete_store::{
    AuthTransaction, EventKind, NewEvent, ProfileChange, ProfilingWrite, StoreError, User,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::app::App;
use crate::facts::{FlowState, PendingPhone, Shown, location_of, stored_value};

/// A prompt event of `kind` about `step` (`logins` and `data` as the caller knows them).
pub fn prompt_event(
    kind: EventKind,
    user_id: Uuid,
    step: &str,
    client_id: Option<&str>,
    at: OffsetDateTime,
    data: Value,
) -> NewEvent {
    NewEvent {
        kind,
        user_id,
        step: Some(step.to_owned()),
        client_id: client_id.map(str::to_owned),
        at,
        logins: None,
        data,
    }
}

/// The profile changes that store `answers` for the fields `keys`, each where its field is
/// stored; a key without an answer clears the stored value. Keys that are not fields of the
/// policy are ignored.
pub fn changes_for<'k>(
    policy: &CompiledPolicy,
    keys: impl IntoIterator<Item = &'k str>,
    answers: &Answers,
) -> Vec<ProfileChange> {
    keys.into_iter()
        .filter_map(|key| policy.field(key))
        .map(|field| {
            let (location, stored_key) = location_of(field);
            ProfileChange {
                location,
                key: stored_key.to_owned(),
                value: answers.get(field.key.as_str()).cloned(),
            }
        })
        .collect()
}

/// Completes each consent among `answers` into the record that proves it: the core gave it
/// `accepted`, `version` and the text's `url`; this adds when it was given (`at`, RFC 3339 to
/// the second) and through which application (`client_id`, absent outside one, e.g. on the
/// account page). A consent answered as `stored` holds it already (same choice, version and
/// text) keeps its record: saving a form again does not move the date of a consent.
pub fn stamp_consents(
    policy: &CompiledPolicy,
    answers: &mut Answers,
    stored: Option<&User>,
    client_id: Option<&str>,
    now: OffsetDateTime,
) {
    let at = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .unwrap_or_default();
    for (key, value) in answers.iter_mut() {
        let Some(field) = policy
            .field(key.as_str())
            .filter(|f| f.kind == FieldType::Consent)
        else {
            continue;
        };
        let previous = stored.and_then(|user| stored_value(user, field));
        if let Some(previous) = previous.filter(|previous| same_consent(previous, value)) {
            *value = previous.clone();
            continue;
        }
        let Some(record) = value.as_object_mut() else {
            continue;
        };
        record.insert("at".to_owned(), Value::String(at.clone()));
        match client_id {
            Some(client) => record.insert("client_id".to_owned(), Value::String(client.to_owned())),
            None => record.remove("client_id"),
        };
    }
}

/// Whether two consent values say the same: the same choice, to the same version and text.
fn same_consent(a: &Value, b: &Value) -> bool {
    ["accepted", "version", "url"]
        .iter()
        .all(|part| a.get(part) == b.get(part))
}

/// Whether the user may change `field` now: fields they may edit, unless written once already.
pub fn user_may_edit(field: &Field, user: &User) -> bool {
    field.user_access == UserAccess::Edit
        && !(field.write_once && stored_value(user, field).is_some())
}

/// What the user did with the step on screen.
#[derive(Debug, Clone)]
pub enum StepOutcome {
    /// Answered: the valid answers of the fields asked, under the policy that checked them.
    Answered(Arc<CompiledPolicy>, Answers),
    /// Skipped ("skip for now").
    Skipped,
    /// Nothing to store: the policy was withdrawn meanwhile, the step just goes off screen.
    Withdrawn,
}

/// Takes the step on screen off the transaction, exactly once, and stores what the user did
/// with it, in one unit of work. `Ok(false)` when another request (a double submit, another
/// tab) already took it off: its outcome counts and nothing is written here.
pub async fn finish_step(
    app: &App,
    tx: &AuthTransaction,
    outcome: StepOutcome,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let mut flow = FlowState::of(&tx.state);
    let Some(shown) = flow.current.take() else {
        return Ok(false);
    };
    // Answers held for a phone code go with the step, whatever was done with it.
    flow.phone = None;
    match &outcome {
        StepOutcome::Skipped => flow.skipped.push(shown.step.clone()),
        StepOutcome::Answered(..) => flow.answered.push(shown.step.clone()),
        StepOutcome::Withdrawn => {}
    }
    let mut updated = tx.clone();
    flow.store_into(&mut updated.state);
    let written = match tx.user_id {
        Some(user_id) => {
            let mut write = ProfilingWrite {
                user_id,
                transaction: Some(updated),
                changes: Vec::new(),
                // A companion's visit: the answers came through the provider's sign-in.
                source: match crate::companion::spec::CompanionState::of(&tx.state) {
                    Some(companion) => crate::companion::spec::source_of(&companion.name),
                    None => format!("prompt:{}", shown.step),
                },
                event: None,
                now,
            };
            let client = Some(tx.client_id.as_str());
            match outcome {
                StepOutcome::Answered(policy, mut answers) => {
                    // A step asks a consent afresh (missing, another version, or to confirm).
                    stamp_consents(&policy, &mut answers, None, client, now);
                    let keys: Vec<&str> = shown.fields.iter().map(String::as_str).collect();
                    write.changes =
                        changes_for(&policy, answers.keys().map(|k| k.as_str()), &answers);
                    let stored: Vec<&str> = write.changes.iter().map(|c| c.key.as_str()).collect();
                    let declined = PromptState::left_blank(&keys, &answers);
                    write.event = Some(prompt_event(
                        EventKind::PromptAnswered,
                        user_id,
                        &shown.step,
                        client,
                        now,
                        json!({ "fields": stored, "declined": declined }),
                    ));
                }
                StepOutcome::Skipped => {
                    let user = app.store().get_user(user_id).await?;
                    let mut event = prompt_event(
                        EventKind::PromptSkipped,
                        user_id,
                        &shown.step,
                        client,
                        now,
                        json!({}),
                    );
                    event.logins = Some(user.credentialed_logins);
                    write.event = Some(event);
                }
                StepOutcome::Withdrawn => {}
            }
            app.store().write_profiling(write).await.map(drop)
        }
        // No one signed in (cannot happen for a step on screen): only the step goes.
        None => app.store().update_transaction(updated).await.map(drop),
    };
    match written {
        Ok(()) => Ok(true),
        // A concurrent submit of the same page won: its answer counts.
        Err(StoreError::VersionMismatch { .. } | StoreError::Conflict { .. }) => Ok(false),
        Err(error) => Err(error),
    }
}

/// The user set up a second factor (on `/mfa/setup?tx=`) while a `second_factor` step of the
/// policy was on screen in `tx`: the step is answered, recorded as such, and the resumed
/// sign-in goes on. Nothing happens for any other step (or none).
pub async fn second_factor_set_up(
    app: &App,
    tx: &AuthTransaction,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let Some(shown) = FlowState::of(&tx.state).current else {
        return Ok(());
    };
    let Some(policy) = app.policy().await? else {
        return Ok(());
    };
    if !policy
        .step(&shown.step)
        .is_some_and(|step| step.second_factor)
    {
        return Ok(());
    }
    let outcome = StepOutcome::Answered(policy, Answers::default());
    finish_step(app, tx, outcome, now).await.map(drop)
}

/// Why the user left the step on screen without answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// "Cancel": back to the application with `access_denied`.
    Cancelled,
    /// "Not you?": signed out, back to the sign-in page of the same transaction.
    SwitchedAccount,
}

impl Leaving {
    fn reason(self) -> &'static str {
        match self {
            Leaving::Cancelled => "cancelled",
            Leaving::SwitchedAccount => "switched_account",
        }
    }
}

/// Records `prompt.abandoned` for a step the user left. The user's choice is carried out
/// whatever happens here: a failure is logged, not returned.
pub async fn abandon(
    app: &App,
    tx: &AuthTransaction,
    shown: &Shown,
    why: Leaving,
    now: OffsetDateTime,
) {
    let Some(user_id) = tx.user_id else {
        return;
    };
    let event = prompt_event(
        EventKind::PromptAbandoned,
        user_id,
        &shown.step,
        Some(&tx.client_id),
        now,
        json!({ "tx": tx.id, "reason": why.reason() }),
    );
    if let Err(error) = app.store().record_prompt_event(event).await {
        tracing::error!(%error, "could not record an abandoned prompt");
    }
}

/// "Not you?": the transaction forgets its user and what profiling did in it (that belongs to
/// the previous account's sign-in); the step shown is recorded as abandoned. `Ok(false)` when
/// another request moved the transaction on meanwhile.
pub async fn switch_account(
    app: &App,
    tx: &AuthTransaction,
    shown: &Shown,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let mut updated = tx.clone();
    updated.user_id = None;
    updated.session_hash = None;
    FlowState::default().store_into(&mut updated.state);
    match app.store().update_transaction(updated).await {
        Ok(_) => {}
        Err(StoreError::VersionMismatch { .. } | StoreError::Conflict { .. }) => return Ok(false),
        Err(error) => return Err(error),
    }
    abandon(app, tx, shown, Leaving::SwitchedAccount, now).await;
    Ok(true)
}

/// Stores answers given outside any prompt (the account page, `PATCH /api/v1/me` by the
/// application `client_id`) with source `account`: every key in `keys` is set to its answer or
/// cleared when it has none; a consent the user already gave keeps its record.
pub async fn save_account_answers(
    app: &App,
    policy: &CompiledPolicy,
    user: &User,
    client_id: Option<&str>,
    keys: &[&str],
    answers: &Answers,
    now: OffsetDateTime,
) -> Result<User, StoreError> {
    let mut answers = answers.clone();
    stamp_consents(policy, &mut answers, Some(user), client_id, now);
    let changes = changes_for(policy, keys.iter().copied(), &answers);
    app.store()
        .apply_profile_changes(user.id, None, &changes, "account", now)
        .await
}

/// A step of an application's own page (the widget, through the API): who, which step, for
/// which client, when.
#[derive(Debug, Clone, Copy)]
pub struct InApp<'a> {
    pub user: &'a User,
    pub step: &'a str,
    pub client_id: &'a str,
    pub now: OffsetDateTime,
}

impl InApp<'_> {
    fn event(&self, kind: EventKind, data: Value) -> NewEvent {
        prompt_event(
            kind,
            self.user.id,
            self.step,
            Some(self.client_id),
            self.now,
            data,
        )
    }
}

/// A step shown in an application: recorded as shown.
pub async fn shown_in_app(app: &App, at: InApp<'_>) -> Result<(), StoreError> {
    let event = at.event(EventKind::PromptShown, json!({ "via": "api" }));
    app.store().record_prompt_event(event).await?;
    Ok(())
}

/// A step answered in an application: every key in `keys` is set to its answer or cleared (a
/// blank answer, recorded as declined), with source `prompt:<step>`, and the answer recorded,
/// in one unit of work.
pub async fn answer_in_app(
    app: &App,
    policy: &CompiledPolicy,
    at: InApp<'_>,
    keys: &[&str],
    answers: &Answers,
) -> Result<(), StoreError> {
    let declined: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|key| !answers.contains_key(*key))
        .collect();
    let mut answers = answers.clone();
    stamp_consents(policy, &mut answers, None, Some(at.client_id), at.now);
    let write = ProfilingWrite {
        user_id: at.user.id,
        transaction: None,
        changes: changes_for(policy, keys.iter().copied(), &answers),
        source: format!("prompt:{}", at.step),
        event: Some(at.event(
            EventKind::PromptAnswered,
            json!({ "via": "api", "declined": declined }),
        )),
        now: at.now,
    };
    app.store().write_profiling(write).await.map(drop)
}

/// A step skipped in an application.
pub async fn skip_in_app(app: &App, at: InApp<'_>) -> Result<(), StoreError> {
    let mut event = at.event(EventKind::PromptSkipped, json!({ "via": "api" }));
    event.logins = Some(at.user.credentialed_logins);
    app.store().record_prompt_event(event).await?;
    Ok(())
}

/// The number among `answers` that must be proven before the step is stored: the answer of a
/// field with `verify = true` among the step's `fields`, unless it is the account's verified
/// number already.
pub fn number_to_verify(
    policy: &CompiledPolicy,
    fields: &[String],
    answers: &Answers,
    user: &User,
) -> Option<String> {
    fields
        .iter()
        .filter_map(|key| policy.field(key))
        .filter(|field| field.verify)
        .find_map(|field| answers.get(field.key.as_str())?.as_str())
        .filter(|number| crate::phone::verified_number(user) != Some(*number))
        .map(str::to_owned)
}

/// Holds the step on screen's `answers` in the transaction until the code sent to `number` is
/// entered ([`held_answers`]). `Ok(false)` when another request moved the transaction on.
pub async fn hold_for_code(
    app: &App,
    tx: &AuthTransaction,
    number: &str,
    answers: &Answers,
) -> Result<bool, StoreError> {
    let mut flow = FlowState::of(&tx.state);
    let Some(shown) = &flow.current else {
        return Ok(false);
    };
    flow.phone = Some(PendingPhone {
        step: shown.step.clone(),
        number: number.to_owned(),
        answers: answers
            .iter()
            .map(|(key, value)| (key.as_str().to_owned(), value.clone()))
            .collect(),
    });
    let mut updated = tx.clone();
    flow.store_into(&mut updated.state);
    match app.store().update_transaction(updated).await {
        Ok(_) => Ok(true),
        Err(StoreError::VersionMismatch { .. } | StoreError::Conflict { .. }) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Forgets the held answers ("use another number"): the step is asked again.
pub async fn release_held(app: &App, tx: &AuthTransaction) -> Result<(), StoreError> {
    let mut flow = FlowState::of(&tx.state);
    if flow.phone.take().is_none() {
        return Ok(());
    }
    let mut updated = tx.clone();
    flow.store_into(&mut updated.state);
    match app.store().update_transaction(updated).await {
        Ok(_) | Err(StoreError::VersionMismatch { .. } | StoreError::Conflict { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}

/// The answers held for the step on screen, and the number waiting for its code.
pub fn held_answers(flow: &FlowState) -> Option<(String, Answers)> {
    let pending = flow.phone.as_ref()?;
    if flow.current.as_ref().map(|s| s.step.as_str()) != Some(pending.step.as_str()) {
        return None;
    }
    let answers = pending
        .answers
        .iter()
        .map(|(key, value)| (accrete_core::FieldKey::new(key), value.clone()))
        .collect();
    Some((pending.number.clone(), answers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use accrete_core::{FieldKey, Policy};
    use time::macros::datetime;

    fn example() -> CompiledPolicy {
        Policy::from_toml_str(include_str!("../../../examples/policy.toml"))
            .unwrap()
            .compile()
            .unwrap()
    }

    fn user_with_terms(terms: Value) -> User {
        let now = OffsetDateTime::UNIX_EPOCH;
        User {
            id: Uuid::nil(),
            email: "ann@example.com".into(),
            email_verified: true,
            password_hash: None,
            created_at: now,
            updated_at: now,
            credentialed_logins: 1,
            sso_logins: 0,
            last_login_at: None,
            profile: json!({}),
            user_metadata: json!({ "terms": terms }),
            app_metadata: json!({}),
            version: 1,
            mfa_factors: 0,
            disabled_at: None,
        }
    }

    /// The terms as the core validates them: accepted, with the example's version and text.
    fn answered_terms() -> Answers {
        let terms = json!({
            "accepted": true,
            "version": "2026-01",
            "url": "https://example.com/terms/2026-01",
        });
        Answers::from([
            (FieldKey::new("terms"), terms),
            (FieldKey::new("company"), json!("Acme")),
        ])
    }

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:34:56.789 UTC);

    #[test]
    fn a_consent_answered_in_an_application_records_when_and_where() {
        let mut answers = answered_terms();
        stamp_consents(&example(), &mut answers, None, Some("shop"), NOW);
        assert_eq!(
            answers["terms"],
            json!({
                "accepted": true,
                "version": "2026-01",
                "url": "https://example.com/terms/2026-01",
                "at": "2026-03-01T12:34:56Z",
                "client_id": "shop",
            })
        );
        assert_eq!(answers["company"], json!("Acme"), "other answers untouched");
    }

    #[test]
    fn a_consent_saved_again_unchanged_keeps_its_record_and_a_changed_one_is_stamped_anew() {
        let given = json!({
            "accepted": true,
            "version": "2026-01",
            "url": "https://example.com/terms/2026-01",
            "at": "2026-01-10T08:00:00Z",
            "client_id": "shop",
        });
        let mut answers = answered_terms();
        let user = user_with_terms(given.clone());
        stamp_consents(&example(), &mut answers, Some(&user), None, NOW);
        assert_eq!(
            answers["terms"], given,
            "the date of the consent does not move"
        );

        let older = user_with_terms(json!({ "accepted": true, "version": "2025-06" }));
        let mut answers = answered_terms();
        stamp_consents(&example(), &mut answers, Some(&older), None, NOW);
        assert_eq!(answers["terms"]["at"], "2026-03-01T12:34:56Z");
        assert_eq!(answers["terms"]["version"], "2026-01");
        assert!(
            answers["terms"].get("client_id").is_none(),
            "the account page is no application"
        );
    }
}
