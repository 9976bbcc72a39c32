//! Proofs sent by mail (verification codes and links, new-address confirmations, password reset
//! links): issued under resend limits, used once, and used in the transaction that applies what
//! they prove, with its event.

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::account::{
    AccountToken, IssueLimits, Issued, NewAccountToken, Presented, Redeemed, TokenEffect,
    TokenEvent, TokenPurpose,
};
use crate::aggregates::users::UserRow;
use crate::backend::{Backend, Conn, query, query_as};
use crate::model::{from_millis, parse_id, to_millis};
use crate::profile::{PHONE_NUMBER, PHONE_NUMBER_VERIFIED};
use crate::{Location, NewEvent, ProfileChange, StoreError, User, UserUpdate};
use serde_json::Value;

/// How long a used or expired proof is kept, so that the resend limits can count it.
const KEPT_AFTER_EXPIRY: Duration = Duration::days(1);

/// Proofs sent by mail.
#[async_trait]
pub trait AccountTokens: Send + Sync {
    /// Stores a proof unless the account had one of the same purpose less than
    /// `limits.interval` ago or `limits.per_hour` in the last hour; the account's earlier live
    /// proofs of that purpose stop working. [`StoreError::NotFound`] when the user does not
    /// exist.
    async fn issue_account_token(
        &self,
        token: NewAccountToken,
        limits: IssueLimits,
    ) -> Result<Issued, StoreError>;

    /// The account's live proof of `purpose` at `now`, if any.
    async fn live_account_token(
        &self,
        user_id: Uuid,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<AccountToken>, StoreError>;

    /// The live proof of `purpose` whose link has this hash, without using it.
    async fn peek_account_link(
        &self,
        link_hash: &str,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<AccountToken>, StoreError>;

    /// Checks a presented proof of `effect`'s purpose and, when right, uses it up, applies
    /// `effect` and records `event`, all in one transaction. A wrong code is counted (and the
    /// count kept), with the purpose's failure event if it has one (`phone.code_failed`,
    /// recorded with `event`'s client); so are concurrent presentations: of two, one wins.
    async fn redeem_account_token(
        &self,
        presented: Presented,
        effect: TokenEffect,
        event: Option<TokenEvent>,
        now: OffsetDateTime,
    ) -> Result<Redeemed, StoreError>;

    /// Deletes the proofs expired a day before `now`; returns how many.
    async fn purge_account_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

#[async_trait]
impl<B: Backend> AccountTokens for B {
    async fn issue_account_token(
        &self,
        token: NewAccountToken,
        limits: IssueLimits,
    ) -> Result<Issued, StoreError> {
        let mut c = self.write().await?;
        let result = sql::issue_account_token(&mut *c, token, limits).await;
        self.settle(&mut c, result)
    }

    async fn live_account_token(
        &self,
        user_id: Uuid,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<AccountToken>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::live_account_token(&mut *c, user_id, purpose, now).await;
        self.settle(&mut c, result)
    }

    async fn peek_account_link(
        &self,
        link_hash: &str,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<AccountToken>, StoreError> {
        let mut c = self.read().await?;
        let result = sql::peek_account_link(&mut *c, link_hash, purpose, now).await;
        self.settle(&mut c, result)
    }

    async fn redeem_account_token(
        &self,
        presented: Presented,
        effect: TokenEffect,
        event: Option<TokenEvent>,
        now: OffsetDateTime,
    ) -> Result<Redeemed, StoreError> {
        let mut c = self.write().await?;
        let result = sql::redeem_account_token(&mut *c, presented, effect, event, now).await;
        self.settle(&mut c, result)
    }

    async fn purge_account_tokens(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut c = self.write().await?;
        let result = sql::purge_account_tokens(&mut *c, now).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    async fn lock_user<C: Conn>(c: &mut C, user_id: Uuid) -> Result<Option<User>, StoreError> {
        query_as::<UserRow>(C::LOCK_USER)
            .bind(user_id.to_string())
            .fetch_optional(&mut *c)
            .await?
            .map(User::try_from)
            .transpose()
    }

    pub(crate) async fn issue_account_token<C: Conn>(
        c: &mut C,
        token: NewAccountToken,
        limits: IssueLimits,
    ) -> Result<Issued, StoreError> {
        let now = token.created_at;
        let mut tx = c.begin_write().await?;
        // The user's row serialises the issues of one account across nodes.
        if lock_user(&mut *tx, token.user_id).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        let (count, first, last) = query_as::<(i64, Option<i64>, Option<i64>)>(
            "SELECT COUNT(*), MIN(created_at), MAX(created_at) FROM account_tokens
             WHERE user_id = $1 AND purpose = $2 AND created_at > $3",
        )
        .bind(token.user_id.to_string())
        .bind(token.purpose.as_str())
        .bind(to_millis(now - Duration::HOUR))
        .fetch_one(&mut *tx)
        .await?;
        if let Some(last) = last {
            let next = from_millis(last)? + limits.interval;
            if next > now {
                return Ok(Issued::TooSoon { retry_at: next });
            }
        }
        if count >= limits.per_hour
            && let Some(first) = first
        {
            return Ok(Issued::TooSoon {
                retry_at: from_millis(first)? + Duration::HOUR,
            });
        }
        query(
            "UPDATE account_tokens SET consumed_at = $3
             WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL",
        )
        .bind(token.user_id.to_string())
        .bind(token.purpose.as_str())
        .bind(to_millis(now))
        .execute(&mut *tx)
        .await?;
        query(
            "INSERT INTO account_tokens
                 (id, user_id, purpose, email, code_hash, link_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(token.id.to_string())
        .bind(token.user_id.to_string())
        .bind(token.purpose.as_str())
        .bind(token.email)
        .bind(token.code_hash)
        .bind(token.link_hash)
        .bind(to_millis(now))
        .bind(to_millis(token.expires_at))
        .execute(&mut *tx)
        .await?;
        C::commit(tx).await?;
        Ok(Issued::Issued)
    }

    pub(crate) async fn live_account_token<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<AccountToken>, StoreError> {
        live_row(c, user_id, purpose, now)
            .await?
            .map(AccountToken::try_from)
            .transpose()
    }

    async fn live_row<C: Conn>(
        c: &mut C,
        user_id: Uuid,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<AccountTokenRow>, StoreError> {
        query_as::<AccountTokenRow>(
            "SELECT * FROM account_tokens
             WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $3
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(user_id.to_string())
        .bind(purpose.as_str())
        .bind(to_millis(now))
        .fetch_optional(&mut *c)
        .await
    }

    pub(crate) async fn peek_account_link<C: Conn>(
        c: &mut C,
        link_hash: &str,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<Option<AccountToken>, StoreError> {
        query_as::<AccountTokenRow>(
            "SELECT * FROM account_tokens
             WHERE link_hash = $1 AND purpose = $2 AND consumed_at IS NULL AND expires_at > $3",
        )
        .bind(link_hash.to_owned())
        .bind(purpose.as_str())
        .bind(to_millis(now))
        .fetch_optional(&mut *c)
        .await?
        .map(AccountToken::try_from)
        .transpose()
    }

    pub(crate) async fn redeem_account_token<C: Conn>(
        c: &mut C,
        presented: Presented,
        effect: TokenEffect,
        event: Option<TokenEvent>,
        now: OffsetDateTime,
    ) -> Result<Redeemed, StoreError> {
        let purpose = effect.purpose();
        let at = to_millis(now);
        let mut tx = c.begin_write().await?;
        let (row, user) = match presented {
            Presented::Code {
                user_id,
                code_hash,
                max_attempts,
            } => {
                // The user's row serialises the codes typed for one account across nodes, so
                // that the attempts are counted exactly.
                let Some(user) = lock_user(&mut *tx, user_id).await? else {
                    return Ok(Redeemed::Invalid);
                };
                let Some(row) = live_row(&mut *tx, user_id, purpose, now).await? else {
                    return Ok(Redeemed::Invalid);
                };
                if row.attempts >= max_attempts {
                    return Ok(Redeemed::Invalid);
                }
                if row.code_hash.as_deref() != Some(code_hash.as_str()) {
                    query("UPDATE account_tokens SET attempts = attempts + 1 WHERE id = $1")
                        .bind(row.id.clone())
                        .execute(&mut *tx)
                        .await?;
                    let attempts_left = (max_attempts - row.attempts - 1).max(0);
                    if let Some(kind) = purpose.failure_event() {
                        crate::aggregates::prompts::sql::record_prompt_event_in(
                            &mut *tx,
                            NewEvent {
                                kind,
                                user_id,
                                step: None,
                                client_id: event.as_ref().and_then(|e| e.client_id.clone()),
                                at: now,
                                logins: None,
                                data: serde_json::json!({
                                    "purpose": purpose.as_str(),
                                    "attempts_left": attempts_left,
                                }),
                            },
                        )
                        .await?;
                    }
                    C::commit(tx).await?;
                    return Ok(Redeemed::WrongCode { attempts_left });
                }
                query("UPDATE account_tokens SET consumed_at = $2 WHERE id = $1")
                    .bind(row.id.clone())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                (row, user)
            }
            Presented::Link { link_hash } => {
                // One statement: of concurrent users of one link, exactly one gets the row.
                let Some(row) = query_as::<AccountTokenRow>(
                    "UPDATE account_tokens SET consumed_at = $3
                     WHERE link_hash = $1 AND purpose = $2 AND consumed_at IS NULL
                       AND expires_at > $3
                     RETURNING *",
                )
                .bind(link_hash)
                .bind(purpose.as_str())
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?
                else {
                    return Ok(Redeemed::Invalid);
                };
                let Some(user) = lock_user(&mut *tx, parse_id(&row.user_id)?).await? else {
                    return Ok(Redeemed::Invalid);
                };
                (row, user)
            }
        };
        let token = AccountToken::try_from(row)?;
        let user_id = user.id.to_string();
        match effect {
            TokenEffect::VerifyEmail => {
                if crate::normalize_email(&user.email) != crate::normalize_email(&token.email) {
                    // The address changed since the mail was sent: the proof is spent.
                    C::commit(tx).await?;
                    return Ok(Redeemed::Invalid);
                }
                query(
                    "UPDATE users SET email_verified = TRUE, version = version + 1,
                                      updated_at = $2
                     WHERE id = $1",
                )
                .bind(user_id.clone())
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            TokenEffect::ChangeEmail => {
                let normalized = crate::normalize_email(&token.email);
                let taken = query_as::<(i64,)>(
                    "SELECT COUNT(*) FROM users WHERE email_normalized = $1 AND id <> $2",
                )
                .bind(normalized.clone())
                .bind(user_id.clone())
                .fetch_one(&mut *tx)
                .await?
                .0 > 0;
                if taken {
                    C::commit(tx).await?;
                    return Ok(Redeemed::EmailTaken);
                }
                let changed = query(
                    "UPDATE users SET email = $2, email_normalized = $3, email_verified = TRUE,
                                      version = version + 1, updated_at = $4
                     WHERE id = $1",
                )
                .bind(user_id.clone())
                .bind(token.email.trim().to_owned())
                .bind(normalized)
                .bind(at)
                .execute(&mut *tx)
                .await;
                match changed {
                    // Taken by a concurrent sign-up: the transaction is rolled back (the proof
                    // stays live).
                    Err(StoreError::Conflict { .. }) => return Ok(Redeemed::EmailTaken),
                    other => other?,
                };
                // The failed sign-ins against the address the user leaves.
                let before = crate::normalize_email(&user.email);
                if before != crate::normalize_email(&token.email) {
                    crate::aggregates::throttle::sql::forget_account(&mut *tx, &before).await?;
                }
            }
            TokenEffect::ResetPassword { password_hash } => {
                query(
                    "UPDATE users SET password_hash = $2, version = version + 1, updated_at = $3
                     WHERE id = $1",
                )
                .bind(user_id.clone())
                .bind(password_hash)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                crate::aggregates::sso_sessions::sql::delete_user_sessions(&mut *tx, user.id)
                    .await?;
                crate::aggregates::grants::sql::revoke_user_grants(&mut *tx, user.id, None, now)
                    .await?;
            }
            TokenEffect::VerifyPhone { store_number } => {
                let number = token.email.trim().to_owned();
                let stored = user.profile.get(PHONE_NUMBER).and_then(|v| v.as_str());
                if !store_number && stored != Some(number.as_str()) {
                    // The number changed since the code was sent: the proof is spent.
                    C::commit(tx).await?;
                    return Ok(Redeemed::Invalid);
                }
                // The number and its flag in one change, so that the rule that unverifies a
                // changed number sees the flag set by this very change.
                let update = UserUpdate {
                    changes: vec![
                        ProfileChange::set(Location::Profile, PHONE_NUMBER, Value::from(number)),
                        ProfileChange::set(
                            Location::Profile,
                            PHONE_NUMBER_VERIFIED,
                            Value::Bool(true),
                        ),
                    ],
                    ..UserUpdate::default()
                };
                crate::aggregates::users::sql::update_user_in(
                    &mut *tx, user.id, None, &update, "sms", now,
                )
                .await?;
            }
            TokenEffect::SignInSms => {}
        }
        if let Some(event) = event {
            crate::aggregates::prompts::sql::record_prompt_event_in(
                &mut *tx,
                NewEvent {
                    kind: event.kind,
                    user_id: user.id,
                    step: None,
                    client_id: event.client_id,
                    at: now,
                    logins: None,
                    data: event.data,
                },
            )
            .await?;
        }
        C::commit(tx).await?;
        Ok(Redeemed::Done {
            token,
            previous_email: user.email,
        })
    }

    pub(crate) async fn purge_account_tokens<C: Conn>(
        c: &mut C,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        query("DELETE FROM account_tokens WHERE expires_at <= $1")
            .bind(to_millis(now - KEPT_AFTER_EXPIRY))
            .execute(&mut *c)
            .await
    }
}

/// An `account_tokens` row.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AccountTokenRow {
    pub id: String,
    pub user_id: String,
    pub purpose: String,
    pub email: String,
    pub code_hash: Option<String>,
    #[expect(dead_code, reason = "read by `SELECT *`; looked up, never returned")]
    pub link_hash: String,
    pub attempts: i64,
    pub created_at: i64,
    pub expires_at: i64,
    #[expect(dead_code, reason = "read by `SELECT *`; only live rows are returned")]
    pub consumed_at: Option<i64>,
}

impl TryFrom<AccountTokenRow> for AccountToken {
    type Error = StoreError;

    fn try_from(row: AccountTokenRow) -> Result<Self, StoreError> {
        Ok(AccountToken {
            id: parse_id(&row.id)?,
            user_id: parse_id(&row.user_id)?,
            purpose: TokenPurpose::parse(&row.purpose).ok_or_else(|| StoreError::Invalid {
                message: format!("unknown account token purpose {:?}", row.purpose),
            })?,
            email: row.email,
            attempts: row.attempts,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
        })
    }
}
