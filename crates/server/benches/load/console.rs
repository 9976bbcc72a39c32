//! `LOAD_ONLY=console`: the admin console at scale (docs/console.md). The server child seeds
//! `LOAD_CONSOLE_USERS` users (100,000 unless set) with a few of the example policy's values,
//! a prompt shown and answered for one in ten, and makes [`super::COMPLETE_USER`] an owner;
//! this process signs in to the console (through `/authorize`, as a browser does) and measures,
//! one request at a time, the server CPU and the wall time of the overview (completion of every
//! step, completeness of every field), a user search by address, a search for users missing a
//! field, and a user's page.

use std::time::Instant;

use super::{COMPLETE_USER, PASSWORD, boot_with, browser, cpu_ms, hidden, location, page};

/// Seeds the store of the server child (called before it serves).
pub(super) async fn seed(store: &dyn accrete_store::Store, users: usize) {
    use accrete_store::{EventKind, NewAuditEntry, NewEvent, NewUser};
    use serde_json::json;
    let now = time::OffsetDateTime::now_utc();
    let started = Instant::now();
    for i in 0..users {
        let mut user = NewUser::with_email(format!("user{i}@example.com"), now);
        user.profile = json!({ "given_name": format!("User {i}"), "family_name": "Load" });
        user.user_metadata = if i % 3 == 0 {
            json!({ "company": format!("Company {}", i % 97), "job_title": "Engineer" })
        } else {
            json!({})
        };
        let created = store.create_user(user).await.unwrap();
        if i % 10 == 0 {
            for kind in [EventKind::PromptShown, EventKind::PromptAnswered] {
                let event = NewEvent {
                    kind,
                    user_id: created.id,
                    step: Some("work".into()),
                    client_id: Some("web".into()),
                    at: now,
                    logins: Some(3),
                    data: json!({}),
                };
                store.record_prompt_event(event).await.unwrap();
            }
        }
    }
    eprintln!(
        "seeded {users} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let owner = store
        .find_user_by_email(COMPLETE_USER)
        .await
        .unwrap()
        .unwrap();
    let grant = NewAuditEntry {
        at: now,
        actor: "cli".into(),
        action: "admin.granted".into(),
        target: Some(format!("user:{}", owner.id)),
        before: None,
        after: None,
        ip: None,
    };
    store
        .set_admin_role(owner.id, Some("owner"), grant)
        .await
        .unwrap();
}

/// Follows redirects on the server (absolute or not) until a page: its status and body.
async fn follow(b: &reqwest::Client, base: &str, mut url: String) -> (u16, String) {
    for _ in 0..12 {
        let response = b.get(&url).send().await.unwrap();
        if !response.status().is_redirection() {
            let status = response.status().as_u16();
            return (status, response.text().await.unwrap());
        }
        let to = location(&response);
        url = if to.starts_with("http") {
            to
        } else {
            format!("{base}{to}")
        };
    }
    panic!("too many redirects");
}

pub(super) async fn console_phase(scale: usize) {
    let users: usize = std::env::var("LOAD_CONSOLE_USERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let users_text = users.to_string();
    let server = boot_with(&[
        ("ACCRETE_TEST_LOAD_POLICY", "1"),
        ("ACCRETE_TEST_LOAD_CONSOLE_USERS", users_text.as_str()),
    ]);
    let (base, pid) = (server.base.clone(), server.child.id());
    // Sign in on the hosted page, then to the console through /authorize.
    let b = browser();
    let login = page(&b, &format!("{base}/login")).await;
    let form = [
        ("csrf", hidden(&login, "csrf")),
        ("email", COMPLETE_USER.to_owned()),
        ("password", PASSWORD.to_owned()),
        ("action", "submit".to_owned()),
    ];
    let signed_in = b
        .post(format!("{base}/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(signed_in.status().is_redirection());
    let (status, overview) = follow(&b, &base, format!("{base}/admin")).await;
    assert_eq!(status, 200, "{overview}");
    let middle = users / 2;
    let (_, found) = follow(
        &b,
        &base,
        format!("{base}/admin/users?email=user{middle}%40example.com"),
    )
    .await;
    // The row's link.
    let marker = "href=\"/admin/users/";
    let start = found.find(marker).unwrap_or_else(|| panic!("{found}")) + marker.len();
    let user_id = found[start..start + 36].to_owned();

    let n = 20 * scale;
    let pages = [
        (
            "overview (every step, every field)",
            format!("{base}/admin"),
        ),
        (
            "user search by address",
            format!(
                "{base}/admin/users?email=user{}%40example.com",
                users * 3 / 4
            ),
        ),
        (
            "users missing a field (first page)",
            format!("{base}/admin/users?field=company&value="),
        ),
        ("a user's page", format!("{base}/admin/users/{user_id}")),
    ];
    println!(
        "console with {users} users (SQLite unless LOAD_DATABASE=postgres), one request at a time, n = {n} each:"
    );
    for (name, url) in pages {
        let before = cpu_ms(pid);
        let started = Instant::now();
        for _ in 0..n {
            let response = b.get(&url).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200, "{url}");
            let _ = response.bytes().await.unwrap();
        }
        let wall = started.elapsed().as_secs_f64() * 1000.0 / n as f64;
        let cpu = (cpu_ms(pid) - before) / n as f64;
        println!("  {name}: {cpu:.2} ms server CPU, {wall:.2} ms wall per request");
    }
}
