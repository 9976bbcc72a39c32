//! Erasure (GDPR article 17): once a user deletes their account, no table holds their address,
//! their values or anything tied to them but their id in the record of the deletion itself
//! (`account.deleted`, `user.deleted`) and in who-did-what entries of the audit log, which keep
//! no values.

use std::time::{Duration, Instant};

use accrete_mail::testing::ReceivedMail;
use accrete_store::{NewAuditEntry, NewWebhookEndpoint};
use serde_json::json;
use time::OffsetDateTime;

use crate::profiling::publish_example;
use crate::rp::{self, ClientSpec, PASSWORD};
use crate::support::each_backend;

/// Values no table may hold once the user is gone.
const EMAIL: &str = "zelda.erasure@example.com";
/// The address they moved to before leaving.
const NEW_EMAIL: &str = "zelda.moved@example.com";
const GIVEN: &str = "Zeldaunique";
const FAMILY: &str = "Erasurefamily";

/// The mails of the outbox folder: with no SMTP server, the test servers write them there (their
/// `data_dir` is the default, `accrete-data` in this crate's folder, shared by every test).
fn outbox_mails() -> Vec<ReceivedMail> {
    let outbox = std::path::Path::new("accrete-data/outbox");
    let Ok(entries) = std::fs::read_dir(outbox) else {
        return Vec::new();
    };
    entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "eml"))
        // Another test's mail may be read while it is removed: skipped.
        .filter_map(|path| std::fs::read(path).ok())
        .map(ReceivedMail::from_raw)
        .collect()
}

/// The mail to `to` that `wanted` accepts, once the server has written it (mails are sent in
/// the background).
async fn outbox_mail(to: &str, wanted: impl Fn(&ReceivedMail) -> bool) -> ReceivedMail {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = outbox_mails()
            .into_iter()
            .find(|mail| mail.to.iter().any(|one| one == to) && wanted(mail));
        if let Some(mail) = found {
            return mail;
        }
        assert!(
            Instant::now() < deadline,
            "no such mail to {to} in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_deleted_account_leaves_nothing_of_the_person_in_any_table() {
    each_backend(|app| async move {
        let now = OffsetDateTime::now_utc();
        // An endpoint, so that every change writes its event to the outbox.
        app.store
            .create_webhook_endpoint(NewWebhookEndpoint {
                url: "https://hooks.example.com/accrete".into(),
                events: Vec::new(),
                description: None,
                sealed_secrets: vec![1, 2, 3],
                include_values: true,
                now,
            })
            .await
            .unwrap();
        let secret = rp::register(&app, ClientSpec::web("shop")).await;

        // Sign up, use an application, give values on the account page, fail a sign-in.
        let browser = rp::sign_up(&app, EMAIL).await;
        let path = rp::authorize_path("shop", "openid profile email offline_access", "");
        let back = rp::authorize(&browser, &path, EMAIL).await;
        let (status, tokens) =
            rp::redeem(&app, "shop", secret.as_deref(), &rp::code_of(&back)).await;
        assert_eq!(status, 200, "{tokens}");
        publish_example(&app).await;
        let csrf = browser.csrf("/account").await;
        let saved = browser
            .post_form(
                "/account",
                &[
                    ("csrf", &csrf),
                    ("given_name", GIVEN),
                    ("family_name", FAMILY),
                ],
            )
            .await;
        assert_eq!(rp::location(&saved), "/account?done=saved");
        let other = app.new_browser();
        let failed = other.sign_in(EMAIL, "not the password at all").await;
        assert!(!failed.status().is_redirection());
        let user = app.store.find_user_by_email(EMAIL).await.unwrap().unwrap();
        // An administrator changed something of theirs.
        app.store
            .record_audit(NewAuditEntry {
                at: now,
                actor: "cli".into(),
                action: "user.updated".into(),
                target: Some(format!("user:{}", user.id)),
                before: Some(json!({ "email": EMAIL, "profile": { "given_name": GIVEN } })),
                after: Some(json!({ "profile": { "family_name": FAMILY } })),
                ip: Some("192.0.2.7".into()),
            })
            .await
            .unwrap();

        // They move to another address: a code goes to the new one, and once it is entered
        // the old one is told (mails about them at two addresses, the account's last one and
        // an earlier one).
        let csrf = browser.csrf("/account/email").await;
        let asked = browser
            .post_form(
                "/account/email",
                &[
                    ("csrf", &csrf),
                    ("email", NEW_EMAIL),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(asked.status(), 303);
        let code = outbox_mail(NEW_EMAIL, |_| true).await.code().unwrap();
        let confirmed = browser
            .post_form(
                "/account/email/confirm",
                &[("csrf", &csrf), ("code", &code)],
            )
            .await;
        assert_eq!(confirmed.status(), 303);
        outbox_mail(EMAIL, |mail| mail.text_body().contains(NEW_EMAIL)).await;

        let id = user.id.to_string();
        let before = accrete_store::testing::every_row(&app.sql_url()).await;
        for marker in [EMAIL, NEW_EMAIL, GIVEN, FAMILY] {
            assert!(
                before.iter().any(|(_, row)| row.contains(marker)),
                "the test must see {marker} before the deletion"
            );
        }

        // The mails sent to them, at either address.
        let mails_to_them = || {
            outbox_mails()
                .iter()
                .filter(|mail| mail.to.iter().any(|to| to == EMAIL || to == NEW_EMAIL))
                .count()
        };
        assert!(mails_to_them() >= 3, "the test must see their mails");

        let csrf = browser.csrf("/account/data").await;
        let deleted = browser
            .post_form(
                "/account/data/delete",
                &[("csrf", &csrf), ("confirmation", PASSWORD)],
            )
            .await;
        assert_eq!(deleted.status(), 200);

        let after = accrete_store::testing::every_row(&app.sql_url()).await;
        let mut left = Vec::new();
        for (table, row) in &after {
            let lower = row.to_lowercase();
            if [EMAIL, NEW_EMAIL, GIVEN, FAMILY]
                .iter()
                .any(|m| lower.contains(&m.to_lowercase()))
            {
                left.push(format!("{table}: {row}"));
            } else if row.contains(&id) {
                // The id alone, where the deletion itself is recorded.
                let allowed = match table.as_str() {
                    "prompt_events" => row.contains("account.deleted"),
                    "webhook_events" => row.contains("user.deleted") || row.contains("\"erased\""),
                    "webhook_deliveries" => false,
                    "audit_log" => true,
                    _ => false,
                };
                if !allowed {
                    left.push(format!("{table}: {row}"));
                }
            }
        }
        assert!(left.is_empty(), "left behind:\n{}", left.join("\n"));
        assert_eq!(
            mails_to_them(),
            0,
            "their mails stay in the outbox, at either address"
        );
    })
    .await;
}
