//! Erasure (GDPR article 17): once a user deletes their account, no table holds their address,
//! their values or anything tied to them but their id in the record of the deletion itself
//! (`account.deleted`, `user.deleted`) and in who-did-what entries of the audit log, which keep
//! no values.

use accrete_store::{NewAuditEntry, NewWebhookEndpoint};
use serde_json::json;
use time::OffsetDateTime;

use crate::profiling::publish_example;
use crate::rp::{self, ClientSpec, PASSWORD};
use crate::support::each_backend;

/// Values no table may hold once the user is gone.
const EMAIL: &str = "zelda.erasure@example.com";
const GIVEN: &str = "Zeldaunique";
const FAMILY: &str = "Erasurefamily";

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

        let id = user.id.to_string();
        let before = accrete_store::testing::every_row(&app.sql_url()).await;
        for marker in [EMAIL, GIVEN, FAMILY] {
            assert!(
                before.iter().any(|(_, row)| row.contains(marker)),
                "the test must see {marker} before the deletion"
            );
        }

        // The mails sent to them: with no SMTP server, files of the outbox folder (the test
        // servers' `data_dir` is the default, `accrete-data` in this crate's folder).
        let outbox = std::path::Path::new("accrete-data/outbox");
        let mails_to_them = || {
            std::fs::read_dir(outbox)
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|e| e == "eml"))
                // Another test's mail may be read while it is removed: skipped.
                .filter_map(|path| std::fs::read(path).ok())
                .filter(|raw| {
                    let mail = accrete_mail::testing::ReceivedMail::from_raw(raw.clone());
                    mail.to.iter().any(|to| to == EMAIL)
                })
                .count()
        };
        assert!(mails_to_them() > 0, "the test must see a mail to them");

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
            if [EMAIL, GIVEN, FAMILY]
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
        assert_eq!(mails_to_them(), 0, "their mails stay in the outbox");
    })
    .await;
}
