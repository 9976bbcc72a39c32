//! The account center's use-cases, for the signed-in user on their own account: change the
//! password (knowing the current one), see and end sessions, see and revoke the applications
//! that hold refresh tokens, download everything kept about them, and delete the account;
//! whether a sign-in is recent enough for a sensitive change (`recent_sign_in`).
//! Each change is written with the event that reports it in one database transaction.

use accrete_oidc::credentials::{self, PasswordProblem};
use accrete_oidc::password::{self, PasswordCheck};
use accrete_store::{
    AuthorizedApplication, EventKind, Location, NewEvent, SsoSession, StoreError, User,
    normalize_email,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::App;
use crate::federation;
use crate::users::name_hints;

/// The most events a data export carries (the newest ones).
pub const EXPORT_EVENTS: u32 = 10_000;

/// How recent a sign-in must be for a sensitive change to a way of signing in (removing a
/// passkey, turning off a second factor) without signing in again.
pub const RECENT_SIGN_IN: Duration = Duration::minutes(10);

/// Whether a session signed in at `auth_time` is recent enough at `now` for a sensitive change
/// ([`RECENT_SIGN_IN`]); otherwise the person signs in again first.
pub fn recent_sign_in(auth_time: OffsetDateTime, now: OffsetDateTime) -> bool {
    auth_time <= now && now - auth_time <= RECENT_SIGN_IN
}

/// A password change by the account's owner.
#[derive(Debug)]
pub struct PasswordChange {
    pub user_id: Uuid,
    /// The password the user has now (to be verified).
    pub current: String,
    /// The new one (checked by the credential rules).
    pub new: String,
    pub now: OffsetDateTime,
}

/// Why a password was not changed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The current password given is not the account's (or the account has none).
    #[error("the current password is wrong")]
    WrongCurrent,
    /// The new password breaks the credential rules.
    #[error("the new password is refused: {0}")]
    Refused(PasswordProblem),
    /// The hashing pool is full.
    #[error("too many password checks at once")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a user knows about their account to be let through (deleting it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// The current password.
    Password,
    /// The account's email address typed again (users without a password).
    Email,
}

/// How a user confirms a deletion: with the password when the account has one.
pub fn confirmation_for(user: &User) -> Confirmation {
    if user.password_hash.is_some() {
        Confirmation::Password
    } else {
        Confirmation::Email
    }
}

/// Why an account was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// The password or email address given does not match.
    #[error("the confirmation does not match")]
    WrongConfirmation(Confirmation),
    #[error("too many password checks at once")]
    Busy,
    /// The person is the console's last owner.
    #[error("the console's last owner cannot delete their account")]
    LastOwner,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The hints a new password should not be built on: the email address and the names.
pub(crate) fn hints_of(user: &User) -> Vec<String> {
    let mut hints = name_hints(user.profile.as_object());
    hints.push(user.email.clone());
    hints
}

/// Whether `presented` is the user's password, on the hashing pool (the cost of a sign-in).
/// `None` when the pool is full.
pub(crate) async fn verify(app: &App, user: &User, presented: String) -> Option<bool> {
    if credentials::check_presented_password(&presented).is_err() {
        return Some(false);
    }
    let stored = user.password_hash.clone();
    app.hashing
        .run(move || match stored {
            Some(hash) => matches!(
                password::verify_password(&presented, &hash),
                Ok(PasswordCheck::Verified { .. })
            ),
            None => {
                password::verify_dummy(&presented);
                false
            }
        })
        .await
        .ok()
}

fn event(kind: EventKind, user_id: Uuid, now: OffsetDateTime, data: Value) -> NewEvent {
    NewEvent {
        kind,
        user_id,
        step: None,
        client_id: None,
        at: now,
        logins: None,
        data,
    }
}

/// Changes the password of a user who knows the current one. Sessions are kept (as Google and
/// GitHub do; the sessions page offers to sign out everywhere else); `password.changed` is
/// recorded with the new hash.
pub async fn change_password(app: &App, change: PasswordChange) -> Result<(), PasswordChangeError> {
    let user = app.store().get_user(change.user_id).await?;
    match verify(app, &user, change.current).await {
        None => return Err(PasswordChangeError::Busy),
        Some(false) => return Err(PasswordChangeError::WrongCurrent),
        Some(true) => {}
    }
    let hints = hints_of(&user);
    let hints: Vec<&str> = hints.iter().map(String::as_str).collect();
    credentials::check_new_password(&change.new, &hints).map_err(PasswordChangeError::Refused)?;
    let new = change.new;
    let hash = match app.hashing.run(move || password::hash_password(&new)).await {
        Ok(Ok(hash)) => hash,
        Ok(Err(_)) => return Err(PasswordChangeError::Refused(PasswordProblem::TooLong)),
        Err(_) => return Err(PasswordChangeError::Busy),
    };
    let changed = event(EventKind::PasswordChanged, user.id, change.now, json!({}));
    app.store().change_password(user.id, &hash, changed).await?;
    tracing::info!(user_id = %user.id, "password changed by its owner");
    Ok(())
}

/// The user's live sessions, newest first.
pub async fn sessions(
    app: &App,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<Vec<SsoSession>, StoreError> {
    app.store().list_user_sessions(user_id, now).await
}

/// Ends one of the user's sessions (named by its id); whether there was one.
pub async fn end_session(
    app: &App,
    user_id: Uuid,
    session_id: Uuid,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let revoked = event(
        EventKind::SessionRevoked,
        user_id,
        now,
        json!({ "what": "session", "count": 1 }),
    );
    app.store()
        .end_user_session(user_id, session_id, Some(revoked))
        .await
}

/// Ends every session of the user but `current`; how many ended.
pub async fn end_other_sessions(
    app: &App,
    user_id: Uuid,
    current: Uuid,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let revoked = event(
        EventKind::SessionRevoked,
        user_id,
        now,
        json!({ "what": "session", "others": true }),
    );
    app.store()
        .end_other_sessions(user_id, current, Some(revoked))
        .await
}

/// Ends every session of the user (an administrator signing them out everywhere); how many
/// ended.
pub async fn end_all_sessions(
    app: &App,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let revoked = event(
        EventKind::SessionRevoked,
        user_id,
        now,
        json!({ "what": "session", "all": true }),
    );
    // No session has the nil id: "every other session" is every session.
    app.store()
        .end_other_sessions(user_id, Uuid::nil(), Some(revoked))
        .await
}

/// The applications holding the user's live refresh tokens.
pub async fn applications(
    app: &App,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<Vec<AuthorizedApplication>, StoreError> {
    app.store().list_user_applications(user_id, now).await
}

/// Revokes what the user granted a client (its refresh tokens stop working); whether there was
/// anything to revoke.
pub async fn revoke_application(
    app: &App,
    user_id: Uuid,
    client_id: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let mut revoked = event(
        EventKind::SessionRevoked,
        user_id,
        now,
        json!({ "what": "application", "client_id": client_id }),
    );
    revoked.client_id = Some(client_id.to_owned());
    let count = app
        .store()
        .revoke_application(user_id, client_id, now, Some(revoked))
        .await?;
    Ok(count > 0)
}

/// Everything kept about the user, as one JSON document: the account (no password hash), the
/// profile values with where each came from and their history, linked identities, sessions
/// (device and dates; never their hashes), applications, prompt states and events.
pub async fn export(app: &App, user_id: Uuid, now: OffsetDateTime) -> Result<Value, StoreError> {
    let store = app.store();
    let user = store.get_user(user_id).await?;
    let provenance = store.value_provenance(user_id).await?;
    let history = store.user_history(user_id).await?;
    let identities: Vec<Value> = federation::linked_methods(app, user_id)
        .await?
        .into_iter()
        .map(|m| {
            json!({
                "connection": m.connection,
                "provider": m.display_name,
                "email": m.email,
                "linked_at": rfc3339(m.linked_at),
                "last_used_at": rfc3339(m.last_used_at),
            })
        })
        .collect();
    let sessions: Vec<Value> = store
        .list_user_sessions(user_id, now)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id,
                "user_agent": s.user_agent,
                "ip": s.ip,
                "created_at": rfc3339(s.created_at),
                "last_seen_at": rfc3339(s.last_seen_at),
                "expires_at": rfc3339(s.expires_at),
                "amr": s.amr,
            })
        })
        .collect();
    // Names and dates only: the credentials' public keys are of no use to the person.
    let passkeys: Vec<Value> = store
        .user_passkeys(user_id)
        .await?
        .into_iter()
        .map(|p| {
            json!({
                "name": p.name,
                "synced": p.backup_eligible,
                "created_at": rfc3339(p.created_at),
                "last_used_at": p.last_used_at.map(rfc3339),
            })
        })
        .collect();
    let applications = store.list_user_applications(user_id, now).await?;
    let prompt_states = store.prompt_states(user_id).await?;
    let events = store.user_events(user_id, EXPORT_EVENTS).await?;
    // Kinds, names and dates: never a secret.
    let second_factors: Vec<Value> = store
        .list_factors(user_id)
        .await?
        .into_iter()
        .map(|f| {
            json!({
                "kind": f.kind,
                "label": f.label,
                "phone": f.phone,
                "created_at": rfc3339(f.created_at),
                "confirmed_at": f.confirmed_at.map(rfc3339),
                "last_used_at": f.last_used_at.map(rfc3339),
            })
        })
        .collect();
    let recovery_codes_left = store.recovery_codes_left(user_id).await?;
    let consents = consents(app, &user, &provenance, &history).await?;
    // Who read or changed the account on the administrators' side (the audit log's entries
    // about it: who, what, when; never the values).
    let access: Vec<Value> = store
        .list_audit_about(&format!("user:{user_id}"), i64::from(EXPORT_EVENTS))
        .await?
        .into_iter()
        .map(|a| {
            json!({
                "at": rfc3339(a.entry.at),
                "by": a.entry.actor,
                "action": a.entry.action,
                "read": a.entry.after.as_ref().and_then(|v| v.get("read")).cloned(),
            })
        })
        .collect();
    Ok(json!({
        "schema": EXPORT_SCHEMA,
        "exported_at": rfc3339(now),
        "account": {
            "id": user.id,
            "email": user.email,
            "email_verified": user.email_verified,
            "has_password": user.password_hash.is_some(),
            "created_at": rfc3339(user.created_at),
            "updated_at": rfc3339(user.updated_at),
            "last_login_at": user.last_login_at.map(rfc3339),
            "credentialed_logins": user.credentialed_logins,
            "sso_logins": user.sso_logins,
        },
        "profile": user.profile,
        "user_metadata": user.user_metadata,
        "app_metadata": user.app_metadata,
        "provenance": provenance,
        "history": history,
        "linked_identities": identities,
        "passkeys": passkeys,
        "second_factors": second_factors,
        "recovery_codes_left": recovery_codes_left,
        "consents": consents,
        "administrator_access": access,
        "sessions": sessions,
        "applications": applications,
        "prompt_states": prompt_states,
        "events": events,
    }))
}

/// The name and version of the export's document (docs/data-rights.md).
pub const EXPORT_SCHEMA: &str = "accrete.user-data/1";

/// Every answer to a consent field, oldest first: from the history of its value, and the
/// record the user holds now when the history no longer has it (purged by the retention, or
/// written before it). What was accepted or refused, which version of the text (and its
/// address), when, where (the source: `prompt:<step>`, `signup`, `account`...) and in which
/// application. A value is a consent record by its shape (`accepted`, `version`), whether or
/// not the published policy still has its field: the evidence outlives the question.
async fn consents(
    app: &App,
    user: &User,
    provenance: &[accrete_store::Provenance],
    history: &[accrete_store::HistoryEntry],
) -> Result<Vec<Value>, StoreError> {
    let policy = app.policy().await?;
    // The field of the policy kept at a place, else the key itself.
    let field_at = |location: Location, key: &str| {
        policy
            .as_ref()
            .and_then(|policy| {
                policy.fields().iter().find(|field| {
                    field.kind == accrete_core::FieldType::Consent
                        && crate::facts::location_of(field) == (location, key)
                })
            })
            .map_or_else(|| key.to_owned(), |field| field.key.to_string())
    };
    // When the record says it was given (an imported record's is the source system's time),
    // else when it was written.
    let given_at = |value: &Value, written: OffsetDateTime| {
        value
            .get("at")
            .and_then(Value::as_str)
            .and_then(|at| {
                OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()
            })
            .unwrap_or(written)
    };
    let record = |field: String, value: &Value, at: String, source: &str| {
        let text = |name: &str| value.get(name).cloned();
        json!({
            "field": field,
            "accepted": value.get("accepted").and_then(Value::as_bool),
            "version": text("version"),
            "url": text("url"),
            "client_id": text("client_id"),
            "at": at,
            "source": source,
        })
    };
    let mut consents: Vec<(OffsetDateTime, Value)> = Vec::new();
    for entry in history {
        if let Some(value) = entry.new_value.as_ref().filter(|v| is_consent_record(v)) {
            let field = field_at(entry.location, &entry.key);
            let at = given_at(value, entry.changed_at);
            let consent = record(field, value, rfc3339(at), &entry.source);
            consents.push((at, consent));
        }
    }
    for location in Location::ALL {
        let Some(bag) = crate::facts::bag(user, location).as_object() else {
            continue;
        };
        for (key, value) in bag.iter().filter(|(_, v)| is_consent_record(v)) {
            let known = history.iter().any(|h| {
                h.location == location && &h.key == key && h.new_value.as_ref() == Some(value)
            });
            if known {
                continue;
            }
            let written = provenance
                .iter()
                .find(|p| p.location == location && &p.key == key);
            let at = given_at(value, written.map_or(user.updated_at, |p| p.updated_at));
            let source = written.map_or("", |p| p.source.as_str());
            let consent = record(field_at(location, key), value, rfc3339(at), source);
            consents.push((at, consent));
        }
    }
    consents.sort_by_key(|(at, _)| *at);
    Ok(consents.into_iter().map(|(_, consent)| consent).collect())
}

/// Whether a stored value is a consent record: `accepted` and the `version` of the text.
fn is_consent_record(value: &Value) -> bool {
    value.get("accepted").is_some_and(Value::is_boolean)
        && value.get("version").is_some_and(Value::is_string)
}

/// A time as the documents given to people and to other systems write it (RFC 3339).
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Deletes the user's own account once `confirmation` proves it is them (the password, or the
/// email address for an account without one), as the management API deletes a user (grants
/// revoked, sessions ended, the user and what belongs to it removed), with `account.deleted`
/// recorded in the same transaction (its user cut, the id kept in its data).
pub async fn delete_account(
    app: &App,
    user_id: Uuid,
    confirmation: String,
    now: OffsetDateTime,
) -> Result<(), DeleteError> {
    let user = app.store().get_user(user_id).await?;
    let how = confirmation_for(&user);
    let confirmed = match how {
        Confirmation::Password => match verify(app, &user, confirmation).await {
            None => return Err(DeleteError::Busy),
            Some(ok) => ok,
        },
        Confirmation::Email => normalize_email(confirmation.trim()) == normalize_email(&user.email),
    };
    if !confirmed {
        return Err(DeleteError::WrongConfirmation(how));
    }
    if crate::admins::is_last_owner(app, user.id).await? {
        return Err(DeleteError::LastOwner);
    }
    let deleted = event(
        EventKind::AccountDeleted,
        user.id,
        now,
        json!({ "user_id": user.id, "by": "owner" }),
    );
    app.store()
        .delete_account(user.id, now, Some(deleted))
        .await?;
    app.mail
        .forget(user.id, &user.email, crate::phone::stored_number(&user))
        .await;
    tracing::info!(user_id = %user.id, "account deleted by its owner");
    Ok(())
}

/// The client that registered `uri` as a redirect URI or a post-logout redirect URI, compared
/// exactly: the account center's `return_to` goes back only to an application's own address.
pub async fn client_for_return(
    app: &App,
    uri: &str,
) -> Result<Option<accrete_store::Client>, StoreError> {
    if uri.is_empty() || uri.len() > 2048 {
        return Ok(None);
    }
    let clients = app.store().list_clients().await?;
    Ok(clients.into_iter().find(|c| {
        c.redirect_uris.iter().any(|r| r == uri)
            || c.post_logout_redirect_uris.iter().any(|r| r == uri)
    }))
}
