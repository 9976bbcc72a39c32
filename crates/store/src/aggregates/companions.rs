//! Companion mode (docs/companion.md): the users Accrete keeps for the users of an identity
//! provider it is the companion of, found by `(companion, subject)`, and the single use of the
//! provider's start tokens. A start is one unit of work: the token's id used, the user found or
//! created, the provider's values stored, the sign-in count taken over, the transaction opened.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::aggregates::transactions;
use crate::aggregates::users::{self, UserRow};
use crate::backend::{Backend, Conn, query, query_as};
use crate::{AuthTransaction, NewAuthTransaction, NewUser, ProfileChange, StoreError, User};

/// A browser arriving from a provider with a verified start token.
#[derive(Debug, Clone)]
pub struct CompanionStart {
    /// The companion's name.
    pub companion: String,
    /// The user's id at the provider.
    pub subject: String,
    /// The start token's id (used once).
    pub jti: String,
    /// When the start token expires (its id is kept until then).
    pub token_expires_at: OffsetDateTime,
    /// The email the provider gave (may be empty; shown, never a key).
    pub email: String,
    /// Whether the provider verified it.
    pub email_verified: bool,
    /// The provider's count of the user's sign-ins.
    pub logins: i64,
    /// The provider's values, as changes of the stored ones.
    pub changes: Vec<ProfileChange>,
    /// Their provenance (`companion:<name>`).
    pub source: String,
    /// The transaction of this visit (its `user_id` is set to the user's).
    pub transaction: NewAuthTransaction,
    /// The hash of the cookie binding the visit to its browser (kept as the transaction's
    /// `session_hash`: a companion's visit has no SSO session).
    pub session_hash: Option<String>,
    /// Now.
    pub now: OffsetDateTime,
}

/// What a start did.
#[derive(Debug, Clone)]
pub enum CompanionStarted {
    /// The user after the provider's values, and the open transaction.
    Started {
        /// The user.
        user: Box<User>,
        /// The transaction, with the user.
        transaction: Box<AuthTransaction>,
    },
    /// The token's id was used already: nothing was written.
    Replayed,
}

/// The users of companions and the single use of start tokens.
#[async_trait]
pub trait Companions: Send + Sync {
    /// The user kept for `subject` of `companion`, if any.
    async fn companion_user(
        &self,
        companion: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError>;

    /// A start, in one database transaction: the token id recorded as used (and the ids of the
    /// companion's tokens expired before `now` forgotten), the user of `(companion, subject)`
    /// found or created (its email as given, unique per subject, not per address), its email
    /// updated, the changes stored with history and provenance `source`, its credentialed sign-in
    /// count set to `logins`, and the transaction created with the user. On
    /// [`CompanionStarted::Replayed`] or any error nothing is written. Two first starts of the
    /// same new subject at once: one of them fails with [`StoreError::Conflict`] (try again).
    async fn start_companion(&self, start: CompanionStart) -> Result<CompanionStarted, StoreError>;
}

#[async_trait]
impl<B: Backend> Companions for B {
    async fn companion_user(
        &self,
        companion: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::companion_user(&mut *c, companion, subject).await;
        self.settle(&mut c, result)
    }

    async fn start_companion(&self, start: CompanionStart) -> Result<CompanionStarted, StoreError> {
        let mut c = self.write().await?;
        let result = sql::start_companion(&mut *c, start).await;
        self.settle(&mut c, result)
    }
}

/// The unique key standing for the email of a companion's user.
fn subject_key(companion: &str, subject: &str) -> String {
    format!("companion:{companion}:{subject}")
}

/// The address a provider gave, as the user list's `email` filter compares it (`None` when
/// there is none).
fn searchable(email: &str) -> Option<String> {
    Some(crate::model::normalize_email(email)).filter(|e| !e.is_empty())
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn companion_user<C: Conn>(
        c: &mut C,
        companion: &str,
        subject: &str,
    ) -> Result<Option<User>, StoreError> {
        query_as::<UserRow>(
            "SELECT u.* FROM companion_subjects s JOIN users u ON u.id = s.user_id
             WHERE s.companion = $1 AND s.subject = $2",
        )
        .bind(companion.to_owned())
        .bind(subject.to_owned())
        .fetch_optional(&mut *c)
        .await?
        .map(User::try_from)
        .transpose()
    }

    pub(crate) async fn start_companion<C: Conn>(
        c: &mut C,
        start: CompanionStart,
    ) -> Result<CompanionStarted, StoreError> {
        let now = crate::model::to_millis(start.now);
        let mut tx = c.begin_write().await?;
        query("DELETE FROM companion_tokens WHERE companion = $1 AND expires_at < $2")
            .bind(start.companion.clone())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let fresh = query_as::<(String,)>(
            "INSERT INTO companion_tokens (companion, jti, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (companion, jti) DO NOTHING RETURNING jti",
        )
        .bind(start.companion.clone())
        .bind(start.jti.clone())
        .bind(crate::model::to_millis(start.token_expires_at))
        .fetch_optional(&mut *tx)
        .await?;
        if fresh.is_none() {
            return Ok(CompanionStarted::Replayed);
        }
        let user = match companion_user(&mut *tx, &start.companion, &start.subject).await? {
            Some(user) => {
                if user.email != start.email.trim() || user.email_verified != start.email_verified {
                    query("UPDATE users SET email = $2, email_verified = $3 WHERE id = $1")
                        .bind(user.id.to_string())
                        .bind(start.email.trim().to_owned())
                        .bind(start.email_verified)
                        .execute(&mut *tx)
                        .await?;
                    query(
                        "UPDATE companion_subjects SET email_normalized = $3
                         WHERE companion = $1 AND subject = $2",
                    )
                    .bind(start.companion.clone())
                    .bind(start.subject.clone())
                    .bind(searchable(&start.email))
                    .execute(&mut *tx)
                    .await?;
                }
                user
            }
            None => {
                let new = NewUser {
                    email_verified: start.email_verified,
                    ..NewUser::with_email(start.email.clone(), start.now)
                };
                let key = subject_key(&start.companion, &start.subject);
                let user = users::sql::create_user_keyed_in(&mut *tx, new, key).await?;
                query(
                    "INSERT INTO companion_subjects
                         (companion, subject, user_id, created_at, email_normalized)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(start.companion.clone())
                .bind(start.subject.clone())
                .bind(user.id.to_string())
                .bind(now)
                .bind(searchable(&start.email))
                .execute(&mut *tx)
                .await?;
                user
            }
        };
        if !start.changes.is_empty() {
            let update = crate::UserUpdate {
                changes: start.changes,
                ..crate::UserUpdate::default()
            };
            users::sql::update_user_in(&mut *tx, user.id, None, &update, &start.source, start.now)
                .await?;
        }
        let user: User = query_as::<UserRow>(
            "UPDATE users SET credentialed_logins = $2, last_login_at = $3 WHERE id = $1
             RETURNING *",
        )
        .bind(user.id.to_string())
        .bind(start.logins)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_into()?;
        let mut transaction =
            transactions::sql::create_transaction(&mut *tx, start.transaction).await?;
        transaction.user_id = Some(user.id);
        transaction.session_hash = start.session_hash;
        let transaction = transactions::sql::update_transaction(&mut *tx, transaction).await?;
        C::commit(tx).await?;
        Ok(CompanionStarted::Started {
            user: Box::new(user),
            transaction: Box::new(transaction),
        })
    }
}
