//! Administering users: create (with a password and initial values, in one unit of work),
//! read, list with filters, change (with the version the change is based on), disable and
//! enable, delete, history. Whether a user may sign in at all is decided here
//! ([`may_sign_in`]).
//! Values are checked by [`crate::values`] against the published policy.

use accrete_core::CompiledPolicy;
use accrete_oidc::{credentials, password};
use accrete_store::{
    EmailChange, FieldFilter, HistoryEntry, Location, NewUser, Page, ProfileChange, StoreError,
    User, UserQuery, UserUpdate,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::admins::{self, Actor};
use crate::app::App;
use crate::hashing::PoolBusy;
use crate::policy_admin::published_or_empty;
use crate::problems::{Problem, push};
use crate::values;

/// Why a user use-case did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// No user has this id.
    #[error("user not found")]
    NotFound,
    /// The user changed since the version the change is based on.
    #[error("the user changed since it was read (now version {current})")]
    VersionMismatch {
        /// The current version.
        current: i64,
    },
    /// Another user has this email (compared ignoring case).
    #[error("a user with this email exists")]
    EmailTaken,
    /// Values refused, every one of them.
    #[error("values refused")]
    Invalid(Vec<Problem>),
    /// One input refused (a filter of a listing).
    #[error("{}: {}", .0.path, .0.message)]
    Refused(Problem),
    /// The user is the console's last owner, whom nothing may delete.
    #[error("this user is the console's last owner: make another owner first")]
    LastOwner,
    /// The hashing pool is full.
    #[error(transparent)]
    Busy(#[from] PoolBusy),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Values of a user: `profile` replaces the claims it names (`null` deletes one);
/// `user_metadata` and `app_metadata` are RFC 7396 merge patches.
#[derive(Debug, Default)]
pub struct Values {
    pub profile: Option<Map<String, Value>>,
    pub user_metadata: Option<Map<String, Value>>,
    pub app_metadata: Option<Map<String, Value>>,
}

/// A new user.
#[derive(Debug)]
pub struct NewAccount {
    /// The email as given (trimmed here).
    pub email: String,
    /// A password, checked by the credential rules; `None`: signs in by other means.
    pub password: Option<String>,
    pub email_verified: bool,
    /// Initial values.
    pub values: Values,
    /// Provenance of the values (`api:<client>`).
    pub source: String,
    pub now: OffsetDateTime,
}

/// A change to a user.
#[derive(Debug, Default)]
pub struct Change {
    /// New email (trimmed here).
    pub email: Option<String>,
    /// Whether the (new) email is verified.
    pub email_verified: Option<bool>,
    pub values: Values,
}

/// Filters of a listing, as given.
#[derive(Debug, Default)]
pub struct Filters {
    /// Exact email, ignoring case.
    pub email: Option<String>,
    pub created_after: Option<OffsetDateTime>,
    pub created_before: Option<OffsetDateTime>,
    /// A field key of the published policy, or `<location>.<key>`.
    pub field: Option<String>,
    /// With `field`: the value it must equal (JSON, or a bare string).
    pub value: Option<String>,
    /// With `field`: `true` lists users for whom the field is missing.
    pub missing: Option<bool>,
    /// Page size (1 to [`UserQuery::MAX_LIMIT`]).
    pub limit: Option<u32>,
    pub cursor: Option<Uuid>,
}

fn refused(path: &str, code: &str, message: &str) -> UserError {
    UserError::Refused(Problem::new(path, code, message))
}

/// Checks the values; profile changes and metadata patches to store.
fn check_values(
    policy: &CompiledPolicy,
    values: &mut Values,
    user: Option<&User>,
    now: OffsetDateTime,
    problems: &mut Vec<Problem>,
) -> (Vec<ProfileChange>, Vec<(Location, Value)>) {
    let mut changes = Vec::new();
    if let Some(claims) = values.profile.as_mut() {
        values::check_profile(policy, claims, now, problems);
        for (claim, value) in claims.iter() {
            changes.push(ProfileChange {
                location: Location::Profile,
                key: claim.clone(),
                value: Some(value.clone()).filter(|v| !v.is_null()),
            });
        }
    }
    let mut patches = Vec::new();
    for (location, bag) in [
        (Location::UserMetadata, values.user_metadata.as_mut()),
        (Location::AppMetadata, values.app_metadata.as_mut()),
    ] {
        if let Some(bag) = bag {
            values::check_metadata(policy, location, bag, user, now, problems);
            // A consent record replaces the one before it whole: merged into it (RFC 7396),
            // a new version kept the old record's time and application.
            for key in values::consent_keys(policy, location) {
                if let Some(record) = bag.remove(key) {
                    changes.push(ProfileChange {
                        location,
                        key: key.to_owned(),
                        value: Some(record).filter(|v| !v.is_null()),
                    });
                }
            }
            if !bag.is_empty() {
                patches.push((location, Value::Object(bag.clone())));
            }
        }
    }
    (changes, patches)
}

/// Creates a user with a password (hashed on the pool) and initial values, in one unit of
/// work: refused values leave no user behind.
pub async fn create(app: &App, new: NewAccount) -> Result<User, UserError> {
    let NewAccount {
        email,
        password,
        email_verified,
        mut values,
        source,
        now,
    } = new;
    let email = email.trim().to_owned();
    let mut problems = Vec::new();
    if let Err(problem) = credentials::check_email(&email) {
        push(&mut problems, "email", "invalid_email", problem.to_string());
    }
    if let Some(password) = password.as_deref() {
        let names = name_hints(values.profile.as_ref());
        let mut hints: Vec<&str> = names.iter().map(String::as_str).collect();
        hints.push(&email);
        if let Err(problem) = credentials::check_new_password(password, &hints) {
            push(
                &mut problems,
                "password",
                problem.code(),
                problem.to_string(),
            );
        }
    }
    let policy = published_or_empty(app).await?;
    let (changes, patches) = check_values(&policy, &mut values, None, now, &mut problems);
    if !problems.is_empty() {
        return Err(UserError::Invalid(problems));
    }
    if app.store().find_user_by_email(&email).await?.is_some() {
        return Err(UserError::EmailTaken);
    }
    let password_hash = match password {
        Some(password) => Some(
            app.hashing
                .run(move || password::hash_password(&password))
                .await?
                .map_err(|e| refused("password", "invalid", &e.to_string()))?,
        ),
        None => None,
    };
    let mut user = NewUser::with_email(email, now);
    user.email_verified = email_verified;
    user.password_hash = password_hash;
    let update = UserUpdate {
        email: None,
        changes,
        patches,
    };
    Ok(app.store().create_user_with(user, &update, &source).await?)
}

/// The names in a profile, known to whoever guesses its password.
pub fn name_hints(profile: Option<&Map<String, Value>>) -> Vec<String> {
    const NAMES: [&str; 6] = [
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
    ];
    NAMES
        .iter()
        .filter_map(|key| profile?.get(*key)?.as_str())
        .map(str::to_owned)
        .collect()
}

/// The user with this id.
pub async fn get(app: &App, id: Uuid) -> Result<User, UserError> {
    match app.store().get_user(id).await {
        Err(StoreError::NotFound) => Err(UserError::NotFound),
        other => Ok(other?),
    }
}

/// Records that `actor` (an administrator, a back end) read `what` of the user (`profile`,
/// `history`, `export`): a person may ask who looked at their data (docs/data-rights.md), and
/// their own export lists it. The read stands when the log cannot be written (said loudly).
pub async fn record_read(app: &App, actor: &Actor, user_id: Uuid, what: &str, now: OffsetDateTime) {
    let target = Some(format!("user:{user_id}"));
    let read = Some(serde_json::json!({ "read": what }));
    if let Err(error) = admins::audit(app, actor, "user.viewed", target, (None, read), now).await {
        tracing::error!(%error, %user_id, actor = %actor.name, "a read of a user could not be written to the audit log");
    }
}

/// Changes a user, based on version `expected` when given (checked again inside the store's
/// transaction, against the row it locks).
pub async fn update(
    app: &App,
    id: Uuid,
    expected: Option<i64>,
    change: Change,
    source: &str,
    now: OffsetDateTime,
) -> Result<User, UserError> {
    let Change {
        email,
        email_verified,
        mut values,
    } = change;
    let current = get(app, id).await?;
    if let Some(version) = expected
        && version != current.version
    {
        return Err(UserError::VersionMismatch {
            current: current.version,
        });
    }
    let policy = published_or_empty(app).await?;
    let mut problems = Vec::new();
    let (changes, patches) = check_values(&policy, &mut values, Some(&current), now, &mut problems);
    let email = email.as_deref().map(str::trim);
    if let Some(Err(problem)) = email.map(credentials::check_email) {
        push(&mut problems, "email", "invalid_email", problem.to_string());
    }
    if !problems.is_empty() {
        return Err(UserError::Invalid(problems));
    }
    let email = (email.is_some() || email_verified.is_some()).then(|| {
        let email = email.unwrap_or(&current.email);
        EmailChange {
            email: email.to_owned(),
            verified: email_verified
                .unwrap_or(current.email_verified && email.eq_ignore_ascii_case(&current.email)),
        }
    });
    let update = UserUpdate {
        email,
        changes,
        patches,
    };
    Ok(app
        .store()
        .update_user(id, expected, &update, source, now)
        .await?)
}

/// Replaces the user's `app_metadata` with `new`, which must be a JSON object: sent to
/// [`update`] as the merge patch that turns the current bag into `new` (keys it lacks
/// deleted, nested objects replaced exactly), so it is checked as the API's `PATCH` checks
/// `app_metadata`. `null` values delete, as in any merge patch. Returns the bag before and the
/// user after.
pub async fn replace_app_metadata(
    app: &App,
    id: Uuid,
    expected: Option<i64>,
    new: Value,
    source: &str,
    now: OffsetDateTime,
) -> Result<(Value, User), UserError> {
    if !new.is_object() {
        return Err(refused(
            "app_metadata",
            "not_an_object",
            "app_metadata must be a JSON object ({...})",
        ));
    }
    let current = get(app, id).await?;
    let before = current.app_metadata.clone();
    let patch = match merge_diff(&before, &new) {
        Some(Value::Object(patch)) => patch,
        _ => return Ok((before, current)),
    };
    let change = Change {
        values: Values {
            app_metadata: Some(patch),
            ..Values::default()
        },
        ..Change::default()
    };
    let user = update(app, id, expected, change, source, now).await?;
    Ok((before, user))
}

/// The RFC 7396 merge patch that turns `old` into `new`; `None` when they are equal.
fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return Some(new.clone());
    };
    let mut patch = Map::new();
    for key in old.keys().filter(|k| !new.contains_key(*k)) {
        patch.insert(key.clone(), Value::Null);
    }
    for (key, value) in new {
        let diff = match old.get(key) {
            Some(previous) if previous.is_object() && value.is_object() => {
                merge_diff(previous, value)
            }
            Some(previous) if previous == value => None,
            _ => Some(value.clone()),
        };
        if let Some(diff) = diff {
            patch.insert(key.clone(), diff);
        }
    }
    Some(Value::Object(patch))
}

/// Whether the user may sign in, by any method (password, passkey, provider, single sign-on)
/// and go on using tokens: not while an administrator has disabled the account. Every sign-in
/// use-case and the token endpoint ask this.
pub fn may_sign_in(user: &User) -> bool {
    !user.is_disabled()
}

/// Disables the account (`disabled`: its sessions end and its refresh tokens stop working, in
/// the same transaction; it cannot sign in again until enabled) or enables it. Returns the
/// user and whether anything changed (disabling a disabled account is no change).
pub async fn set_disabled(
    app: &App,
    id: Uuid,
    disabled: bool,
    now: OffsetDateTime,
) -> Result<(User, bool), UserError> {
    let at = disabled.then_some(now);
    match app.store().set_user_disabled(id, at, now).await {
        Err(StoreError::NotFound) => Err(UserError::NotFound),
        Ok((user, changed)) => {
            if changed {
                tracing::info!(user_id = %id, disabled, "account disabled or enabled");
            }
            Ok((user, changed))
        }
        Err(error) => Err(error.into()),
    }
}

/// The audit action of a change of `disabled`.
pub fn disabled_action(disabled: bool) -> &'static str {
    if disabled {
        "user.disabled"
    } else {
        "user.enabled"
    }
}

/// Deletes a user with their profile values, history, sessions and tokens.
pub async fn delete(app: &App, id: Uuid, now: OffsetDateTime) -> Result<(), UserError> {
    if admins::is_last_owner(app, id).await? {
        return Err(UserError::LastOwner);
    }
    let user = match app.store().get_user(id).await {
        Err(StoreError::NotFound) => return Err(UserError::NotFound),
        other => other?,
    };
    // Grants revoked, sessions ended and the user deleted in one transaction (the account
    // center's deletion is the same, with its event).
    match app.store().delete_account(id, now, None).await {
        Err(StoreError::NotFound) => return Err(UserError::NotFound),
        other => other?,
    }
    app.mail
        .forget(user.id, &user.email, crate::phone::stored_number(&user))
        .await;
    Ok(())
}

/// Every value change of a user, oldest first.
pub async fn history(app: &App, id: Uuid) -> Result<Vec<HistoryEntry>, UserError> {
    get(app, id).await?;
    Ok(app.store().user_history(id).await?)
}

/// Resolves `field` to a bag and key: `location.key`, or a field of the published policy.
async fn resolve_field(app: &App, field: &str) -> Result<(Location, String), UserError> {
    if let Some((prefix, key)) = field.split_once('.')
        && let Some(location) = Location::parse(prefix)
        && !key.is_empty()
    {
        return Ok((location, key.to_owned()));
    }
    let policy = published_or_empty(app).await?;
    match policy.field(field) {
        Some(definition) => {
            let (location, key) = crate::facts::location_of(definition);
            Ok((location, key.to_owned()))
        }
        None => Err(refused(
            "field",
            "unknown_field",
            "not a field of the published policy nor `<location>.<key>`",
        )),
    }
}

/// Users in the order they came to this server (signed up or imported), a page at a time,
/// filtered.
pub async fn list(app: &App, filters: Filters) -> Result<Page<User>, UserError> {
    if filters
        .limit
        .is_some_and(|l| l == 0 || l > UserQuery::MAX_LIMIT)
    {
        return Err(refused("limit", "out_of_range", "between 1 and 1000"));
    }
    let field = match &filters.field {
        None if filters.value.is_some() || filters.missing.is_some() => {
            return Err(refused(
                "field",
                "required",
                "`value` and `missing` filter on a `field`",
            ));
        }
        None => None,
        Some(name) => {
            let (location, key) = resolve_field(app, name).await?;
            let equals = match (&filters.value, filters.missing) {
                (Some(_), Some(true)) => {
                    return Err(refused(
                        "missing",
                        "conflict",
                        "use either `value` or `missing=true`",
                    ));
                }
                (Some(text), _) => Some(
                    serde_json::from_str::<Value>(text)
                        .unwrap_or_else(|_| Value::String(text.clone())),
                ),
                (None, Some(true)) => None,
                (None, _) => {
                    return Err(refused(
                        "value",
                        "required",
                        "filter on a field with `value=...` or `missing=true`",
                    ));
                }
            };
            Some(FieldFilter {
                location,
                key,
                equals,
            })
        }
    };
    Ok(app
        .store()
        .list_users(UserQuery {
            email: filters.email,
            created_after: filters.created_after,
            created_before: filters.created_before,
            field,
            limit: filters.limit,
            cursor: filters.cursor,
        })
        .await?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    async fn app() -> (App, tempfile::TempDir) {
        let (store, dir) = accrete_store::testing::sqlite_store().await;
        let app = App::for_tests(store, "http://issuer");
        (app, dir)
    }

    fn account(email: &str, values: Values) -> NewAccount {
        NewAccount {
            email: email.into(),
            password: None,
            email_verified: false,
            values,
            source: "api:test".into(),
            now: OffsetDateTime::now_utc(),
        }
    }

    #[test]
    fn the_merge_diff_turns_the_old_bag_into_the_new_one() {
        let old = json!({"plan": "pro", "limits": {"seats": 5, "sso": true}, "gone": 1});
        let new = json!({"plan": "pro", "limits": {"seats": 10}, "region": "eu"});
        let patch = merge_diff(&old, &new).unwrap();
        assert_eq!(
            patch,
            json!({"gone": null, "limits": {"sso": null, "seats": 10}, "region": "eu"})
        );
        assert_eq!(crate::values::merged(&old, &patch), new);
        assert_eq!(merge_diff(&new, &new), None);
    }

    #[tokio::test]
    async fn app_metadata_is_replaced_as_a_whole_and_must_be_an_object() {
        let (app, _dir) = app().await;
        let values = Values {
            app_metadata: json!({"plan": "pro", "old": 1}).as_object().cloned(),
            ..Values::default()
        };
        let ada = create(&app, account("ada@example.com", values))
            .await
            .unwrap();
        let now = OffsetDateTime::now_utc();
        let refused = replace_app_metadata(&app, ada.id, None, json!([1]), "admin", now).await;
        assert!(
            matches!(&refused, Err(UserError::Refused(p)) if p.code == "not_an_object"),
            "{refused:?}"
        );
        let bad = replace_app_metadata(&app, ada.id, None, json!({"a.b": 1}), "admin", now).await;
        assert!(matches!(bad, Err(UserError::Invalid(_))), "{bad:?}");
        let (before, after) =
            replace_app_metadata(&app, ada.id, None, json!({"plan": "team"}), "admin", now)
                .await
                .unwrap();
        assert_eq!(before, json!({"plan": "pro", "old": 1}));
        assert_eq!(after.app_metadata, json!({"plan": "team"}));
        let stale =
            replace_app_metadata(&app, ada.id, Some(ada.version), json!({}), "admin", now).await;
        assert!(matches!(stale, Err(UserError::VersionMismatch { .. })));
    }

    #[tokio::test]
    async fn a_consent_given_again_by_a_back_end_is_a_new_record_of_its_own_time() {
        let (app, _dir) = app().await;
        let text = include_str!("../../../examples/policy.toml");
        let policy = accrete_core::Policy::from_toml_str(text).unwrap();
        let document = serde_json::to_value(&policy).unwrap();
        let now = OffsetDateTime::now_utc();
        app.store()
            .publish_policy(&document, None, now)
            .await
            .unwrap();
        app.policy_changed();
        // Accepted an older text in the shop, as the source system recorded it.
        let old = json!({"accepted": true, "version": "2025-01", "at": "2025-01-01T00:00:00Z",
                         "client_id": "shop"});
        let values = Values {
            user_metadata: json!({ "terms": old }).as_object().cloned(),
            ..Values::default()
        };
        let ada = create(&app, account("ada@example.com", values))
            .await
            .unwrap();
        assert_eq!(ada.user_metadata["terms"], old);
        // A back end records that the text in force was accepted.
        let change = Change {
            email: None,
            email_verified: None,
            values: Values {
                user_metadata: json!({ "terms": true }).as_object().cloned(),
                ..Values::default()
            },
        };
        let after = update(&app, ada.id, None, change, "api:crm", now)
            .await
            .unwrap();
        let record = &after.user_metadata["terms"];
        assert_eq!(record["version"], "2026-01", "{record}");
        assert_eq!(
            record["url"], "https://example.com/terms/2026-01",
            "{record}"
        );
        assert_ne!(record["at"], old["at"], "{record}");
        assert!(record["at"].is_string(), "{record}");
        assert!(
            record.get("client_id").is_none(),
            "not the shop's: {record}"
        );
    }

    #[tokio::test]
    async fn a_disabled_user_may_not_sign_in_until_enabled() {
        let (app, _dir) = app().await;
        let ada = create(&app, account("ada@example.com", Values::default()))
            .await
            .unwrap();
        assert!(may_sign_in(&ada));
        let now = OffsetDateTime::now_utc();
        let (disabled, changed) = set_disabled(&app, ada.id, true, now).await.unwrap();
        assert!(changed && !may_sign_in(&disabled));
        let (_, changed) = set_disabled(&app, ada.id, true, now).await.unwrap();
        assert!(!changed, "disabling twice is no change");
        let (enabled, changed) = set_disabled(&app, ada.id, false, now).await.unwrap();
        assert!(changed && may_sign_in(&enabled));
        let missing = set_disabled(&app, Uuid::now_v7(), true, now).await;
        assert!(matches!(missing, Err(UserError::NotFound)));
    }

    #[tokio::test]
    async fn every_refused_value_is_reported_and_no_user_is_created() {
        let (app, _dir) = app().await;
        let values = Values {
            profile: json!({"shoe_size": "42"}).as_object().cloned(),
            user_metadata: json!({"a.b": 1}).as_object().cloned(),
            app_metadata: None,
        };
        let mut new = account("not an email", values);
        new.password = Some("short".into());
        let Err(UserError::Invalid(problems)) = create(&app, new).await else {
            panic!("values should be refused");
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"email"), "{paths:?}");
        assert!(paths.contains(&"password"), "{paths:?}");
        assert!(paths.contains(&"profile.shoe_size"), "{paths:?}");
        assert!(paths.contains(&"user_metadata.a.b"), "{paths:?}");
        assert_eq!(app.store().count_users().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_user_is_created_with_its_values_and_changed_against_its_version() {
        let (app, _dir) = app().await;
        let values = Values {
            profile: json!({"given_name": "Ada"}).as_object().cloned(),
            user_metadata: json!({"theme": "dark"}).as_object().cloned(),
            app_metadata: None,
        };
        let ada = create(&app, account(" ada@example.com ", values))
            .await
            .unwrap();
        assert_eq!(ada.email, "ada@example.com");
        assert_eq!(ada.profile, json!({"given_name": "Ada"}));
        assert!(matches!(
            create(&app, account("ADA@example.com", Values::default())).await,
            Err(UserError::EmailTaken)
        ));
        let stale = update(
            &app,
            ada.id,
            Some(ada.version + 1),
            Change::default(),
            "api:test",
            OffsetDateTime::now_utc(),
        )
        .await;
        assert!(
            matches!(stale, Err(UserError::VersionMismatch { current }) if current == ada.version)
        );
        assert_eq!(history(&app, ada.id).await.unwrap().len(), 2);
        delete(&app, ada.id, OffsetDateTime::now_utc())
            .await
            .unwrap();
        assert!(matches!(get(&app, ada.id).await, Err(UserError::NotFound)));
    }
}
