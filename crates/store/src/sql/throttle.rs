//! Failed-credential counters of the sign-in throttle, shared by both backends.

/// Expands to the credential-failure functions for the backend in scope.
macro_rules! throttle_sql {
    () => {
        pub(crate) async fn credential_failures(
            c: &mut Conn,
            account: &str,
            source: &str,
        ) -> Result<$crate::CredentialFailures, $crate::StoreError> {
            let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                "SELECT source, failures, last_failure_at FROM credential_failures
                 WHERE account = $1 AND source IN ($2, '*')",
            )
            .bind(account.to_owned())
            .bind(source.to_owned())
            .fetch_all(&mut *c)
            .await
            .map_err(err)?;
            $crate::model::CredentialFailures::from_rows(source, rows)
        }

        pub(crate) async fn record_credential_failure(
            c: &mut Conn,
            account: &str,
            source: &str,
            now: time::OffsetDateTime,
            forget_before: time::OffsetDateTime,
        ) -> Result<$crate::CredentialFailures, $crate::StoreError> {
            use $crate::model::to_millis;
            // One statement for both counters; a counter whose last failure is older than
            // `forget_before` starts again at one.
            let rows: Vec<(String, i64, i64)> = sqlx::query_as(
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
            .await
            .map_err(err)?;
            $crate::model::CredentialFailures::from_rows(source, rows)
        }

        pub(crate) async fn clear_credential_failures(
            c: &mut Conn,
            account: &str,
            source: &str,
        ) -> Result<(), $crate::StoreError> {
            sqlx::query("DELETE FROM credential_failures WHERE account = $1 AND source = $2")
                .bind(account.to_owned())
                .bind(source.to_owned())
                .execute(&mut *c)
                .await
                .map_err(err)?;
            Ok(())
        }
    };
}

pub(crate) use throttle_sql;
