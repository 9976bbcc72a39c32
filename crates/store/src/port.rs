//! The port: everything the rest of Accrete asks of storage, as one object-safe trait.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    AuthTransaction, Client, CodeConsumption, CredentialFailures, Event, ExpiredTransaction, Grant,
    HistoryEntry, Location, MigrationStatus, NewAuthTransaction, NewAuthorizationCode, NewEvent,
    NewRefreshToken, NewUser, Page, PolicyDraft, PolicyPublication, PolicyVersion,
    PolicyVersionSummary, ProfileChange, ProfilingWrite, ProfilingWritten, PromptState, Provenance,
    RefreshSuccessor, RefreshToken, Rotation, SignInKind, SsoSession, StepStats, StoreError,
    StoredSigningKey, User, UserQuery, UserState, UserUpdate,
};

/// Persistence for Accrete, used as `Arc<dyn Store>`.
///
/// Implemented by [`crate::SqliteStore`] and [`crate::PostgresStore`], which run the same SQL.
/// Time is always passed in, so expiry and counters are testable without a clock.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `SQLite` or `PostgreSQL`.
    fn backend(&self) -> &'static str;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Applies the embedded migrations that are not applied yet, each in its own transaction.
    /// Safe to run concurrently from several processes; a second run is a no-op.
    ///
    /// Fails with [`StoreError::SchemaTooNew`] when the database has migrations this binary
    /// does not know.
    async fn migrate(&self) -> Result<MigrationStatus, StoreError>;

    /// Where the database stands against the embedded migrations, without changing anything.
    async fn migration_status(&self) -> Result<MigrationStatus, StoreError>;

    /// Creates a user. [`StoreError::Conflict`] when the email is taken, ignoring case.
    async fn create_user(&self, new: NewUser) -> Result<User, StoreError>;

    /// The user with this id, or [`StoreError::NotFound`].
    async fn get_user(&self, id: Uuid) -> Result<User, StoreError>;

    /// The user with this email (compared case-insensitively), if any.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// Replaces the user's password hash (a PHC string).
    async fn set_password_hash(&self, id: Uuid, hash: &str) -> Result<(), StoreError>;

    /// Counts a sign-in atomically and records when it happened; returns the updated user.
    async fn record_sign_in(
        &self,
        id: Uuid,
        kind: SignInKind,
        now: OffsetDateTime,
    ) -> Result<User, StoreError>;

    /// Deletes the user and everything that belongs to them.
    async fn delete_user(&self, id: Uuid) -> Result<(), StoreError>;

    /// How many users exist.
    async fn count_users(&self) -> Result<i64, StoreError>;

    /// Changes the user in one transaction: checks `expected_version` (else
    /// [`StoreError::VersionMismatch`]), sets the email if asked ([`StoreError::Conflict`] when
    /// another user has it, ignoring case), applies the key changes and then the merge patches
    /// against the values current inside the transaction (so concurrent changes of different keys
    /// all land), bumps `version` and `updated_at` once, records one history row per changed key
    /// and keeps the provenance of each value. Keys whose value does not change are ignored; when
    /// nothing changes the user is returned as it was. On any error nothing is written.
    async fn update_user(
        &self,
        user_id: Uuid,
        expected_version: Option<i64>,
        update: &UserUpdate,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<User, StoreError>;

    /// [`Store::update_user`] with key changes only.
    async fn apply_profile_changes(
        &self,
        user_id: Uuid,
        expected_version: Option<i64>,
        changes: &[ProfileChange],
        source: &str,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let update = UserUpdate {
            changes: changes.to_vec(),
            ..UserUpdate::default()
        };
        self.update_user(user_id, expected_version, &update, source, now)
            .await
    }

    /// [`Store::update_user`] with one RFC 7396 merge patch of one bag (nested objects merge
    /// deeply, `null` deletes), with history per top-level key.
    async fn merge_profile_patch(
        &self,
        user_id: Uuid,
        expected_version: Option<i64>,
        location: Location,
        patch: &serde_json::Value,
        source: &str,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let update = UserUpdate {
            patches: vec![(location, patch.clone())],
            ..UserUpdate::default()
        };
        self.update_user(user_id, expected_version, &update, source, now)
            .await
    }

    /// Every recorded value change of the user, oldest first.
    async fn user_history(&self, user_id: Uuid) -> Result<Vec<HistoryEntry>, StoreError>;

    /// The current source of each of the user's stored values.
    async fn value_provenance(&self, user_id: Uuid) -> Result<Vec<Provenance>, StoreError>;

    /// Users matching the query, in creation (id) order, one page at a time.
    async fn list_users(&self, query: UserQuery) -> Result<Page<User>, StoreError>;

    // --- OpenID Connect: clients and keys ---

    /// Registers a client. [`StoreError::Conflict`] when the id is taken.
    async fn create_client(&self, client: Client) -> Result<Client, StoreError>;

    /// The client with this id, if any.
    async fn get_client(&self, id: &str) -> Result<Option<Client>, StoreError>;

    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;

    /// Replaces a client's settings (everything but `id` and `created_at`).
    async fn update_client(&self, client: Client) -> Result<Client, StoreError>;

    /// Deletes a client with its transactions, grants, codes and tokens.
    async fn delete_client(&self, id: &str) -> Result<(), StoreError>;

    /// Stores a signing key (private key already encrypted by the caller).
    async fn insert_signing_key(&self, key: StoredSigningKey) -> Result<(), StoreError>;

    /// Stores `key` unless a key of its algorithm may already sign at `now` (active from `now` or
    /// earlier, or from its creation, and not retired by `now`); returns whether it was stored. Checked and inserted under
    /// one lock, so of several nodes generating a first key at once exactly one stores its key.
    async fn insert_signing_key_if_missing(
        &self,
        key: StoredSigningKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Every signing key, retired ones included, by `active_from`.
    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;

    /// Sets when a key stops being used and published.
    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<(), StoreError>;

    // --- OpenID Connect: single sign-on sessions ---

    /// Stores a new session. [`StoreError::NotFound`] when the user does not exist.
    async fn create_session(&self, session: SsoSession) -> Result<(), StoreError>;

    /// The session with this cookie hash, unless expired at `now`.
    async fn get_session(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError>;

    /// Records a use of a live session and moves its expiry; `None` if gone or expired.
    async fn touch_session(
        &self,
        hash: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError>;

    /// Ends a session (no error if it does not exist).
    async fn delete_session(&self, hash: &str) -> Result<(), StoreError>;

    /// Ends every session of a user; returns how many there were.
    async fn delete_user_sessions(&self, user_id: Uuid) -> Result<u64, StoreError>;

    // --- OpenID Connect: authorization transactions ---

    /// Starts a transaction. [`StoreError::Invalid`] for an unknown client.
    async fn create_transaction(
        &self,
        new: NewAuthTransaction,
    ) -> Result<AuthTransaction, StoreError>;

    /// The transaction with this id, if it exists (expired ones until they are swept).
    async fn get_transaction(&self, id: Uuid) -> Result<Option<AuthTransaction>, StoreError>;

    /// Writes `user_id`, `session_hash`, `state` and `expires_at` if the stored version is still
    /// `transaction.version`; returns the new record (version + 1). Fails with
    /// [`StoreError::VersionMismatch`], [`StoreError::Conflict`] (already complete) or
    /// [`StoreError::NotFound`].
    async fn update_transaction(
        &self,
        transaction: AuthTransaction,
    ) -> Result<AuthTransaction, StoreError>;

    /// Marks the transaction complete; `true` for exactly one caller, `false` if it was already
    /// complete, expired or unknown. Issue a code only on `true`.
    async fn complete_transaction(&self, id: Uuid, now: OffsetDateTime)
    -> Result<bool, StoreError>;

    /// Removes transactions expired at `now` and returns those that never completed (each is
    /// returned to one caller only, even with several nodes sweeping).
    async fn expire_transactions(
        &self,
        now: OffsetDateTime,
    ) -> Result<Vec<ExpiredTransaction>, StoreError>;

    // --- OpenID Connect: grants, codes, refresh tokens ---

    /// Records what a user allowed a client. [`StoreError::Invalid`] for an unknown user/client.
    async fn create_grant(
        &self,
        user_id: Uuid,
        client_id: &str,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Result<Grant, StoreError>;

    /// The grant with this id, if any.
    async fn get_grant(&self, grant_id: Uuid) -> Result<Option<Grant>, StoreError>;

    /// Revokes a grant and so every code and token issued under it (idempotent).
    async fn revoke_grant(&self, grant_id: Uuid, now: OffsetDateTime) -> Result<(), StoreError>;

    /// Revokes a user's live grants, for one client or all; returns how many.
    async fn revoke_user_grants(
        &self,
        user_id: Uuid,
        client_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// Whether the grant is revoked; an unknown grant counts as revoked.
    async fn is_grant_revoked(&self, grant_id: Uuid) -> Result<bool, StoreError>;

    /// Stores a code under a live grant (client, user and scopes are the grant's).
    /// [`StoreError::NotFound`] if the grant is unknown or revoked.
    async fn insert_code(&self, code: NewAuthorizationCode) -> Result<(), StoreError>;

    /// Exchanges a code, atomically: the first use gets [`CodeConsumption::Fresh`]; any later
    /// use gets [`CodeConsumption::AlreadyUsed`] and revokes the grant.
    async fn consume_code(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<CodeConsumption, StoreError>;

    /// Stores the first refresh token of a live grant. [`StoreError::NotFound`] if the grant is
    /// unknown or revoked.
    async fn insert_refresh_token(
        &self,
        token: NewRefreshToken,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Uses a refresh token: marks it used and stores its successor (same grant, user and
    /// scopes) atomically, in one statement, returning the successor. Using a token twice revokes
    /// its whole grant ([`Rotation::Reused`]); a token presented by another client than its own
    /// is left as it is ([`Rotation::OtherClient`]).
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor: RefreshSuccessor,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError>;

    /// The refresh token with this hash, in whatever state, if any.
    async fn get_refresh_token(&self, hash: &str) -> Result<Option<RefreshToken>, StoreError>;

    /// Revokes one refresh token (idempotent); returns it if it exists.
    async fn revoke_refresh_token(
        &self,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<RefreshToken>, StoreError>;

    /// Deletes sessions, codes and refresh tokens expired at `now`; returns how many.
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError>;

    // --- Sign-in throttle ---

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

    // --- Progressive profiling: policy ---

    /// Publishes a policy document as the next version (1, 2, ...), which is then in force.
    /// Rolling back is publishing an older version's document again, with a note.
    async fn publish_policy(
        &self,
        document: &serde_json::Value,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<PolicyVersion, StoreError>;

    /// Publishes `document` as the next version unless the version in force is the same
    /// document. Checked and published under one lock, so several nodes importing the same file
    /// at once publish it once.
    async fn publish_policy_if_changed(
        &self,
        document: &serde_json::Value,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<PolicyPublication, StoreError>;

    /// The version in force (the latest published), if any.
    async fn published_policy(&self) -> Result<Option<PolicyVersion>, StoreError>;

    /// One published version, if it exists.
    async fn policy_version(&self, version: i64) -> Result<Option<PolicyVersion>, StoreError>;

    /// Every published version, newest first, without documents.
    async fn list_policy_versions(&self) -> Result<Vec<PolicyVersionSummary>, StoreError>;

    /// Saves the draft (there is one), replacing the previous draft.
    async fn save_draft(
        &self,
        document: &serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<PolicyDraft, StoreError>;

    /// The draft, if one was saved.
    async fn get_draft(&self) -> Result<Option<PolicyDraft>, StoreError>;

    /// Removes the draft (no error if there is none).
    async fn discard_draft(&self) -> Result<(), StoreError>;

    // --- Progressive profiling: prompt state and events ---

    /// Records an event and, for `prompt.shown` / `prompt.answered` / `prompt.skipped`, moves
    /// the user's prompt state for the step, in one transaction; returns the new state.
    /// [`StoreError::NotFound`] for an unknown user.
    async fn record_prompt_event(&self, event: NewEvent)
    -> Result<Option<PromptState>, StoreError>;

    /// What one step of profiling writes, in one database transaction: the authorization
    /// transaction's update (as [`Store::update_transaction`]), the user's value changes with
    /// history and provenance (as [`Store::apply_profile_changes`]) and the event with the
    /// prompt state it moves (as [`Store::record_prompt_event`]), each only if given. Fails as
    /// they do ([`StoreError::VersionMismatch`], [`StoreError::Conflict`],
    /// [`StoreError::NotFound`], ...), and then nothing at all is written.
    async fn write_profiling(&self, write: ProfilingWrite) -> Result<ProfilingWritten, StoreError>;

    /// The user's prompt state for every step ever shown, by step.
    async fn prompt_states(&self, user_id: Uuid) -> Result<Vec<PromptState>, StoreError>;

    /// Events after a sequence number, oldest first (for delivery to webhooks).
    async fn list_events(&self, after_seq: i64, limit: u32) -> Result<Vec<Event>, StoreError>;

    /// Like [`Store::list_users`], with each user's prompt state and value provenance: what the
    /// decision engine needs, a page at a time (impact previews walk every user this way).
    async fn list_user_states(&self, query: UserQuery) -> Result<Page<UserState>, StoreError>;

    /// How many users have a value (not absent, not `null`) for `key` in `location`.
    async fn count_users_with_value(
        &self,
        location: Location,
        key: &str,
    ) -> Result<i64, StoreError>;

    /// Per step, counts of shown / answered / skipped / abandoned events in `[from, to)`.
    async fn prompt_stats(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<StepStats>, StoreError>;
}
