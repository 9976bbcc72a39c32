//! Proving an email address: the code and link mailed at sign-up (or asked for again), the page
//! a client that requires a verified address puts between sign-in and its code, and changing
//! the account's address (the new one proven before it replaces the old, which is told).

use accrete_mail::LetterKind;
use accrete_oidc::authorize::{AuthorizationRequest, Prompt};
use accrete_oidc::credentials;
use accrete_store::{
    AuthTransaction, Client, EventKind, Issued, Presented, Redeemed, StoreError, TokenEffect,
    TokenEvent, TokenPurpose, User,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::account_mail::{self, MAIL_LIMITS, MAX_CODE_ATTEMPTS, new_proof, typed_code};
use crate::app::App;
use crate::settings::{EmailVerification, email_verification_for};

/// What asking for a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Mailed to `to`; works until `expires_at`.
    Sent {
        /// The address.
        to: String,
        /// When the code and link stop working.
        expires_at: OffsetDateTime,
    },
    /// One was mailed too recently: another may be asked at `retry_at`.
    TooSoon {
        /// When.
        retry_at: OffsetDateTime,
    },
    /// The address is verified already: nothing to send.
    AlreadyVerified,
}

/// What typing a code or following a link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proven {
    /// The address is verified (or, for a change, the new address is the account's).
    Verified {
        /// The account.
        user_id: Uuid,
    },
    /// Not a code (six digits expected): nothing counted.
    NotACode,
    /// A wrong code; `attempts_left` more may be tried.
    WrongCode {
        /// Codes that may still be tried.
        attempts_left: i64,
    },
    /// No code or link that works: used, replaced, expired or tried too often. Ask a new one.
    Expired,
    /// The new address belongs to another account.
    EmailTaken,
}

/// Mails a code and link proving `user`'s current address (unless it is verified), under the
/// resend limits. `client`: whose brand the mail wears and where the link returns.
pub async fn send_code(
    app: &App,
    user: &User,
    client: Option<&Client>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Sent, StoreError> {
    if user.email_verified {
        return Ok(Sent::AlreadyVerified);
    }
    let proof = new_proof(
        app,
        user.id,
        TokenPurpose::VerifyEmail,
        &user.email,
        true,
        now,
    );
    let expires_at = proof.token.expires_at;
    if let Issued::TooSoon { retry_at } = app
        .store()
        .issue_account_token(proof.token, MAIL_LIMITS)
        .await?
    {
        return Ok(Sent::TooSoon { retry_at });
    }
    let link = account_mail::link(app, &format!("/verify-email?token={}", proof.secret));
    account_mail::send(
        app,
        user.id,
        &user.email,
        locale,
        client,
        LetterKind::VerifyEmail {
            code: proof.code.unwrap_or_default(),
            link,
            expires_at,
        },
    );
    tracing::info!(user_id = %user.id, "email verification mailed");
    Ok(Sent::Sent {
        to: user.email.clone(),
        expires_at,
    })
}

/// After a sign-up (with a password or through a provider that did not vouch for the address):
/// mails the code unless `client` (or the server) turned verification off.
pub async fn after_sign_up(
    app: &App,
    user: &User,
    client: Option<&Client>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    if user.email_verified || email_verification_for(app, client) == EmailVerification::Off {
        return Ok(());
    }
    send_code(app, user, client, locale, now).await.map(|_| ())
}

/// The code `typed` by the signed-in `user_id`, for its current address (`change: false`) or
/// for the new address it asked for (`change: true`). `client_id`: the application the user is
/// signing in to, if any (recorded with the event).
pub async fn enter_code(
    app: &App,
    user_id: Uuid,
    change: bool,
    typed: &str,
    client_id: Option<&str>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Proven, StoreError> {
    let Some(code) = typed_code(typed) else {
        return Ok(Proven::NotACode);
    };
    let presented = Presented::Code {
        user_id,
        code_hash: app.mail.hash(&code),
        max_attempts: MAX_CODE_ATTEMPTS,
    };
    redeem(app, presented, change, client_id, locale, "code", now).await
}

/// The secret of a mailed link (`/verify-email?token=`), for the current address or a new one.
pub async fn follow_link(
    app: &App,
    secret: &str,
    change: bool,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Proven, StoreError> {
    let presented = Presented::Link {
        link_hash: app.mail.hash(secret),
    };
    redeem(app, presented, change, None, locale, "link", now).await
}

async fn redeem(
    app: &App,
    presented: Presented,
    change: bool,
    client_id: Option<&str>,
    locale: &str,
    via: &str,
    now: OffsetDateTime,
) -> Result<Proven, StoreError> {
    let (effect, kind) = if change {
        (TokenEffect::ChangeEmail, EventKind::EmailChanged)
    } else {
        (TokenEffect::VerifyEmail, EventKind::EmailVerified)
    };
    let event = TokenEvent {
        kind,
        client_id: client_id.map(str::to_owned),
        data: json!({ "via": via }),
    };
    let outcome = app
        .store()
        .redeem_account_token(presented, effect, Some(event), now)
        .await?;
    Ok(match outcome {
        Redeemed::Done {
            token,
            previous_email,
        } => {
            if change && previous_email != token.email {
                // The old address is told, so that a change made by someone else is noticed.
                let client = match client_id {
                    Some(id) => app.clients.get(app.store(), id).await?,
                    None => None,
                };
                account_mail::send(
                    app,
                    token.user_id,
                    &previous_email,
                    locale,
                    client.as_ref(),
                    LetterKind::EmailChanged {
                        new_email: token.email.clone(),
                    },
                );
            }
            tracing::info!(user_id = %token.user_id, change, "email address proven");
            Proven::Verified {
                user_id: token.user_id,
            }
        }
        Redeemed::WrongCode { attempts_left } => Proven::WrongCode { attempts_left },
        Redeemed::Invalid => Proven::Expired,
        Redeemed::EmailTaken => Proven::EmailTaken,
    })
}

/// Why a new address cannot be asked for.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// Not an email address.
    #[error("{0}")]
    Email(credentials::EmailProblem),
    /// The account's address already.
    #[error("this is already the account's address")]
    Same,
    /// The current password is wrong (asked when the account has one).
    #[error("the password is wrong")]
    WrongPassword,
    /// The hashing pool is full.
    #[error("the server is busy")]
    Busy,
    /// A code was mailed too recently.
    #[error("a code was sent a moment ago")]
    TooSoon(OffsetDateTime),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Asks to replace `user`'s address with `new_email`: after checking the current `password`
/// (when the account has one), mails a code and link to the new address; nothing changes
/// until one is used. Whether the new address belongs to another account is told only then
/// (to its owner's mailbox: no one learns from here which addresses have accounts).
pub async fn request_change(
    app: &App,
    user: &User,
    new_email: &str,
    password: Option<String>,
    client: Option<&Client>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Sent, ChangeError> {
    let new_email = new_email.trim();
    credentials::check_email(new_email).map_err(ChangeError::Email)?;
    if accrete_store::normalize_email(new_email) == accrete_store::normalize_email(&user.email) {
        return Err(ChangeError::Same);
    }
    if user.password_hash.is_some() {
        match crate::account::verify(app, user, password.unwrap_or_default()).await {
            Some(true) => {}
            Some(false) => return Err(ChangeError::WrongPassword),
            None => return Err(ChangeError::Busy),
        }
    }
    let proof = new_proof(
        app,
        user.id,
        TokenPurpose::ChangeEmail,
        new_email,
        true,
        now,
    );
    let expires_at = proof.token.expires_at;
    if let Issued::TooSoon { retry_at } = app
        .store()
        .issue_account_token(proof.token, MAIL_LIMITS)
        .await?
    {
        return Err(ChangeError::TooSoon(retry_at));
    }
    let link = account_mail::link(
        app,
        &format!("/account/email/confirm?token={}", proof.secret),
    );
    account_mail::send(
        app,
        user.id,
        new_email,
        locale,
        client,
        LetterKind::ConfirmNewEmail {
            code: proof.code.unwrap_or_default(),
            link,
            expires_at,
        },
    );
    Ok(Sent::Sent {
        to: new_email.to_owned(),
        expires_at,
    })
}

/// The new address waiting for its code, and until when.
pub async fn pending_change(
    app: &App,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<Option<(String, OffsetDateTime)>, StoreError> {
    Ok(app
        .store()
        .live_account_token(user_id, TokenPurpose::ChangeEmail, now)
        .await?
        .map(|token| (token.email, token.expires_at)))
}

/// What the gate before a code lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// The client does not require a verified address, or the user's is verified.
    Open,
    /// The verification page is due.
    Verify,
    /// It is due, but the request allows no interaction (`prompt=none`).
    InteractionRequired,
    /// It is due, but the transaction is not stored yet (store it, then ask again).
    StoreFirst,
}

/// The gate before a code: when the transaction's client requires a verified address and the
/// user's is not, the verification page (or `interaction_required` for `prompt=none`). Reads
/// the user only when verification is required (`user` when the caller holds it).
pub(crate) async fn gate(
    app: &App,
    tx: &AuthTransaction,
    stored: bool,
    request: &AuthorizationRequest,
    user_id: Uuid,
    user: &mut Option<User>,
) -> Result<Gate, StoreError> {
    let client = app.clients.get(app.store(), &tx.client_id).await?;
    if email_verification_for(app, client.as_ref()) != EmailVerification::Required {
        return Ok(Gate::Open);
    }
    let verified = match user.as_ref().filter(|u| u.id == user_id) {
        Some(user) => user.email_verified,
        None => {
            let found = app.store().get_user(user_id).await?;
            let verified = found.email_verified;
            *user = Some(found);
            verified
        }
    };
    if verified {
        return Ok(Gate::Open);
    }
    Ok(if request.has_prompt(Prompt::None) {
        Gate::InteractionRequired
    } else if !stored {
        Gate::StoreFirst
    } else {
        Gate::Verify
    })
}
