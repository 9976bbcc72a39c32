//! Signing up and signing in with a password: the use-cases behind the hosted credential pages.
//! The pages check the form (CSRF, required inputs, the credential rules of
//! `accrete_oidc::credentials`) and the per-address rate limit; these do the rest.

use std::time::Duration;

use accrete_core::Answers;
use accrete_oidc::password::{self, PasswordCheck};
use accrete_oidc::throttle::{Failures, SignInThrottle};
use accrete_store::{
    CredentialFailures, FailureCount, NewUser, SignInKind, StoreError, User, normalize_email,
};
use time::OffsetDateTime;

use crate::app::App;
use crate::signup::SignupStep;

/// A password sign-in attempt.
pub struct SignIn<'a> {
    /// The email as entered (trimmed).
    pub email: &'a str,
    pub password: String,
    /// Where the attempt comes from (the peer address), for the throttle.
    pub source: String,
    /// The sign-in throttle (`None`: disabled).
    pub throttle: Option<&'a SignInThrottle>,
    pub now: OffsetDateTime,
}

/// Why a sign-in did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Too many recent failures on this account: try again after the wait.
    #[error("too many failed sign-ins; retry in {0:?}")]
    Throttled(Duration),
    /// The hashing pool is full.
    #[error("the server is busy")]
    Busy,
    /// Unknown account, no password, or a wrong one (never said which).
    #[error("wrong email or password")]
    WrongCredentials,
    /// The password is right but an administrator disabled the account (said only to whoever
    /// knows the password).
    #[error("the account is disabled")]
    Disabled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks the credentials (as costly for an unknown account as for a wrong password), keeps
/// the throttle's counters, upgrades an old hash, and counts the sign-in.
pub async fn sign_in(app: &App, attempt: SignIn<'_>) -> Result<User, SignInError> {
    // The throttle counts failures per (account, source address) in the store: one read here,
    // one write on a failure.
    let account = normalize_email(attempt.email);
    let counters = match attempt.throttle {
        Some(_) => {
            app.store()
                .credential_failures(&account, &attempt.source)
                .await?
        }
        None => CredentialFailures::default(),
    };
    if let Some(throttle) = attempt.throttle {
        throttle_allows(throttle, &counters, attempt.now).map_err(SignInError::Throttled)?;
    }
    let user = app.store().find_user_by_email(attempt.email).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let user_id = user.as_ref().map(|u| u.id);
    let password = attempt.password;
    let check = app
        .hashing
        .run(move || match stored {
            Some(hash) => password::verify_password(&password, &hash)
                .ok()
                .map(|check| (check, password)),
            None => {
                // Unknown account, or one without a password: same cost as a wrong password.
                password::verify_dummy(&password);
                None
            }
        })
        .await;
    let (user, needs_rehash, password) = match (check, user) {
        (Err(busy), _) => {
            tracing::warn!(%busy, "hashing pool full");
            return Err(SignInError::Busy);
        }
        (Ok(Some((PasswordCheck::Verified { needs_rehash }, password))), Some(user)) => {
            (user, needs_rehash, password)
        }
        _ => {
            tracing::info!("sign-in refused: wrong credentials");
            if let Some(throttle) = attempt.throttle
                && let Err(error) = app
                    .store()
                    .record_credential_failure(
                        &account,
                        &attempt.source,
                        attempt.now,
                        throttle.forget_before(attempt.now),
                    )
                    .await
            {
                tracing::warn!(%error, "could not count a failed sign-in");
            }
            signin_failed(
                app,
                &attempt.source,
                attempt.now,
                &account,
                user_id,
                "wrong_credentials",
            )
            .await;
            return Err(SignInError::WrongCredentials);
        }
    };
    if counters.from_source.is_some()
        && let Err(error) = app
            .store()
            .clear_credential_failures(&account, &attempt.source)
            .await
    {
        tracing::warn!(%error, "could not forget the failed sign-ins of a source");
    }
    if !crate::users::may_sign_in(&user) {
        tracing::info!(user_id = %user.id, "sign-in refused: the account is disabled");
        signin_failed(
            app,
            &attempt.source,
            attempt.now,
            &account,
            user_id,
            "disabled",
        )
        .await;
        return Err(SignInError::Disabled);
    }
    if needs_rehash {
        rehash(app, user.id, password).await;
    }
    Ok(app
        .store()
        .record_sign_in(user.id, SignInKind::Credentialed, attempt.now)
        .await?)
}

/// Records `signin.failed` for webhooks (docs/webhooks.md): the email as normalised, the
/// account's id when it exists, why, and where from. A refused sign-in changes nothing, so the
/// event stands alone; a failure to write it is logged and the refusal stands.
async fn signin_failed(
    app: &App,
    source: &str,
    now: OffsetDateTime,
    email: &str,
    user_id: Option<uuid::Uuid>,
    reason: &'static str,
) {
    let event = accrete_store::NewWebhookEvent {
        kind: "signin.failed",
        payload: serde_json::json!({
            "email": email,
            "user": user_id.map(|id| serde_json::json!({ "id": id })),
            "reason": reason,
            "ip": source,
        }),
        at: now,
    };
    if let Err(error) = app.store().record_webhook_event(event).await {
        tracing::warn!(%error, "could not record a failed sign-in for webhooks");
    }
}

/// Whether the throttle lets a sign-in attempt through at `now`; otherwise how long to wait.
pub fn throttle_allows(
    throttle: &SignInThrottle,
    counters: &CredentialFailures,
    now: OffsetDateTime,
) -> Result<(), Duration> {
    let failures = |c: Option<FailureCount>| {
        c.map(|c| Failures {
            count: c.failures,
            last_at: c.last_failure_at,
        })
    };
    throttle.check(
        failures(counters.from_source),
        failures(counters.on_account),
        now,
    )
}

/// Replaces a hash made with old parameters; a failure only delays the upgrade.
async fn rehash(app: &App, user_id: uuid::Uuid, password: String) {
    match app
        .hashing
        .run(move || password::hash_password(&password))
        .await
    {
        Ok(Ok(hash)) => {
            if let Err(error) = app.store().set_password_hash(user_id, &hash).await {
                tracing::warn!(%error, "could not store the upgraded password hash");
            }
        }
        _ => tracing::warn!("could not rehash a password with the current parameters"),
    }
}

/// A new account.
pub struct SignUp<'a> {
    /// The email as entered (trimmed, checked by `accrete_oidc::credentials::check_email`).
    pub email: &'a str,
    /// Checked by `accrete_oidc::credentials::check_new_password`.
    pub password: String,
    /// The first sign-up step answered on the same page, if any.
    pub step: Option<(&'a SignupStep, &'a Answers)>,
    /// The application the user signs up to, if any: its settings say whether the address is
    /// verified, its theme dresses the mail.
    pub client_id: Option<&'a str>,
    /// The language of the pages, for the mail.
    pub locale: &'a str,
    pub now: OffsetDateTime,
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    /// Another account has this email (compared ignoring case).
    #[error("an account with this email exists")]
    EmailTaken,
    /// The hashing pool is full.
    #[error("the server is busy")]
    Busy,
    /// Argon2 refused the password.
    #[error("the password cannot be used: {0}")]
    Password(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates the account with its password, counts the sign-up as its first sign-in, and stores
/// the sign-up step's answers.
pub async fn sign_up(app: &App, new: SignUp<'_>) -> Result<User, SignUpError> {
    let password = new.password;
    let hash = match app
        .hashing
        .run(move || password::hash_password(&password))
        .await
    {
        Ok(Ok(hash)) => hash,
        Ok(Err(error)) => {
            tracing::warn!(%error, "password could not be hashed");
            return Err(SignUpError::Password(error.to_string()));
        }
        Err(_) => return Err(SignUpError::Busy),
    };
    let mut user = NewUser::with_email(new.email.to_owned(), new.now);
    user.password_hash = Some(hash);
    let user = match app.store().create_user(user).await {
        Ok(user) => user,
        Err(StoreError::Conflict { .. }) => return Err(SignUpError::EmailTaken),
        Err(error) => return Err(error.into()),
    };
    let user = app
        .store()
        .record_sign_in(user.id, SignInKind::Credentialed, new.now)
        .await?;
    if let Some((step, answers)) = new.step {
        step.store(app, user.id, answers, new.now).await?;
    }
    // After the account is committed: a mail server that is slow or down delays nothing.
    let client = match new.client_id {
        Some(id) => app.clients.get(app.store(), id).await?,
        None => None,
    };
    if let Err(error) =
        crate::email_verification::after_sign_up(app, &user, client.as_ref(), new.locale, new.now)
            .await
    {
        // The account exists: the user can ask for another code.
        tracing::warn!(%error, user_id = %user.id, "the verification code could not be issued");
    }
    Ok(user)
}
