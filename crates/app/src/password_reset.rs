//! A forgotten password: the reset link mailed on request (the same answer whether or not the
//! address has an account), asked for an account by an administrator, and used once to set a
//! new password, which ends every session and revokes every refresh token of the user.

use accrete_mail::LetterKind;
use accrete_oidc::credentials::{self, PasswordProblem};
use accrete_oidc::password;
use accrete_store::{
    Client, EventKind, Issued, Presented, Redeemed, StoreError, TokenEffect, TokenEvent,
    TokenPurpose, User,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::account_mail::{self, MAIL_LIMITS, new_proof};
use crate::app::App;

/// Mails a reset link to `email` if an account has that address, under the resend limits.
/// Says nothing of whether one has: the caller answers the same either way. `tx`: the
/// authorization transaction the user came from, carried by the link so that the new
/// password leads back to the application.
pub async fn request(
    app: &App,
    email: &str,
    client: Option<&Client>,
    tx: Option<Uuid>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let Some(user) = app.store().find_user_by_email(email.trim()).await? else {
        tracing::info!("password reset asked for an address without an account");
        return Ok(());
    };
    match send_link(app, &user, client, tx, locale, now).await? {
        Issued::Issued => tracing::info!(user_id = %user.id, "password reset mailed"),
        Issued::TooSoon { .. } => {
            tracing::info!(user_id = %user.id, "password reset not mailed: asked too often");
        }
    }
    Ok(())
}

/// Mails `user` a reset link (what [`request`] and an administrator's request do).
pub async fn send_link(
    app: &App,
    user: &User,
    client: Option<&Client>,
    tx: Option<Uuid>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Issued, StoreError> {
    let proof = new_proof(
        app,
        user.id,
        TokenPurpose::ResetPassword,
        &user.email,
        false,
        now,
    );
    let expires_at = proof.token.expires_at;
    let issued = app
        .store()
        .issue_account_token(proof.token, MAIL_LIMITS)
        .await?;
    if issued == Issued::Issued {
        let back = tx.map(|tx| format!("&tx={tx}")).unwrap_or_default();
        let link = account_mail::link(
            app,
            &format!("/reset-password?token={}{back}", proof.secret),
        );
        account_mail::send(
            app,
            user.id,
            &user.email,
            locale,
            client,
            LetterKind::PasswordReset { link, expires_at },
        );
    }
    Ok(issued)
}

/// The account a live reset link is for (its address, to show and to weigh the new password
/// against), or `None` for a link used, replaced or expired.
pub async fn check_link(
    app: &App,
    secret: &str,
    now: OffsetDateTime,
) -> Result<Option<String>, StoreError> {
    Ok(app
        .store()
        .peek_account_link(&app.mail.hash(secret), TokenPurpose::ResetPassword, now)
        .await?
        .map(|token| token.email))
}

/// Why a reset did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// The link was used, replaced or expired.
    #[error("this reset link no longer works")]
    Expired,
    /// The new password is refused.
    #[error("{0}")]
    Password(PasswordProblem),
    /// The hashing pool is full.
    #[error("the server is busy")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sets `new_password` for the account of the reset link `secret`, once: the link is used up,
/// the password replaced, every session ended and every grant (with its refresh tokens)
/// revoked, and `password.reset` recorded, in one transaction. Returns the account.
pub async fn reset(
    app: &App,
    secret: &str,
    new_password: String,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Uuid, ResetError> {
    let link_hash = app.mail.hash(secret);
    let Some(token) = app
        .store()
        .peek_account_link(&link_hash, TokenPurpose::ResetPassword, now)
        .await?
    else {
        return Err(ResetError::Expired);
    };
    let email = token.email;
    let user = app.store().get_user(token.user_id).await?;
    let hints = crate::account::hints_of(&user);
    let hints: Vec<&str> = hints.iter().map(String::as_str).collect();
    credentials::check_new_password(&new_password, &hints).map_err(ResetError::Password)?;
    let hash = match app
        .hashing
        .run(move || password::hash_password(&new_password))
        .await
    {
        Ok(Ok(hash)) => hash,
        Ok(Err(error)) => {
            tracing::warn!(%error, "password could not be hashed");
            return Err(ResetError::Busy);
        }
        Err(_) => return Err(ResetError::Busy),
    };
    let outcome = app
        .store()
        .redeem_account_token(
            Presented::Link { link_hash },
            TokenEffect::ResetPassword {
                password_hash: hash,
            },
            Some(TokenEvent {
                kind: EventKind::PasswordReset,
                client_id: None,
                data: json!({ "via": "link" }),
            }),
            now,
        )
        .await?;
    match outcome {
        Redeemed::Done { token, .. } => {
            account_mail::send(
                app,
                token.user_id,
                &email,
                locale,
                None,
                LetterKind::PasswordChanged,
            );
            tracing::info!(user_id = %token.user_id, "password reset: every session ended");
            Ok(token.user_id)
        }
        // Used meanwhile by a concurrent request.
        _ => Err(ResetError::Expired),
    }
}

/// What an administrator's request for a reset mail did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminReset {
    /// Mailed to `to`; the link works until `expires_at`.
    Sent {
        /// The account's address.
        to: String,
        /// When the link stops working.
        expires_at: OffsetDateTime,
    },
    /// One was mailed too recently; another may be at `retry_at`.
    TooSoon {
        /// When.
        retry_at: OffsetDateTime,
    },
}

/// Mails the reset link to the account `user_id` at an administrator's request (the
/// management API), in English under the server's brand. [`StoreError::NotFound`] for an
/// unknown user.
pub async fn for_user(
    app: &App,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<AdminReset, StoreError> {
    let user = app.store().get_user(user_id).await?;
    Ok(match send_link(app, &user, None, None, "en", now).await? {
        Issued::Issued => AdminReset::Sent {
            to: user.email,
            expires_at: now + account_mail::PROOF_LIFETIME,
        },
        Issued::TooSoon { retry_at } => AdminReset::TooSoon { retry_at },
    })
}
