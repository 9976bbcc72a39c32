//! Settings that operators expect: the lifetimes of tokens, sessions and transactions, self
//! sign-up (server-wide and per client), and a client's own account settings through the API.
//! Time is not waited for: expiry is set in the past in the database, behind the server's back.

use std::path::Path;

use accrete_server::Layer;
use accrete_store::testing::execute_sql;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api_client::admin;
use crate::rp::{
    ClientSpec, authorize_path, code_of, hash_secret, jwt_payload, location, redeem, register,
    sign_up, token_request, tokens_for,
};
use crate::support::{TestApp, each_backend_with};

fn config(toml: &str) -> Layer {
    Layer::from_toml(Path::new("accrete.toml"), toml).unwrap()
}

fn now_millis() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

async fn sql(app: &TestApp, statement: &str) {
    execute_sql(&app.sql_url(), statement).await;
}

async fn refresh(app: &TestApp, secret: Option<&str>, token: &str) -> (u16, Value) {
    let response = token_request(
        app,
        "web",
        secret,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await;
    (response.status().as_u16(), response.json().await.unwrap())
}

const LIFETIMES: &str = "[lifetimes]\naccess_token = \"5m\"\nid_token = \"10m\"\n\
    refresh_token = \"20d\"\nrefresh_token_idle = \"2d\"\ntransaction = \"10m\"\n";

#[tokio::test]
async fn configured_lifetimes_are_those_of_the_access_id_and_refresh_tokens() {
    each_backend_with(&config(LIFETIMES), |app| async move {
        let secret = register(&app, ClientSpec::web("web")).await;
        let body = tokens_for(&app, "web", secret.as_deref(), "ada@example.com", "openid").await;
        assert_eq!(body["expires_in"], 300, "{body}");
        let access = jwt_payload(body["access_token"].as_str().unwrap());
        assert_eq!(
            access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
            300
        );
        let id = jwt_payload(body["id_token"].as_str().unwrap());
        assert_eq!(
            id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap(),
            600
        );
        let stored = app
            .store
            .get_refresh_token(&hash_secret(body["refresh_token"].as_str().unwrap()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.expires_at - stored.created_at,
            time::Duration::days(2),
            "the idle limit"
        );
    })
    .await;
}

#[tokio::test]
async fn a_refresh_token_unused_past_its_idle_time_is_refused() {
    each_backend_with(&config(LIFETIMES), |app| async move {
        let secret = register(&app, ClientSpec::web("web")).await;
        let body = tokens_for(&app, "web", secret.as_deref(), "ada@example.com", "openid").await;
        let (status, rotated) = refresh(
            &app,
            secret.as_deref(),
            body["refresh_token"].as_str().unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{rotated}");
        assert_eq!(rotated["expires_in"], 300);
        let next = rotated["refresh_token"].as_str().unwrap();
        let stored = app
            .store
            .get_refresh_token(&hash_secret(next))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.expires_at - stored.created_at,
            time::Duration::days(2)
        );
        // Two days without use.
        let past = now_millis() - MINUTE;
        sql(
            &app,
            &format!("UPDATE refresh_tokens SET expires_at = {past} WHERE used_at IS NULL"),
        )
        .await;
        let (status, refused) = refresh(&app, secret.as_deref(), next).await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(refused["error"], "invalid_grant");
    })
    .await;
}

#[tokio::test]
async fn a_refresh_token_used_regularly_is_refused_past_the_absolute_lifetime() {
    each_backend_with(&config(LIFETIMES), |app| async move {
        let secret = register(&app, ClientSpec::web("web")).await;
        let body = tokens_for(&app, "web", secret.as_deref(), "ada@example.com", "openid").await;
        // The grant began 20 days less an hour ago: a rotation ends with it, not 2 days on.
        sql(
            &app,
            &format!(
                "UPDATE grants SET created_at = created_at - {}",
                20 * DAY - HOUR
            ),
        )
        .await;
        let (status, rotated) = refresh(
            &app,
            secret.as_deref(),
            body["refresh_token"].as_str().unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{rotated}");
        let next = rotated["refresh_token"].as_str().unwrap();
        let stored = app
            .store
            .get_refresh_token(&hash_secret(next))
            .await
            .unwrap()
            .unwrap();
        let left = stored.expires_at - stored.created_at;
        assert!(left <= time::Duration::hours(1), "{left}");
        // An hour later the grant is over, though the token was used within its idle time.
        sql(
            &app,
            &format!("UPDATE grants SET created_at = created_at - {HOUR}"),
        )
        .await;
        let (status, refused) = refresh(&app, secret.as_deref(), next).await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(refused["error"], "invalid_grant");
    })
    .await;
}

#[tokio::test]
async fn the_transaction_lasts_the_configured_time() {
    each_backend_with(&config(LIFETIMES), |app| async move {
        register(&app, ClientSpec::web("web")).await;
        let browser = app.new_browser();
        let to_login = location(&browser.get(&authorize_path("web", "openid", "")).await);
        let tx = to_login.trim_start_matches("/login?tx=");
        let stored = app
            .store
            .get_transaction(uuid::Uuid::parse_str(tx).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.expires_at - stored.created_at,
            time::Duration::minutes(10)
        );
    })
    .await;
}

/// Where `/authorize` sends this browser: back to the client (single sign-on) or to sign in.
async fn signs_on(browser: &crate::support::Browser) -> bool {
    let target = location(&browser.get(&authorize_path("web", "openid", "")).await);
    !target.starts_with("/login")
}

#[tokio::test]
async fn a_session_idle_longer_than_its_limit_asks_to_sign_in_again_and_use_pushes_it_forward() {
    let file = config("[lifetimes]\nsso_session_idle = \"1h\"\n");
    each_backend_with(&file, |app| async move {
        register(&app, ClientSpec::web("web")).await;
        let browser = sign_up(&app, "ada@example.com").await;
        // Opened for an hour of idleness, not the 14 days of its lifetime.
        sql(
            &app,
            &format!(
                "DELETE FROM sso_sessions WHERE expires_at > {}",
                now_millis() + HOUR + MINUTE
            ),
        )
        .await;
        assert!(
            signs_on(&browser).await,
            "the session expires within its idle limit"
        );

        // Last used two hours ago, about to expire: using it pushes the expiry an hour on.
        let now = now_millis();
        sql(
            &app,
            &format!(
                "UPDATE sso_sessions SET last_seen_at = {}, expires_at = {}",
                now - 2 * HOUR,
                now + MINUTE
            ),
        )
        .await;
        assert!(signs_on(&browser).await);
        sql(
            &app,
            &format!(
                "DELETE FROM sso_sessions WHERE expires_at < {}",
                now + 50 * MINUTE
            ),
        )
        .await;
        assert!(
            signs_on(&browser).await,
            "the use pushed the expiry forward"
        );

        // Never past its lifetime from the sign-in (14 days): ten minutes are left.
        let now = now_millis();
        sql(
            &app,
            &format!(
                "UPDATE sso_sessions SET created_at = {}, last_seen_at = {}",
                now - 14 * DAY + 10 * MINUTE,
                now - 2 * MINUTE
            ),
        )
        .await;
        assert!(signs_on(&browser).await);
        sql(
            &app,
            &format!(
                "DELETE FROM sso_sessions WHERE expires_at > {}",
                now + 20 * MINUTE
            ),
        )
        .await;
        assert!(signs_on(&browser).await, "capped at the session's lifetime");

        // Not used for longer than an hour: sign in again.
        let browser = sign_up(&app, "grace@example.com").await;
        let now = now_millis();
        sql(
            &app,
            &format!(
                "UPDATE sso_sessions SET last_seen_at = {}, expires_at = {}",
                now - 2 * HOUR,
                now - HOUR
            ),
        )
        .await;
        assert!(!signs_on(&browser).await, "an idle session asks to sign in");
    })
    .await;
}

const CLOSED: &str =
    "This application does not accept new accounts. Ask its administrator for an invitation.";

#[tokio::test]
async fn with_self_sign_up_off_the_pages_refuse_new_accounts_and_administrators_still_create_them()
{
    let file = config("[accounts]\nself_signup = false\n");
    each_backend_with(&file, |app| async move {
        let browser = app.new_browser();
        let page = browser.get("/signup").await;
        assert_eq!(page.status(), 403);
        assert!(page.text().await.unwrap().contains(CLOSED));
        let csrf = browser.csrf("/login").await;
        let posted = browser
            .post_form(
                "/signup",
                &[
                    ("csrf", &csrf),
                    ("email", "ada@example.com"),
                    ("password", "correct horse battery"),
                    ("action", "submit"),
                ],
            )
            .await;
        assert_eq!(posted.status(), 403);
        assert!(
            app.store
                .find_user_by_email("ada@example.com")
                .await
                .unwrap()
                .is_none()
        );
        let signin = browser.get("/login").await.text().await.unwrap();
        assert!(!signin.contains("href=\"/signup"), "{signin}");

        // In French too.
        let french = browser
            .client
            .get(app.url("/signup"))
            .header("accept-language", "fr")
            .send()
            .await
            .unwrap();
        assert_eq!(french.status(), 403);
        assert!(
            french
                .text()
                .await
                .unwrap()
                .contains("n’accepte pas de nouveaux comptes")
        );

        // Administrators are not self sign-up.
        let (_, api) = admin(&app).await;
        let created = api
            .post("/users", &json!({"email": "ada@example.com"}))
            .await;
        assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    })
    .await;
}

/// The sign-in and sign-up pages of an authorization for `client`.
async fn pages_for(app: &TestApp, client: &str) -> (String, reqwest::Response) {
    let browser = app.new_browser();
    let to_login = location(&browser.get(&authorize_path(client, "openid", "")).await);
    let tx = to_login.trim_start_matches("/login?tx=").to_owned();
    let signin = browser.get(&to_login).await.text().await.unwrap();
    let signup = browser.get(&format!("/signup?tx={tx}")).await;
    (signin, signup)
}

#[tokio::test]
async fn a_clients_own_self_sign_up_wins_over_the_servers() {
    let file = config("[accounts]\nself_signup = false\n");
    each_backend_with(&file, |app| async move {
        let (_, api) = admin(&app).await;
        for (id, own) in [
            ("open", json!(true)),
            ("closed", json!(false)),
            ("default", Value::Null),
        ] {
            let body = json!({
                "id": id, "name": id, "redirect_uris": [crate::rp::REDIRECT],
                "public": true, "self_signup": own,
            });
            let created = api.post("/clients", &body).await;
            assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
        }
        let (signin, signup) = pages_for(&app, "open").await;
        assert!(signin.contains("href=\"/signup?tx="), "{signin}");
        assert_eq!(signup.status(), 200);
        for id in ["closed", "default"] {
            let (signin, signup) = pages_for(&app, id).await;
            assert!(!signin.contains("href=\"/signup"), "{id}: {signin}");
            assert_eq!(signup.status(), 403, "{id}");
            let html = signup.text().await.unwrap();
            assert!(html.contains(CLOSED), "{html}");
            assert!(html.contains("/login?tx="), "a way on: {html}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_clients_account_settings_round_trip_through_the_api() {
    each_backend_with(&Layer::default(), |app| async move {
        let (_, api) = admin(&app).await;
        let body = json!({
            "id": "web", "name": "Web", "redirect_uris": [crate::rp::REDIRECT],
            "self_signup": false, "email_verification": "required",
        });
        let created = api.post("/clients", &body).await;
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["self_signup"], false);
        assert_eq!(created["email_verification"], "required");
        let stored = app.store.get_client("web").await.unwrap().unwrap();
        assert_eq!(stored.self_signup, Some(false));
        assert_eq!(stored.email_verification.as_deref(), Some("required"));

        // Absent: the server's.
        let replaced = api
            .put(
                "/clients/web",
                &json!({"name": "Web", "redirect_uris": [crate::rp::REDIRECT]}),
            )
            .await;
        assert_eq!(replaced.status(), 200, "{}", replaced.text().await.unwrap());
        let read: Value = api.get("/clients/web").await.json().await.unwrap();
        assert_eq!(read["self_signup"], Value::Null);
        assert_eq!(read["email_verification"], Value::Null);

        let refused = api
            .put(
                "/clients/web",
                &json!({"name": "Web", "redirect_uris": [crate::rp::REDIRECT],
                        "email_verification": "sometimes"}),
            )
            .await;
        assert!(refused.status().is_client_error(), "{}", refused.status());
    })
    .await;
}

#[tokio::test]
async fn the_code_still_comes_back_with_default_settings() {
    each_backend_with(&Layer::default(), |app| async move {
        let secret = register(&app, ClientSpec::web("web")).await;
        let browser = sign_up(&app, "ada@example.com").await;
        let back = crate::rp::authorize(
            &browser,
            &authorize_path("web", "openid", ""),
            "ada@example.com",
        )
        .await;
        let (status, body) = redeem(&app, "web", secret.as_deref(), &code_of(&back)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expires_in"], 900);
    })
    .await;
}
