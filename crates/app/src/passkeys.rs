//! Passkeys (WebAuthn, through webauthn-rs): registering one for a signed-in user, listing,
//! renaming and removing them (never the last way in), signing in with one and no username
//! (the credential says whose it is), and proving a known user with one of theirs (a second
//! factor).
//!
//! Each ceremony has two requests: `start_*` stores the ceremony's state (single use, a few
//! minutes, bound to the browser that started it) and returns the options for
//! `navigator.credentials`; `finish_*` takes the state once and verifies the browser's answer.
//! The state lives in the database, so any node may serve either request. Every signature and
//! every check of the ceremonies is webauthn-rs's.

mod relying_party;

use std::time::Duration as StdDuration;

use accrete_oidc::secrets::random_opaque;
use accrete_oidc::throttle::SignInThrottle;
use accrete_store::{
    CeremonyKind, Client, EventKind, NewEvent, PasskeyCeremony, PasskeyRemoval, PasskeyUse,
    SignInKind, StoreError, StoredPasskey, User,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, Credential, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
};
use webauthn_rs_proto::{ResidentKeyRequirement, UserVerificationPolicy};

use crate::account::recent_sign_in;
use crate::accounts::throttle_allows;
use crate::app::App;
use crate::federation::{self, SignInMethod};

pub use relying_party::{RelyingParty, Unavailable};

/// How long a ceremony may take between its two requests (webauthn-rs's own timeout for the
/// authenticator is the same five minutes).
pub const CEREMONY_LIFETIME: Duration = Duration::minutes(5);

/// The longest name of a passkey, in characters.
pub const NAME_MAX_CHARS: usize = 64;

/// `amr` of a device-bound passkey (`hwk`) and of a synced, backup-eligible one (`swk`): the
/// RFC 8176 values, defined with the other `amr` values in `accrete_oidc::mfa`.
pub use accrete_oidc::mfa::{AMR_HARDWARE_KEY as AMR_DEVICE_BOUND, AMR_SOFTWARE_KEY as AMR_SYNCED};

/// Why a passkey use-case did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// This server offers no passkeys (its public URL cannot be a relying party).
    #[error("passkeys are not available on this server: {0}")]
    Unavailable(Unavailable),
    /// The application signs people in through providers only.
    #[error("this application does not offer passkeys")]
    NotOffered,
    /// The ceremony is unknown, used, expired, of another kind, user or browser.
    #[error("the passkey ceremony is missing, used, expired or not this browser's")]
    BadCeremony,
    /// The browser's answer is not a WebAuthn credential.
    #[error("the answer is not a passkey credential")]
    Malformed,
    /// No registered passkey has this credential (or it is not this user's).
    #[error("this passkey is not registered here")]
    UnknownCredential,
    /// webauthn-rs refused the registration or assertion (signature, origin, challenge, user
    /// verification, a counter that went back).
    #[error("the passkey was refused")]
    Refused,
    /// Too many refused assertions: try again after the wait.
    #[error("too many refused passkeys; retry in {0:?}")]
    Throttled(StdDuration),
    /// The credential is registered already.
    #[error("this passkey is registered already")]
    AlreadyRegistered,
    /// The user has no passkey (a known-user assertion cannot start).
    #[error("the user has no passkey")]
    NoPasskey,
    /// The user has no passkey with this id.
    #[error("no such passkey")]
    NotFound,
    /// The name is empty, too long or holds control characters.
    #[error("the name is refused: {0}")]
    BadName(NameProblem),
    /// Removing it would leave the user no way to sign in.
    #[error("this passkey is the last way to sign in")]
    LastWayIn,
    /// The change needs a recent sign-in: sign in again first.
    #[error("sign in again to do this")]
    SignInAgain,
    /// The passkey is right but an administrator disabled the account.
    #[error("the account is disabled")]
    Disabled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What is wrong with a passkey's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    #[error("empty")]
    Empty,
    #[error("longer than {NAME_MAX_CHARS} characters")]
    TooLong,
    #[error("holds control characters")]
    Control,
}

/// The name a passkey may have: trimmed, 1 to [`NAME_MAX_CHARS`] characters, no control
/// characters.
pub fn check_name(name: &str) -> Result<String, NameProblem> {
    let name = name.trim();
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(NameProblem::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameProblem::Control);
    }
    Ok(name.to_owned())
}

/// The relying party of this server, or why it has none.
pub fn relying_party(app: &App) -> Result<&RelyingParty, &Unavailable> {
    app.passkeys.as_ref()
}

fn rp(app: &App) -> Result<&RelyingParty, PasskeyError> {
    relying_party(app).map_err(|why| PasskeyError::Unavailable(why.clone()))
}

/// Whether `client`'s sign-in page offers passkeys: where this server has a relying party and
/// the client signs people in with its own credentials (not through providers only).
pub fn offered(app: &App, client: Option<&Client>) -> bool {
    app.passkeys.is_ok() && federation::password_offered(client)
}

/// A started ceremony: its id (for the finish) and the options for `navigator.credentials`
/// (`{"publicKey": ...}`, with `"mediation"` for the browser's autofill).
#[derive(Debug, Clone)]
pub struct Started {
    pub ceremony: String,
    pub options: Value,
}

fn ceremony_hash(app: &App, ceremony: &str) -> String {
    app.federation.hasher.hash(&format!("passkey:{ceremony}"))
}

fn browser_hash(app: &App, browser: &str) -> String {
    app.federation.hasher.hash(&format!("browser:{browser}"))
}

async fn store_ceremony(
    app: &App,
    kind: CeremonyKind,
    user_id: Option<Uuid>,
    browser: &str,
    state: String,
    options: Value,
    now: OffsetDateTime,
) -> Result<Started, PasskeyError> {
    let ceremony = random_opaque();
    app.store()
        .create_passkey_ceremony(PasskeyCeremony {
            hash: ceremony_hash(app, &ceremony),
            kind,
            user_id,
            browser: browser_hash(app, browser),
            state,
            created_at: now,
            expires_at: now + CEREMONY_LIFETIME,
        })
        .await?;
    Ok(Started { ceremony, options })
}

/// Takes the ceremony once: it must be of `kind`, for `user_id` and this browser's.
async fn take_ceremony(
    app: &App,
    kind: CeremonyKind,
    user_id: Option<Uuid>,
    ceremony: &str,
    browser: &str,
    now: OffsetDateTime,
) -> Result<PasskeyCeremony, PasskeyError> {
    let stored = app
        .store()
        .consume_passkey_ceremony(&ceremony_hash(app, ceremony), now)
        .await?
        .ok_or(PasskeyError::BadCeremony)?;
    let same_browser = app
        .federation
        .hasher
        .verify(&format!("browser:{browser}"), &stored.browser);
    if stored.kind != kind || stored.user_id != user_id || !same_browser {
        tracing::info!(
            kind = kind.as_str(),
            "passkey ceremony of another kind, user or browser"
        );
        return Err(PasskeyError::BadCeremony);
    }
    Ok(stored)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|e| {
        PasskeyError::Store(StoreError::Invalid {
            message: format!("a passkey value could not be serialised: {e}"),
        })
    })
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PasskeyError> {
    serde_json::from_str(text).map_err(|e| {
        PasskeyError::Store(StoreError::Invalid {
            message: format!("a stored passkey value could not be read: {e}"),
        })
    })
}

fn event(kind: EventKind, user_id: Uuid, now: OffsetDateTime, data: Value) -> NewEvent {
    NewEvent {
        kind,
        user_id,
        step: None,
        client_id: None,
        at: now,
        logins: None,
        data,
    }
}

/// The user's passkeys, oldest first.
pub async fn list(app: &App, user_id: Uuid) -> Result<Vec<StoredPasskey>, StoreError> {
    app.store().user_passkeys(user_id).await
}

/// Whether the user has a passkey (a second factor can be asked with one).
pub async fn has_passkeys(app: &App, user_id: Uuid) -> Result<bool, StoreError> {
    Ok(!app.store().user_passkeys(user_id).await?.is_empty())
}

fn display_name(user: &User) -> String {
    let profile = user.profile.as_object();
    let part = |key: &str| {
        profile
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match (part("name"), part("given_name"), part("family_name")) {
        (Some(name), _, _) => name.to_owned(),
        (None, Some(given), Some(family)) => format!("{given} {family}"),
        (None, Some(given), None) => given.to_owned(),
        _ => user.email.clone(),
    }
}

/// Starts registering a passkey for the signed-in `user_id` from `browser` (its CSRF cookie):
/// a discoverable credential (resident key required, so that it signs in without a username)
/// with user verification, none of the user's registered credentials again.
pub async fn start_registration(
    app: &App,
    user_id: Uuid,
    browser: &str,
    now: OffsetDateTime,
) -> Result<Started, PasskeyError> {
    let rp = rp(app)?;
    let user = app.store().get_user(user_id).await?;
    let exclude: Vec<_> = list(app, user_id)
        .await?
        .iter()
        .filter_map(|p| URL_SAFE_NO_PAD.decode(&p.credential_id).ok())
        .collect();
    let (mut options, state) = rp
        .webauthn
        .start_passkey_registration(user.id, &user.email, &display_name(&user), Some(exclude))
        .map_err(|error| {
            tracing::warn!(%error, "a passkey registration could not start");
            PasskeyError::Refused
        })?;
    // A discoverable credential: the sign-in page asks for no username.
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
        selection.user_verification = UserVerificationPolicy::Required;
    }
    let options = serde_json::to_value(&options).map_err(|_| PasskeyError::Malformed)?;
    store_ceremony(
        app,
        CeremonyKind::Registration,
        Some(user_id),
        browser,
        to_json(&state)?,
        options,
        now,
    )
    .await
}

/// The browser's answer to a registration.
#[derive(Debug, Clone)]
pub struct NewPasskey<'a> {
    pub user_id: Uuid,
    /// The ceremony's id, as [`start_registration`] gave it.
    pub ceremony: &'a str,
    /// The browser's CSRF cookie.
    pub browser: &'a str,
    /// The `PublicKeyCredential` of `navigator.credentials.create`, as JSON (base64url fields).
    pub response: &'a str,
    /// The name the user gave (checked by [`check_name`]), or the caller's default.
    pub name: &'a str,
    pub now: OffsetDateTime,
}

/// Finishes a registration: webauthn-rs verifies the answer against the ceremony; the passkey
/// is stored with `passkey.added` in one transaction.
pub async fn finish_registration(
    app: &App,
    new: NewPasskey<'_>,
) -> Result<StoredPasskey, PasskeyError> {
    let rp = rp(app)?;
    let name = check_name(new.name).map_err(PasskeyError::BadName)?;
    let ceremony = take_ceremony(
        app,
        CeremonyKind::Registration,
        Some(new.user_id),
        new.ceremony,
        new.browser,
        new.now,
    )
    .await?;
    let state: PasskeyRegistration = from_json(&ceremony.state)?;
    let response: RegisterPublicKeyCredential =
        serde_json::from_str(new.response).map_err(|_| PasskeyError::Malformed)?;
    let passkey = rp
        .webauthn
        .finish_passkey_registration(&response, &state)
        .map_err(|error| {
            tracing::info!(user_id = %new.user_id, %error, "passkey registration refused");
            PasskeyError::Refused
        })?;
    let credential = Credential::from(passkey.clone());
    let stored = StoredPasskey {
        id: Uuid::new_v4(),
        user_id: new.user_id,
        credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
        passkey: to_json(&passkey)?,
        name,
        counter: i64::from(credential.counter),
        backup_eligible: credential.backup_eligible,
        created_at: new.now,
        last_used_at: None,
    };
    let added = event(
        EventKind::PasskeyAdded,
        new.user_id,
        new.now,
        json!({ "passkey_id": stored.id, "name": stored.name, "synced": stored.backup_eligible }),
    );
    match app.store().add_passkey(stored.clone(), added).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return Err(PasskeyError::AlreadyRegistered),
        Err(error) => return Err(error.into()),
    }
    tracing::info!(user_id = %new.user_id, passkey_id = %stored.id, "passkey added");
    Ok(stored)
}

/// Renames one of the user's passkeys.
pub async fn rename(app: &App, user_id: Uuid, id: Uuid, name: &str) -> Result<(), PasskeyError> {
    let name = check_name(name).map_err(PasskeyError::BadName)?;
    if app.store().rename_passkey(user_id, id, &name).await? {
        Ok(())
    } else {
        Err(PasskeyError::NotFound)
    }
}

/// Removes one of the user's passkeys, with `passkey.removed`: only after a recent sign-in
/// (`auth_time`, see [`recent_sign_in`]) and never the last way in.
pub async fn remove(
    app: &App,
    user_id: Uuid,
    id: Uuid,
    auth_time: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), PasskeyError> {
    if !recent_sign_in(auth_time, now) {
        return Err(PasskeyError::SignInAgain);
    }
    let removed = event(
        EventKind::PasskeyRemoved,
        user_id,
        now,
        json!({ "passkey_id": id }),
    );
    match app.store().remove_passkey(user_id, id, removed).await? {
        PasskeyRemoval::Removed => {
            tracing::info!(%user_id, passkey_id = %id, "passkey removed");
            Ok(())
        }
        PasskeyRemoval::NotFound => Err(PasskeyError::NotFound),
        PasskeyRemoval::LastWayIn => Err(PasskeyError::LastWayIn),
    }
}

/// Starts a sign-in with any passkey (no username: the credential tells whose it is) for
/// `client`'s sign-in page. `autofill`: the browser offers the passkeys in the username field's
/// suggestions (conditional mediation) instead of a dialog.
pub async fn start_sign_in(
    app: &App,
    client: Option<&Client>,
    browser: &str,
    autofill: bool,
    now: OffsetDateTime,
) -> Result<Started, PasskeyError> {
    let rp = rp(app)?;
    if !offered(app, client) {
        return Err(PasskeyError::NotOffered);
    }
    let (mut options, state) =
        rp.webauthn
            .start_discoverable_authentication()
            .map_err(|error| {
                tracing::warn!(%error, "a passkey sign-in could not start");
                PasskeyError::Refused
            })?;
    if !autofill {
        options.mediation = None;
    }
    let options = serde_json::to_value(&options).map_err(|_| PasskeyError::Malformed)?;
    store_ceremony(
        app,
        CeremonyKind::SignIn,
        None,
        browser,
        to_json(&state)?,
        options,
        now,
    )
    .await
}

/// The browser's answer to an assertion (a sign-in or a known user's).
#[derive(Debug, Clone)]
pub struct Assertion<'a> {
    /// The ceremony's id, as `start_sign_in` or `start_for_user` gave it.
    pub ceremony: &'a str,
    /// The browser's CSRF cookie.
    pub browser: &'a str,
    /// The `PublicKeyCredential` of `navigator.credentials.get`, as JSON (base64url fields).
    pub response: &'a str,
    /// Where the attempt comes from (the peer address), for the throttle.
    pub source: String,
    /// The sign-in throttle (`None`: disabled).
    pub throttle: Option<&'a SignInThrottle>,
    pub now: OffsetDateTime,
}

/// Finishes a sign-in with a passkey: the credential names the user; webauthn-rs verifies the
/// assertion (user verification required); the counter and last use are stored and the sign-in
/// counted. Returns the user and how they signed in (`amr`: `hwk` or `swk`, then `user` and
/// `mfa` when the authenticator verified the user).
pub async fn finish_sign_in(
    app: &App,
    client: Option<&Client>,
    assertion: Assertion<'_>,
) -> Result<(User, SignInMethod), PasskeyError> {
    if !offered(app, client) {
        rp(app)?;
        return Err(PasskeyError::NotOffered);
    }
    let now = assertion.now;
    let (user, method) = assert(app, None, assertion).await?;
    if !crate::users::may_sign_in(&user) {
        tracing::info!(user_id = %user.id, "passkey sign-in refused: the account is disabled");
        return Err(PasskeyError::Disabled);
    }
    let user = app
        .store()
        .record_sign_in(user.id, SignInKind::Credentialed, now)
        .await?;
    Ok((user, method))
}

/// Starts an assertion for a known user (a second factor after their password): the browser
/// may answer with one of their passkeys only. [`PasskeyError::NoPasskey`] when they have none.
pub async fn start_for_user(
    app: &App,
    user_id: Uuid,
    browser: &str,
    now: OffsetDateTime,
) -> Result<Started, PasskeyError> {
    let rp = rp(app)?;
    let passkeys = list(app, user_id).await?;
    if passkeys.is_empty() {
        return Err(PasskeyError::NoPasskey);
    }
    let passkeys = passkeys
        .iter()
        .map(|p| from_json::<Passkey>(&p.passkey))
        .collect::<Result<Vec<_>, _>>()?;
    let (options, state) = rp
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|error| {
            tracing::warn!(%error, "a passkey assertion could not start");
            PasskeyError::Refused
        })?;
    let options = serde_json::to_value(&options).map_err(|_| PasskeyError::Malformed)?;
    store_ceremony(
        app,
        CeremonyKind::KnownUser,
        Some(user_id),
        browser,
        to_json(&state)?,
        options,
        now,
    )
    .await
}

/// Finishes a known user's assertion: one of `user_id`'s passkeys, verified by webauthn-rs
/// against the ceremony [`start_for_user`] started; the counter and last use are stored. The
/// sign-in is not counted (the first factor's page does that). Returns the method of this
/// factor (`amr` as [`finish_sign_in`]'s).
pub async fn finish_for_user(
    app: &App,
    user_id: Uuid,
    assertion: Assertion<'_>,
) -> Result<SignInMethod, PasskeyError> {
    let (_, method) = assert(app, Some(user_id), assertion).await?;
    Ok(method)
}

/// How a verified assertion signs a user in (RFC 8176): `swk` for a synced (backup-eligible)
/// credential, `hwk` for a device-bound one; then `user` and `mfa` when the authenticator
/// verified the user (a PIN or biometric on top of possession).
pub fn method_of(backup_eligible: bool, user_verified: bool) -> SignInMethod {
    let mut amr = vec![
        if backup_eligible {
            AMR_SYNCED
        } else {
            AMR_DEVICE_BOUND
        }
        .to_owned(),
    ];
    if user_verified {
        amr.push("user".to_owned());
        amr.push("mfa".to_owned());
    }
    SignInMethod { amr, acr: None }
}

/// The throttle's account key of passkey assertions: the user's, or one for credentials no
/// one registered.
fn throttle_key(user_id: Option<Uuid>) -> String {
    match user_id {
        Some(id) => format!("passkey:{id}"),
        None => "passkey:unknown".to_owned(),
    }
}

/// The shared part of both assertions: the ceremony taken once, the credential found, the
/// throttle asked, webauthn-rs's verification, the counter stored over the one checked.
async fn assert(
    app: &App,
    known_user: Option<Uuid>,
    assertion: Assertion<'_>,
) -> Result<(User, SignInMethod), PasskeyError> {
    let rp = rp(app)?;
    let kind = match known_user {
        Some(_) => CeremonyKind::KnownUser,
        None => CeremonyKind::SignIn,
    };
    let now = assertion.now;
    let ceremony = take_ceremony(
        app,
        kind,
        known_user,
        assertion.ceremony,
        assertion.browser,
        now,
    )
    .await?;
    let response: PublicKeyCredential =
        serde_json::from_str(assertion.response).map_err(|_| PasskeyError::Malformed)?;
    let credential_id = URL_SAFE_NO_PAD.encode(response.get_credential_id());
    let found = app
        .store()
        .find_passkey(&credential_id)
        .await?
        .filter(|p| known_user.is_none_or(|id| id == p.user_id));
    let throttle = |user: Option<Uuid>| Throttle {
        app,
        account: throttle_key(user),
        source: &assertion.source,
        throttle: assertion.throttle,
        now,
    };
    let Some(stored) = found else {
        let throttle = throttle(known_user);
        throttle.check().await?;
        tracing::info!(user_id = ?known_user, "passkey assertion with an unknown credential");
        throttle.failed(None, "unknown_credential").await;
        return Err(PasskeyError::UnknownCredential);
    };
    let throttle = throttle(Some(stored.user_id));
    let counters = throttle.check().await?;
    let passkey: Passkey = from_json(&stored.passkey)?;
    let verified: Result<AuthenticationResult, _> = match known_user {
        Some(_) => {
            let state: PasskeyAuthentication = from_json(&ceremony.state)?;
            rp.webauthn.finish_passkey_authentication(&response, &state)
        }
        None => {
            let state: DiscoverableAuthentication = from_json(&ceremony.state)?;
            // The user handle the authenticator keeps must be the passkey's owner.
            match rp.webauthn.identify_discoverable_authentication(&response) {
                Ok((user_id, _)) if user_id == stored.user_id => rp
                    .webauthn
                    .finish_discoverable_authentication_v2(&response, state, &passkey),
                Ok(_) => Err(webauthn_rs::prelude::WebauthnError::InvalidUserUniqueId),
                Err(error) => Err(error),
            }
        }
    };
    let result = match verified {
        Ok(result) => result,
        Err(error) => {
            tracing::info!(user_id = %stored.user_id, passkey_id = %stored.id, %error,
                "passkey assertion refused");
            throttle.failed(Some(&stored), "refused").await;
            return Err(PasskeyError::Refused);
        }
    };
    // A counter that did not move past the stored one may be a cloned authenticator (WebAuthn
    // § 7.2, step 21): webauthn-rs compared it with the credential of the ceremony's state,
    // which for a known user's assertion is the one read when it started.
    let counter = i64::from(result.counter());
    if (counter > 0 || stored.counter > 0) && counter <= stored.counter {
        tracing::warn!(user_id = %stored.user_id, passkey_id = %stored.id,
            "passkey assertion with a counter that went back: refused");
        throttle.failed(Some(&stored), "counter").await;
        return Err(PasskeyError::Refused);
    }
    let mut updated = passkey;
    let changed = updated.update_credential(&result) == Some(true);
    let used = PasskeyUse {
        id: stored.id,
        checked_counter: stored.counter,
        counter,
        passkey: if changed {
            Some(to_json(&updated)?)
        } else {
            None
        },
        backup_eligible: stored.backup_eligible || result.backup_eligible(),
        now,
    };
    if !app.store().use_passkey(used).await? {
        // Another assertion moved the counter since this one was checked: a concurrent use,
        // or a cloned authenticator.
        tracing::warn!(user_id = %stored.user_id, passkey_id = %stored.id,
            "passkey assertion raced another one (counter moved): refused");
        throttle.failed(Some(&stored), "counter").await;
        return Err(PasskeyError::Refused);
    }
    if counters.from_source.is_some() {
        throttle.clear().await;
    }
    let user = app.store().get_user(stored.user_id).await?;
    Ok((
        user,
        method_of(
            stored.backup_eligible || result.backup_eligible(),
            result.user_verified(),
        ),
    ))
}

/// The sign-in throttle's counters for passkey assertions on one account from one source.
struct Throttle<'a> {
    app: &'a App,
    account: String,
    source: &'a str,
    throttle: Option<&'a SignInThrottle>,
    now: OffsetDateTime,
}

impl Throttle<'_> {
    async fn check(&self) -> Result<accrete_store::CredentialFailures, PasskeyError> {
        let Some(throttle) = self.throttle else {
            return Ok(accrete_store::CredentialFailures::default());
        };
        let counters = self
            .app
            .store()
            .credential_failures(&self.account, self.source)
            .await?;
        throttle_allows(throttle, &counters, self.now).map_err(PasskeyError::Throttled)?;
        Ok(counters)
    }

    /// Counts a refused assertion and records `passkey.failed` for the passkey's owner; a
    /// failure to write is logged (the refusal stands).
    async fn failed(&self, passkey: Option<&StoredPasskey>, reason: &str) {
        if let Some(throttle) = self.throttle
            && let Err(error) = self
                .app
                .store()
                .record_credential_failure(
                    &self.account,
                    self.source,
                    self.now,
                    throttle.forget_before(self.now),
                )
                .await
        {
            tracing::warn!(%error, "could not count a refused passkey");
        }
        if let Some(passkey) = passkey {
            let failed = event(
                EventKind::PasskeyFailed,
                passkey.user_id,
                self.now,
                json!({ "passkey_id": passkey.id, "reason": reason }),
            );
            if let Err(error) = self.app.store().record_prompt_event(failed).await {
                tracing::warn!(%error, "could not record a refused passkey");
            }
        }
    }

    async fn clear(&self) {
        if let Err(error) = self
            .app
            .store()
            .clear_credential_failures(&self.account, self.source)
            .await
        {
            tracing::warn!(%error, "could not forget the refused passkeys of a source");
        }
    }
}

#[cfg(test)]
mod tests;
