//! Records the storage layer reads and writes: the user, and what `connect` and `migrate` report.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;

/// How to open the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Upper bound of the connection pool.
    pub max_connections: u32,
    /// How long to wait for a connection before reporting the database unavailable.
    pub connect_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Where the database stands against the migrations embedded in this binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    /// Highest migration version applied to the database (0 when none).
    pub applied: i64,
    /// Highest migration version this binary knows.
    pub known: i64,
    /// Every known migration is applied and the database has none this binary does not know.
    pub current: bool,
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// Time-ordered UUIDv7.
    pub id: Uuid,
    /// The email as the user typed it.
    pub email: String,
    /// Whether the user proved they own the email.
    pub email_verified: bool,
    /// PHC string of the password; `None` for users without a password (federated only).
    #[serde(skip_serializing)]
    pub password_hash: Option<String>,
    /// When the user was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change of the record's profile data.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Interactive sign-ins with credentials.
    pub credentialed_logins: i64,
    /// Sign-ins that reused a single sign-on session.
    pub sso_logins: i64,
    /// Last sign-in of either kind.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    /// Standard OpenID Connect claims (`given_name`, `phone_number`, ...), a JSON object.
    pub profile: Value,
    /// User-editable metadata, a JSON object.
    pub user_metadata: Value,
    /// Metadata only administrators and back ends may write, a JSON object.
    pub app_metadata: Value,
    /// Bumped on every profile change; used for ETags and optimistic concurrency.
    pub version: i64,
    /// How many confirmed second factors the user has (kept by the store).
    #[serde(skip_serializing)]
    pub mfa_factors: i64,
    /// When an administrator disabled the account; `None` while it may sign in.
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
}

impl User {
    /// Total sign-ins of both kinds.
    pub fn logins(&self) -> i64 {
        self.credentialed_logins.saturating_add(self.sso_logins)
    }

    /// Whether an administrator disabled the account.
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// What is needed to create a user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewUser {
    /// The email as typed; uniqueness is checked on its lower-case form.
    pub email: String,
    /// Whether the email is already verified (for example by an upstream identity provider).
    pub email_verified: bool,
    /// PHC string of the password, if the user has one.
    #[serde(skip_serializing)]
    pub password_hash: Option<String>,
    /// Initial standard claims (a JSON object; `null` means empty).
    pub profile: Value,
    /// Initial user metadata (a JSON object; `null` means empty).
    pub user_metadata: Value,
    /// Initial app metadata (a JSON object; `null` means empty).
    pub app_metadata: Value,
    /// Creation time (time is passed in, never read from a clock here).
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
}

impl NewUser {
    /// A user with just an email and empty profile bags.
    pub fn with_email(email: impl Into<String>, now: OffsetDateTime) -> Self {
        Self {
            email: email.into(),
            email_verified: false,
            password_hash: None,
            profile: Value::Object(serde_json::Map::new()),
            user_metadata: Value::Object(serde_json::Map::new()),
            app_metadata: Value::Object(serde_json::Map::new()),
            now,
        }
    }
}

/// Which counter a sign-in increments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInKind {
    /// The user presented credentials.
    Credentialed,
    /// An existing single sign-on session was reused.
    Sso,
}

/// One UTC day's sign-ups and sign-ins (the console's overview).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCounts {
    /// The day (UTC).
    pub day: time::Date,
    /// Users created that day (deleted ones still count).
    pub sign_ups: i64,
    /// Sign-ins with credentials (password, passkey, a provider).
    pub credentialed_sign_ins: i64,
    /// Sign-ins that reused a single sign-on session.
    pub sso_sign_ins: i64,
}

/// The normalized form used for email uniqueness: trimmed and lower-case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A failed-credential counter: how many failures, and when the last one was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    /// Failures counted since the counter last started.
    pub failures: u32,
    /// When the last one was.
    pub last_failure_at: OffsetDateTime,
}

/// The failed-credential counters of one account, as seen from one source address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CredentialFailures {
    /// Failures from this source on this account (`None`: none counted).
    pub from_source: Option<FailureCount>,
    /// Failures on this account from every source together.
    pub on_account: Option<FailureCount>,
}

impl CredentialFailures {
    /// From `(source, failures, last_failure_at)` rows; source `*` is the account-wide row.
    pub(crate) fn from_rows(
        source: &str,
        rows: Vec<(String, i64, i64)>,
    ) -> Result<CredentialFailures, StoreError> {
        let mut counters = CredentialFailures::default();
        for (row_source, failures, last) in rows {
            let count = FailureCount {
                failures: u32::try_from(failures).unwrap_or(u32::MAX),
                last_failure_at: from_millis(last)?,
            };
            if row_source == "*" {
                counters.on_account = Some(count);
            } else if row_source == source {
                counters.from_source = Some(count);
            }
        }
        Ok(counters)
    }
}

/// Unix milliseconds, the timestamp representation in both backends.
pub(crate) fn to_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Back from unix milliseconds.
pub(crate) fn from_millis(millis: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .map_err(StoreError::unexpected)
}

/// Optional timestamp back from unix milliseconds.
pub(crate) fn from_millis_opt(millis: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    millis.map(from_millis).transpose()
}

/// Parses a stored id.
pub(crate) fn parse_id(id: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(id).map_err(StoreError::unexpected)
}

/// An optional stored id.
pub(crate) fn parse_id_opt(id: Option<String>) -> Result<Option<Uuid>, StoreError> {
    id.as_deref().map(parse_id).transpose()
}

/// The counter that keeps ids made in one millisecond in the order they were made.
static ID_CONTEXT: std::sync::Mutex<uuid::ContextV7> =
    std::sync::Mutex::new(uuid::ContextV7::new());

/// A new time-ordered id whose timestamp is `now`, or the last id's when `now` is earlier. Ids
/// made by this process sort in the order they were made, also within one millisecond (lists
/// ordered by id are in the order users came to this server); without the counter, the random
/// bits decided the order of two ids of the same millisecond. Only the present is a good `now`:
/// an id is never back-dated (an imported user's creation date is its `created_at`).
pub(crate) fn new_id(now: OffsetDateTime) -> Uuid {
    let nanos = now.unix_timestamp_nanos();
    let seconds = u64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    // A panic elsewhere cannot leave the counter in a state worth refusing.
    let context = ID_CONTEXT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Uuid::new_v7(uuid::Timestamp::from_unix(&*context, seconds, subsec))
}

/// An empty JSON object in place of `null`; anything but an object is refused.
pub(crate) fn json_object(value: Value, what: &str) -> Result<Value, StoreError> {
    match value {
        Value::Null => Ok(Value::Object(serde_json::Map::new())),
        Value::Object(_) => Ok(value),
        _ => Err(StoreError::Invalid {
            message: format!("{what} must be a JSON object"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_in_one_millisecond_sort_in_the_order_they_were_made() {
        let now = OffsetDateTime::now_utc();
        let ids: Vec<Uuid> = (0..1000).map(|_| new_id(now)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert_eq!(ids[0].get_version_num(), 7);
    }
}
