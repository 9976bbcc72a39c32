//! Second factors as people and relying parties meet them: an authenticator app set up in the
//! account center (the secret read from the page, codes computed here as the phone's app
//! would), asked at the next sign-in, `amr`/`acr` in the ID token, recovery codes used once, a
//! client that requires one, `prompt=none`, `acr_values`, and an administrator's reset.

use accrete_oidc::mfa::{secret_from_typing, totp, totp_code};
use accrete_store::testing::execute_sql;
use serde_json::Value;
use time::OffsetDateTime;

use crate::api_client::admin;
use crate::rp::{
    ClientSpec, PASSWORD, VERIFIER, authorize_path, code_of, jwt_payload, location, redeem,
    register, sign_up,
};
use crate::support::{Browser, TestApp, each_backend};

/// The text of the element with this id (`<code id="...">TEXT</code>`).
fn element_text(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let open = start + html[start..].find('>').unwrap() + 1;
    let close = open + html[open..].find('<').unwrap();
    html[open..close].trim().to_owned()
}

/// The recovery codes on their page.
fn recovery_codes(html: &str) -> Vec<String> {
    let list = &html[html
        .find("class=\"recovery-codes\"")
        .expect("no recovery codes")..];
    let list = &list[..list.find("</ul>").unwrap()];
    list.split("<code>")
        .skip(1)
        .map(|part| part[..part.find("</code>").unwrap()].to_owned())
        .collect()
}

/// The code an app holding `secret` shows `steps_ahead` steps of 30 s from now (one ahead is
/// still inside the drift window, and is not the step used a moment ago).
fn code(secret: &str, steps_ahead: i64) -> String {
    let bytes = secret_from_typing(secret).unwrap();
    let generator = totp(&bytes, "Accrete", "x@example.com").unwrap();
    totp_code(
        &generator,
        OffsetDateTime::now_utc().unix_timestamp() + 30 * steps_ahead,
    )
}

/// Sets up an authenticator app for the signed-in `browser`: its secret and recovery codes.
async fn set_up_app(browser: &Browser) -> (String, Vec<String>) {
    let page = browser.get("/mfa/setup").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<svg"), "an inline QR code");
    let secret = element_text(&html, "totp-secret");
    let csrf = browser.csrf("/mfa/setup").await;
    let wrong = browser
        .post_form("/mfa/setup", &[("csrf", &csrf), ("code", "000000")])
        .await;
    assert_eq!(wrong.status(), 400);
    let done = browser
        .post_form(
            "/mfa/setup",
            &[("csrf", &csrf), ("code", &code(&secret, 0))],
        )
        .await;
    assert_eq!(done.status(), 200);
    assert_eq!(done.headers()["cache-control"], "no-store");
    let codes = recovery_codes(&done.text().await.unwrap());
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

/// Starts an authorization in a new browser and signs in with the password: where it goes
/// next (and the browser).
async fn password_sign_in(app: &TestApp, path: &str, email: &str) -> (Browser, String) {
    let browser = app.new_browser();
    let target = location(&browser.get(path).await);
    let tx = target.trim_start_matches("/login?tx=").to_owned();
    let csrf = browser.csrf(&target).await;
    let response = browser
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("tx", &tx),
                ("email", email),
                ("password", PASSWORD),
                ("action", "submit"),
            ],
        )
        .await;
    let resume = location(&response);
    let next = location(&browser.get(&resume).await);
    (browser, next)
}

/// Answers the second-factor page at `target` with `method` and `code`: the response.
async fn answer(browser: &Browser, target: &str, method: &str, code: &str) -> reqwest::Response {
    let tx = target.split("tx=").nth(1).unwrap().to_owned();
    let csrf = browser.csrf(target).await;
    browser
        .post_form(
            "/mfa",
            &[
                ("csrf", &csrf),
                ("tx", &tx),
                ("method", method),
                ("code", code),
            ],
        )
        .await
}

/// Follows redirects from `target` to the client's redirect URI.
async fn follow(browser: &Browser, mut target: String) -> String {
    while target.starts_with('/') {
        target = location(&browser.get(&target).await);
    }
    target
}

async fn id_token(app: &TestApp, secret: Option<&str>, redirect: &str) -> Value {
    let (status, body) = redeem(app, "web", secret, &code_of(redirect)).await;
    assert_eq!(status, 200, "{body}");
    let _ = VERIFIER;
    jwt_payload(body["id_token"].as_str().unwrap())
}

#[tokio::test]
async fn an_authenticator_app_is_asked_at_the_next_sign_in_and_said_in_the_id_token() {
    each_backend(|app| async move {
        let secret = register(&app, ClientSpec::web("web")).await;
        let ada = sign_up(&app, "ada@example.com").await;
        let (key, codes) = set_up_app(&ada).await;
        let security = ada.get("/account/security").await.text().await.unwrap();
        assert!(security.contains("Recovery codes left: 10"), "{security}");

        let path = authorize_path("web", "openid", "");
        let (browser, target) = password_sign_in(&app, &path, "ada@example.com").await;
        assert!(target.starts_with("/mfa?tx="), "{target}");
        let wrong = answer(&browser, &target, "totp", "123456").await;
        assert_eq!(wrong.status(), 400);
        let used = code(&key, 1);
        let right = answer(&browser, &target, "totp", &used).await;
        let redirect = follow(&browser, location(&right)).await;
        let claims = id_token(&app, secret.as_deref(), &redirect).await;
        assert_eq!(
            claims["amr"],
            serde_json::json!(["pwd", "otp", "mfa"]),
            "{claims}"
        );
        assert_eq!(claims["acr"], "urn:accrete:acr:mfa");

        // Single sign-on in that browser is not asked again.
        let again = follow(&browser, location(&browser.get(&path).await)).await;
        assert!(again.contains("code="), "{again}");

        // The same code cannot be used twice; a recovery code works once.
        let (other, target) = password_sign_in(&app, &path, "ada@example.com").await;
        let replayed = answer(&other, &target, "totp", &used).await;
        assert_eq!(replayed.status(), 400);
        let recovered = answer(&other, &target, "recovery", &codes[3].to_uppercase()).await;
        assert!(recovered.status().is_redirection());
        let (third, target) = password_sign_in(&app, &path, "ada@example.com").await;
        let reused = answer(&third, &target, "recovery", &codes[3]).await;
        assert_eq!(reused.status(), 400);

        // Outside an application, the account center also wants the second factor.
        let direct = app.new_browser();
        let signed_in = direct.sign_in("ada@example.com", PASSWORD).await;
        assert_eq!(location(&signed_in), "/mfa");
        assert_eq!(location(&direct.get("/account").await), "/mfa");

        // An administrator resets the factors: the password alone signs in again.
        let (_tokens, api) = admin(&app).await;
        let user = app
            .store
            .find_user_by_email("ada@example.com")
            .await
            .unwrap()
            .unwrap();
        let reset = api.delete(&format!("/users/{}/factors", user.id)).await;
        assert_eq!(reset.status(), 200);
        assert_eq!(reset.json::<Value>().await.unwrap()["removed"], 1);
        let (_, target) = password_sign_in(&app, &path, "ada@example.com").await;
        assert!(
            target.starts_with("http://localhost:9999/callback?code="),
            "{target}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_client_that_requires_a_second_factor_sets_one_up_first_and_prompt_none_refuses() {
    each_backend(|app| async move {
        let secret = register(&app, ClientSpec::web("web")).await;
        execute_sql(
            &app.sql_url(),
            "UPDATE clients SET mfa = 'required' WHERE id = 'web'",
        )
        .await;
        let _ = sign_up(&app, "bob@example.com").await;
        let path = authorize_path("web", "openid", "");
        let (browser, target) = password_sign_in(&app, &path, "bob@example.com").await;
        assert!(target.starts_with("/mfa/setup?tx="), "{target}");
        let html = browser.get(&target).await.text().await.unwrap();
        let key = element_text(&html, "totp-secret");
        let tx = target.trim_start_matches("/mfa/setup?tx=").to_owned();
        let csrf = browser.csrf(&target).await;
        let done = browser
            .post_form(
                "/mfa/setup",
                &[("csrf", &csrf), ("tx", &tx), ("code", &code(&key, 0))],
            )
            .await;
        assert_eq!(done.status(), 200);
        let html = done.text().await.unwrap();
        assert_eq!(recovery_codes(&html).len(), 10);
        let next = format!("/authorize/resume?tx={tx}");
        assert!(
            html.contains(&format!("resume?tx={tx}")),
            "the codes page continues the sign-in"
        );
        let redirect = follow(&browser, next).await;
        let claims = id_token(&app, secret.as_deref(), &redirect).await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

        // Another browser, signed in with the password only: prompt=none cannot ask.
        let (other, target) = password_sign_in(&app, &path, "bob@example.com").await;
        assert!(target.starts_with("/mfa?tx="), "{target}");
        let silent = location(
            &other
                .get(&authorize_path("web", "openid", "&prompt=none"))
                .await,
        );
        assert!(silent.contains("error=interaction_required"), "{silent}");
    })
    .await;
}

#[tokio::test]
async fn a_relying_party_asks_for_a_second_factor_with_acr_values() {
    each_backend(|app| async move {
        register(&app, ClientSpec::web("web")).await;
        execute_sql(
            &app.sql_url(),
            "UPDATE clients SET mfa = 'off' WHERE id = 'web'",
        )
        .await;
        let carol = sign_up(&app, "carol@example.com").await;
        let _ = set_up_app(&carol).await;
        // The client's rule is off: a plain sign-in is not asked ...
        let plain = authorize_path("web", "openid", "");
        let (_, target) = password_sign_in(&app, &plain, "carol@example.com").await;
        assert!(target.contains("code="), "{target}");
        // ... but the relying party can ask for it.
        let pape = "http%3A%2F%2Fschemas.openid.net%2Fpape%2Fpolicies%2F2007%2F06%2Fmulti-factor";
        let asked = authorize_path("web", "openid", &format!("&acr_values={pape}"));
        let (_, target) = password_sign_in(&app, &asked, "carol@example.com").await;
        assert!(target.starts_with("/mfa?tx="), "{target}");
        let discovery: Value = app
            .new_browser()
            .get("/.well-known/openid-configuration")
            .await
            .json()
            .await
            .unwrap();
        assert!(
            discovery["acr_values_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == "urn:accrete:acr:mfa")
        );
    })
    .await;
}

/// A policy whose only step, from the first sign-in, asks to protect the account.
const PROTECT: &str = r#"
version = 1
[[fields]]
key = "company"
kind = "text"
labels = { en = "Company" }
required = false
[[steps]]
id = "protect"
second_factor = true
mode = { optional = { max_skips = 2 } }
trigger = { moments = ["login"] }
"#;

#[tokio::test]
async fn a_protect_your_account_step_sets_a_factor_up_within_the_sign_in_or_is_skipped() {
    each_backend(|app| async move {
        // Published first, as `accrete policy import` does before the server reads it.
        let policy = accrete_core::Policy::from_toml_str(PROTECT).unwrap();
        if let Err(problems) = policy.clone().compile() {
            panic!("{problems}");
        }
        let document = serde_json::to_value(&policy).unwrap();
        app.store
            .publish_policy(&document, Some("protect"), OffsetDateTime::now_utc())
            .await
            .unwrap();
        let secret = register(&app, ClientSpec::web("web")).await;
        sign_up(&app, "ada@example.com").await;
        sign_up(&app, "bob@example.com").await;
        let path = authorize_path("web", "openid", "");
        let prompt = |browser: &Browser, target: String| {
            let browser = browser.clone();
            async move {
                assert!(target.starts_with("/prompt?tx="), "{target}");
                let html = browser.get(&target).await.text().await.unwrap();
                assert!(html.contains("Protect your account"), "{html}");
                assert!(html.contains("Set it up now"), "{html}");
                let tx = target.split("tx=").nth(1).unwrap().to_owned();
                (tx, html)
            }
        };

        // Bob skips it: the code is issued.
        let (bob, target) = password_sign_in(&app, &path, "bob@example.com").await;
        let (tx, html) = prompt(&bob, target).await;
        let skipped = crate::profiling::post_prompt(&bob, &tx, &html, "skip", &[]).await;
        let redirect = follow(&bob, location(&skipped)).await;
        assert!(redirect.contains("code="), "{redirect}");

        // Ada: posting the page does not answer it; it sends her to the set-up, whose "Cancel"
        // comes back to the step. Her app's first code answers the step and the sign-in goes on.
        let (ada, target) = password_sign_in(&app, &path, "ada@example.com").await;
        let (tx, html) = prompt(&ada, target).await;
        let posted = crate::profiling::post_prompt(&ada, &tx, &html, "submit", &[]).await;
        let setup = location(&posted);
        assert_eq!(setup, format!("/mfa/setup?tx={tx}"));
        let html = ada.get(&setup).await.text().await.unwrap();
        assert!(html.contains(&format!("prompt?tx={tx}")), "{html}");
        let key = element_text(&html, "totp-secret");
        let csrf = crate::support::hidden_input(&html, "csrf").unwrap();
        let done = ada
            .post_form(
                "/mfa/setup",
                &[("csrf", &csrf), ("tx", &tx), ("code", &code(&key, 0))],
            )
            .await;
        assert_eq!(done.status(), 200);
        assert_eq!(recovery_codes(&done.text().await.unwrap()).len(), 10);
        let redirect = follow(&ada, format!("/authorize/resume?tx={tx}")).await;
        let claims = id_token(&app, secret.as_deref(), &redirect).await;
        assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

        // Recorded: answered by Ada, skipped by Bob; Ada's next sign-in asks her app's code,
        // not the step.
        let events = app.store.list_events(0, 1000).await.unwrap();
        let of = |kind: accrete_store::EventKind| {
            events
                .iter()
                .filter(|e| e.kind == kind && e.step.as_deref() == Some("protect"))
                .count()
        };
        assert_eq!(of(accrete_store::EventKind::PromptShown), 2);
        assert_eq!(of(accrete_store::EventKind::PromptAnswered), 1);
        assert_eq!(of(accrete_store::EventKind::PromptSkipped), 1);
        let (_, target) = password_sign_in(&app, &path, "ada@example.com").await;
        assert!(target.starts_with("/mfa?tx="), "{target}");
    })
    .await;
}
