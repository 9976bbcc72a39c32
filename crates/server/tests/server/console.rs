//! The admin console over HTTP: its sign-in through this server's own `/authorize` (code +
//! PKCE, redeemed once), the setup link that makes the first owner and then closes, roles
//! granted and refused (an owner's form, a viewer's refusal by the server and not only by the
//! page), the last owner kept, the audit log, signing out.

use crate::rp::{location, sign_up};
use crate::support::{Browser, each_backend, hidden_input};

/// Follows redirects from `start` within the server (the console's sign-in goes through
/// `/authorize` and comes back to `/admin/callback`): the first response that is not one.
pub(crate) async fn follow(browser: &Browser, start: &str) -> reqwest::Response {
    let mut response = browser.get(start).await;
    for _ in 0..10 {
        if !response.status().is_redirection() {
            return response;
        }
        let to = location(&response);
        let path = to.strip_prefix(&browser.base).unwrap_or(&to).to_owned();
        assert!(path.starts_with('/'), "left the server: {to}");
        response = browser.get(&path).await;
    }
    panic!("too many redirects from {start}");
}

#[tokio::test]
async fn the_first_owner_comes_through_the_setup_link_and_roles_are_enforced_by_the_server() {
    each_backend(|app| async move {
        // Signed in, but no administrator: the console says so.
        let ada = sign_up(&app, "ada@example.com").await;
        let refused = follow(&ada, "/admin").await;
        assert_eq!(refused.status(), 403);
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("not an administrator")
        );

        // A wrong setup token makes no one owner; the right one makes Ada owner, once.
        let wrong = follow(&ada, "/admin/setup?token=nope").await;
        assert_eq!(wrong.status(), 403);
        let page = follow(&ada, &app.console_setup).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains("Overview") && html.contains("Owner"),
            "{html}"
        );
        let closed = ada.get(&app.console_setup).await;
        assert_eq!(closed.status(), 410);

        // The code of a console sign-in works once, and only with the browser that asked.
        let stranger = app.new_browser();
        let start = stranger.get("/admin/login").await;
        let authorize = location(&start);
        assert!(
            authorize.contains("code_challenge_method=S256"),
            "{authorize}"
        );
        assert_eq!(
            stranger
                .get("/admin/callback?code=x&state=y")
                .await
                .status(),
            400
        );

        // Ada makes Bob a viewer.
        let bob = sign_up(&app, "bob@example.com").await;
        let html = ada.get("/admin/admins").await.text().await.unwrap();
        assert!(html.contains("Give the role"), "{html}");
        let csrf = hidden_input(&html, "csrf").unwrap();
        let granted = ada
            .post_form(
                "/admin/admins",
                &[
                    ("csrf", &csrf),
                    ("action", "grant"),
                    ("email", "bob@example.com"),
                    ("role", "viewer"),
                ],
            )
            .await;
        assert_eq!(granted.status(), 200);
        assert!(
            granted
                .text()
                .await
                .unwrap()
                .contains("bob@example.com is now Viewer")
        );
        let unknown = ada
            .post_form(
                "/admin/admins",
                &[
                    ("csrf", &csrf),
                    ("action", "grant"),
                    ("email", "nobody@example.com"),
                    ("role", "editor"),
                ],
            )
            .await;
        assert_eq!(unknown.status(), 400);

        // Bob reads, and cannot change: no form, and a forged post is refused.
        let page = follow(&bob, "/admin").await;
        assert_eq!(page.status(), 200);
        let html = bob.get("/admin/admins").await.text().await.unwrap();
        assert!(!html.contains("Give the role"), "{html}");
        let csrf_bob = hidden_input(&html, "csrf").unwrap();
        let forged = bob
            .post_form(
                "/admin/admins",
                &[
                    ("csrf", &csrf_bob),
                    ("action", "grant"),
                    ("email", "bob@example.com"),
                    ("role", "owner"),
                ],
            )
            .await;
        assert_eq!(forged.status(), 403);
        assert_eq!(
            app.store
                .admin_role(
                    app.store
                        .find_user_by_email("bob@example.com")
                        .await
                        .unwrap()
                        .unwrap()
                        .id
                )
                .await
                .unwrap()
                .as_deref(),
            Some("viewer")
        );

        // The last owner keeps her role.
        let last = ada
            .post_form(
                "/admin/admins",
                &[
                    ("csrf", &csrf),
                    ("action", "revoke"),
                    ("email", "ada@example.com"),
                ],
            )
            .await;
        assert_eq!(last.status(), 409);

        // The audit log has both grants, with who and from where.
        let html = ada.get("/admin/audit").await.text().await.unwrap();
        assert_eq!(html.matches("admin.granted").count(), 2, "{html}");
        assert!(
            html.contains("setup") && html.contains("127.0.0.1"),
            "{html}"
        );

        // Signing out of the console ends its session (not the hosted pages' one).
        let csrf = hidden_input(&ada.get("/admin").await.text().await.unwrap(), "csrf").unwrap();
        let out = ada.post_form("/admin/logout", &[("csrf", &csrf)]).await;
        assert!(out.status().is_redirection());
        assert_eq!(
            location(&ada.get("/admin").await),
            "/admin/login?next=%2Fadmin"
        );
        assert_eq!(ada.get("/account").await.status(), 200);
    })
    .await;
}

/// Makes the account with `email` an administrator with `role`, as `accrete admin create` does.
pub(crate) async fn make_admin(app: &crate::support::TestApp, email: &str, role: &str) {
    let user = app.store.find_user_by_email(email).await.unwrap().unwrap();
    let entry = accrete_store::NewAuditEntry {
        at: time::OffsetDateTime::now_utc(),
        actor: "cli".into(),
        action: "admin.granted".into(),
        target: Some(format!("user:{}", user.id)),
        before: None,
        after: None,
        ip: None,
    };
    app.store
        .set_admin_role(user.id, Some(role), entry)
        .await
        .unwrap();
}

#[tokio::test]
async fn support_finds_a_user_reads_their_values_and_deletes_the_account_after_typing_it() {
    each_backend(|app| async move {
        let sam = sign_up(&app, "sam@example.com").await;
        let sue = sign_up(&app, "sue@example.com").await;
        let val = sign_up(&app, "val@example.com").await;
        make_admin(&app, "sue@example.com", "support").await;
        make_admin(&app, "val@example.com", "viewer").await;
        let _ = sam;
        // Sam's company, given through the API as an administrator would.
        let (_tokens, api) = crate::api_client::admin(&app).await;
        let id = app
            .store
            .find_user_by_email("sam@example.com")
            .await
            .unwrap()
            .unwrap()
            .id;
        let patched = api
            .patch(
                &format!("/users/{id}"),
                &serde_json::json!({"user_metadata": {"company": "Initech"}}),
            )
            .await;
        assert_eq!(patched.status(), 200);

        // Found by address, and among those without a nickname.
        assert_eq!(follow(&sue, "/admin").await.status(), 200);
        let found = sue
            .get("/admin/users?email=SAM%40example.com")
            .await
            .text()
            .await
            .unwrap();
        assert!(found.contains(&format!("/admin/users/{id}")), "{found}");
        let missing = sue
            .get("/admin/users?field=user_metadata.nickname&value=")
            .await
            .text()
            .await
            .unwrap();
        for email in ["sam@example.com", "sue@example.com", "val@example.com"] {
            assert!(
                missing.contains(email),
                "{email} has no nickname: {missing}"
            );
        }
        let by_value = sue
            .get("/admin/users?field=user_metadata.company&value=Initech")
            .await
            .text()
            .await
            .unwrap();
        assert!(by_value.contains("sam@example.com") && !by_value.contains("val@example.com"));
        let refused = sue.get("/admin/users?value=x&field=nope").await;
        assert_eq!(refused.status(), 400);

        // Sam's page: the value with its source, in the history too.
        let page = sue
            .get(&format!("/admin/users/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("user_metadata.company") && page.contains("Initech"));
        assert!(page.contains("api:backend"), "{page}");
        assert_eq!(sue.get("/admin/users/not-an-id").await.status(), 404);

        // A viewer reads the page but cannot delete.
        assert_eq!(follow(&val, "/admin").await.status(), 200);
        let html = val
            .get(&format!("/admin/users/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(!html.contains("Delete the account"));
        let csrf_val = hidden_input(&html, "csrf").unwrap();
        let forged = val
            .post_form(
                &format!("/admin/users/{id}/delete"),
                &[("csrf", &csrf_val), ("confirm", "sam@example.com")],
            )
            .await;
        assert_eq!(forged.status(), 403);

        // Support deletes it once the address is typed right.
        let csrf = hidden_input(&page, "csrf").unwrap();
        let wrong = sue
            .post_form(
                &format!("/admin/users/{id}/delete"),
                &[("csrf", &csrf), ("confirm", "sam@example.org")],
            )
            .await;
        assert_eq!(wrong.status(), 400);
        let deleted = sue
            .post_form(
                &format!("/admin/users/{id}/delete"),
                &[("csrf", &csrf), ("confirm", "Sam@Example.com")],
            )
            .await;
        assert_eq!(location(&deleted), "/admin/users?deleted=1");
        assert!(
            app.store
                .find_user_by_email("sam@example.com")
                .await
                .unwrap()
                .is_none()
        );
        let audit = sue.get("/admin/audit").await.text().await.unwrap();
        assert!(audit.contains("user.deleted"), "{audit}");
        assert!(
            audit.contains("sue@example.com"),
            "who deleted, by name: {audit}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_overview_shows_sign_ins_and_sign_ups_per_day_for_the_chosen_period() {
    use accrete_store::{NewUser, SignInKind};
    use time::macros::datetime;
    each_backend(|app| async move {
        let ada = sign_up(&app, "ada@example.com").await;
        make_admin(&app, "ada@example.com", "viewer").await;
        // Two sign-ups on 10 March 2026, sign-ins that day and the next, none the day after.
        let day = datetime!(2026-03-10 09:00 UTC);
        let mut ids = Vec::new();
        for email in ["old1@example.com", "old2@example.com"] {
            let user = app
                .store
                .create_user(NewUser::with_email(email, day))
                .await
                .unwrap();
            ids.push(user.id);
        }
        for (kind, at) in [
            (SignInKind::Credentialed, day),
            (SignInKind::Credentialed, day + time::Duration::hours(14)),
            (SignInKind::Sso, day),
            (SignInKind::Sso, day + time::Duration::days(1)),
        ] {
            app.store.record_sign_in(ids[0], kind, at).await.unwrap();
        }
        assert_eq!(follow(&ada, "/admin").await.status(), 200);

        let page = ada
            .get("/admin?period=dates&from=2026-03-09&to=2026-03-12")
            .await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let row = |day: &str, credentialed: i64, sso: i64, sign_ups: i64| {
            format!(
                "<tr><th scope=\"row\">{day}</th><td>{credentialed}</td><td>{sso}</td><td>{sign_ups}</td></tr>"
            )
        };
        for expected in [
            row("9 March 2026", 0, 0, 0),
            row("10 March 2026", 2, 1, 2),
            row("11 March 2026", 0, 1, 0),
            row("12 March 2026", 0, 0, 0),
        ] {
            assert!(html.contains(&expected), "{expected} in {html}");
        }
        assert!(!html.contains("8 March 2026") && !html.contains("13 March 2026"));
        // The chart draws the same figures, and the form shows the period.
        assert!(html.contains("10 March 2026: Sign-ins with credentials 2"), "{html}");
        assert!(html.contains("value=\"2026-03-09\"") && html.contains("value=\"2026-03-12\""));

        // The last 7 days: today's sign-up, not March's.
        let week = ada.get("/admin?period=7").await.text().await.unwrap();
        assert!(!week.contains("10 March 2026"));
        let today = english_date(time::OffsetDateTime::now_utc().date());
        assert!(week.contains(&today), "{today} in {week}");

        // A date that is not one, or a period backwards: the form again, the error on its input.
        let refused = ada.get("/admin?period=dates&from=2026-02-30&to=2026-03-12").await;
        assert_eq!(refused.status(), 400);
        let html = refused.text().await.unwrap();
        assert!(html.contains("id=\"f-from-error\""), "{html}");
        assert!(html.contains("Enter a date as year-month-day"), "{html}");
        assert!(html.contains("value=\"2026-02-30\""));
        let backwards = ada.get("/admin?from=2026-03-12&to=2026-03-01").await;
        assert_eq!(backwards.status(), 400);
        let html = backwards.text().await.unwrap();
        assert!(html.contains("id=\"f-to-error\"") && !html.contains("id=\"f-from-error\""));
        assert!(html.contains("The last day is before the first day."));
        assert_eq!(ada.get("/admin?period=1000").await.status(), 400);
    })
    .await;
}

/// A day as the console writes it in English ("4 December 2026").
fn english_date(day: time::Date) -> String {
    format!("{} {} {}", day.day(), day.month(), day.year())
}
