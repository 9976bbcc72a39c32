//! Real ceremonies with webauthn-authenticator-rs's software authenticator (`SoftPasskey`):
//! registration, sign-in without a username, a known user's assertion, and what is refused.
//!
//! `SoftPasskey` keeps no resident keys, so the test plays the rest of a browser with a
//! discoverable credential: it lets the authenticator register without residency, names the
//! credential in the sign-in request, and returns the user handle a resident key would give
//! back (the handle is not signed; the server checks it against the passkey's owner).

use accrete_store::{EventKind, NewUser};
use serde_json::Value;
use time::OffsetDateTime;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};
use webauthn_rs_proto::AllowCredentials;

use super::*;

const ISSUER: &str = "http://localhost:8080";
const BROWSER: &str = "csrf-cookie-of-this-browser-0123456789";

async fn app() -> (App, tempfile::TempDir) {
    let (store, dir) = accrete_store::testing::sqlite_store().await;
    let app = App::for_tests(store, ISSUER);
    (app, dir)
}

fn origin() -> Url {
    Url::parse(ISSUER).unwrap()
}

async fn user(app: &App, email: &str, password: bool) -> User {
    let mut new = NewUser::with_email(email, OffsetDateTime::now_utc());
    if password {
        new.password_hash = Some("$argon2id$not-checked-here".into());
    }
    app.store().create_user(new).await.unwrap()
}

/// The authenticator's answer to a registration, as the browser's script sends it.
fn create(authenticator: &mut SoftPasskey, options: &Value) -> String {
    let mut options: CreationChallengeResponse = serde_json::from_value(options.clone()).unwrap();
    let selection = options.public_key.authenticator_selection.as_mut().unwrap();
    assert!(
        selection.require_resident_key,
        "a discoverable credential is asked for"
    );
    selection.require_resident_key = false;
    selection.resident_key = None;
    let credential = authenticator.do_registration(origin(), options).unwrap();
    serde_json::to_string(&credential).unwrap()
}

/// The authenticator's answer to an assertion, with the user handle a resident key returns.
fn get(authenticator: &mut SoftPasskey, options: &Value, key: &StoredPasskey) -> String {
    let mut options: RequestChallengeResponse = serde_json::from_value(options.clone()).unwrap();
    if options.public_key.allow_credentials.is_empty() {
        options.public_key.allow_credentials = vec![AllowCredentials {
            type_: "public-key".into(),
            id: URL_SAFE_NO_PAD.decode(&key.credential_id).unwrap(),
            transports: None,
        }];
    }
    let mut credential = authenticator.do_authentication(origin(), options).unwrap();
    credential.response.user_handle = Some(key.user_id.as_bytes().to_vec());
    serde_json::to_string(&credential).unwrap()
}

async fn register(app: &App, authenticator: &mut SoftPasskey, user: &User) -> StoredPasskey {
    let now = OffsetDateTime::now_utc();
    let started = start_registration(app, user.id, BROWSER, now)
        .await
        .unwrap();
    let response = create(authenticator, &started.options);
    finish_registration(
        app,
        NewPasskey {
            user_id: user.id,
            ceremony: &started.ceremony,
            browser: BROWSER,
            response: &response,
            name: "  Laptop ",
            now,
        },
    )
    .await
    .unwrap()
}

fn assertion<'a>(started: &'a Started, response: &'a str) -> Assertion<'a> {
    Assertion {
        ceremony: &started.ceremony,
        browser: BROWSER,
        response,
        source: "192.0.2.1".into(),
        throttle: None,
        now: OffsetDateTime::now_utc(),
    }
}

async fn events(app: &App, kind: EventKind) -> Vec<accrete_store::Event> {
    app.store()
        .list_events(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect()
}

#[tokio::test]
async fn a_registered_passkey_signs_its_owner_in_without_a_username() {
    let (app, _dir) = app().await;
    let ada = user(&app, "ada@example.com", true).await;
    let mut authenticator = SoftPasskey::new(true);
    let key = register(&app, &mut authenticator, &ada).await;
    assert_eq!(key.name, "Laptop");
    assert!(!key.backup_eligible, "a software key on one device");
    let listed = list(&app, ada.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id, &listed[0].name), (key.id, &key.name));
    assert_eq!(events(&app, EventKind::PasskeyAdded).await.len(), 1);

    let now = OffsetDateTime::now_utc();
    let started = start_sign_in(&app, None, BROWSER, false, now)
        .await
        .unwrap();
    assert_eq!(
        started.options["publicKey"]["allowCredentials"],
        serde_json::json!([])
    );
    assert!(started.options.get("mediation").is_none());
    let response = get(&mut authenticator, &started.options, &key);
    let (user, method) = finish_sign_in(&app, None, assertion(&started, &response))
        .await
        .unwrap();
    assert_eq!(user.id, ada.id);
    assert_eq!(user.credentialed_logins, 1, "the sign-in is counted");
    assert_eq!(method.amr, ["hwk", "user", "mfa"]);
    assert_eq!(method.acr, None);
    let used = app
        .store()
        .find_passkey(&key.credential_id)
        .await
        .unwrap()
        .unwrap();
    assert!(used.last_used_at.is_some());
    assert!(
        used.counter > key.counter,
        "the counter moved: {}",
        used.counter
    );

    // Autofill asks the browser for conditional mediation.
    let autofill = start_sign_in(&app, None, BROWSER, true, now).await.unwrap();
    assert_eq!(autofill.options["mediation"], "conditional");
}

#[tokio::test]
async fn a_ceremony_is_used_once_and_only_by_the_browser_that_started_it() {
    let (app, _dir) = app().await;
    let ada = user(&app, "ada@example.com", true).await;
    let mut authenticator = SoftPasskey::new(true);
    let key = register(&app, &mut authenticator, &ada).await;
    let now = OffsetDateTime::now_utc();

    let started = start_sign_in(&app, None, BROWSER, false, now)
        .await
        .unwrap();
    let response = get(&mut authenticator, &started.options, &key);
    let mut elsewhere = assertion(&started, &response);
    elsewhere.browser = "another-browser-cookie-0123456789abcdef";
    assert!(matches!(
        finish_sign_in(&app, None, elsewhere).await,
        Err(PasskeyError::BadCeremony)
    ));
    // Taken by that attempt: the right browser cannot use it either.
    assert!(matches!(
        finish_sign_in(&app, None, assertion(&started, &response)).await,
        Err(PasskeyError::BadCeremony)
    ));

    let started = start_sign_in(&app, None, BROWSER, false, now)
        .await
        .unwrap();
    let response = get(&mut authenticator, &started.options, &key);
    finish_sign_in(&app, None, assertion(&started, &response))
        .await
        .unwrap();
    assert!(matches!(
        finish_sign_in(&app, None, assertion(&started, &response)).await,
        Err(PasskeyError::BadCeremony)
    ));
}

#[tokio::test]
async fn a_replayed_assertion_is_refused_counted_and_recorded() {
    let (app, _dir) = app().await;
    let ada = user(&app, "ada@example.com", true).await;
    let mut authenticator = SoftPasskey::new(true);
    let key = register(&app, &mut authenticator, &ada).await;
    let now = OffsetDateTime::now_utc();
    let first = start_sign_in(&app, None, BROWSER, false, now)
        .await
        .unwrap();
    let old = get(&mut authenticator, &first.options, &key);
    finish_sign_in(&app, None, assertion(&first, &old))
        .await
        .unwrap();

    // The old answer under a new ceremony: its challenge is another one.
    let throttle = SignInThrottle {
        free_per_source: 1,
        ..SignInThrottle::default()
    };
    let again = start_sign_in(&app, None, BROWSER, false, now)
        .await
        .unwrap();
    let mut replay = assertion(&again, &old);
    replay.throttle = Some(&throttle);
    assert!(matches!(
        finish_sign_in(&app, None, replay).await,
        Err(PasskeyError::Refused)
    ));
    let failed = events(&app, EventKind::PasskeyFailed).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].user_id, Some(ada.id));
    assert_eq!(failed[0].data["reason"], "refused");

    // One free failure: the next attempt from that address waits, even a good one.
    let third = start_sign_in(&app, None, BROWSER, false, now)
        .await
        .unwrap();
    let fresh = get(&mut authenticator, &third.options, &key);
    let mut attempt = assertion(&third, &fresh);
    attempt.throttle = Some(&throttle);
    assert!(matches!(
        finish_sign_in(&app, None, attempt).await,
        Err(PasskeyError::Throttled(_))
    ));
}

#[tokio::test]
async fn a_known_users_assertion_takes_only_their_passkeys() {
    let (app, _dir) = app().await;
    let ada = user(&app, "ada@example.com", true).await;
    let bob = user(&app, "bob@example.com", true).await;
    let now = OffsetDateTime::now_utc();
    assert!(matches!(
        start_for_user(&app, ada.id, BROWSER, now).await,
        Err(PasskeyError::NoPasskey)
    ));
    let mut adas = SoftPasskey::new(true);
    let mut bobs = SoftPasskey::new(true);
    let ada_key = register(&app, &mut adas, &ada).await;
    let bob_key = register(&app, &mut bobs, &bob).await;
    assert!(has_passkeys(&app, ada.id).await.unwrap());

    let started = start_for_user(&app, ada.id, BROWSER, now).await.unwrap();
    let allowed = started.options["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["id"], ada_key.credential_id.as_str());
    let response = get(&mut adas, &started.options, &ada_key);
    let method = finish_for_user(&app, ada.id, assertion(&started, &response))
        .await
        .unwrap();
    assert_eq!(method.amr, ["hwk", "user", "mfa"]);
    let ada_now = app.store().get_user(ada.id).await.unwrap();
    assert_eq!(
        ada_now.credentialed_logins, 0,
        "a second factor counts no sign-in"
    );

    // Bob's passkey answering Ada's ceremony.
    let started = start_for_user(&app, ada.id, BROWSER, now).await.unwrap();
    let mut options = started.options.clone();
    options["publicKey"]["allowCredentials"] = serde_json::json!([]);
    let response = get(&mut bobs, &options, &bob_key);
    assert!(matches!(
        finish_for_user(&app, ada.id, assertion(&started, &response)).await,
        Err(PasskeyError::UnknownCredential)
    ));
    // Nor is Ada's ceremony finished as Bob's.
    let started = start_for_user(&app, ada.id, BROWSER, now).await.unwrap();
    let response = get(&mut adas, &started.options, &ada_key);
    assert!(matches!(
        finish_for_user(&app, bob.id, assertion(&started, &response)).await,
        Err(PasskeyError::BadCeremony)
    ));
}

#[tokio::test]
async fn a_credential_is_registered_once_and_a_garbled_answer_is_malformed() {
    let (app, _dir) = app().await;
    let ada = user(&app, "ada@example.com", true).await;
    let now = OffsetDateTime::now_utc();
    let mut authenticator = SoftPasskey::new(true);
    let key = register(&app, &mut authenticator, &ada).await;
    let started = start_registration(&app, ada.id, BROWSER, now)
        .await
        .unwrap();
    let excluded = started.options["publicKey"]["excludeCredentials"]
        .as_array()
        .unwrap();
    assert_eq!(excluded[0]["id"], key.credential_id.as_str());
    let garbled = NewPasskey {
        user_id: ada.id,
        ceremony: &started.ceremony,
        browser: BROWSER,
        response: "{\"id\": 1}",
        name: "Phone",
        now,
    };
    assert!(matches!(
        finish_registration(&app, garbled).await,
        Err(PasskeyError::Malformed)
    ));
    let started = start_registration(&app, ada.id, BROWSER, now)
        .await
        .unwrap();
    let unnamed = NewPasskey {
        user_id: ada.id,
        ceremony: &started.ceremony,
        browser: BROWSER,
        response: "{}",
        name: " \t",
        now,
    };
    assert!(matches!(
        finish_registration(&app, unnamed).await,
        Err(PasskeyError::BadName(NameProblem::Empty))
    ));
}

#[tokio::test]
async fn removing_a_passkey_needs_a_recent_sign_in_and_never_the_last_way_in() {
    let (app, _dir) = app().await;
    let bob = user(&app, "bob@example.com", false).await;
    let mut authenticator = SoftPasskey::new(true);
    let key = register(&app, &mut authenticator, &bob).await;
    let now = OffsetDateTime::now_utc();
    assert!(matches!(
        remove(&app, bob.id, key.id, now - Duration::minutes(11), now).await,
        Err(PasskeyError::SignInAgain)
    ));
    assert!(matches!(
        remove(&app, bob.id, key.id, now - Duration::minutes(1), now).await,
        Err(PasskeyError::LastWayIn)
    ));
    let mut second = SoftPasskey::new(true);
    register(&app, &mut second, &bob).await;
    remove(&app, bob.id, key.id, now, now).await.unwrap();
    assert_eq!(events(&app, EventKind::PasskeyRemoved).await.len(), 1);
    assert!(matches!(
        remove(&app, bob.id, key.id, now, now).await,
        Err(PasskeyError::NotFound)
    ));

    rename(
        &app,
        bob.id,
        list(&app, bob.id).await.unwrap()[0].id,
        "Phone",
    )
    .await
    .unwrap();
    assert!(matches!(
        rename(&app, bob.id, key.id, "Gone").await,
        Err(PasskeyError::NotFound)
    ));
}

#[tokio::test]
async fn a_server_on_an_ip_address_offers_no_passkeys() {
    let (store, _dir) = accrete_store::testing::sqlite_store().await;
    let app = App::for_tests(store, "http://127.0.0.1:8080");
    assert!(!offered(&app, None));
    assert!(matches!(
        start_sign_in(&app, None, BROWSER, false, OffsetDateTime::now_utc()).await,
        Err(PasskeyError::Unavailable(Unavailable::IpAddress(_)))
    ));
}

#[test]
fn a_passkeys_name_is_trimmed_and_bounded() {
    assert_eq!(check_name("  Work laptop "), Ok("Work laptop".into()));
    assert_eq!(check_name(""), Err(NameProblem::Empty));
    assert_eq!(check_name(&"é".repeat(64)), Ok("é".repeat(64)));
    assert_eq!(check_name(&"é".repeat(65)), Err(NameProblem::TooLong));
    assert_eq!(check_name("a\u{7}b"), Err(NameProblem::Control));
}

#[test]
fn the_amr_says_whether_the_key_is_synced_and_the_user_verified() {
    assert_eq!(method_of(false, true).amr, ["hwk", "user", "mfa"]);
    assert_eq!(method_of(true, true).amr, ["swk", "user", "mfa"]);
    assert_eq!(method_of(true, false).amr, ["swk"]);
}

#[test]
fn a_sign_in_is_recent_for_ten_minutes() {
    let now = OffsetDateTime::now_utc();
    assert!(recent_sign_in(now, now));
    assert!(recent_sign_in(now - Duration::minutes(10), now));
    assert!(!recent_sign_in(
        now - Duration::minutes(10) - Duration::seconds(1),
        now
    ));
    assert!(
        !recent_sign_in(now + Duration::minutes(1), now),
        "a sign-in in the future"
    );
}

#[tokio::test]
async fn an_assertion_whose_counter_went_back_is_refused() {
    let (app, _dir) = app().await;
    let ada = user(&app, "ada@example.com", true).await;
    let mut authenticator = SoftPasskey::new(true);
    let key = register(&app, &mut authenticator, &ada).await;
    let now = OffsetDateTime::now_utc();
    // An assertion made first (counter n + 1) and held back, while a later one (n + 2) signs in.
    let held = start_for_user(&app, ada.id, BROWSER, now).await.unwrap();
    let older = get(&mut authenticator, &held.options, &key);
    let later = start_sign_in(&app, None, BROWSER, false, now)
        .await
        .unwrap();
    let newer = get(&mut authenticator, &later.options, &key);
    finish_sign_in(&app, None, assertion(&later, &newer))
        .await
        .unwrap();
    assert!(matches!(
        finish_for_user(&app, ada.id, assertion(&held, &older)).await,
        Err(PasskeyError::Refused)
    ));
    let failed = events(&app, EventKind::PasskeyFailed).await;
    assert_eq!(failed[0].data["reason"], "counter");
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_with_its_passkey() {
    let (app, _dir) = app().await;
    let ada = user(&app, "ada@example.com", true).await;
    let mut authenticator = SoftPasskey::new(true);
    let key = register(&app, &mut authenticator, &ada).await;
    let now = OffsetDateTime::now_utc();
    crate::users::set_disabled(&app, ada.id, true, now)
        .await
        .unwrap();
    let started = start_sign_in(&app, None, BROWSER, false, now)
        .await
        .unwrap();
    let response = get(&mut authenticator, &started.options, &key);
    assert!(matches!(
        finish_sign_in(&app, None, assertion(&started, &response)).await,
        Err(PasskeyError::Disabled)
    ));
    let user = app.store().get_user(ada.id).await.unwrap();
    assert_eq!(user.credentialed_logins, 0, "no sign-in counted");
}
