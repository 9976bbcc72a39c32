//! The console's webhooks over HTTP: an editor adds an endpoint pointing at a real receiver
//! (its secret shown once, with the verification snippet) and the next sign-up reaches it
//! signed with that secret; the endpoint's page shows each delivery's attempts, replays one or a
//! time range (a bad range is said on its input), changes the endpoint; rotating its secret and
//! deleting it want a recent sign-in; a viewer is refused by the server; every change is in the
//! audit log without a secret.

use crate::console::{follow, make_admin};
use crate::console_clients::{element, sign_in_again};
use crate::rp::{location, sign_up};
use crate::support::{each_backend_with, hidden_input};
use crate::webhooks::{Receiver, loopback, signed_with};

fn page(html: String) -> String {
    html.replace("&#x2f;", "/")
}

#[tokio::test]
async fn an_editor_adds_an_endpoint_sees_its_deliveries_replays_them_and_a_viewer_cannot() {
    each_backend_with(&loopback(), |app| async move {
        let ada = sign_up(&app, "ada@example.com").await;
        let val = sign_up(&app, "val@example.com").await;
        make_admin(&app, "ada@example.com", "editor").await;
        make_admin(&app, "val@example.com", "viewer").await;
        assert_eq!(follow(&ada, "/admin").await.status(), 200);
        assert_eq!(follow(&val, "/admin").await.status(), 200);
        let mut receiver = Receiver::start(&[500]).await;

        let list = page(ada.get("/admin/webhooks").await.text().await.unwrap());
        assert!(
            list.contains("href=\"/admin/webhooks\""),
            "linked from the navigation"
        );
        assert!(list.contains("No endpoint yet."), "{list}");
        let csrf = hidden_input(&list, "csrf").unwrap();
        let refused = ada
            .post_form(
                "/admin/webhooks",
                &[
                    ("csrf", &csrf),
                    ("url", "ftp://nowhere"),
                    ("event.user.created", "on"),
                ],
            )
            .await;
        assert_eq!(refused.status(), 400);
        let html = page(refused.text().await.unwrap());
        assert!(element(&html, "f-url-error").is_some(), "{html}");
        assert!(
            html.contains("value=\"ftp://nowhere\""),
            "the form keeps what was typed"
        );

        let created = ada
            .post_form(
                "/admin/webhooks",
                &[
                    ("csrf", &csrf),
                    ("url", &receiver.url),
                    ("event.user.created", "on"),
                    ("description", "CRM"),
                ],
            )
            .await;
        assert_eq!(created.status(), 200);
        assert_eq!(created.headers()["cache-control"], "no-store");
        let html = page(created.text().await.unwrap());
        let secret = element(&html, "webhook-secret").expect("the secret, once");
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert!(
            html.contains("standardwebhooks"),
            "the verification snippet"
        );
        let endpoint = app.store.list_webhook_endpoints().await.unwrap().remove(0);
        assert_eq!(endpoint.events, ["user.created"]);
        let path = format!("/admin/webhooks/{}", endpoint.id);

        // A sign-up reaches the receiver (answered 500 first, then 200), signed.
        sign_up(&app, "bob@example.com").await;
        let first = receiver.next().await;
        assert!(signed_with(&first, &secret));
        let second = receiver.next().await;
        assert_eq!(second.id, first.id);
        let shown = {
            let mut html = String::new();
            for _ in 0..500 {
                html = page(ada.get(&path).await.text().await.unwrap());
                if html.contains("Delivered") {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            html
        };
        assert!(!shown.contains(&secret), "shown once");
        assert!(
            shown.contains("HTTP 500") && shown.contains("HTTP 200"),
            "{shown}"
        );
        assert!(shown.contains("answered 500"), "each attempt's error");
        assert!(shown.contains(&first.id));
        let list = page(ada.get("/admin/webhooks").await.text().await.unwrap());
        assert!(
            list.contains("Delivered") && list.contains("user.created"),
            "{list}"
        );

        // Replayed: one delivery, then a time range; a bad range is said on its input.
        let csrf = hidden_input(&shown, "csrf").unwrap();
        let delivery = app
            .store
            .list_webhook_deliveries(endpoint.id, 1)
            .await
            .unwrap()[0]
            .id;
        let replayed = ada
            .post_form(
                &format!("{path}/deliveries/{delivery}/replay"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(replayed.status(), 200);
        assert!(page(replayed.text().await.unwrap()).contains("sent again in a moment"));
        assert_eq!(receiver.next().await.id, first.id);
        let bad = ada
            .post_form(
                &format!("{path}/replay"),
                &[
                    ("csrf", &csrf),
                    ("from", "yesterday"),
                    ("to", "2026-01-01T00:00"),
                ],
            )
            .await;
        assert_eq!(bad.status(), 400);
        let html = page(bad.text().await.unwrap());
        let said = element(&html, "f-from-error").expect("the error on its input");
        assert!(said.contains("RFC 3339"), "{said}");
        let day = |d: time::OffsetDateTime| {
            d.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]"
            ))
            .unwrap()
        };
        let now = time::OffsetDateTime::now_utc();
        let range = ada
            .post_form(
                &format!("{path}/replay"),
                &[
                    ("csrf", &csrf),
                    ("from", &day(now - time::Duration::hours(1))),
                    ("to", &day(now + time::Duration::hours(1))),
                ],
            )
            .await;
        assert_eq!(range.status(), 200);
        assert!(
            page(range.text().await.unwrap()).contains("Deliveries to send again in a moment: 1."),
            "the count"
        );
        assert_eq!(receiver.next().await.id, first.id);

        // Changed: disabled, every event.
        let saved = ada
            .post_form(
                &path,
                &[("csrf", &csrf), ("url", &receiver.url), ("description", "")],
            )
            .await;
        assert_eq!(saved.status(), 200);
        assert!(page(saved.text().await.unwrap()).contains("Saved."));
        let stored = app
            .store
            .get_webhook_endpoint(endpoint.id)
            .await
            .unwrap()
            .unwrap();
        assert!(!stored.enabled && stored.events.is_empty() && stored.description.is_none());

        // A viewer reads, and cannot change: forged posts are refused.
        let html = page(val.get(&path).await.text().await.unwrap());
        assert!(
            !html.contains("Rotate the secret") && !html.contains(">Save<"),
            "{html}"
        );
        let csrf_val = hidden_input(&html, "csrf").unwrap();
        for target in [
            "/admin/webhooks".to_owned(),
            path.clone(),
            format!("{path}/replay"),
            format!("{path}/deliveries/{delivery}/replay"),
            format!("{path}/secret"),
            format!("{path}/delete"),
        ] {
            let forged = val
                .post_form(
                    &target,
                    &[("csrf", &csrf_val), ("url", "https://x.example")],
                )
                .await;
            assert_eq!(forged.status(), 403, "{target}");
        }

        // Rotating wants a recent sign-in.
        let sessions = "UPDATE console_sessions SET auth_time = auth_time - 3600000";
        accrete_store::testing::execute_sql(&app.sql_url(), sessions).await;
        let stale = ada
            .post_form(&format!("{path}/secret"), &[("csrf", &csrf)])
            .await;
        let to = location(&stale);
        assert!(
            to.starts_with("/admin/login?next=") && to.ends_with("&fresh=1"),
            "{to}"
        );
        let back = sign_in_again(&ada, &to, "ada@example.com").await;
        assert_eq!(back.status(), 200);
        let html = page(back.text().await.unwrap());
        assert!(html.contains("Rotate the signing secret"), "{html}");
        let csrf = hidden_input(&html, "csrf").unwrap();
        let rotated = ada
            .post_form(&format!("{path}/secret"), &[("csrf", &csrf)])
            .await;
        assert_eq!(rotated.status(), 200);
        let new = element(&page(rotated.text().await.unwrap()), "webhook-secret").unwrap();
        assert_ne!(new, secret);

        let deleted = ada
            .post_form(&format!("{path}/delete"), &[("csrf", &csrf)])
            .await;
        assert!(location(&deleted).starts_with("/admin/webhooks?deleted="));
        assert!(
            app.store
                .get_webhook_endpoint(endpoint.id)
                .await
                .unwrap()
                .is_none()
        );

        let log = app.store.list_audit(None, 50).await.unwrap();
        let target = format!("webhook:{}", endpoint.id);
        let actions: Vec<&str> = log
            .iter()
            .filter(|e| e.entry.target.as_deref() == Some(target.as_str()))
            .map(|e| e.entry.action.as_str())
            .collect();
        assert_eq!(
            actions,
            [
                "webhook.deleted",
                "webhook.secret_rotated",
                "webhook.updated",
                "webhook.deliveries_replayed",
                "webhook.delivery_replayed",
                "webhook.created"
            ]
        );
        assert!(
            log.iter()
                .filter(|e| e.entry.target.as_deref() == Some(target.as_str()))
                .all(|e| e.entry.actor.starts_with("user:")),
            "made by the administrator"
        );
        let whole = format!("{log:?}");
        assert!(!whole.contains("whsec_"), "{whole}");
    })
    .await;
}
