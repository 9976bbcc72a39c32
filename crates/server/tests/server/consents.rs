//! Consents as records (docs/policy.md, "The consent record"): what a consent answered on the
//! pages stores (version, text, time, application), and the link to the text on the prompt
//! page and the account page.

use accrete_core::Policy;
use accrete_store::{Location, ProfileChange, User};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api_client::{Api, admin, stored_user};
use crate::authorize::{authorize_path, register_client};
use crate::profiling::{
    Landing, PASSWORD, answer, follow, location, publish_example, sign_in_to, step_of, tx_of,
};
use crate::support::{Browser, TestApp, each_backend, hidden_input};

/// Names and the terms (v2, with the address of their text) at sign-up; the terms again at
/// every sign-in while they are not accepted in this version.
const POLICY: &str = r#"
version = 1
[[fields]]
key = "given_name"
kind = "text"
labels = { en = "First name", fr = "Prénom" }
storage = { profile = { claim = "given_name" } }
[[fields]]
key = "terms"
kind = "consent"
labels = { en = "I accept the terms", fr = "J’accepte les conditions" }
consent_version = "v2"
consent_url = "https://shop.example/terms/v2"
[[steps]]
id = "names"
title = { en = "Names" }
fields = ["given_name", "terms"]
mode = "required"
trigger = { moments = ["signup"] }
[[steps]]
id = "legal"
title = { en = "New terms", fr = "Nouvelles conditions" }
fields = ["terms"]
mode = "required"
trigger = { moments = ["login"] }
"#;

/// The link to the text, as the pages write it (`/` escaped in attributes).
const LINK: &str = "<a class=\"consent-text\" href=\"https:&#x2f;&#x2f;shop.example&#x2f;terms&#x2f;v2\" \
                    target=\"_blank\" rel=\"noopener\">";

async fn publish(app: &TestApp) {
    let policy = Policy::from_toml_str(POLICY).unwrap();
    policy.compile().unwrap();
    let document = serde_json::to_value(&policy).unwrap();
    app.store
        .publish_policy(&document, None, OffsetDateTime::now_utc())
        .await
        .unwrap();
    register_client(app, "web", false).await;
}

/// Signs `email` up outside any application, accepting the terms; the browser stays signed in.
async fn sign_up(app: &TestApp, email: &str) -> Browser {
    let browser = app.new_browser();
    let csrf = browser.csrf("/signup").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("email", email),
        ("password", PASSWORD),
        ("given_name", "Ann"),
        ("terms", "true"),
    ];
    let response = browser.post_form("/signup", &form).await;
    assert_eq!(location(&response), "/account");
    browser
}

async fn user(app: &TestApp, email: &str) -> User {
    app.store.find_user_by_email(email).await.unwrap().unwrap()
}

/// The user's terms as an older version accepted long ago: the `legal` step is due.
async fn accepted_v1(app: &TestApp, email: &str) {
    let user = user(app, email).await;
    let v1 = ProfileChange::set(
        Location::UserMetadata,
        "terms",
        serde_json::json!({ "accepted": true, "version": "v1" }),
    );
    app.store
        .apply_profile_changes(user.id, None, &[v1], "signup", OffsetDateTime::now_utc())
        .await
        .unwrap();
}

/// The `at` of a consent record, checked to be RFC 3339 to the second within `[from, to]`.
fn given_at(record: &Value, from: OffsetDateTime, to: OffsetDateTime) -> OffsetDateTime {
    let text = record["at"].as_str().unwrap();
    let at = OffsetDateTime::parse(text, &Rfc3339).unwrap();
    assert_eq!(at.nanosecond(), 0, "to the second: {text}");
    let from = from.replace_nanosecond(0).unwrap();
    assert!(from <= at && at <= to, "{from} <= {at} <= {to}");
    at
}

#[tokio::test]
async fn a_consent_answered_on_the_prompt_page_records_its_version_text_time_and_application() {
    each_backend(|app| async move {
        publish(&app).await;
        sign_up(&app, "ann@example.com").await;
        accepted_v1(&app, "ann@example.com").await;
        let (browser, landing) = sign_in_to(&app, "web", "ann@example.com").await;
        assert_eq!(step_of(&landing), "legal", "{:?}", app.backend);
        let Landing::Prompt(_, html) = &landing else {
            unreachable!()
        };
        assert!(
            html.contains(&format!("{LINK}Read the text")),
            "the label is followed by the link to the text: {html}"
        );
        let before = OffsetDateTime::now_utc();
        let landing = answer(&browser, landing, "submit", &[("terms", "true")]).await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
        let after = OffsetDateTime::now_utc();

        let terms = &user(&app, "ann@example.com").await.user_metadata["terms"];
        given_at(terms, before, after);
        let mut rest = terms.clone();
        rest.as_object_mut().unwrap().remove("at");
        assert_eq!(
            rest,
            serde_json::json!({
                "accepted": true,
                "version": "v2",
                "url": "https://shop.example/terms/v2",
                "client_id": "web",
            })
        );
    })
    .await;
}

#[tokio::test]
async fn the_prompt_page_links_the_text_in_the_page_language() {
    each_backend(|app| async move {
        publish(&app).await;
        sign_up(&app, "bea@example.com").await;
        accepted_v1(&app, "bea@example.com").await;
        let browser = app.new_browser();
        let login = location(&browser.get(&authorize_path("web", "&ui_locales=fr")).await);
        let tx = tx_of(&login);
        let csrf = browser.csrf(&login).await;
        let form = [
            ("csrf", csrf.as_str()),
            ("tx", tx.as_str()),
            ("email", "bea@example.com"),
            ("password", PASSWORD),
        ];
        let response = browser.post_form("/login", &form).await;
        let Landing::Prompt(_, html) = follow(&browser, location(&response)).await else {
            panic!("the new terms are asked");
        };
        assert!(html.contains("J’accepte les conditions"), "{html}");
        assert!(
            html.contains(&format!(
                "{LINK}Lire le texte<span class=\"visually-hidden\"> \
                 (s’ouvre dans un nouvel onglet)</span></a>"
            )),
            "{html}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_consent_given_at_sign_up_outside_an_application_has_no_client_and_keeps_its_date() {
    each_backend(|app| async move {
        publish(&app).await;
        let before = OffsetDateTime::now_utc();
        let browser = sign_up(&app, "cy@example.com").await;
        let after = OffsetDateTime::now_utc();
        let terms = user(&app, "cy@example.com").await.user_metadata["terms"].clone();
        given_at(&terms, before, after);
        assert_eq!(terms["version"], "v2");
        assert_eq!(terms["url"], "https://shop.example/terms/v2");
        assert!(terms.get("client_id").is_none(), "{terms}");

        // The account page tells it, with the link; saving the page again keeps the record.
        let page = browser.get("/account").await.text().await.unwrap();
        assert!(page.contains("Accepted on "), "{page}");
        assert!(page.contains("(version v2)"), "{page}");
        assert!(page.contains(LINK), "{page}");
        let csrf = hidden_input(&page, "csrf").unwrap();
        let form = [
            ("csrf", csrf.as_str()),
            ("given_name", "Cy"),
            ("terms", "true"),
            ("action", "submit"),
        ];
        let saved = browser.post_form("/account", &form).await;
        assert_eq!(saved.status(), 303);
        let user = user(&app, "cy@example.com").await;
        assert_eq!(user.profile["given_name"], "Cy");
        assert_eq!(
            user.user_metadata["terms"], terms,
            "the consent's date did not move"
        );
    })
    .await;
}

#[tokio::test]
async fn a_read_only_consent_on_the_account_page_shows_its_version_date_and_text() {
    each_backend(|app| async move {
        publish_example(&app).await;
        let browser = app.new_browser();
        let csrf = browser.csrf("/signup").await;
        let form = [
            ("csrf", csrf.as_str()),
            ("email", "dan@example.com"),
            ("password", PASSWORD),
            ("given_name", "Dan"),
            ("family_name", "Lee"),
            ("terms", "true"),
        ];
        let response = browser.post_form("/signup", &form).await;
        assert_eq!(location(&response), "/account");
        let page = browser.get("/account").await.text().await.unwrap();
        let shown = page
            .split("<dt>I accept the terms of service</dt>")
            .nth(1)
            .and_then(|rest| rest.split("</dd>").next())
            .unwrap_or_else(|| panic!("the terms are shown read-only: {page}"));
        assert!(shown.contains("Accepted on "), "{shown}");
        assert!(shown.contains("(version 2026-01)"), "{shown}");
        assert!(
            shown.contains("href=\"https:&#x2f;&#x2f;example.com&#x2f;terms&#x2f;2026-01\""),
            "{shown}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_consent_given_through_the_api_records_the_calling_application_and_nothing_sent() {
    each_backend(|app| async move {
        let (tokens, api) = admin(&app).await;
        let policy = Policy::from_toml_str(POLICY).unwrap();
        api.publish(&serde_json::to_value(&policy).unwrap()).await;
        let user = stored_user(&app, "eve@example.com").await;
        let me = Api {
            app: &app,
            token: tokens.user(&app, &user, "shop").await,
        };
        let profile: Value = me.get("/me").await.json().await.unwrap();
        let field = profile["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "terms")
            .unwrap();
        assert_eq!(field["consent_url"], "https://shop.example/terms/v2");

        // Only `accepted` counts from what is sent: the rest is the server's.
        let forged = serde_json::json!({
            "accepted": true,
            "version": "v9",
            "url": "https://elsewhere.example/",
            "at": "2000-01-01T00:00:00Z",
            "client_id": "other",
        });
        let before = OffsetDateTime::now_utc();
        let answered = me
            .post(
                "/me/steps/legal/answers",
                &serde_json::json!({ "answers": { "terms": forged } }),
            )
            .await;
        assert_eq!(answered.status(), 200);
        let after = OffsetDateTime::now_utc();
        let terms = app.store.get_user(user.id).await.unwrap().user_metadata["terms"].clone();
        given_at(&terms, before, after);
        assert_eq!(terms["version"], "v2");
        assert_eq!(terms["url"], "https://shop.example/terms/v2");
        assert_eq!(terms["client_id"], "shop");

        // The same consent sent again by the profile endpoint keeps its record.
        let patched = me.patch("/me", &serde_json::json!({ "terms": true })).await;
        assert_eq!(patched.status(), 200);
        let again = app.store.get_user(user.id).await.unwrap().user_metadata["terms"].clone();
        assert_eq!(again, terms);
    })
    .await;
}
