//! Proving a phone number with a code sent to it by text message, and the code that signs a
//! person in with their verified number (a second step of a sign-in).
//!
//! Codes are the mailed proofs' (`account_mail`, `account_tokens`): six digits, stored as keyed
//! hashes, at most [`MAX_CODE_ATTEMPTS`] wrong ones, resend limits ([`TEXT_LIMITS`]); they work
//! [`PHONE_CODE_LIFETIME`] (10 minutes). Entering the right verification code sets
//! `phone_number_verified` in the profile (source `sms`, with history) and records
//! `phone.verified`, in one transaction; a wrong code records `phone.code_failed`.

use accrete_sms::SmsPurpose;
use accrete_store::{
    Client, EventKind, Issued, PHONE_NUMBER, PHONE_NUMBER_VERIFIED, Presented, Redeemed,
    StoreError, TokenEffect, TokenEvent, TokenPurpose, User,
};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

pub use crate::account_mail::{MAX_CODE_ATTEMPTS, PHONE_CODE_LIFETIME, TEXT_LIMITS};
use crate::account_mail::{new_proof, send_text, typed_code};
use crate::app::App;

/// What asking for a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Sent to `to`; works until `expires_at`.
    Sent {
        /// The number (E.164).
        to: String,
        /// When the code stops working.
        expires_at: OffsetDateTime,
    },
    /// One was sent too recently: another may be asked at `retry_at`.
    TooSoon {
        /// When.
        retry_at: OffsetDateTime,
    },
    /// Nothing to send: the number is verified already (verification), or the account has no
    /// verified number (a sign-in code).
    NotNeeded,
}

/// What entering a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proven {
    /// The code was right: the number is verified (verification), or the sign-in's second step
    /// is done (a sign-in code).
    Verified {
        /// The number the code was sent to.
        number: String,
    },
    /// Not a code (six digits expected): nothing counted.
    NotACode,
    /// A wrong code; `attempts_left` more may be tried.
    WrongCode {
        /// Codes that may still be tried.
        attempts_left: i64,
    },
    /// No code that works: used, replaced, expired, tried too often, or (verification) sent
    /// to a number the account no longer has. Ask a new one.
    Expired,
}

/// Where the number being verified is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberAt {
    /// It is the profile's `phone_number` already (the account page): the code verifies it if
    /// it still is.
    Profile,
    /// It is not stored yet (a prompt holds it in its transaction): the right code stores it,
    /// verified.
    Pending,
}

/// The account's verified number, if any: its `phone_number` when `phone_number_verified` is
/// true.
pub fn verified_number(user: &User) -> Option<&str> {
    let verified = user.profile.get(PHONE_NUMBER_VERIFIED) == Some(&serde_json::Value::Bool(true));
    verified
        .then(|| user.profile.get(PHONE_NUMBER).and_then(|v| v.as_str()))
        .flatten()
}

/// The account's number as stored, verified or not.
pub fn stored_number(user: &User) -> Option<&str> {
    user.profile.get(PHONE_NUMBER).and_then(|v| v.as_str())
}

/// Sends a code proving `number` (E.164, as fields store it) to it, under the resend limits;
/// [`Sent::NotNeeded`] when it is the account's verified number already. `client`: whose name
/// the message wears.
pub async fn send_code(
    app: &App,
    user: &User,
    number: &str,
    client: Option<&Client>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Sent, StoreError> {
    if verified_number(user) == Some(number) {
        return Ok(Sent::NotNeeded);
    }
    issue(
        app,
        user,
        number,
        TokenPurpose::VerifyPhone,
        client,
        locale,
        now,
    )
    .await
}

/// The verification code `typed` by the signed-in `user_id`. `client_id`: the application the
/// user is signing in to, if any (recorded with the events).
pub async fn enter_code(
    app: &App,
    user_id: Uuid,
    number_at: NumberAt,
    typed: &str,
    client_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<Proven, StoreError> {
    let effect = TokenEffect::VerifyPhone {
        store_number: number_at == NumberAt::Pending,
    };
    let event = TokenEvent {
        kind: EventKind::PhoneVerified,
        client_id: client_id.map(str::to_owned),
        data: json!({ "via": "sms" }),
    };
    redeem(app, user_id, typed, effect, Some(event), now).await
}

/// The number waiting for its verification code, and until when.
pub async fn pending_code(
    app: &App,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<Option<(String, OffsetDateTime)>, StoreError> {
    Ok(app
        .store()
        .live_account_token(user_id, TokenPurpose::VerifyPhone, now)
        .await?
        .map(|token| (token.email, token.expires_at)))
}

/// A sign-in's second step: sends a code to `user`'s verified number (under the resend limits).
/// [`Sent::NotNeeded`] when the account has no verified number (this factor is not
/// available). `client`: the application being signed in to (its name is in the message).
pub async fn send_sign_in_code(
    app: &App,
    user: &User,
    client: Option<&Client>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Sent, StoreError> {
    let Some(number) = verified_number(user) else {
        return Ok(Sent::NotNeeded);
    };
    issue(
        app,
        user,
        number,
        TokenPurpose::SignInSms,
        client,
        locale,
        now,
    )
    .await
}

/// A sign-in's second step: checks the code `typed` by `user_id` against the last one sent by
/// [`send_sign_in_code`]. The right code is used up ([`Proven::Verified`]); a wrong one is
/// counted and records `phone.code_failed` (without a client). Nothing else is written: the
/// caller records the sign-in.
pub async fn check_sign_in_code(
    app: &App,
    user_id: Uuid,
    typed: &str,
    now: OffsetDateTime,
) -> Result<Proven, StoreError> {
    redeem(app, user_id, typed, TokenEffect::SignInSms, None, now).await
}

async fn issue(
    app: &App,
    user: &User,
    number: &str,
    purpose: TokenPurpose,
    client: Option<&Client>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<Sent, StoreError> {
    let proof = new_proof(app, user.id, purpose, number, true, now);
    let expires_at = proof.token.expires_at;
    if let Issued::TooSoon { retry_at } = app
        .store()
        .issue_account_token(proof.token, TEXT_LIMITS)
        .await?
    {
        return Ok(Sent::TooSoon { retry_at });
    }
    let sms_purpose = match purpose {
        TokenPurpose::SignInSms => SmsPurpose::SignIn,
        _ => SmsPurpose::VerifyPhone,
    };
    send_text(
        app,
        (user.id, number),
        locale,
        client,
        sms_purpose,
        (proof.code.unwrap_or_default(), expires_at),
    );
    tracing::info!(user_id = %user.id, purpose = purpose.as_str(), "phone code sent");
    Ok(Sent::Sent {
        to: number.to_owned(),
        expires_at,
    })
}

async fn redeem(
    app: &App,
    user_id: Uuid,
    typed: &str,
    effect: TokenEffect,
    event: Option<TokenEvent>,
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
    let effect_purpose = effect.purpose();
    // A wrong code's `phone.code_failed` takes its client from `event` (none for a sign-in
    // code, whose caller records the sign-in).
    let outcome = app
        .store()
        .redeem_account_token(presented, effect, event, now)
        .await?;
    Ok(match outcome {
        Redeemed::Done { token, .. } => {
            tracing::info!(user_id = %token.user_id, purpose = effect_purpose.as_str(), "phone code accepted");
            Proven::Verified {
                number: token.email,
            }
        }
        Redeemed::WrongCode { attempts_left } => Proven::WrongCode { attempts_left },
        Redeemed::Invalid | Redeemed::EmailTaken => Proven::Expired,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use accrete_sms::testing::SmsReceiver;
    use accrete_sms::{SmsPurpose, SmsSender};
    use accrete_store::NewUser;

    use super::*;
    use crate::account_mail::AccountMail;

    const WAIT: Duration = Duration::from_secs(10);

    async fn app(receiver: &SmsReceiver) -> (App, tempfile::TempDir) {
        let (store, dir) = accrete_store::testing::sqlite_store().await;
        let sender = SmsSender::new(&receiver.settings(), "Accrete").unwrap();
        let app = App::for_tests(store, "http://issuer")
            .with_account_mail(AccountMail::disabled().with_sms(sender));
        (app, dir)
    }

    #[tokio::test]
    async fn the_sign_in_pair_sends_to_the_verified_number_only_and_a_code_works_once() {
        let receiver = SmsReceiver::start();
        let (app, _dir) = app(&receiver).await;
        let now = OffsetDateTime::now_utc();
        let user = app
            .store()
            .create_user(NewUser::with_email("eve@example.com", now))
            .await
            .unwrap();
        // No verified number: no sign-in code.
        assert_eq!(
            send_sign_in_code(&app, &user, None, "en", now)
                .await
                .unwrap(),
            Sent::NotNeeded
        );
        // Verify one (as a prompt does).
        let sent = send_code(&app, &user, "+33612345678", None, "en", now)
            .await
            .unwrap();
        assert!(matches!(sent, Sent::Sent { .. }), "{sent:?}");
        let message = receiver.next_message(WAIT).await;
        assert_eq!(message.purpose, SmsPurpose::VerifyPhone);
        let proven = enter_code(&app, user.id, NumberAt::Pending, &message.code, None, now).await;
        assert_eq!(
            proven.unwrap(),
            Proven::Verified {
                number: "+33612345678".into()
            }
        );
        let user = app.store().get_user(user.id).await.unwrap();
        assert_eq!(verified_number(&user), Some("+33612345678"));
        assert_eq!(
            send_code(&app, &user, "+33612345678", None, "en", now)
                .await
                .unwrap(),
            Sent::NotNeeded
        );
        // The sign-in code goes to the verified number.
        let sent = send_sign_in_code(&app, &user, None, "fr", now)
            .await
            .unwrap();
        assert!(
            matches!(sent, Sent::Sent { ref to, .. } if to == "+33612345678"),
            "{sent:?}"
        );
        let message = receiver.next_message(WAIT).await;
        assert_eq!(message.purpose, SmsPurpose::SignIn);
        assert!(
            message.body.contains("code de connexion"),
            "{}",
            message.body
        );
        // Another cannot be asked at once.
        assert!(matches!(
            send_sign_in_code(&app, &user, None, "en", now)
                .await
                .unwrap(),
            Sent::TooSoon { .. }
        ));
        let wrong = if message.code == "000000" {
            "111111"
        } else {
            "000000"
        };
        assert_eq!(
            check_sign_in_code(&app, user.id, wrong, now).await.unwrap(),
            Proven::WrongCode { attempts_left: 4 }
        );
        assert_eq!(
            check_sign_in_code(&app, user.id, "12", now).await.unwrap(),
            Proven::NotACode
        );
        assert!(matches!(
            check_sign_in_code(&app, user.id, &message.code, now)
                .await
                .unwrap(),
            Proven::Verified { .. }
        ));
        assert_eq!(
            check_sign_in_code(&app, user.id, &message.code, now)
                .await
                .unwrap(),
            Proven::Expired
        );
        // A verification code is not a sign-in code, and the profile did not change.
        let after = app.store().get_user(user.id).await.unwrap();
        assert_eq!(after.version, user.version);
        // Expired after ten minutes.
        let later = now + PHONE_CODE_LIFETIME + time::Duration::minutes(1);
        send_sign_in_code(&app, &after, None, "en", later)
            .await
            .unwrap();
        let message = receiver.next_message(WAIT).await;
        assert_eq!(
            check_sign_in_code(&app, user.id, &message.code, later + PHONE_CODE_LIFETIME)
                .await
                .unwrap(),
            Proven::Expired
        );
    }
}
