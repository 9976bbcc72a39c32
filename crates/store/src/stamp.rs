//! Stamps the [`crate::Store`] implementation out for one backend: every method forwards to the
//! function of the same name generated in that backend's `queries` module, with the pool first.
//!
//! The list of methods is written once here; `forward_impl!` expands it into the
//! `#[async_trait]` impl before `async_trait` runs.

macro_rules! forward_impl {
    ($store:ty, $queries:ident, $( fn $name:ident( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty; )*) => {
        #[async_trait::async_trait]
        impl $crate::Store for $store {
            fn backend(&self) -> &'static str {
                $queries::BACKEND
            }

            $(
                async fn $name(&self, $($arg: $ty),*) -> Result<$ret, $crate::StoreError> {
                    $queries::$name(&self.pool, $($arg),*).await
                }
            )*
        }
    };
}

macro_rules! impl_store {
    ($store:ty, $queries:ident) => {
        $crate::stamp::forward_impl! {
            $store, $queries,
            fn ping() -> ();
            fn migrate() -> $crate::MigrationStatus;
            fn migration_status() -> $crate::MigrationStatus;
            fn create_user(new: $crate::NewUser) -> $crate::User;
            fn get_user(id: uuid::Uuid) -> $crate::User;
            fn find_user_by_email(email: &str) -> Option<$crate::User>;
            fn set_password_hash(id: uuid::Uuid, hash: &str) -> ();
            fn record_sign_in(
                id: uuid::Uuid,
                kind: $crate::SignInKind,
                now: time::OffsetDateTime,
            ) -> $crate::User;
            fn delete_user(id: uuid::Uuid) -> ();
            fn count_users() -> i64;
            fn update_user(
                user_id: uuid::Uuid,
                expected_version: Option<i64>,
                update: &$crate::UserUpdate,
                source: &str,
                now: time::OffsetDateTime,
            ) -> $crate::User;
            fn user_history(user_id: uuid::Uuid) -> Vec<$crate::HistoryEntry>;
            fn value_provenance(user_id: uuid::Uuid) -> Vec<$crate::Provenance>;
            fn list_users(query: $crate::UserQuery) -> $crate::Page<$crate::User>;
            fn create_client(client: $crate::Client) -> $crate::Client;
            fn get_client(id: &str) -> Option<$crate::Client>;
            fn list_clients() -> Vec<$crate::Client>;
            fn update_client(client: $crate::Client) -> $crate::Client;
            fn delete_client(id: &str) -> ();
            fn insert_signing_key(key: $crate::StoredSigningKey) -> ();
            fn list_signing_keys() -> Vec<$crate::StoredSigningKey>;
            fn retire_signing_key(kid: &str, at: time::OffsetDateTime) -> ();
            fn create_session(session: $crate::SsoSession) -> ();
            fn get_session(hash: &str, now: time::OffsetDateTime) -> Option<$crate::SsoSession>;
            fn touch_session(
                hash: &str,
                now: time::OffsetDateTime,
                expires_at: time::OffsetDateTime,
            ) -> Option<$crate::SsoSession>;
            fn delete_session(hash: &str) -> ();
            fn delete_user_sessions(user_id: uuid::Uuid) -> u64;
            fn create_transaction(new: $crate::NewAuthTransaction) -> $crate::AuthTransaction;
            fn get_transaction(id: uuid::Uuid) -> Option<$crate::AuthTransaction>;
            fn update_transaction(transaction: $crate::AuthTransaction) -> $crate::AuthTransaction;
            fn complete_transaction(id: uuid::Uuid, now: time::OffsetDateTime) -> bool;
            fn expire_transactions(now: time::OffsetDateTime) -> Vec<$crate::ExpiredTransaction>;
            fn create_grant(
                user_id: uuid::Uuid,
                client_id: &str,
                scopes: &[String],
                now: time::OffsetDateTime,
            ) -> $crate::Grant;
            fn get_grant(grant_id: uuid::Uuid) -> Option<$crate::Grant>;
            fn revoke_grant(grant_id: uuid::Uuid, now: time::OffsetDateTime) -> ();
            fn revoke_user_grants(
                user_id: uuid::Uuid,
                client_id: Option<&str>,
                now: time::OffsetDateTime,
            ) -> u64;
            fn is_grant_revoked(grant_id: uuid::Uuid) -> bool;
            fn insert_code(code: $crate::NewAuthorizationCode) -> ();
            fn consume_code(hash: &str, now: time::OffsetDateTime) -> $crate::CodeConsumption;
            fn insert_refresh_token(
                token: $crate::NewRefreshToken,
                now: time::OffsetDateTime,
            ) -> ();
            fn rotate_refresh_token(
                old_hash: &str,
                successor: $crate::RefreshSuccessor,
                now: time::OffsetDateTime,
            ) -> $crate::Rotation;
            fn get_refresh_token(hash: &str) -> Option<$crate::RefreshToken>;
            fn revoke_refresh_token(
                hash: &str,
                now: time::OffsetDateTime,
            ) -> Option<$crate::RefreshToken>;
            fn purge_expired(now: time::OffsetDateTime) -> u64;

            fn publish_policy(
                document: &serde_json::Value,
                note: Option<&str>,
                now: time::OffsetDateTime,
            ) -> $crate::PolicyVersion;
            fn published_policy() -> Option<$crate::PolicyVersion>;
            fn policy_version(version: i64) -> Option<$crate::PolicyVersion>;
            fn list_policy_versions() -> Vec<$crate::PolicyVersionSummary>;
            fn save_draft(
                document: &serde_json::Value,
                now: time::OffsetDateTime,
            ) -> $crate::PolicyDraft;
            fn get_draft() -> Option<$crate::PolicyDraft>;
            fn discard_draft() -> ();
            fn record_prompt_event(event: $crate::NewEvent) -> Option<$crate::PromptState>;
            fn prompt_states(user_id: uuid::Uuid) -> Vec<$crate::PromptState>;
            fn list_events(after_seq: i64, limit: u32) -> Vec<$crate::Event>;
            fn list_user_states(query: $crate::UserQuery) -> $crate::Page<$crate::UserState>;
            fn count_users_with_value(location: $crate::Location, key: &str) -> i64;
            fn prompt_stats(
                from: time::OffsetDateTime,
                to: time::OffsetDateTime,
            ) -> Vec<$crate::StepStats>;
        }
    };
}

pub(crate) use {forward_impl, impl_store};
