//! Signing in through an upstream provider, with a second Accrete server as the upstream (a
//! real OpenID provider) on 127.0.0.2 (so that one browser keeps the two servers' cookies
//! apart), over both storage backends for the server under test.

use accrete_server::{FederationLayer, Layer};
use accrete_store::{Client, NewUser};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api_client::admin;
use crate::rp::{
    ClientSpec, PASSWORD, REDIRECT, authorize_path, code_of, hash_secret, jwt_payload, query_param,
    redeem, register,
};
use crate::support::{Backend, TestApp, each_backend_with};

const UP_CLIENT: &str = "accrete-downstream";
const UP_SECRET: &str = "accrete-downstream-secret-of-enough-entropy";

/// The server under test may call a provider over plain HTTP on this machine.
pub fn federation_layer() -> Layer {
    Layer {
        federation: Some(FederationLayer {
            allow_loopback_http: Some(true),
            timeout_seconds: Some(3),
        }),
        ..Layer::default()
    }
}

/// A second Accrete, on 127.0.0.2, with the server under test registered as its client for
/// the connection `name`.
async fn upstream(down: &TestApp, name: &str) -> TestApp {
    let up = TestApp::spawn_at(Backend::Sqlite, [127, 0, 0, 2], Layer::default())
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    up.store
        .create_client(Client {
            id: UP_CLIENT.to_owned(),
            secret_hash: Some(hash_secret(UP_SECRET)),
            name: "Downstream".to_owned(),
            // `wrong` is the connection with a secret the upstream refuses.
            redirect_uris: [name, "wrong"]
                .iter()
                .map(|n| format!("{}/login/{n}/callback", down.base))
                .collect(),
            post_logout_redirect_uris: vec![],
            grant_types: vec!["authorization_code".to_owned()],
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            audience: vec![],
            public: false,
            id_token_alg: "RS256".to_owned(),
            allowed_origins: vec![],
            theme: json!({}),
            connections: None,
            password_signin: true,
            self_signup: None,
            email_verification: None,
            mfa: None,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    up
}

/// A user of the upstream with a password, an email (verified or not) and a profile.
async fn upstream_user(up: &TestApp, email: &str, verified: bool, profile: Value) {
    let mut user = NewUser::with_email(email, OffsetDateTime::now_utc());
    user.email_verified = verified;
    user.password_hash = Some(accrete_oidc::password::hash_password(PASSWORD).unwrap());
    user.profile = profile;
    up.store.create_user(user).await.unwrap();
}

/// Creates the connection `name` to `up` with `extra` settings.
async fn connect(down: &TestApp, up: &TestApp, name: &str, extra: Value) -> Value {
    let mut body = json!({
        "name": name,
        "display_name": "Upstream",
        "preset": "oidc",
        "issuer": up.base,
        "client_id": UP_CLIENT,
        "client_secret": UP_SECRET,
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    create_connection(down, body).await;
    Value::Null
}

/// Creates a connection through the management API.
async fn create_connection(down: &TestApp, body: Value) {
    let (_, api) = admin(down).await;
    let created = api.post("/connections", &body).await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
}

/// Where a walk through the browser ends.
#[derive(Debug)]
enum Walked {
    /// At the relying party's redirect URI.
    Rp(String),
    /// On a page (of either server): its URL, status and HTML.
    Page(String, u16, String),
}

impl Walked {
    fn rp(self) -> String {
        match self {
            Walked::Rp(url) => url,
            Walked::Page(url, status, html) => panic!("ended on {url} ({status}): {html}"),
        }
    }

    fn page(self) -> (String, u16, String) {
        match self {
            Walked::Page(url, status, html) => (url, status, html),
            Walked::Rp(url) => panic!("ended at the relying party: {url}"),
        }
    }
}

/// Follows redirects across both servers in one browser, signing in at the upstream as
/// `email` when its sign-in page shows up.
async fn walk(browser: &reqwest::Client, up: &TestApp, start: String, email: &str) -> Walked {
    let mut url = start;
    for _ in 0..20 {
        if url.starts_with(REDIRECT) {
            return Walked::Rp(url);
        }
        let response = browser.get(&url).send().await.unwrap();
        if response.status().is_redirection() {
            url = resolve(&url, &crate::rp::location(&response));
            continue;
        }
        let status = response.status().as_u16();
        let html = response.text().await.unwrap();
        if url.starts_with(&format!("{}/login?tx=", up.base)) {
            let tx = query_param(&url, "tx").unwrap();
            let csrf = crate::support::hidden_input(&html, "csrf").unwrap();
            let posted = browser
                .post(format!("{}/login", up.base))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("tx", &tx),
                    ("email", email),
                    ("password", PASSWORD),
                    ("action", "submit"),
                ])
                .send()
                .await
                .unwrap();
            assert!(posted.status().is_redirection(), "upstream sign-in failed");
            url = resolve(&url, &crate::rp::location(&posted));
            continue;
        }
        return Walked::Page(url, status, html);
    }
    panic!("too many redirects");
}

/// Follows `start` (an authorization request with `connection=`) to the provider's
/// authorization URL, without going there; returns the `state` Accrete sent.
async fn state_sent_to_provider(browser: &reqwest::Client, start: &str) -> String {
    let to_down = browser.get(start).send().await.unwrap();
    let to_start = resolve(start, &crate::rp::location(&to_down));
    let to_provider = browser.get(&to_start).send().await.unwrap();
    let at_provider = resolve(&to_start, &crate::rp::location(&to_provider));
    query_param(&at_provider, "state").unwrap()
}

fn resolve(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// A policy asking, at sign-up, for a first name (a profile claim the provider has) and a
/// company (which it has not).
fn signup_policy() -> Value {
    json!({
        "version": 1,
        "fields": [
            {"key": "given_name", "kind": "text", "labels": {"en": "First name"},
             "storage": {"profile": {"claim": "given_name"}}},
            {"key": "family_name", "kind": "text", "required": false, "labels": {"en": "Last name"},
             "storage": {"profile": {"claim": "family_name"}}},
            {"key": "company", "kind": "text", "labels": {"en": "Company"}}
        ],
        "steps": [
            {"id": "about", "fields": ["given_name", "company"], "title": {"en": "About you"},
             "mode": "required", "trigger": {"moments": ["signup"]}}
        ]
    })
}

#[tokio::test]
async fn a_first_sign_in_through_a_provider_creates_the_user_and_asks_only_what_it_lacked() {
    each_backend_with(&federation_layer(), |down| async move {
        let up = upstream(&down, "up").await;
        upstream_user(
            &up,
            "ada@example.com",
            true,
            json!({"given_name": "Ada", "family_name": "Lovelace"}),
        )
        .await;
        connect(&down, &up, "up", json!({})).await;
        let secret = register(&down, ClientSpec::web("shop")).await;
        let (_, api) = admin(&down).await;
        api.publish(&signup_policy()).await;

        // The sign-in page offers the provider.
        let browser = down.new_browser().client;
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid profile email", "")
        );
        let first = browser.get(&start).send().await.unwrap();
        let signin = resolve(&start, &crate::rp::location(&first));
        let page = browser
            .get(&signin)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Continue with Upstream"), "{page}");
        let tx = query_param(&signin, "tx").unwrap();

        // Through the provider; back on the prompt, which asks only for the company.
        let (url, status, html) = walk(
            &browser,
            &up,
            format!("{}/login/up?tx={tx}", down.base),
            "ada@example.com",
        )
        .await
        .page();
        assert_eq!(status, 200, "{html}");
        assert!(url.starts_with(&format!("{}/prompt", down.base)), "{url}");
        assert!(html.contains("name=\"company\""), "{html}");
        assert!(
            !html.contains("2 of 2"),
            "no credentials page of ours to count: {html}"
        );
        assert!(
            !html.contains("name=\"given_name\""),
            "the provider gave the first name: {html}"
        );

        let user = down
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.profile["given_name"], "Ada");
        assert_eq!(user.profile["family_name"], "Lovelace");
        assert!(user.email_verified, "the provider verified the email");
        assert!(user.password_hash.is_none());
        assert_eq!(user.credentialed_logins, 1);
        let provenance = down.store.value_provenance(user.id).await.unwrap();
        assert!(
            provenance
                .iter()
                .any(|p| p.key == "given_name" && p.source == "idp:up"),
            "{provenance:?}"
        );
        let identities = down.store.user_identities(user.id).await.unwrap();
        assert_eq!(identities.len(), 1);
        assert_eq!(identities[0].connection, "up");

        // Answer the company; the relying party receives an ID token with the provider's
        // first name and an `amr` that says a provider signed the user in.
        let csrf = crate::support::hidden_input(&html, "csrf").unwrap();
        let tx = query_param(&url, "tx").unwrap();
        let answered = browser
            .post(format!("{}/prompt", down.base))
            .form(&[
                ("csrf", csrf.as_str()),
                ("tx", &tx),
                ("company", "Analytical Engines"),
                ("action", "submit"),
            ])
            .send()
            .await
            .unwrap();
        let next = resolve(&url, &crate::rp::location(&answered));
        let redirect = walk(&browser, &up, next, "ada@example.com").await.rp();
        let (status, tokens) = redeem(&down, "shop", secret.as_deref(), &code_of(&redirect)).await;
        assert_eq!(status, 200, "{tokens}");
        let claims = jwt_payload(tokens["id_token"].as_str().unwrap());
        assert_eq!(claims["given_name"], "Ada");
        assert_eq!(claims["amr"][0], "fed", "{claims}");
        up.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_later_sign_in_is_a_login_that_fills_only_what_is_unknown_unless_the_provider_rules() {
    each_backend_with(&federation_layer(), |down| async move {
        let up = upstream(&down, "up").await;
        upstream_user(
            &up,
            "ada@example.com",
            true,
            json!({"given_name": "Ada", "family_name": "Lovelace"}),
        )
        .await;
        connect(
            &down,
            &up,
            "up",
            json!({
                "mapping": [
                    {"claim": "/given_name", "field": "given_name"},
                    {"claim": "/family_name", "field": "family_name", "sync": "always"}
                ]
            }),
        )
        .await;
        register(&down, ClientSpec::web("shop")).await;
        let (_, api) = admin(&down).await;
        let mut policy = signup_policy();
        policy["steps"] = json!([]);
        policy["fields"][0]["required"] = json!(false);
        policy["fields"][2]["required"] = json!(false);
        api.publish(&policy).await;
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid profile", "&connection=up")
        );
        walk(
            &down.new_browser().client,
            &up,
            start.clone(),
            "ada@example.com",
        )
        .await
        .rp();

        // The user changes both names here; the provider's names change too.
        let user = down
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        let changes = vec![
            accrete_store::ProfileChange::set(
                accrete_store::Location::Profile,
                "given_name",
                json!("Augusta"),
            ),
            accrete_store::ProfileChange::set(
                accrete_store::Location::Profile,
                "family_name",
                json!("King"),
            ),
        ];
        down.store
            .apply_profile_changes(
                user.id,
                None,
                &changes,
                "account",
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        accrete_store::testing::execute_sql(
            &up.sql_url(),
            "UPDATE users SET profile = '{\"given_name\":\"Ada B.\",\"family_name\":\"Byron\"}'",
        )
        .await;

        walk(&down.new_browser().client, &up, start, "ada@example.com")
            .await
            .rp();
        let user = down
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            user.profile["given_name"], "Augusta",
            "if_empty keeps the user's own value"
        );
        assert_eq!(
            user.profile["family_name"], "Byron",
            "always follows the provider"
        );
        assert_eq!(
            user.credentialed_logins, 2,
            "each sign-in through the provider counts"
        );
        up.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_unverified_email_of_an_existing_account_is_never_linked() {
    each_backend_with(&federation_layer(), |down| async move {
        let up = upstream(&down, "up").await;
        upstream_user(&up, "ann@example.com", false, json!({})).await;
        connect(&down, &up, "up", json!({})).await;
        register(&down, ClientSpec::web("shop")).await;
        down.sign_up("ann@example.com", PASSWORD).await;
        let existing = down
            .store
            .find_user_by_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();

        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid", "&connection=up")
        );
        let (_, status, html) = walk(&down.new_browser().client, &up, start, "ann@example.com")
            .await
            .page();
        assert_eq!(status, 409, "{html}");
        assert!(
            html.contains("has not confirmed that the address is yours"),
            "{html}"
        );
        assert!(
            down.store
                .user_identities(existing.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            down.store.count_users().await.unwrap(),
            1,
            "no second account"
        );
        up.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_verified_email_of_an_existing_account_is_linked_once_its_password_proves_it() {
    each_backend_with(&federation_layer(), |down| async move {
        let up = upstream(&down, "up").await;
        upstream_user(&up, "ann@example.com", true, json!({"given_name": "Ann"})).await;
        connect(&down, &up, "up", json!({})).await;
        register(&down, ClientSpec::web("shop")).await;
        down.sign_up("ann@example.com", PASSWORD).await;
        let existing = down
            .store
            .find_user_by_email("ann@example.com")
            .await
            .unwrap()
            .unwrap();

        let browser = down.new_browser().client;
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid", "&connection=up")
        );
        let (url, status, html) = walk(&browser, &up, start, "ann@example.com").await.page();
        assert_eq!(status, 200);
        assert!(
            url.starts_with(&format!("{}/login?tx=", down.base)),
            "{url}"
        );
        assert!(html.contains("already exists"), "{html}");
        assert!(
            down.store
                .user_identities(existing.id)
                .await
                .unwrap()
                .is_empty(),
            "not linked before the proof"
        );

        // A wrong password links nothing; the right one links and signs in.
        let tx = query_param(&url, "tx").unwrap();
        let csrf = crate::support::hidden_input(&html, "csrf").unwrap();
        let post = |password: &'static str| {
            browser
                .post(format!("{}/login", down.base))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("tx", tx.as_str()),
                    ("email", "ann@example.com"),
                    ("password", password),
                    ("action", "submit"),
                ])
                .send()
        };
        assert_eq!(post("not the password at all").await.unwrap().status(), 401);
        assert!(
            down.store
                .user_identities(existing.id)
                .await
                .unwrap()
                .is_empty()
        );
        let signed_in = post(PASSWORD).await.unwrap();
        assert!(signed_in.status().is_redirection());
        let next = resolve(&url, &crate::rp::location(&signed_in));
        walk(&browser, &up, next, "ann@example.com").await.rp();
        let identities = down.store.user_identities(existing.id).await.unwrap();
        assert_eq!(identities.len(), 1, "linked");
        let user = down.store.get_user(existing.id).await.unwrap();
        assert_eq!(user.profile["given_name"], "Ann", "mapped at the link");

        // Next time the provider alone is enough, and it is the same account.
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid", "&connection=up")
        );
        walk(&down.new_browser().client, &up, start, "ann@example.com")
            .await
            .rp();
        assert_eq!(down.store.count_users().await.unwrap(), 1);
        up.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_refusal_at_the_provider_ends_on_a_page_that_leads_back_to_the_application() {
    each_backend_with(&federation_layer(), |down| async move {
        let up = upstream(&down, "up").await;
        connect(&down, &up, "up", json!({})).await;
        register(&down, ClientSpec::web("shop")).await;
        let browser = down.new_browser().client;
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid", "&connection=up")
        );
        // To the provider, then back as the provider sends a refusal (`access_denied`).
        let state = state_sent_to_provider(&browser, &start).await;
        let callback = format!(
            "{}/login/up/callback?error=access_denied&state={state}&iss={}",
            down.base,
            crate::rp::escape(&up.base)
        );
        let (_, status, html) = walk(&browser, &up, callback.clone(), "-").await.page();
        assert_eq!(status, 403, "{html}");
        assert!(html.contains("was cancelled or refused"), "{html}");
        // The same state again is refused: single use.
        let (_, again, _) = walk(&browser, &up, callback, "-").await.page();
        assert_eq!(again, 400);
        // "Back to the application" answers the relying party with access_denied.
        let csrf = crate::support::hidden_input(&html, "csrf").unwrap();
        let tx = crate::support::hidden_input(&html, "tx").unwrap();
        let back = browser
            .post(format!("{}/login/cancel", down.base))
            .form(&[("csrf", csrf.as_str()), ("tx", tx.as_str())])
            .send()
            .await
            .unwrap();
        let to = crate::rp::location(&back);
        assert!(to.starts_with(REDIRECT), "{to}");
        assert_eq!(query_param(&to, "error").as_deref(), Some("access_denied"));
        assert_eq!(query_param(&to, "state").as_deref(), Some("st"));
        assert_eq!(
            down.store.count_users().await.unwrap(),
            0,
            "nothing created"
        );
        up.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_callback_in_another_browser_or_with_a_forged_state_signs_nobody_in() {
    each_backend_with(&federation_layer(), |down| async move {
        let up = upstream(&down, "up").await;
        upstream_user(&up, "ada@example.com", true, json!({})).await;
        connect(&down, &up, "up", json!({})).await;
        register(&down, ClientSpec::web("shop")).await;
        // The victim's browser never started this round trip: the attacker's callback URL
        // (with the attacker's code and state) is refused there.
        let attacker = down.new_browser().client;
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid", "&connection=up")
        );
        let mut url = start;
        let callback = loop {
            let response = attacker.get(&url).send().await.unwrap();
            let next = resolve(&url, &crate::rp::location(&response));
            if next.contains("/login/up/callback") {
                break next;
            }
            if next.starts_with(&format!("{}/login?tx=", up.base)) {
                let html = attacker
                    .get(&next)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let csrf = crate::support::hidden_input(&html, "csrf").unwrap();
                let tx = query_param(&next, "tx").unwrap();
                let posted = attacker
                    .post(format!("{}/login", up.base))
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("tx", tx.as_str()),
                        ("email", "ada@example.com"),
                        ("password", PASSWORD),
                        ("action", "submit"),
                    ])
                    .send()
                    .await
                    .unwrap();
                url = resolve(&next, &crate::rp::location(&posted));
                continue;
            }
            url = next;
        };
        let victim = down.new_browser().client;
        let (_, status, html) = walk(&victim, &up, callback, "-").await.page();
        assert_eq!(status, 400, "{html}");
        assert_eq!(down.store.count_users().await.unwrap(), 0);
        // A state nobody issued.
        let forged = format!(
            "{}/login/up/callback?code=x&state=forged-state-value",
            down.base
        );
        let (_, status, _) = walk(&victim, &up, forged, "-").await.page();
        assert_eq!(status, 400);
        up.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_provider_that_does_not_answer_ends_on_a_page_that_says_so() {
    each_backend_with(&federation_layer(), |down| async move {
        // A port nothing listens on.
        let closed = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
        let issuer = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        create_connection(&down, json!({"name": "gone", "preset": "oidc", "issuer": issuer, "client_id": "c", "client_secret": "s"})).await;
        register(&down, ClientSpec::web("shop")).await;
        let start = format!("{}{}", down.base, authorize_path("shop", "openid", "&connection=gone"));
        let up_stand_in = down.new_browser();
        let (_, status, html) = walk(&up_stand_in.client, &down, start, "-").await.page();
        assert_eq!(status, 502, "{html}");
        assert!(html.contains("not answering"), "{html}");
    })
    .await;
}

#[tokio::test]
async fn an_email_of_a_bound_domain_goes_to_its_provider_and_a_client_can_drop_passwords() {
    each_backend_with(&federation_layer(), |down| async move {
        let up = upstream(&down, "acme").await;
        connect(&down, &up, "acme", json!({"domains": ["acme.example"]})).await;
        register(&down, ClientSpec::web("shop")).await;
        let browser = down.new_browser();
        let start = authorize_path("shop", "openid", "");
        let signin = crate::rp::location(&browser.get(&start).await);
        let csrf = browser.csrf(&signin).await;
        let tx = signin.trim_start_matches("/login?tx=").to_owned();
        let response = browser
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("tx", &tx),
                    ("email", "bob@Acme.example"),
                    ("password", ""),
                    ("action", "submit"),
                ],
            )
            .await;
        let to = crate::rp::location(&response);
        assert!(to.starts_with("/login/acme?"), "{to}");
        assert_eq!(
            query_param(&resolve(&down.base, &to), "login_hint").as_deref(),
            Some("bob@Acme.example")
        );

        // A client without passwords: no password form, and a post is refused.
        let (_, api) = admin(&down).await;
        let client: Value = api.get("/clients/shop").await.json().await.unwrap();
        let mut settings = client.clone();
        // The settings are the client as read, without what is not a setting.
        for read_only in ["id", "created_at", "updated_at"] {
            settings.as_object_mut().unwrap().remove(read_only);
        }
        settings["password_signin"] = json!(false);
        settings["connections"] = json!(["acme"]);
        let changed = api.put("/clients/shop", &settings).await;
        assert_eq!(changed.status(), 200, "{}", changed.text().await.unwrap());
        let browser = down.new_browser();
        let signin = crate::rp::location(&browser.get(&start).await);
        let html = browser.get(&signin).await.text().await.unwrap();
        assert!(!html.contains("type=\"password\""), "{html}");
        assert!(html.contains("/login/acme?tx="), "{html}");
        let csrf = crate::support::hidden_input(&html, "csrf").unwrap();
        let tx = signin.trim_start_matches("/login?tx=").to_owned();
        let refused = browser
            .post_form(
                "/login",
                &[
                    ("csrf", &csrf),
                    ("tx", &tx),
                    ("email", "carol@other.example"),
                    ("password", PASSWORD),
                    ("action", "submit"),
                ],
            )
            .await;
        assert_eq!(refused.status(), 403);
        up.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_account_page_lists_linked_providers_and_never_unlinks_the_last_way_in() {
    each_backend_with(&federation_layer(), |down| async move {
        let up = upstream(&down, "up").await;
        upstream_user(&up, "ada@example.com", true, json!({})).await;
        connect(&down, &up, "up", json!({})).await;
        register(&down, ClientSpec::web("shop")).await;
        let browser = down.new_browser();
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid", "&connection=up")
        );
        walk(&browser.client, &up, start, "ada@example.com")
            .await
            .rp();
        // The ways to sign in are on the account center's security section.
        let html = browser.get("/account/security").await.text().await.unwrap();
        assert!(html.contains("Upstream (ada@example.com)"), "{html}");
        assert!(
            !html.contains("/unlink"),
            "the only way in offers no unlink: {html}"
        );
        let csrf = browser.csrf("/login").await;
        let refused = browser
            .post_form("/account/connections/up/unlink", &[("csrf", &csrf)])
            .await;
        assert_eq!(
            crate::rp::location(&refused),
            "/account/security?last_way_in=1"
        );
        let user = down
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(down.store.user_identities(user.id).await.unwrap().len(), 1);
        up.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_form_post_answer_is_read_again_as_a_get_with_this_browsers_cookies() {
    each_backend_with(&federation_layer(), |down| async move {
        // Apple answers with a cross-site POST, which carries no SameSite=Lax cookie: the same
        // answer comes back as a GET of the callback, with the cookies.
        let user = r#"{"name":{"firstName":"Ada","lastName":"Lovelace"}}"#;
        let response = down
            .post_form(
                "/login/apple/callback",
                &[("state", "st&ate"), ("code", "c-1"), ("user", user)],
            )
            .await;
        assert_eq!(response.status(), 303);
        let to = resolve(&down.base, &crate::rp::location(&response));
        assert!(
            to.starts_with(&format!("{}/login/apple/callback?", down.base)),
            "{to}"
        );
        assert_eq!(query_param(&to, "state").as_deref(), Some("st&ate"));
        assert_eq!(query_param(&to, "code").as_deref(), Some("c-1"));
        assert_eq!(query_param(&to, "user").as_deref(), Some(user));
        // A parameter given twice is no provider's answer: refused as a bad state.
        let twice = down
            .get("/login/apple/callback?state=a&state=b&code=c")
            .await;
        assert_eq!(twice.status(), 400);
    })
    .await;
}

#[tokio::test]
async fn a_wrong_iss_or_a_refused_code_exchange_ends_on_a_page_and_creates_nothing() {
    each_backend_with(&federation_layer(), |down| async move {
        let up = upstream(&down, "up").await;
        upstream_user(&up, "ada@example.com", true, json!({})).await;
        connect(&down, &up, "up", json!({})).await;
        register(&down, ClientSpec::web("shop")).await;

        // RFC 9207: an answer whose `iss` is another issuer's is refused before the code is used.
        let browser = down.new_browser().client;
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid", "&connection=up")
        );
        let state = state_sent_to_provider(&browser, &start).await;
        let mixed_up = format!(
            "{}/login/up/callback?code=whatever&state={state}&iss={}",
            down.base,
            crate::rp::escape("https://evil.example")
        );
        let (_, status, html) = walk(&browser, &up, mixed_up, "-").await.page();
        assert_eq!(status, 502, "{html}");
        assert!(html.contains("could not be accepted"), "{html}");
        assert!(
            html.contains("issuer"),
            "the cause is under the details for developers: {html}"
        );

        // A client secret the provider refuses: its token endpoint says invalid_client.
        create_connection(
            &down,
            json!({
                "name": "wrong", "preset": "oidc", "issuer": up.base,
                "client_id": UP_CLIENT, "client_secret": "not-the-secret-at-all",
            }),
        )
        .await;
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid", "&connection=wrong")
        );
        let (_, status, html) = walk(&down.new_browser().client, &up, start, "ada@example.com")
            .await
            .page();
        assert_eq!(status, 502, "{html}");
        assert_eq!(
            down.store.count_users().await.unwrap(),
            0,
            "nothing created"
        );
        up.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_round_trip_started_on_one_node_ends_on_another() {
    each_backend_with(&federation_layer(), |down| async move {
        // Two nodes behind one public URL (PostgreSQL only: one node per SQLite file).
        let mut file = federation_layer();
        file.public_url = Some(down.base.clone());
        let Some(node_b) = down.spawn_node_with(file).await else {
            return;
        };
        let up = upstream(&down, "up").await;
        upstream_user(&up, "ada@example.com", true, json!({"given_name": "Ada"})).await;
        connect(&down, &up, "up", json!({})).await;
        register(&down, ClientSpec::web("shop")).await;
        let browser = down.new_browser().client;
        // Signed in at the provider already: it answers at once.
        let html = browser
            .get(format!("{}/login", up.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = crate::support::hidden_input(&html, "csrf").unwrap();
        let signed_in = browser
            .post(format!("{}/login", up.base))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "ada@example.com"),
                ("password", PASSWORD),
                ("action", "submit"),
            ])
            .send()
            .await
            .unwrap();
        assert!(signed_in.status().is_redirection());
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid profile", "&connection=up")
        );
        let mut url = start;
        // Node A sends the browser to the provider; the provider's answer lands on node B.
        let redirect = loop {
            let response = browser.get(&url).send().await.unwrap();
            assert!(response.status().is_redirection(), "{url}");
            let next = resolve(&url, &crate::rp::location(&response));
            if next.starts_with(&format!("{}/login/up/callback", down.base)) {
                let on_b = next.replacen(&down.base, &node_b.base, 1);
                break walk(&browser, &up, on_b, "ada@example.com").await;
            }
            url = next;
        };
        let redirect = match redirect {
            Walked::Rp(url) => url,
            Walked::Page(url, status, html) => panic!("ended on {url} ({status}): {html}"),
        };
        assert!(redirect.starts_with(REDIRECT), "{redirect}");
        let user = node_b
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.profile["given_name"], "Ada");
        up.stop().await.unwrap();
        node_b.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn with_self_sign_up_off_an_unknown_provider_identity_creates_no_account_but_a_known_email_still_links()
 {
    let mut file = federation_layer();
    file.accounts = Some(accrete_server::config::AccountsLayer {
        self_signup: Some(false),
        ..Default::default()
    });
    each_backend_with(&file, |down| async move {
        let up = upstream(&down, "up").await;
        upstream_user(&up, "ada@example.com", true, json!({})).await;
        upstream_user(&up, "grace@example.com", true, json!({})).await;
        connect(&down, &up, "up", json!({})).await;
        register(&down, ClientSpec::web("shop")).await;
        let start = |browser: &reqwest::Client| {
            let browser = browser.clone();
            let down_base = down.base.clone();
            async move {
                let start = format!("{down_base}{}", authorize_path("shop", "openid email", ""));
                let first = browser.get(&start).send().await.unwrap();
                let signin = resolve(&start, &crate::rp::location(&first));
                let tx = query_param(&signin, "tx").unwrap();
                format!("{down_base}/login/up?tx={tx}")
            }
        };

        // Unknown identity, unknown email: the friendly refusal, no account.
        let browser = down.new_browser().client;
        let (_, status, html) = walk(&browser, &up, start(&browser).await, "ada@example.com")
            .await
            .page();
        assert_eq!(status, 403, "{html}");
        assert!(
            html.contains("This application does not accept new accounts."),
            "{html}"
        );
        assert!(
            down.store
                .find_user_by_email("ada@example.com")
                .await
                .unwrap()
                .is_none()
        );

        // An account an administrator created: the provider's identity is offered to link
        // (the person proves the account is theirs on the sign-in page).
        down.store
            .create_user(NewUser::with_email(
                "grace@example.com",
                OffsetDateTime::now_utc(),
            ))
            .await
            .unwrap();
        let browser = down.new_browser().client;
        let (url, status, html) = walk(&browser, &up, start(&browser).await, "grace@example.com")
            .await
            .page();
        assert_eq!(status, 200, "{html}");
        assert!(
            url.starts_with(&format!("{}/login?tx=", down.base)),
            "{url}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_through_its_provider() {
    each_backend_with(&federation_layer(), |down| async move {
        let up = upstream(&down, "up").await;
        upstream_user(&up, "ada@example.com", true, json!({"given_name": "Ada"})).await;
        connect(&down, &up, "up", json!({})).await;
        register(&down, ClientSpec::web("shop")).await;
        let start = format!(
            "{}{}",
            down.base,
            authorize_path("shop", "openid", "&connection=up")
        );
        walk(
            &down.new_browser().client,
            &up,
            start.clone(),
            "ada@example.com",
        )
        .await
        .rp();
        let id = down
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        let (_, api) = admin(&down).await;
        let disabled = api
            .patch(&format!("/users/{id}"), &json!({"disabled": true}))
            .await;
        assert_eq!(disabled.status(), 200);
        let (_, status, html) = walk(&down.new_browser().client, &up, start, "ada@example.com")
            .await
            .page();
        assert_eq!(status, 403);
        assert!(html.contains("This account is disabled"), "{html}");
    })
    .await;
}

/// The layer of these tests with an enrichment hook at `url` (every moment but `api`), which
/// answers the company.
/// An authorization request of `shop` that goes straight to the provider `up`.
fn through_provider(down: &TestApp) -> String {
    format!(
        "{}{}",
        down.base,
        authorize_path("shop", "openid", "&connection=up")
    )
}

fn with_enrichment(url: &str, when: &[&str]) -> Layer {
    use crate::hooks::{hook, with_hooks};
    let mut layer = with_hooks(json!([hook(
        "crm",
        "enrichment",
        url,
        json!({ "when": when, "fields": { "company": "company" } })
    )]));
    layer.federation = federation_layer().federation;
    layer
}

/// The enrichment calls `receiver` got for `email` with `trigger`.
fn enrichments(receiver: &crate::hooks::Receiver, email: &str, trigger: &str) -> usize {
    receiver
        .of_kind("enrichment")
        .iter()
        .filter(|call| call["trigger"] == trigger && call["user"]["email"] == email)
        .count()
}

#[tokio::test]
async fn a_sign_up_through_a_provider_is_enriched_before_the_decision_and_the_company_not_asked() {
    use crate::hooks::{Receiver, Reply};
    let receiver = Receiver::start(|_| Reply::Json(200, json!({ "company": "Analytical" }))).await;
    let layer = with_enrichment(&receiver.url, &["provider_signup"]);
    each_backend_with(&layer, |down| {
        let receiver = &receiver;
        async move {
            let up = upstream(&down, "up").await;
            upstream_user(&up, "ada@example.com", true, json!({"given_name": "Ada"})).await;
            connect(&down, &up, "up", json!({})).await;
            register(&down, ClientSpec::web("shop")).await;
            let (_, api) = admin(&down).await;
            api.publish(&signup_policy()).await;
            let before = enrichments(receiver, "ada@example.com", "provider_signup");

            // The provider gives the first name, the hook the company: nothing is asked.
            let start = through_provider(&down);
            walk(&down.new_browser().client, &up, start, "ada@example.com")
                .await
                .rp();
            assert_eq!(
                enrichments(receiver, "ada@example.com", "provider_signup"),
                before + 1
            );
            let user = down
                .store
                .find_user_by_email("ada@example.com")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(user.user_metadata["company"], "Analytical");
            let provenance = down.store.value_provenance(user.id).await.unwrap();
            assert!(
                provenance
                    .iter()
                    .any(|p| p.key == "company" && p.source == "enrichment:crm"),
                "{provenance:?}"
            );
            up.stop().await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn the_first_sign_in_through_a_provider_into_an_existing_account_is_enriched_once() {
    use crate::hooks::{Receiver, Reply};
    let receiver = Receiver::start(|_| Reply::Json(200, json!({ "company": "Analytical" }))).await;
    // `when` left out: every moment, the link's included.
    let layer = with_enrichment(&receiver.url, &[]);
    each_backend_with(&layer, |down| {
        let receiver = &receiver;
        async move {
            let up = upstream(&down, "up").await;
            upstream_user(&up, "ann@example.com", true, json!({"given_name": "Ann"})).await;
            connect(&down, &up, "up", json!({})).await;
            register(&down, ClientSpec::web("shop")).await;
            // Signed up before the policy asks anything at sign-up.
            down.sign_up("ann@example.com", PASSWORD).await;
            let (_, api) = admin(&down).await;
            api.publish(&signup_policy()).await;
            let before = enrichments(receiver, "ann@example.com", "provider_link");

            // The provider's first sign-in waits for the password, then links and enriches.
            let browser = down.new_browser().client;
            let start = through_provider(&down);
            let (url, _, html) = walk(&browser, &up, start, "ann@example.com").await.page();
            let tx = query_param(&url, "tx").unwrap();
            let csrf = crate::support::hidden_input(&html, "csrf").unwrap();
            let signed_in = browser
                .post(format!("{}/login", down.base))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("tx", tx.as_str()),
                    ("email", "ann@example.com"),
                    ("password", PASSWORD),
                    ("action", "submit"),
                ])
                .send()
                .await
                .unwrap();
            assert!(signed_in.status().is_redirection());
            let next = resolve(&url, &crate::rp::location(&signed_in));
            walk(&browser, &up, next, "ann@example.com").await.rp();
            assert_eq!(
                enrichments(receiver, "ann@example.com", "provider_link"),
                before + 1,
                "enriched at the link"
            );
            let user = down
                .store
                .find_user_by_email("ann@example.com")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(user.user_metadata["company"], "Analytical");

            // A later sign-in through the same provider is not a first one.
            let start = through_provider(&down);
            walk(&down.new_browser().client, &up, start, "ann@example.com")
                .await
                .rp();
            assert_eq!(
                enrichments(receiver, "ann@example.com", "provider_link"),
                before + 1
            );
            up.stop().await.unwrap();
        }
    })
    .await;
}
