//! Stamps the [`crate::Store`] implementation out for one backend: every method forwards to the
//! function of the same name generated in that backend's `queries` module, with a connection
//! first.
//!
//! The list of methods is written once here; `forward_impl!` expands it into the
//! `#[async_trait]` impl before `async_trait` runs. Each method is marked `read` or `write`:
//! the backend's `read()` and `write()` lend a connection for each, held for the whole method
//! (from the one pool on PostgreSQL; on SQLite, a query-only connection for reads and the one
//! connection that does every write, so that writers queue for it instead of on the file lock
//! and the writer's page cache stays valid from one write to the next).

/// A connection lent for one store method.
pub(crate) trait Lent {
    /// Closes the connection instead of lending it again (after it failed as unavailable).
    fn discard(&mut self);
}

impl Lent for sqlx::pool::PoolConnection<sqlx::Postgres> {
    fn discard(&mut self) {
        self.close_on_drop();
    }
}

macro_rules! forward_impl {
    ($store:ty, $queries:ident, $( $role:ident fn $name:ident( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty; )*) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> &'static str {
                $queries::BACKEND
            }

            $(
                async fn $name(&self, $($arg: $ty),*) -> Result<$ret, $crate::StoreError> {
                    let mut connection = self.$role().await?;
                    let result = $queries::$name(&mut *connection, $($arg),*).await;
                    if let Err(error @ $crate::StoreError::Unavailable { .. }) = &result {
                        // Lost, or stuck behind another process's lock: not lent again.
                        $crate::stamp::Lent::discard(&mut connection);
                        self.connection_lost(error);
                    }
                    result
                }
            )*
        }
    };
}

macro_rules! impl_store {
    ($store:ty, $queries:ident) => {
        $crate::stamp::forward_impl! {
            $store, $queries,
            read fn ping() -> ();
            write fn migrate() -> $crate::MigrationStatus;
            read fn migration_status() -> $crate::MigrationStatus;
            write fn create_user(new: $crate::NewUser) -> $crate::User;
            read fn get_user(id: uuid::Uuid) -> $crate::User;
            read fn find_user_by_email(email: &str) -> Option<$crate::User>;
            write fn set_password_hash(id: uuid::Uuid, hash: &str) -> ();
            write fn record_sign_in(
                id: uuid::Uuid,
                kind: $crate::SignInKind,
                now: time::OffsetDateTime,
            ) -> $crate::User;
            write fn delete_user(id: uuid::Uuid) -> ();
            read fn count_users() -> i64;
            write fn update_user(
                user_id: uuid::Uuid,
                expected_version: Option<i64>,
                update: &$crate::UserUpdate,
                source: &str,
                now: time::OffsetDateTime,
            ) -> $crate::User;
            read fn user_history(user_id: uuid::Uuid) -> Vec<$crate::HistoryEntry>;
            read fn value_provenance(user_id: uuid::Uuid) -> Vec<$crate::Provenance>;
            read fn list_users(query: $crate::UserQuery) -> $crate::Page<$crate::User>;
            write fn create_client(client: $crate::Client) -> $crate::Client;
            read fn get_client(id: &str) -> Option<$crate::Client>;
            read fn list_clients() -> Vec<$crate::Client>;
            write fn update_client(client: $crate::Client) -> $crate::Client;
            write fn delete_client(id: &str) -> ();
            write fn insert_signing_key(key: $crate::StoredSigningKey) -> ();
            write fn insert_signing_key_if_missing(
                key: $crate::StoredSigningKey,
                now: time::OffsetDateTime,
            ) -> bool;
            read fn list_signing_keys() -> Vec<$crate::StoredSigningKey>;
            write fn retire_signing_key(kid: &str, at: time::OffsetDateTime) -> ();
            write fn create_session(session: $crate::SsoSession) -> ();
            read fn get_session(hash: &str, now: time::OffsetDateTime) -> Option<$crate::SsoSession>;
            write fn touch_session(
                hash: &str,
                now: time::OffsetDateTime,
                expires_at: time::OffsetDateTime,
            ) -> Option<$crate::SsoSession>;
            write fn delete_session(hash: &str) -> ();
            write fn delete_user_sessions(user_id: uuid::Uuid) -> u64;
            write fn create_transaction(new: $crate::NewAuthTransaction) -> $crate::AuthTransaction;
            read fn get_transaction(id: uuid::Uuid) -> Option<$crate::AuthTransaction>;
            write fn update_transaction(transaction: $crate::AuthTransaction) -> $crate::AuthTransaction;
            write fn complete_transaction(id: uuid::Uuid, now: time::OffsetDateTime) -> bool;
            write fn expire_transactions(now: time::OffsetDateTime) -> Vec<$crate::ExpiredTransaction>;
            write fn create_grant(
                user_id: uuid::Uuid,
                client_id: &str,
                scopes: &[String],
                now: time::OffsetDateTime,
            ) -> $crate::Grant;
            read fn get_grant(grant_id: uuid::Uuid) -> Option<$crate::Grant>;
            write fn revoke_grant(grant_id: uuid::Uuid, now: time::OffsetDateTime) -> ();
            write fn revoke_user_grants(
                user_id: uuid::Uuid,
                client_id: Option<&str>,
                now: time::OffsetDateTime,
            ) -> u64;
            read fn is_grant_revoked(grant_id: uuid::Uuid) -> bool;
            write fn insert_code(code: $crate::NewAuthorizationCode) -> ();
            write fn consume_code(hash: &str, now: time::OffsetDateTime) -> $crate::CodeConsumption;
            write fn insert_refresh_token(
                token: $crate::NewRefreshToken,
                now: time::OffsetDateTime,
            ) -> ();
            write fn rotate_refresh_token(
                old_hash: &str,
                successor: $crate::RefreshSuccessor,
                now: time::OffsetDateTime,
            ) -> $crate::Rotation;
            read fn get_refresh_token(hash: &str) -> Option<$crate::RefreshToken>;
            write fn revoke_refresh_token(
                hash: &str,
                now: time::OffsetDateTime,
            ) -> Option<$crate::RefreshToken>;
            write fn purge_expired(now: time::OffsetDateTime) -> u64;
            read fn credential_failures(account: &str, source: &str) -> $crate::CredentialFailures;
            write fn record_credential_failure(
                account: &str,
                source: &str,
                now: time::OffsetDateTime,
                forget_before: time::OffsetDateTime,
            ) -> $crate::CredentialFailures;
            write fn clear_credential_failures(account: &str, source: &str) -> ();

            write fn publish_policy(
                document: &serde_json::Value,
                note: Option<&str>,
                now: time::OffsetDateTime,
            ) -> $crate::PolicyVersion;
            write fn publish_policy_if_changed(
                document: &serde_json::Value,
                note: Option<&str>,
                now: time::OffsetDateTime,
            ) -> $crate::PolicyPublication;
            read fn published_policy() -> Option<$crate::PolicyVersion>;
            read fn policy_version(version: i64) -> Option<$crate::PolicyVersion>;
            read fn list_policy_versions() -> Vec<$crate::PolicyVersionSummary>;
            write fn save_draft(
                document: &serde_json::Value,
                now: time::OffsetDateTime,
            ) -> $crate::PolicyDraft;
            read fn get_draft() -> Option<$crate::PolicyDraft>;
            write fn discard_draft() -> ();
            write fn record_prompt_event(event: $crate::NewEvent) -> Option<$crate::PromptState>;
            write fn write_profiling(write: $crate::ProfilingWrite) -> $crate::ProfilingWritten;
            read fn prompt_states(user_id: uuid::Uuid) -> Vec<$crate::PromptState>;
            read fn list_events(after_seq: i64, limit: u32) -> Vec<$crate::Event>;
            read fn list_user_states(query: $crate::UserQuery) -> $crate::Page<$crate::UserState>;
            read fn count_users_with_value(location: $crate::Location, key: &str) -> i64;
            read fn prompt_stats(
                from: time::OffsetDateTime,
                to: time::OffsetDateTime,
            ) -> Vec<$crate::StepStats>;
        }
    };
}

pub(crate) use {forward_impl, impl_store};
