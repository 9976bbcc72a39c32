//! Second factors: enrolling an authenticator app (TOTP) with its recovery codes, proving one at
//! sign-in, the gate that asks for one before a code (the client's rule, `acr_values`, the
//! session's second-factor age), removing factors, and an administrator's reset.
//!
//! The pure rules (TOTP codes, recovery codes, `amr`/`acr` values) are in `accrete_oidc::mfa`;
//! factors are stored by `accrete_store::Factors`. See docs/mfa.md.

pub mod keys;

use accrete_oidc::authorize::{AuthorizationRequest, Prompt};
use accrete_oidc::mfa::{self as rules, ACR_MFA};
use accrete_oidc::throttle::SignInThrottle;
use accrete_store::{
    AuthTransaction, EventKind, Factor, FactorConfirmation, FactorKind, NewEvent, NewFactor,
    SsoSession, StoreError, User,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::accounts::throttle_allows;
use crate::app::App;
use crate::settings::{MfaMode, mfa_for};

/// What the gate before a code lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// No second factor is due, or the session passed one recently enough.
    Open,
    /// The user proves a second factor on the second-factor page.
    Challenge,
    /// A second factor is required and the user has none: the set-up page.
    Enrol,
    /// One is due, but the request allows no interaction (`prompt=none`).
    InteractionRequired,
    /// One is due, but the transaction is not stored yet (store it, then ask again).
    StoreFirst,
}

/// Whether a second factor is due for this sign-in: `mode` (the client's rule), `asked` (the
/// relying party's `acr_values` ask for one), `enrolled` (the user has one); when due, whether
/// the session passed one within `max_age` (the server's limit, shortened by the request's
/// `max_age`).
fn due(
    mode: MfaMode,
    asked: bool,
    enrolled: bool,
    session: &SsoSession,
    max_age: Duration,
    now: OffsetDateTime,
) -> bool {
    let wanted = asked
        || match mode {
            MfaMode::Off => false,
            MfaMode::IfEnrolled => enrolled,
            MfaMode::Required => true,
        };
    wanted && !session_mfa_fresh(session, max_age, now)
}

/// Whether the session passed a second factor at most `max_age` ago (a sign-in whose first
/// factor was already multi-factor, such as a passkey with user verification, counts from its
/// authentication time).
pub fn session_mfa_fresh(session: &SsoSession, max_age: Duration, now: OffsetDateTime) -> bool {
    let at = session
        .mfa_at
        .or_else(|| rules::has_mfa(&session.amr).then_some(session.auth_time));
    at.is_some_and(|at| now - at <= max_age)
}

/// How long a session's second factor counts for this request.
fn mfa_max_age(app: &App, request: &AuthorizationRequest) -> Duration {
    let limit = app.settings().mfa.max_age;
    match request.max_age {
        Some(seconds) => limit.min(Duration::seconds(
            i64::try_from(seconds).unwrap_or(i64::MAX),
        )),
        None => limit,
    }
}

/// The gate before a code: when a second factor is due (the client's rule or the request's
/// `acr_values`) and the session has not passed one recently enough, the second-factor page,
/// or the set-up page for a user without one (`interaction_required` for `prompt=none`).
/// Reads the user only when the client's rule needs to know their factors.
pub(crate) async fn gate(
    app: &App,
    (tx, stored): (&AuthTransaction, bool),
    request: &AuthorizationRequest,
    session: &SsoSession,
    user: &mut Option<User>,
    now: OffsetDateTime,
) -> Result<Gate, StoreError> {
    let client = app.clients.get(app.store(), &tx.client_id).await?;
    let mode = mfa_for(app, client.as_ref());
    let asked = rules::mfa_requested(&request.acr_values).is_some();
    if mode == MfaMode::Off && !asked {
        return Ok(Gate::Open);
    }
    let max_age = mfa_max_age(app, request);
    if session_mfa_fresh(session, max_age, now) {
        return Ok(Gate::Open);
    }
    let enrolled = match user.as_ref().filter(|u| u.id == session.user_id) {
        Some(user) => user.mfa_factors > 0,
        None => {
            let found = app.store().get_user(session.user_id).await?;
            let enrolled = found.mfa_factors > 0;
            *user = Some(found);
            enrolled
        }
    };
    if !due(mode, asked, enrolled, session, max_age, now) {
        return Ok(Gate::Open);
    }
    Ok(if request.has_prompt(Prompt::None) {
        Gate::InteractionRequired
    } else if !stored {
        Gate::StoreFirst
    } else if enrolled {
        Gate::Challenge
    } else {
        Gate::Enrol
    })
}

/// A user's second factors as the account center shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The confirmed factors, oldest first.
    pub factors: Vec<Factor>,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
}

impl Status {
    /// The confirmed authenticator app, if any.
    pub fn totp(&self) -> Option<&Factor> {
        self.factors.iter().find(|f| f.kind == FactorKind::Totp)
    }

    /// The confirmed phone for sign-in codes, if any.
    pub fn sms(&self) -> Option<&Factor> {
        self.factors.iter().find(|f| f.kind == FactorKind::Sms)
    }

    /// The number sign-in codes go to: the phone factor's, while it is still the account's
    /// verified number (a changed number must be verified, and set up, again).
    pub fn sms_number<'a>(&self, user: &'a User) -> Option<&'a str> {
        let factor = self.sms()?;
        crate::phone::verified_number(user).filter(|n| factor.phone.as_deref() == Some(*n))
    }
}

/// Starts setting up the account's verified phone number as a second factor: a code is sent
/// to it (the same limits as every text-message code). `Sent::NotNeeded` when the account has
/// no verified number.
pub async fn start_sms(
    app: &App,
    user: &User,
    client: Option<&accrete_store::Client>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<crate::phone::Sent, StoreError> {
    let Some(number) = crate::phone::verified_number(user) else {
        return Ok(crate::phone::Sent::NotNeeded);
    };
    app.store()
        .start_factor(NewFactor {
            id: Uuid::new_v4(),
            user_id: user.id,
            kind: FactorKind::Sms,
            label: accrete_sms::mask_number(number),
            sealed_secret: None,
            phone: Some(number.to_owned()),
            now,
        })
        .await?;
    crate::phone::send_sign_in_code(app, user, client, locale, now).await
}

/// Confirms the phone being set up with the code sent to it; the first factor of an account
/// comes with ten recovery codes.
pub async fn confirm_sms(
    app: &App,
    user: &User,
    typed: &str,
    client_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<Enrolled, MfaError> {
    let Some(factor) = app
        .store()
        .list_factors(user.id)
        .await?
        .into_iter()
        .find(|f| f.kind == FactorKind::Sms && !f.confirmed())
    else {
        return Ok(Enrolled::NoSetup);
    };
    match crate::phone::check_sign_in_code(app, user.id, typed, now).await? {
        crate::phone::Proven::Verified { number } if factor.phone.as_deref() == Some(&number) => {}
        crate::phone::Proven::Verified { .. } | crate::phone::Proven::Expired => {
            return Ok(Enrolled::NoSetup);
        }
        _ => return Ok(Enrolled::WrongCode),
    }
    let recovery_codes = if app.store().recovery_codes_left(user.id).await? == 0 {
        Some(rules::new_recovery_codes())
    } else {
        None
    };
    let confirmation = FactorConfirmation {
        user_id: user.id,
        factor_id: factor.id,
        step: 0,
        recovery_codes: recovery_codes.as_ref().map(|codes| hashes(app, codes)),
        now,
    };
    let event = event(
        EventKind::MfaEnrolled,
        user.id,
        client_id,
        now,
        json!({ "factor": "sms", "factor_id": factor.id }),
    );
    if !app.store().confirm_factor(confirmation, event).await? {
        return Ok(Enrolled::NoSetup);
    }
    tracing::info!(user_id = %user.id, "phone set up for sign-in codes");
    Ok(Enrolled::Done { recovery_codes })
}

/// Sends a sign-in code to the user's phone factor; `Sent::NotNeeded` when they have none (or
/// its number is no longer the account's verified one).
pub async fn send_sms(
    app: &App,
    user: &User,
    client: Option<&accrete_store::Client>,
    locale: &str,
    now: OffsetDateTime,
) -> Result<crate::phone::Sent, StoreError> {
    if status(app, user.id).await?.sms_number(user).is_none() {
        return Ok(crate::phone::Sent::NotNeeded);
    }
    crate::phone::send_sign_in_code(app, user, client, locale, now).await
}

/// The user's confirmed factors and how many recovery codes they have left.
pub async fn status(app: &App, user_id: Uuid) -> Result<Status, StoreError> {
    let factors = app
        .store()
        .list_factors(user_id)
        .await?
        .into_iter()
        .filter(Factor::confirmed)
        .collect();
    let recovery_codes_left = app.store().recovery_codes_left(user_id).await?;
    Ok(Status {
        factors,
        recovery_codes_left,
    })
}

/// An authenticator app being set up: what the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSetup {
    /// The factor being enrolled.
    pub factor_id: Uuid,
    /// The secret as typed into an app (base32 in groups of four).
    pub secret: String,
    /// The `otpauth://` URI the QR code carries.
    pub uri: String,
}

/// Why a second factor could not be used or set up.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored secret did not open (another master key): the factor cannot be used.
    #[error("the authenticator app's secret cannot be opened with this server's key")]
    Sealed,
}

/// The authenticator app being set up for `user`: the one in progress, or a new one.
pub async fn totp_setup(
    app: &App,
    user: &User,
    now: OffsetDateTime,
) -> Result<TotpSetup, MfaError> {
    let pending = app
        .store()
        .list_factors(user.id)
        .await?
        .into_iter()
        .find(|f| f.kind == FactorKind::Totp && !f.confirmed());
    if let Some(factor) = pending
        && now - factor.created_at < Duration::hours(1)
        && let Some(sealed) = &factor.sealed_secret
    {
        let secret = app
            .factors
            .open(factor.id, sealed)
            .map_err(|_| MfaError::Sealed)?;
        return setup_view(app, factor.id, &secret, user);
    }
    let id = Uuid::new_v4();
    let secret = rules::new_totp_secret();
    let sealed = app
        .factors
        .seal(id, &secret)
        .map_err(|_| MfaError::Sealed)?;
    app.store()
        .start_factor(NewFactor {
            id,
            user_id: user.id,
            kind: FactorKind::Totp,
            label: String::new(),
            sealed_secret: Some(sealed),
            phone: None,
            now,
        })
        .await?;
    setup_view(app, id, &secret, user)
}

fn setup_view(app: &App, id: Uuid, secret: &[u8], user: &User) -> Result<TotpSetup, MfaError> {
    let totp =
        rules::totp(secret, app.product_name(), &user.email).map_err(|_| MfaError::Sealed)?;
    Ok(TotpSetup {
        factor_id: id,
        secret: rules::secret_for_typing(&totp),
        uri: rules::otpauth_uri(&totp).map_err(|_| MfaError::Sealed)?,
    })
}

/// What confirming an authenticator app did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrolled {
    /// The app is set up; `recovery_codes` are new ones to show once (`None`: the user keeps
    /// the ones they have).
    Done {
        /// The codes, as the user writes them down.
        recovery_codes: Option<Vec<String>>,
    },
    /// The code is not the app's current one.
    WrongCode,
    /// No set-up in progress (it expired or was finished in another tab): start again.
    NoSetup,
}

/// Confirms the authenticator app being set up with its first code; the first factor of an
/// account comes with ten recovery codes.
pub async fn confirm_totp(
    app: &App,
    user: &User,
    typed: &str,
    client_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<Enrolled, MfaError> {
    let Some(factor) = app
        .store()
        .list_factors(user.id)
        .await?
        .into_iter()
        .find(|f| f.kind == FactorKind::Totp && !f.confirmed())
    else {
        return Ok(Enrolled::NoSetup);
    };
    let Some(sealed) = &factor.sealed_secret else {
        return Ok(Enrolled::NoSetup);
    };
    let secret = app
        .factors
        .open(factor.id, sealed)
        .map_err(|_| MfaError::Sealed)?;
    let totp =
        rules::totp(&secret, app.product_name(), &user.email).map_err(|_| MfaError::Sealed)?;
    let Some(step) = rules::check_totp(&totp, typed, now.unix_timestamp()) else {
        return Ok(Enrolled::WrongCode);
    };
    let recovery_codes = if app.store().recovery_codes_left(user.id).await? == 0 {
        Some(rules::new_recovery_codes())
    } else {
        None
    };
    let confirmation = FactorConfirmation {
        user_id: user.id,
        factor_id: factor.id,
        step: i64::try_from(step).unwrap_or(i64::MAX),
        recovery_codes: recovery_codes.as_ref().map(|codes| hashes(app, codes)),
        now,
    };
    let event = event(
        EventKind::MfaEnrolled,
        user.id,
        client_id,
        now,
        json!({ "factor": "totp", "factor_id": factor.id }),
    );
    if !app.store().confirm_factor(confirmation, event).await? {
        return Ok(Enrolled::NoSetup);
    }
    tracing::info!(user_id = %user.id, "authenticator app set up");
    Ok(Enrolled::Done { recovery_codes })
}

fn hashes(app: &App, codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .filter_map(|code| rules::normalize_recovery_code(code))
        .map(|code| app.factors.hash_recovery_code(&code))
        .collect()
}

/// New recovery codes replacing the user's earlier ones (shown once).
pub async fn renew_recovery_codes(
    app: &App,
    user_id: Uuid,
    now: OffsetDateTime,
) -> Result<Vec<String>, StoreError> {
    let codes = rules::new_recovery_codes();
    let event = event(
        EventKind::RecoveryCodesRenewed,
        user_id,
        None,
        now,
        json!({}),
    );
    app.store()
        .replace_recovery_codes(user_id, hashes(app, &codes), event, now)
        .await?;
    Ok(codes)
}

/// What the user typed on the second-factor page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    /// A code of their authenticator app.
    Totp(&'a str),
    /// One of their recovery codes.
    RecoveryCode(&'a str),
    /// The code sent by text message to their phone.
    Sms(&'a str),
}

/// What proving a second factor did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// Right: the `amr` value of the factor (`otp`), and for a recovery code how many are left.
    Proven {
        /// `otp` (RFC 8176).
        amr: &'static str,
        /// Recovery codes left after this one (`None`: not a recovery code).
        recovery_codes_left: Option<i64>,
    },
    /// Wrong (or a code already used).
    Wrong,
    /// No text-message code that works (used, expired, tried too often): send a new one.
    Expired,
    /// Too many wrong codes from this address: try again after this long.
    Throttled(std::time::Duration),
}

/// The second-factor throttle: the sign-in throttle's rule, counted per user (not per email
/// address) and source address, so that a stolen password alone cannot try codes quickly.
const THROTTLE: SignInThrottle = SignInThrottle {
    free_per_source: 5,
    account_ceiling: 50,
    first_wait: Duration::seconds(30),
    max_wait: Duration::minutes(15),
    forget_after: Duration::hours(1),
};

fn throttle_key(user_id: Uuid) -> String {
    format!("mfa:{user_id}")
}

/// Checks a second factor of `user` typed from `source` (the peer address): under the
/// throttle, a TOTP code once per time step, a recovery code once. A wrong one is counted,
/// logged and recorded as `mfa.failed`.
pub async fn prove(
    app: &App,
    user: &User,
    answer: Answer<'_>,
    source: &str,
    client_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<Proof, MfaError> {
    let key = throttle_key(user.id);
    let counters = app.store().credential_failures(&key, source).await?;
    if let Err(wait) = throttle_allows(&THROTTLE, &counters, now) {
        return Ok(Proof::Throttled(wait));
    }
    let proof = match answer {
        Answer::Totp(typed) => prove_totp(app, user, typed, now).await?,
        Answer::RecoveryCode(typed) => {
            prove_recovery_code(app, user, typed, client_id, now).await?
        }
        Answer::Sms(typed) => prove_sms(app, user, typed, now).await?,
    };
    if proof == Proof::Wrong {
        app.store()
            .record_credential_failure(&key, source, now, THROTTLE.forget_before(now))
            .await?;
        let kind = match answer {
            Answer::Totp(_) => "totp",
            Answer::RecoveryCode(_) => "recovery_code",
            Answer::Sms(_) => "sms",
        };
        tracing::warn!(user_id = %user.id, factor = kind, "wrong second-factor code");
        let failed = event(
            EventKind::MfaFailed,
            user.id,
            client_id,
            now,
            json!({ "factor": kind }),
        );
        app.store().record_prompt_event(failed).await?;
    } else if counters.from_source.is_some() {
        app.store().clear_credential_failures(&key, source).await?;
    }
    Ok(proof)
}

async fn prove_totp(
    app: &App,
    user: &User,
    typed: &str,
    now: OffsetDateTime,
) -> Result<Proof, MfaError> {
    for factor in app.store().list_factors(user.id).await? {
        if factor.kind != FactorKind::Totp || !factor.confirmed() {
            continue;
        }
        let Some(sealed) = &factor.sealed_secret else {
            continue;
        };
        let secret = app
            .factors
            .open(factor.id, sealed)
            .map_err(|_| MfaError::Sealed)?;
        let totp =
            rules::totp(&secret, app.product_name(), &user.email).map_err(|_| MfaError::Sealed)?;
        if let Some(step) = rules::check_totp(&totp, typed, now.unix_timestamp()) {
            let step = i64::try_from(step).unwrap_or(i64::MAX);
            if app
                .store()
                .use_totp_step(user.id, factor.id, step, now)
                .await?
            {
                return Ok(Proof::Proven {
                    amr: rules::AMR_OTP,
                    recovery_codes_left: None,
                });
            }
            // The code of a step already used (replayed, or typed twice): refused.
            return Ok(Proof::Wrong);
        }
    }
    Ok(Proof::Wrong)
}

async fn prove_sms(
    app: &App,
    user: &User,
    typed: &str,
    now: OffsetDateTime,
) -> Result<Proof, MfaError> {
    let status = status(app, user.id).await?;
    let (Some(factor), Some(number)) = (status.sms(), status.sms_number(user)) else {
        return Ok(Proof::Wrong);
    };
    Ok(
        match crate::phone::check_sign_in_code(app, user.id, typed, now).await? {
            crate::phone::Proven::Verified { number: sent_to } if sent_to == number => {
                app.store().touch_factor(user.id, factor.id, now).await?;
                Proof::Proven {
                    amr: rules::AMR_SMS,
                    recovery_codes_left: None,
                }
            }
            crate::phone::Proven::Expired => Proof::Expired,
            _ => Proof::Wrong,
        },
    )
}

async fn prove_recovery_code(
    app: &App,
    user: &User,
    typed: &str,
    client_id: Option<&str>,
    now: OffsetDateTime,
) -> Result<Proof, MfaError> {
    let Some(code) = rules::normalize_recovery_code(typed) else {
        return Ok(Proof::Wrong);
    };
    let hash = app.factors.hash_recovery_code(&code);
    let used = event(
        EventKind::RecoveryCodeUsed,
        user.id,
        client_id,
        now,
        json!({}),
    );
    Ok(
        match app
            .store()
            .use_recovery_code(user.id, &hash, used, now)
            .await?
        {
            Some(left) => {
                tracing::info!(user_id = %user.id, left, "recovery code used");
                Proof::Proven {
                    amr: rules::AMR_OTP,
                    recovery_codes_left: Some(left),
                }
            }
            None => Proof::Wrong,
        },
    )
}

/// Records on the session that it passed a second factor (`factor_amr`) at `now`: its `amr`
/// gains the factor and `mfa`, its `acr` becomes the multi-factor one (the PAPE URI when the
/// request asked for that one).
pub async fn complete(
    app: &App,
    session: &SsoSession,
    factor_amr: &str,
    request: Option<&AuthorizationRequest>,
    now: OffsetDateTime,
) -> Result<Option<SsoSession>, StoreError> {
    let amr = rules::with_second_factor(&session.amr, factor_amr);
    let acr = request
        .and_then(|r| rules::mfa_requested(&r.acr_values))
        .unwrap_or(ACR_MFA);
    app.store()
        .mark_session_mfa(&session.hash, amr, Some(acr.to_owned()), now)
        .await
}

/// Removes one of the user's factors (the page asks for a recent sign-in first).
pub async fn remove(
    app: &App,
    user_id: Uuid,
    factor_id: Uuid,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let removed = event(
        EventKind::MfaRemoved,
        user_id,
        None,
        now,
        json!({ "factor_id": factor_id }),
    );
    let done = app
        .store()
        .remove_factor(user_id, factor_id, removed)
        .await?;
    if done {
        tracing::info!(user_id = %user_id, "second factor removed by its owner");
    }
    Ok(done)
}

/// An administrator removes every second factor and recovery code of a user (who then signs
/// in with their password alone, or sets a factor up again where one is required); recorded as
/// `mfa.reset` with who did it.
pub async fn reset(
    app: &App,
    user_id: Uuid,
    actor: &str,
    now: OffsetDateTime,
) -> Result<u64, StoreError> {
    let reset = event(
        EventKind::MfaReset,
        user_id,
        None,
        now,
        json!({ "by": actor }),
    );
    let removed = app.store().reset_factors(user_id, reset).await?;
    tracing::info!(user_id = %user_id, removed, actor, "second factors reset by an administrator");
    Ok(removed)
}

fn event(
    kind: EventKind,
    user_id: Uuid,
    client_id: Option<&str>,
    at: OffsetDateTime,
    data: Value,
) -> NewEvent {
    NewEvent {
        kind,
        user_id,
        step: None,
        client_id: client_id.map(str::to_owned),
        at,
        logins: None,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(
        amr: &[&str],
        mfa_at: Option<OffsetDateTime>,
        auth_time: OffsetDateTime,
    ) -> SsoSession {
        SsoSession {
            hash: "h".into(),
            id: Uuid::nil(),
            user_id: Uuid::nil(),
            created_at: auth_time,
            auth_time,
            last_seen_at: auth_time,
            expires_at: auth_time + Duration::days(1),
            credentialed: true,
            amr: amr.iter().map(|s| s.to_string()).collect(),
            acr: None,
            user_agent: None,
            ip: None,
            mfa_at,
        }
    }

    #[test]
    fn when_a_second_factor_is_due() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(100);
        let age = Duration::hours(12);
        let plain = session(&["pwd"], None, now);
        for (mode, asked, enrolled, expected) in [
            (MfaMode::Off, false, true, false),
            (MfaMode::Off, true, false, true),
            (MfaMode::IfEnrolled, false, false, false),
            (MfaMode::IfEnrolled, false, true, true),
            (MfaMode::Required, false, false, true),
        ] {
            assert_eq!(
                due(mode, asked, enrolled, &plain, age, now),
                expected,
                "{mode:?} {asked} {enrolled}"
            );
        }
        // A session that passed one recently is not asked again, until it is too old.
        let passed = session(
            &["pwd", "otp", "mfa"],
            Some(now - Duration::hours(1)),
            now - Duration::hours(2),
        );
        assert!(!due(MfaMode::Required, true, true, &passed, age, now));
        assert!(due(
            MfaMode::Required,
            true,
            true,
            &passed,
            Duration::minutes(30),
            now
        ));
        // A passkey sign-in with user verification is multi-factor from its authentication.
        let passkey = session(&["hwk", "user", "mfa"], None, now - Duration::hours(1));
        assert!(!due(MfaMode::Required, true, true, &passkey, age, now));
        assert!(due(
            MfaMode::Required,
            true,
            true,
            &passkey,
            Duration::minutes(10),
            now
        ));
    }
}
