//! Failed-credential counters of the sign-in throttle, shared by every node.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::backend::{Backend, Conn, query, query_as};
use crate::{CredentialFailures, StoreError};

/// Failed-credential counters of the sign-in throttle.
#[async_trait]
pub trait CredentialThrottle: Send + Sync {
    /// The failed-credential counters of `account` (a normalised email): from `source` (a peer
    /// address) and from every source together.
    async fn credential_failures(
        &self,
        account: &str,
        source: &str,
    ) -> Result<CredentialFailures, StoreError>;

    /// Counts one failed attempt on `account` from `source` (both counters, one statement); a
    /// counter whose last failure is before `forget_before` starts again. Returns the counters.
    async fn record_credential_failure(
        &self,
        account: &str,
        source: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<CredentialFailures, StoreError>;

    /// Forgets the failures of `account` from `source` (after a successful sign-in from it).
    async fn clear_credential_failures(
        &self,
        account: &str,
        source: &str,
    ) -> Result<(), StoreError>;
}

#[async_trait]
impl<B: Backend> CredentialThrottle for B {
    async fn credential_failures(
        &self,
        account: &str,
        source: &str,
    ) -> Result<CredentialFailures, StoreError> {
        let mut c = self.read().await?;
        let result = sql::credential_failures(&mut *c, account, source).await;
        self.settle(&mut c, result)
    }

    async fn record_credential_failure(
        &self,
        account: &str,
        source: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<CredentialFailures, StoreError> {
        let mut c = self.write().await?;
        let result =
            sql::record_credential_failure(&mut *c, account, source, now, forget_before).await;
        self.settle(&mut c, result)
    }

    async fn clear_credential_failures(
        &self,
        account: &str,
        source: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.write().await?;
        let result = sql::clear_credential_failures(&mut *c, account, source).await;
        self.settle(&mut c, result)
    }
}

/// The SQL, one function per statement or transaction, over a borrowed connection.
pub(crate) mod sql {
    use super::*;

    pub(crate) async fn credential_failures<C: Conn>(
        c: &mut C,
        account: &str,
        source: &str,
    ) -> Result<CredentialFailures, StoreError> {
        let rows: Vec<(String, i64, i64)> = query_as(
            "SELECT source, failures, last_failure_at FROM credential_failures
             WHERE account = $1 AND source IN ($2, '*')",
        )
        .bind(account.to_owned())
        .bind(source.to_owned())
        .fetch_all(&mut *c)
        .await?;
        crate::model::CredentialFailures::from_rows(source, rows)
    }

    pub(crate) async fn record_credential_failure<C: Conn>(
        c: &mut C,
        account: &str,
        source: &str,
        now: OffsetDateTime,
        forget_before: OffsetDateTime,
    ) -> Result<CredentialFailures, StoreError> {
        use crate::model::to_millis;
        // One statement for both counters; a counter whose last failure is older than
        // `forget_before` starts again at one.
        let rows: Vec<(String, i64, i64)> = query_as(
            "INSERT INTO credential_failures (account, source, failures, last_failure_at)
             VALUES ($1, $2, 1, $3), ($1, '*', 1, $3)
             ON CONFLICT (account, source) DO UPDATE SET
                 failures = CASE WHEN credential_failures.last_failure_at < $4 THEN 1
                                 ELSE credential_failures.failures + 1 END,
                 last_failure_at = excluded.last_failure_at
             RETURNING source, failures, last_failure_at",
        )
        .bind(account.to_owned())
        .bind(source.to_owned())
        .bind(to_millis(now))
        .bind(to_millis(forget_before))
        .fetch_all(&mut *c)
        .await?;
        crate::model::CredentialFailures::from_rows(source, rows)
    }

    /// Forgets every failed sign-in counted against `account` (a normalized address), from
    /// every source: the address is no longer the person's (their account moved to another one,
    /// or was deleted), and a counter keyed by it is their personal data.
    pub(crate) async fn forget_account<C: Conn>(
        c: &mut C,
        account: &str,
    ) -> Result<(), StoreError> {
        query("DELETE FROM credential_failures WHERE account = $1")
            .bind(account.to_owned())
            .execute(&mut *c)
            .await?;
        Ok(())
    }

    pub(crate) async fn clear_credential_failures<C: Conn>(
        c: &mut C,
        account: &str,
        source: &str,
    ) -> Result<(), StoreError> {
        query("DELETE FROM credential_failures WHERE account = $1 AND source = $2")
            .bind(account.to_owned())
            .bind(source.to_owned())
            .execute(&mut *c)
            .await?;
        Ok(())
    }
}
