//! Progressive profiling over HTTP: the seeds' stories with the example policy, on both
//! backends.

use accrete_core::Policy;
use accrete_store::{EventKind, Location, ProfileChange};
use time::OffsetDateTime;

use crate::authorize::{REDIRECT, authorize_path, register_client};
use crate::support::{Browser, TestApp, each_backend, hidden_input};

pub(crate) const PASSWORD: &str = "correct horse battery";

/// Publishes `examples/policy.toml` through the store, as `accrete policy import` does.
pub(crate) async fn publish_example(app: &TestApp) {
    publish_example_in(app.store.as_ref()).await;
}

async fn publish_example_in(store: &dyn accrete_store::Store) {
    let policy = Policy::from_toml_str(include_str!("../../../../examples/policy.toml")).unwrap();
    policy.compile().unwrap();
    let document = serde_json::to_value(&policy).unwrap();
    store
        .publish_policy(&document, Some("example"), OffsetDateTime::now_utc())
        .await
        .unwrap();
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect, got {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

pub(crate) fn tx_of(path: &str) -> String {
    path.split("tx=").nth(1).unwrap().to_owned()
}

/// Where the flow stands after a redirect.
#[derive(Debug)]
pub(crate) enum Landing {
    /// Back at the client with a code.
    Code,
    /// On the prompt page: tx, the page HTML.
    Prompt(String, String),
}

pub(crate) async fn follow(browser: &Browser, to: String) -> Landing {
    if to.starts_with(REDIRECT) {
        assert!(to.contains("code="), "{to}");
        return Landing::Code;
    }
    if to.starts_with("/authorize/resume") {
        let next = location(&browser.get(&to).await);
        return Box::pin(follow(browser, next)).await;
    }
    assert!(to.starts_with("/prompt?tx="), "{to}");
    let response = browser.get(&to).await;
    assert_eq!(response.status(), 200, "{to}");
    Landing::Prompt(tx_of(&to), response.text().await.unwrap())
}

/// A credentialed sign-in to `client` in a new browser, up to the code or the first prompt.
pub(crate) async fn sign_in_to(app: &TestApp, client: &str, email: &str) -> (Browser, Landing) {
    sign_in_at(&app.base, client, email).await
}

/// [`sign_in_to`] on the server at `base`.
async fn sign_in_at(base: &str, client: &str, email: &str) -> (Browser, Landing) {
    sign_in_with(base, client, email, "").await
}

/// [`sign_in_at`] with `extra` authorization parameters (`&ui_locales=fr`).
async fn sign_in_with(base: &str, client: &str, email: &str, extra: &str) -> (Browser, Landing) {
    let browser = Browser::new(base.to_owned());
    let login = location(&browser.get(&authorize_path(client, extra)).await);
    let tx = tx_of(&login);
    let csrf = browser.csrf(&login).await;
    let response = browser
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("tx", &tx),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await;
    let landing = follow(&browser, location(&response)).await;
    (browser, landing)
}

/// Posts the prompt form shown in `html`.
pub(crate) async fn post_prompt(
    browser: &Browser,
    tx: &str,
    html: &str,
    action: &str,
    answers: &[(&str, &str)],
) -> reqwest::Response {
    let csrf = hidden_input(html, "csrf").unwrap();
    let step = hidden_input(html, "step").unwrap();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("tx", tx),
        ("step", step.as_str()),
        ("action", action),
    ];
    form.extend_from_slice(answers);
    browser.post_form("/prompt", &form).await
}

pub(crate) fn step_of(landing: &Landing) -> String {
    match landing {
        Landing::Prompt(_, html) => hidden_input(html, "step").unwrap(),
        Landing::Code => "(code)".to_owned(),
    }
}

pub(crate) async fn answer(
    browser: &Browser,
    landing: Landing,
    action: &str,
    answers: &[(&str, &str)],
) -> Landing {
    let Landing::Prompt(tx, html) = landing else {
        panic!("expected a prompt");
    };
    let response = post_prompt(browser, &tx, &html, action, answers).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    follow(browser, location(&response)).await
}

/// The example policy, clients `web` and `shop`, and a user who signed up (with the sign-up
/// step's names and terms) outside any transaction: sign-in number 1.
pub(crate) async fn setup(app: &TestApp, email: &str) {
    publish_example(app).await;
    sign_up(app, email).await;
}

/// Clients `web` and `shop`, and a user who signed up outside any transaction.
async fn sign_up(app: &TestApp, email: &str) {
    register_client(app, "web", false).await;
    register_client(app, "shop", false).await;
    sign_up_user(app, email).await;
}

/// A user who signed up outside any transaction.
async fn sign_up_user(app: &TestApp, email: &str) {
    let browser = app.new_browser();
    let csrf = browser.csrf("/signup").await;
    let form = [
        ("csrf", csrf.as_str()),
        ("email", email),
        ("password", PASSWORD),
        ("given_name", "Ann"),
        ("family_name", "Lee"),
        ("terms", "true"),
    ];
    let response = browser.post_form("/signup", &form).await;
    assert_eq!(location(&response), "/account");
}

#[tokio::test]
async fn third_sign_in_asks_company_and_job_title_and_stores_them_with_provenance() {
    each_backend(|app| async move {
        setup(&app, "ann@example.com").await;
        // Sign-in 2: the optional birthday, skipped.
        let (browser, landing) = sign_in_to(&app, "web", "ann@example.com").await;
        assert_eq!(step_of(&landing), "birthday");
        assert!(matches!(
            answer(&browser, landing, "skip", &[]).await,
            Landing::Code
        ));
        // Sign-in 3: company and job title, required.
        let (browser, landing) = sign_in_to(&app, "web", "ann@example.com").await;
        assert_eq!(step_of(&landing), "work", "{:?}", app.backend);
        let Landing::Prompt(_, html) = &landing else {
            unreachable!()
        };
        assert!(html.contains("name=\"company\"") && html.contains("name=\"job_title\""));
        assert!(
            !html.contains("value=\"skip\""),
            "a required step cannot be skipped"
        );
        let landing = answer(
            &browser,
            landing,
            "submit",
            &[("company", "Acme"), ("job_title", "CTO")],
        )
        .await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
        let user = app
            .store
            .find_user_by_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.user_metadata["company"], "Acme");
        let history = app.store.user_history(user.id).await.unwrap();
        assert!(
            history
                .iter()
                .any(|h| h.key == "job_title" && h.source == "prompt:work")
        );
    })
    .await;
}

#[tokio::test]
async fn a_value_past_its_reconfirm_interval_is_asked_again_alone() {
    each_backend(|app| async move {
        setup(&app, "rex@example.com").await;
        let user = app
            .store
            .find_user_by_email("rex@example.com")
            .await
            .unwrap()
            .unwrap();
        // The job title was confirmed 400 days ago (it is re-confirmed after 365), the company
        // and the birthday just now.
        let now = OffsetDateTime::now_utc();
        let old = [ProfileChange::set(
            Location::UserMetadata,
            "job_title",
            serde_json::json!("CTO"),
        )];
        app.store
            .apply_profile_changes(
                user.id,
                None,
                &old,
                "api:test",
                now - time::Duration::days(400),
            )
            .await
            .unwrap();
        let fresh = [
            ProfileChange::set(Location::UserMetadata, "company", serde_json::json!("Acme")),
            ProfileChange::set(
                Location::Profile,
                "birthdate",
                serde_json::json!("1990-01-01"),
            ),
        ];
        app.store
            .apply_profile_changes(user.id, None, &fresh, "api:test", now)
            .await
            .unwrap();
        // Sign-in 2: everything this moment could ask is known.
        let (_, landing) = sign_in_to(&app, "web", "rex@example.com").await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
        // Sign-in 3: the work step, with only the stale job title.
        let (browser, landing) = sign_in_to(&app, "web", "rex@example.com").await;
        assert_eq!(step_of(&landing), "work", "{:?}", app.backend);
        let Landing::Prompt(_, html) = &landing else {
            unreachable!()
        };
        assert!(html.contains("name=\"job_title\""), "{html}");
        assert!(
            !html.contains("name=\"company\""),
            "a fresh value is not asked: {html}"
        );
        let landing = answer(&browser, landing, "submit", &[("job_title", "CEO")]).await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
        let user = app.store.get_user(user.id).await.unwrap();
        assert_eq!(user.user_metadata["job_title"], "CEO");
        // The same third sign-in with a job title confirmed a month ago asks nothing.
        sign_up_user(&app, "rey@example.com").await;
        let rey = app
            .store
            .find_user_by_email("rey@example.com")
            .await
            .unwrap()
            .unwrap();
        let recent = [
            ProfileChange::set(
                Location::UserMetadata,
                "job_title",
                serde_json::json!("CTO"),
            ),
            ProfileChange::set(Location::UserMetadata, "company", serde_json::json!("Acme")),
            ProfileChange::set(
                Location::Profile,
                "birthdate",
                serde_json::json!("1990-01-01"),
            ),
        ];
        app.store
            .apply_profile_changes(
                rey.id,
                None,
                &recent,
                "api:test",
                now - time::Duration::days(30),
            )
            .await
            .unwrap();
        for sign_in in [2, 3] {
            let (_, landing) = sign_in_to(&app, "web", "rey@example.com").await;
            assert!(
                matches!(landing, Landing::Code),
                "sign-in {sign_in}: {landing:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn skipped_optional_birthday_is_not_asked_next_sign_in_then_asked_again_then_stopped() {
    each_backend(|app| async move {
        setup(&app, "bob@example.com").await;
        let email = "bob@example.com";
        // Sign-in 2: asked, skipped.
        let (browser, landing) = sign_in_to(&app, "web", email).await;
        assert_eq!(step_of(&landing), "birthday");
        assert!(matches!(
            answer(&browser, landing, "skip", &[]).await,
            Landing::Code
        ));
        // Sign-in 3: the work step only; the birthday waits.
        let (browser, landing) = sign_in_to(&app, "web", email).await;
        assert_eq!(step_of(&landing), "work");
        let landing = answer(
            &browser,
            landing,
            "submit",
            &[("company", "Acme"), ("job_title", "CTO")],
        )
        .await;
        assert!(
            matches!(landing, Landing::Code),
            "birthday not asked again yet: {landing:?}"
        );
        // Sign-in 4: asked again, skipped a second time (the last allowed).
        let (browser, landing) = sign_in_to(&app, "web", email).await;
        assert_eq!(step_of(&landing), "birthday");
        assert!(matches!(
            answer(&browser, landing, "skip", &[]).await,
            Landing::Code
        ));
        // Sign-ins 5 and 6: never again.
        for _ in 0..2 {
            let (_, landing) = sign_in_to(&app, "web", email).await;
            assert!(matches!(landing, Landing::Code), "{landing:?}");
        }
        let user = app.store.find_user_by_email(email).await.unwrap().unwrap();
        let states = app.store.prompt_states(user.id).await.unwrap();
        let birthday = states.iter().find(|s| s.step == "birthday").unwrap();
        assert_eq!((birthday.shown, birthday.skipped), (2, 2));
    })
    .await;
}

#[tokio::test]
async fn shop_asks_only_the_phone_and_issues_no_code_until_it_is_answered() {
    each_backend(|app| async move {
        setup(&app, "cy@example.com").await;
        let (browser, landing) = sign_in_to(&app, "shop", "cy@example.com").await;
        assert_eq!(step_of(&landing), "shop_phone");
        let Landing::Prompt(tx, html) = &landing else {
            unreachable!()
        };
        assert!(html.contains("name=\"phone_number\""));
        assert!(
            html.contains("autocomplete=\"tel\""),
            "the phone_number claim is the user's own number"
        );
        assert!(!html.contains("name=\"birthdate\"") && !html.contains("name=\"company\""));
        // Going back to the resume URL without answering gives the prompt again, not a code.
        let again = browser.get(&format!("/authorize/resume?tx={tx}")).await;
        assert_eq!(location(&again), format!("/prompt?tx={tx}"));
        // A wrong number is shown next to its field, with the input kept.
        let response = post_prompt(
            &browser,
            tx,
            html,
            "submit",
            &[("phone_number", "not a phone")],
        )
        .await;
        assert_eq!(response.status(), 400);
        let page = response.text().await.unwrap();
        assert!(page.contains("id=\"f-phone_number-error\""), "{page}");
        assert!(
            page.contains("aria-describedby=\"f-phone_number-error"),
            "{page}"
        );
        assert!(page.contains("value=\"not a phone\""), "{page}");
        // Answered: then the optional birthday of this second sign-in, skipped, then the code.
        let landing = answer(
            &browser,
            landing,
            "submit",
            &[("phone_number", "06 12 34 56 78")],
        )
        .await;
        assert_eq!(step_of(&landing), "birthday");
        assert!(matches!(
            answer(&browser, landing, "skip", &[]).await,
            Landing::Code
        ));
        let user = app
            .store
            .find_user_by_email("cy@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.profile["phone_number"], "+33612345678");
    })
    .await;
}

#[tokio::test]
async fn prompt_none_with_a_due_required_step_returns_interaction_required() {
    each_backend(|app| async move {
        setup(&app, "dee@example.com").await;
        let (browser, landing) = sign_in_to(&app, "web", "dee@example.com").await;
        assert!(matches!(
            answer(&browser, landing, "skip", &[]).await,
            Landing::Code
        ));
        // Same browser (SSO session), the shop with prompt=none: its phone is required.
        let response = browser.get(&authorize_path("shop", "&prompt=none")).await;
        let back = location(&response);
        assert!(back.starts_with(REDIRECT), "{back}");
        assert!(back.contains("error=interaction_required"), "{back}");
        // The web client has nothing required: an optional step is not asked without interaction.
        let response = browser.get(&authorize_path("web", "&prompt=none")).await;
        assert!(location(&response).contains("code="));
    })
    .await;
}

#[tokio::test]
async fn double_submit_and_expired_transactions_end_in_a_page_and_never_a_second_code() {
    each_backend(|app| async move {
        setup(&app, "eve@example.com").await;
        let (browser, landing) = sign_in_to(&app, "shop", "eve@example.com").await;
        let Landing::Prompt(tx, html) = landing else {
            panic!()
        };
        let answers = [("phone_number", "+33612345678")];
        let first = post_prompt(&browser, &tx, &html, "submit", &answers).await;
        let second = post_prompt(&browser, &tx, &html, "submit", &answers).await;
        assert_eq!(first.status(), 303);
        assert_eq!(second.status(), 303, "a double submit carries on");
        // The first continues (to the birthday, skipped, then the code); the second finds the
        // transaction completed.
        let landing = follow(&browser, location(&first)).await;
        assert!(matches!(
            answer(&browser, landing, "skip", &[]).await,
            Landing::Code
        ));
        let late = browser.get(&location(&second)).await;
        assert_eq!(late.status(), 400);
        let user = app
            .store
            .find_user_by_email("eve@example.com")
            .await
            .unwrap()
            .unwrap();
        let answered = app.store.prompt_states(user.id).await.unwrap();
        let phone = answered.iter().find(|s| s.step == "shop_phone").unwrap();
        assert_eq!(phone.answered, 1, "answered once");

        // A prompt left open until its transaction expires.
        let (browser, landing) = sign_in_to(&app, "web", "eve@example.com").await;
        let Landing::Prompt(tx, html) = landing else {
            panic!()
        };
        let id = uuid::Uuid::parse_str(&tx).unwrap();
        let mut open = app.store.get_transaction(id).await.unwrap().unwrap();
        open.expires_at = OffsetDateTime::now_utc() - time::Duration::seconds(1);
        app.store.update_transaction(open).await.unwrap();
        let response = post_prompt(
            &browser,
            &tx,
            &html,
            "submit",
            &[("company", "Acme"), ("job_title", "CTO")],
        )
        .await;
        assert_eq!(response.status(), 400);
        assert!(response.text().await.unwrap().contains("expired"));
        let abandoned =
            accrete_server::sweep_abandoned(app.store.as_ref(), OffsetDateTime::now_utc())
                .await
                .unwrap();
        assert_eq!(abandoned, 1);
        let events = app.store.list_events(0, 1000).await.unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.kind == EventKind::PromptAbandoned && e.step.as_deref() == Some("work"))
        );
    })
    .await;
}

#[tokio::test]
async fn account_page_edits_a_field_with_source_account_and_keeps_write_once_values() {
    each_backend(|app| async move {
        setup(&app, "fay@example.com").await;
        let user = app
            .store
            .find_user_by_email("fay@example.com")
            .await
            .unwrap()
            .unwrap();
        let birthdate = ProfileChange {
            location: Location::Profile,
            key: "birthdate".into(),
            value: Some(serde_json::json!("1990-05-17")),
        };
        app.store
            .apply_profile_changes(
                user.id,
                None,
                &[birthdate],
                "admin",
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        // Not signed in: sent to sign in.
        let anonymous = app.new_browser().get("/account").await;
        assert_eq!(location(&anonymous), "/login");
        let browser = app.new_browser();
        browser.sign_in("fay@example.com", PASSWORD).await;
        let page = browser.get("/account").await.text().await.unwrap();
        assert!(page.contains("name=\"given_name\""), "{page}");
        assert!(
            page.contains("1990-05-17") && !page.contains("name=\"birthdate\""),
            "write-once is read only"
        );
        assert!(
            !page.contains("customer_tier"),
            "hidden fields are not shown"
        );
        let csrf = hidden_input(&page, "csrf").unwrap();
        let bad = browser
            .post_form("/account", &[("csrf", &csrf), ("team_size", "many")])
            .await;
        assert_eq!(bad.status(), 400);
        assert!(bad.text().await.unwrap().contains("value=\"many\""));
        let saved = browser
            .post_form(
                "/account",
                &[
                    ("csrf", &csrf),
                    ("given_name", "Fay"),
                    ("family_name", "Lee"),
                    ("birthdate", "2000-01-01"),
                    ("action", "submit"),
                ],
            )
            .await;
        // Saved, then shown again with a notice (POST-redirect-GET).
        assert_eq!(location(&saved), "/account?done=saved");
        let user = app.store.get_user(user.id).await.unwrap();
        assert_eq!(user.profile["given_name"], "Fay");
        assert_eq!(user.profile["birthdate"], "1990-05-17");
        let history = app.store.user_history(user.id).await.unwrap();
        assert!(
            history
                .iter()
                .any(|h| h.key == "given_name" && h.source == "account")
        );
        // In French.
        let french = browser
            .client
            .get(browser.url("/account"))
            .header("accept-language", "fr")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            french.contains("Votre compte") && french.contains("Prénom"),
            "{french}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_server_without_a_policy_issues_codes_as_a_plain_identity_server() {
    each_backend(|app| async move {
        register_client(&app, "shop", false).await;
        app.new_browser().sign_up("gus@example.com", PASSWORD).await;
        let (_, landing) = sign_in_to(&app, "shop", "gus@example.com").await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
    })
    .await;
}

/// Starts a sign-up inside an authorization transaction: the sign-up page's URL and HTML.
async fn signup_page(browser: &Browser) -> (String, String) {
    let start = location(&browser.get(&authorize_path("web", "&prompt=create")).await);
    let html = browser.get(&start).await.text().await.unwrap();
    (tx_of(&start), html)
}

#[tokio::test]
async fn sign_up_asks_the_first_signup_step_on_the_credentials_page_validated_with_them() {
    each_backend(|app| async move {
        publish_example(&app).await;
        register_client(&app, "web", false).await;
        let browser = app.new_browser();
        let (tx, html) = signup_page(&browser).await;
        assert!(
            html.contains("name=\"given_name\"") && html.contains("name=\"terms\""),
            "{html}"
        );
        assert!(
            html.contains("type=\"checkbox\" value=\"true\""),
            "the consent is a checkbox"
        );
        assert!(
            !html.contains("Step 1 of"),
            "a one-page sign-up shows no progress"
        );
        let csrf = hidden_input(&html, "csrf").unwrap();
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("tx", tx.as_str()),
            ("email", "hal@example.com"),
            ("password", PASSWORD),
            ("given_name", "Hal"),
        ];
        // The last name is missing: nothing is created, the entries are kept.
        let response = browser.post_form("/signup", &form).await;
        assert_eq!(response.status(), 400);
        let page = response.text().await.unwrap();
        assert!(page.contains("id=\"f-family_name-error\""), "{page}");
        assert!(page.contains("value=\"Hal\"") && page.contains("value=\"hal@example.com\""));
        assert!(
            app.store
                .find_user_by_email("hal@example.com")
                .await
                .unwrap()
                .is_none()
        );
        form.extend([("family_name", "Lee"), ("terms", "true")]);
        let response = browser.post_form("/signup", &form).await;
        let landing = follow(&browser, location(&response)).await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
        let user = app
            .store
            .find_user_by_email("hal@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.profile["given_name"], "Hal");
        assert_eq!(user.user_metadata["terms"]["version"], "2026-01");
        let history = app.store.user_history(user.id).await.unwrap();
        assert!(history.iter().all(|h| h.source == "signup"));
        let names = app.store.prompt_states(user.id).await.unwrap();
        assert_eq!(
            names.iter().find(|s| s.step == "names").unwrap().answered,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn a_two_step_sign_up_continues_on_a_second_page_with_progress() {
    each_backend(|app| async move {
        let mut policy =
            Policy::from_toml_str(include_str!("../../../../examples/policy.toml")).unwrap();
        let mut about = policy.steps[0].clone();
        about.id = accrete_core::StepId::new("about");
        about.fields = vec![accrete_core::FieldKey::new("country")];
        about.priority = 1;
        policy.steps.push(about);
        policy.compile().unwrap();
        let document = serde_json::to_value(&policy).unwrap();
        app.store
            .publish_policy(&document, None, OffsetDateTime::now_utc())
            .await
            .unwrap();
        register_client(&app, "web", false).await;
        let browser = app.new_browser();
        let (tx, html) = signup_page(&browser).await;
        assert!(html.contains("Step 1 of 2"), "{html}");
        let csrf = hidden_input(&html, "csrf").unwrap();
        let form = [
            ("csrf", csrf.as_str()),
            ("tx", tx.as_str()),
            ("email", "ida@example.com"),
            ("password", PASSWORD),
            ("given_name", "Ida"),
            ("family_name", "Ray"),
            ("terms", "true"),
        ];
        let response = browser.post_form("/signup", &form).await;
        let landing = follow(&browser, location(&response)).await;
        assert_eq!(step_of(&landing), "about");
        let Landing::Prompt(_, html) = &landing else {
            unreachable!()
        };
        assert!(
            html.contains("Step 2 of 2") && html.contains("<select"),
            "{html}"
        );
        // The account exists from the first page, with its answers.
        let user = app
            .store
            .find_user_by_email("ida@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.profile["family_name"], "Ray");
        let landing = answer(&browser, landing, "submit", &[("country", "FR")]).await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
    })
    .await;
}

#[tokio::test]
async fn a_country_field_lists_countries_by_name_in_the_page_locale() {
    each_backend(|app| async move {
        // The shop asks the country with the phone.
        let mut policy =
            Policy::from_toml_str(include_str!("../../../../examples/policy.toml")).unwrap();
        let shop = policy
            .steps
            .iter_mut()
            .find(|s| s.id.as_str() == "shop_phone")
            .unwrap();
        shop.fields.push(accrete_core::FieldKey::new("country"));
        policy.compile().unwrap();
        let document = serde_json::to_value(&policy).unwrap();
        app.store
            .publish_policy(&document, None, OffsetDateTime::now_utc())
            .await
            .unwrap();
        sign_up(&app, "uma@example.com").await;
        let (browser, landing) =
            sign_in_with(&app.base, "shop", "uma@example.com", "&ui_locales=fr").await;
        let Landing::Prompt(_, html) = &landing else {
            panic!("expected the shop's step, got {landing:?}")
        };
        assert!(
            html.contains("<label for=\"f-country\">Pays</label>"),
            "{html}"
        );
        for option in [
            "<option value=\"GB\">Royaume-Uni</option>",
            "<option value=\"DE\">Allemagne</option>",
        ] {
            assert!(html.contains(option), "{option} in {html}");
        }
        let at = |needle: &str| html.find(needle).unwrap();
        assert!(
            at(">Égypte<") < at(">Espagne<"),
            "sorted by name, accents aside"
        );
        // The answer is the code, as before.
        let answers = [("phone_number", "+33612345678"), ("country", "GB")];
        let landing = answer(&browser, landing, "submit", &answers).await;
        assert_eq!(step_of(&landing), "birthday");
        let user = app
            .store
            .find_user_by_email("uma@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.user_metadata["country"], "GB");
    })
    .await;
}

#[tokio::test]
async fn a_stored_value_that_fails_its_field_validation_is_asked_again_prefilled_with_its_error() {
    each_backend(|app| async move {
        setup(&app, "val@example.com").await;
        let user = app
            .store
            .find_user_by_email("val@example.com")
            .await
            .unwrap()
            .unwrap();
        // A birthdate after the field's maximum (2020-12-31), written by a back end.
        let changes = [ProfileChange::set(
            Location::Profile,
            "birthdate",
            serde_json::json!("2099-01-01"),
        )];
        app.store
            .apply_profile_changes(
                user.id,
                None,
                &changes,
                "api:test",
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        // Sign-in 2: the birthday step is due again, pre-filled, with the reason shown.
        let (_, landing) = sign_in_to(&app, "web", "val@example.com").await;
        assert_eq!(step_of(&landing), "birthday", "{:?}", app.backend);
        let Landing::Prompt(_, html) = &landing else {
            unreachable!()
        };
        assert!(html.contains("value=\"2099-01-01\""), "{html}");
        assert!(
            html.contains("Enter a date on or before 2020-12-31."),
            "{html}"
        );
    })
    .await;
}

/// Publishes a policy given as TOML (after the sign-up's fields and `names` step: given and
/// family names, terms v1), as `accrete policy import` does.
async fn publish_with_names(app: &TestApp, terms_version: &str, more: &str) {
    let toml = format!(
        r#"
version = 1
[[fields]]
key = "given_name"
kind = "text"
labels = {{ en = "First name" }}
storage = {{ profile = {{ claim = "given_name" }} }}
[[fields]]
key = "family_name"
kind = "text"
labels = {{ en = "Last name" }}
storage = {{ profile = {{ claim = "family_name" }} }}
[[fields]]
key = "terms"
kind = "consent"
labels = {{ en = "I accept the terms" }}
consent_version = "{terms_version}"
[[steps]]
id = "names"
title = {{ en = "Names" }}
fields = ["given_name", "family_name", "terms"]
mode = "required"
trigger = {{ moments = ["signup"] }}
{more}
"#
    );
    let policy = Policy::from_toml_str(&toml).unwrap();
    policy.compile().unwrap();
    let document = serde_json::to_value(&policy).unwrap();
    app.store
        .publish_policy(&document, None, OffsetDateTime::now_utc())
        .await
        .unwrap();
}

/// A required `about` step at every sign-in: a required company, an optional website.
const ABOUT: &str = r#"
[[fields]]
key = "company"
kind = "text"
labels = { en = "Company" }
[[fields]]
key = "website"
kind = "url"
required = false
labels = { en = "Website" }
storage = { profile = { claim = "website" } }
[[steps]]
id = "about"
title = { en = "About" }
fields = ["company", "website"]
mode = "required"
trigger = { moments = ["login"] }
"#;

#[tokio::test]
async fn a_required_step_answered_with_an_optional_field_blank_completes_and_is_not_asked_again() {
    each_backend(|app| async move {
        publish_with_names(&app, "v1", ABOUT).await;
        sign_up(&app, "eve@example.com").await;
        let (browser, landing) = sign_in_to(&app, "web", "eve@example.com").await;
        assert_eq!(step_of(&landing), "about");
        let landing = answer(
            &browser,
            landing,
            "submit",
            &[("company", "Acme"), ("website", "")],
        )
        .await;
        assert!(
            matches!(landing, Landing::Code),
            "the sign-in goes on: {landing:?}"
        );
        let (_, landing) = sign_in_to(&app, "web", "eve@example.com").await;
        assert!(
            matches!(landing, Landing::Code),
            "not asked again for the website left blank: {landing:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_required_step_abandoned_at_its_exact_sign_in_is_asked_at_the_next_one() {
    each_backend(|app| async move {
        let second = r#"
[[fields]]
key = "company"
kind = "text"
labels = { en = "Company" }
[[steps]]
id = "work"
title = { en = "Work" }
fields = ["company"]
mode = "required"
trigger = { moments = ["login"], condition = { login_count = { exactly = 2 } } }
"#;
        publish_with_names(&app, "v1", second).await;
        sign_up(&app, "fay@example.com").await;
        // Sign-in 2 (the sign-up was the first): asked; the user closes the page.
        let (_, landing) = sign_in_to(&app, "web", "fay@example.com").await;
        assert_eq!(step_of(&landing), "work");
        // Sign-in 3: still due until answered.
        let (browser, landing) = sign_in_to(&app, "web", "fay@example.com").await;
        assert_eq!(step_of(&landing), "work");
        let landing = answer(&browser, landing, "submit", &[("company", "Acme")]).await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
        let (_, landing) = sign_in_to(&app, "web", "fay@example.com").await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
    })
    .await;
}

#[tokio::test]
async fn a_new_version_of_the_terms_is_asked_unticked() {
    each_backend(|app| async move {
        let legal = r#"
[[steps]]
id = "legal"
title = { en = "New terms" }
fields = ["terms"]
mode = "required"
trigger = { moments = ["login"] }
"#;
        publish_with_names(&app, "v2", legal).await;
        sign_up(&app, "gus@example.com").await;
        // The user had accepted the previous version.
        let user = app
            .store
            .find_user_by_email("gus@example.com")
            .await
            .unwrap()
            .unwrap();
        let v1 = ProfileChange {
            location: Location::UserMetadata,
            key: "terms".into(),
            value: Some(serde_json::json!({ "accepted": true, "version": "v1" })),
        };
        app.store
            .apply_profile_changes(user.id, None, &[v1], "signup", OffsetDateTime::now_utc())
            .await
            .unwrap();
        let (_, landing) = sign_in_to(&app, "web", "gus@example.com").await;
        assert_eq!(step_of(&landing), "legal");
        let Landing::Prompt(_, html) = &landing else {
            unreachable!()
        };
        let input = html
            .split("<input")
            .find(|tag| tag.contains("name=\"terms\""))
            .unwrap();
        assert!(
            !input.contains("checked"),
            "a consent to v1 does not tick v2: {input}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_sign_up_counts_as_the_first_sign_in_from_its_first_page() {
    each_backend(|app| async move {
        let toml = r#"
version = 1
[[fields]]
key = "given_name"
kind = "text"
labels = { en = "First name" }
storage = { profile = { claim = "given_name" } }
[[steps]]
id = "names"
title = { en = "Names" }
fields = ["given_name"]
mode = "required"
trigger = { moments = ["signup"], condition = { login_count = { exactly = 1 } } }
"#;
        let policy = Policy::from_toml_str(toml).unwrap();
        policy.compile().unwrap();
        let document = serde_json::to_value(&policy).unwrap();
        app.store
            .publish_policy(&document, None, OffsetDateTime::now_utc())
            .await
            .unwrap();
        register_client(&app, "web", false).await;
        let (_, html) = signup_page(&app.new_browser()).await;
        assert!(html.contains("name=\"given_name\""), "{html}");
    })
    .await;
}

/// A failure injected between the value write and the event write of an answer (a trigger that
/// refuses the event) leaves neither behind: the page says to try again, the value is not
/// stored, the step is still on screen, and the same answer succeeds once the database accepts
/// it again.
#[tokio::test]
async fn an_answer_whose_event_cannot_be_written_stores_nothing_and_can_be_sent_again() {
    each_backend(|app| async move {
        setup(&app, "ann@example.com").await;
        let (browser, landing) = sign_in_to(&app, "web", "ann@example.com").await;
        assert_eq!(step_of(&landing), "birthday");
        let Landing::Prompt(tx, html) = &landing else {
            unreachable!()
        };
        let url = app.sql_url();
        let (inject, remove) = if url.starts_with("sqlite:") {
            (
                "CREATE TRIGGER inject_failure BEFORE INSERT ON prompt_events \
                 BEGIN SELECT RAISE(ABORT, 'injected'); END;",
                "DROP TRIGGER inject_failure",
            )
        } else {
            (
                "CREATE FUNCTION inject_failure() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected'; END $$; \
                 CREATE TRIGGER inject_failure BEFORE INSERT ON prompt_events \
                 FOR EACH ROW EXECUTE FUNCTION inject_failure();",
                "DROP TRIGGER inject_failure ON prompt_events; DROP FUNCTION inject_failure();",
            )
        };
        accrete_store::testing::execute_sql(&url, inject).await;
        let answers = [("birthdate", "1990-05-04")];
        let refused = post_prompt(&browser, tx, html, "submit", &answers).await;
        assert!(refused.status().is_server_error(), "{:?}", refused.status());
        let user = app
            .store
            .find_user_by_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();
        assert!(
            user.profile.get("birthdate").is_none(),
            "{:?}",
            user.profile
        );
        let history = app.store.user_history(user.id).await.unwrap();
        assert!(!history.iter().any(|h| h.key == "birthdate"), "{history:?}");
        let prompts = app.store.prompt_states(user.id).await.unwrap();
        let birthday = prompts.iter().find(|p| p.step == "birthday").unwrap();
        assert_eq!(birthday.answered, 0);
        // The step is still on screen, and the same answer goes through once the database
        // accepts events again.
        accrete_store::testing::execute_sql(&url, remove).await;
        let again = browser.get(&format!("/prompt?tx={tx}")).await;
        assert_eq!(again.status(), 200);
        let html = again.text().await.unwrap();
        let landing = answer(
            &browser,
            Landing::Prompt(tx.clone(), html),
            "submit",
            &answers,
        )
        .await;
        assert!(matches!(landing, Landing::Code), "{landing:?}");
        let user = app.store.get_user(user.id).await.unwrap();
        assert_eq!(user.profile["birthdate"], "1990-05-04");
    })
    .await;
}

/// A single sign-on into an application with a step due: the authorization that found the
/// session stores its transaction only then (with its user), the sign-on is counted once, and
/// answering the step ends in a code.
#[tokio::test]
async fn a_single_sign_on_with_a_step_due_stores_its_transaction_and_counts_the_sign_on_once() {
    each_backend(|app| async move {
        setup(&app, "dee@example.com").await;
        let (browser, landing) = sign_in_to(&app, "web", "dee@example.com").await;
        assert_eq!(step_of(&landing), "birthday");
        assert!(matches!(
            answer(&browser, landing, "skip", &[]).await,
            Landing::Code
        ));
        // The same browser enters the shop: single sign-on, and the shop's phone is due.
        let to = location(&browser.get(&authorize_path("shop", "")).await);
        assert!(to.starts_with("/prompt?tx="), "{to}");
        let landing = follow(&browser, to).await;
        assert_eq!(step_of(&landing), "shop_phone");
        let email = "dee@example.com";
        let user = app.store.find_user_by_email(email).await.unwrap().unwrap();
        assert_eq!(user.sso_logins, 1);
        let mut landing = answer(
            &browser,
            landing,
            "submit",
            &[("phone_number", "06 12 34 56 78")],
        )
        .await;
        // Optional steps of this sign-in, if any, are skipped.
        for _ in 0..3 {
            if matches!(landing, Landing::Code) {
                break;
            }
            landing = answer(&browser, landing, "skip", &[]).await;
        }
        assert!(matches!(landing, Landing::Code), "{landing:?}");
        let user = app.store.get_user(user.id).await.unwrap();
        assert_eq!(user.sso_logins, 1, "the sign-on is counted once");
        assert!(
            user.profile.get("phone_number").is_some(),
            "{:?}",
            user.profile
        );
        // Once nothing is due, the next single sign-on gets its code at once.
        let back = location(&browser.get(&authorize_path("shop", "")).await);
        assert!(
            back.starts_with(REDIRECT) && back.contains("code="),
            "{back}"
        );
        let user = app.store.get_user(user.id).await.unwrap();
        assert_eq!(user.sso_logins, 2);
    })
    .await;
}
