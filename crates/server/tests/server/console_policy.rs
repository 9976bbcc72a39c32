//! The console's policy pages over HTTP: a field and a step made with the forms (problems
//! placed on their inputs, when sent and when checked as typed), the source view, the
//! difference and publishing once confirmed, the simulator and the impact preview, rollback,
//! a viewer refused by the server, and every change in the audit log.

use crate::console::{follow, make_admin};
use crate::rp::{location, sign_up};
use crate::support::{each_backend, hidden_input};

/// The text of the error slot of input `name` in a console form.
fn error_of(html: &str, name: &str) -> String {
    let marker = format!("id=\"f-{name}-error\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no error slot for {name}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest.find("</p>").unwrap();
    rest[start..end].to_owned()
}

/// Where a change sent the browser, or the page that said why not.
async fn redirected(response: reqwest::Response) -> String {
    if response.status().is_redirection() {
        return location(&response);
    }
    let status = response.status();
    let html = response.text().await.unwrap();
    let alerts: Vec<&str> = html
        .split("class=\"error\"")
        .skip(1)
        .chain(html.split("role=\"alert\"").skip(1))
        .map(|s| &s[..s.find("</").unwrap_or(s.len())])
        .filter(|s| s.len() > 12)
        .collect();
    panic!("{status}: {alerts:#?}");
}

#[tokio::test]
async fn an_editor_builds_a_step_publishes_it_simulates_it_and_rolls_back() {
    each_backend(|app| async move {
        let ada = sign_up(&app, "ada@example.com").await;
        let bob = sign_up(&app, "bob@example.com").await;
        make_admin(&app, "ada@example.com", "editor").await;
        make_admin(&app, "bob@example.com", "viewer").await;
        assert_eq!(follow(&ada, "/admin").await.status(), 200);
        let html = ada.get("/admin/policy").await.text().await.unwrap();
        assert!(html.contains("Nothing has been published yet"), "{html}");
        let csrf = hidden_input(&html, "csrf").unwrap();

        // A field whose inputs are wrong comes back with each message on its input.
        let refused = ada
            .post_form(
                "/admin/policy/fields",
                &[
                    ("csrf", &csrf),
                    ("key", "Company Name"),
                    ("kind", "text"),
                    ("validation.min_length", "many"),
                    ("storage", "user_metadata"),
                    ("user_access", "edit"),
                ],
            )
            .await;
        assert_eq!(refused.status(), 400);
        let html = refused.text().await.unwrap();
        assert!(
            error_of(&html, "validation.min_length").contains("whole number"),
            "{html}"
        );
        assert!(!error_of(&html, "key").is_empty(), "{html}");
        assert!(app.store.get_draft().await.unwrap().is_none());

        // Checked as typed: the same rules, as JSON by input, nothing saved.
        let checked: serde_json::Value = ada
            .post_form(
                "/admin/policy/fields/check",
                &[
                    ("csrf", &csrf),
                    ("key", "size"),
                    ("kind", "integer"),
                    ("validation.pattern", "[0-9]+"),
                ],
            )
            .await
            .json()
            .await
            .unwrap();
        assert!(
            checked["errors"]["validation.pattern"].is_string(),
            "{checked}"
        );
        assert!(app.store.get_draft().await.unwrap().is_none());

        // A required field must be asked by a step: said on the checkbox.
        let refused = ada
            .post_form(
                "/admin/policy/fields",
                &[
                    ("csrf", &csrf),
                    ("key", "company"),
                    ("kind", "text"),
                    ("required", "on"),
                    ("storage", "user_metadata"),
                ],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(
            error_of(&refused, "required").contains("not asked by any step"),
            "{refused}"
        );

        // The field, then a step for the third sign-in: both in the draft.
        let saved = ada
            .post_form(
                "/admin/policy/fields",
                &[
                    ("csrf", &csrf),
                    ("key", "company"),
                    ("kind", "text"),
                    ("labels.en", "Company"),
                    ("labels.fr", "Entreprise"),
                    ("storage", "user_metadata"),
                    ("user_access", "edit"),
                ],
            )
            .await;
        assert_eq!(redirected(saved).await, "/admin/policy?saved=company");
        let bad_step = ada
            .post_form(
                "/admin/policy/steps",
                &[
                    ("csrf", &csrf),
                    ("id", "work"),
                    ("title.en", "Work"),
                    ("fields", "company"),
                    ("mode", "optional"),
                    ("moments", "login"),
                    ("when.login_count", "exactly"),
                    ("when.login_count_n", "3"),
                    ("when.expression", "user.(("),
                ],
            )
            .await;
        assert_eq!(bad_step.status(), 400);
        let html = bad_step.text().await.unwrap();
        assert!(!error_of(&html, "when.expression").is_empty(), "{html}");
        assert!(error_of(&html, "when.login_count_n").is_empty(), "{html}");
        let step = [
            ("csrf", csrf.as_str()),
            ("id", "work"),
            ("title.en", "Work"),
            ("fields", "company"),
            ("mode", "optional"),
            ("skip.max_skips", "2"),
            ("moments", "login"),
            ("when.login_count", "exactly"),
            ("when.login_count_n", "3"),
        ];
        let saved = ada.post_form("/admin/policy/steps", &step).await;
        assert_eq!(redirected(saved).await, "/admin/policy?saved=work");
        let html = ada
            .get("/admin/policy/steps/work")
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("value=\"3\""), "{html}");
        // Its page as a user would see it, from the step form's preview (server's look).
        let preview = ada
            .get("/admin/preview/prompt?step=work&source=draft&locale=en&client=")
            .await;
        assert_eq!(preview.status(), 200);
        assert!(preview.text().await.unwrap().contains("Work"));

        // The field is asked by the step: it cannot be removed.
        let kept = ada
            .post_form("/admin/policy/fields/company/delete", &[("csrf", &csrf)])
            .await;
        assert_eq!(kept.status(), 409);

        // The source, as TOML; a broken one is refused with where it broke.
        let source = ada.get("/admin/policy/source").await.text().await.unwrap();
        assert!(source.contains("key = &quot;company&quot;"), "{source}");
        let broken = ada
            .post_form(
                "/admin/policy/source",
                &[
                    ("csrf", &csrf),
                    ("format", "toml"),
                    ("source", "version = 1\n[[fields]\n"),
                ],
            )
            .await;
        assert_eq!(broken.status(), 400);
        assert!(broken.text().await.unwrap().contains("line 2"));

        // The difference, and publishing only once confirmed.
        let diff = ada.get("/admin/policy/diff").await.text().await.unwrap();
        assert!(
            diff.contains("New field company") && diff.contains("New step work"),
            "{diff}"
        );
        let unconfirmed = ada
            .post_form(
                "/admin/policy/publish",
                &[("csrf", &csrf), ("note", "work")],
            )
            .await;
        assert_eq!(unconfirmed.status(), 400);
        let published = ada
            .post_form(
                "/admin/policy/publish",
                &[
                    ("csrf", &csrf),
                    ("note", "ask the company"),
                    ("confirm", "yes"),
                ],
            )
            .await;
        assert_eq!(redirected(published).await, "/admin/policy?published=1");
        assert!(app.store.get_draft().await.unwrap().is_none());

        // The simulator: Bob's next sign-in is his second, so nothing is asked; described
        // as on his third, the step is.
        let simulated = ada
            .post_form(
                "/admin/policy/simulate",
                &[
                    ("csrf", &csrf),
                    ("source", "published"),
                    ("email", "bob@example.com"),
                    ("moment", "login"),
                ],
            )
            .await;
        assert_eq!(simulated.status(), 200);
        let html = simulated.text().await.unwrap();
        assert!(html.contains("Nothing would be asked"), "{html}");
        assert!(
            html.contains("&quot;credentialed_logins&quot;: 2"),
            "{html}"
        );
        let facts =
            serde_json::json!({"created_at": "2026-01-01T00:00:00Z", "credentialed_logins": 3});
        let html = ada
            .post_form(
                "/admin/policy/simulate",
                &[
                    ("csrf", &csrf),
                    ("source", "published"),
                    ("facts", &facts.to_string()),
                    ("moment", "login"),
                ],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("would be asked step work"), "{html}");

        // The impact of a draft that removes the step.
        let impact = ada.get("/admin/policy/impact").await;
        assert_eq!(impact.status(), 200);
        assert!(impact.text().await.unwrap().contains("There is no draft"));
        let removed = ada
            .post_form("/admin/policy/steps/work/delete", &[("csrf", &csrf)])
            .await;
        assert_eq!(redirected(removed).await, "/admin/policy?removed=work");
        let impact = ada
            .get("/admin/policy/impact?moment=login")
            .await
            .text()
            .await
            .unwrap();
        assert!(impact.contains("Of 2 users"), "{impact}");

        // A viewer reads, and is refused by the server.
        assert_eq!(follow(&bob, "/admin").await.status(), 200);
        let html = bob.get("/admin/policy").await.text().await.unwrap();
        assert!(
            html.contains("Fields") && !html.contains("New field"),
            "{html}"
        );
        let csrf_bob = hidden_input(&html, "csrf").unwrap();
        let mut forged = step.to_vec();
        forged[0] = ("csrf", csrf_bob.as_str());
        assert_eq!(
            bob.post_form("/admin/policy/steps", &forged).await.status(),
            403
        );
        assert_eq!(
            bob.post_form(
                "/admin/policy/publish",
                &[("csrf", &csrf_bob), ("confirm", "yes")]
            )
            .await
            .status(),
            403
        );

        // Publish the removal, then put version 1 back.
        ada.post_form(
            "/admin/policy/publish",
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
        let history = ada.get("/admin/policy/history").await.text().await.unwrap();
        assert!(history.contains("ask the company"), "{history}");
        let unconfirmed = ada
            .post_form(
                "/admin/policy/rollback",
                &[("csrf", &csrf), ("version", "1")],
            )
            .await;
        assert_eq!(unconfirmed.status(), 400);
        let rolled = ada
            .post_form(
                "/admin/policy/rollback",
                &[("csrf", &csrf), ("version", "1"), ("confirm", "yes")],
            )
            .await;
        assert_eq!(redirected(rolled).await, "/admin/policy?published=3");
        let now = app.store.published_policy().await.unwrap().unwrap();
        assert_eq!(now.document["steps"][0]["id"], "work");

        // Every change is in the audit log, by Ada.
        let audit = ada.get("/admin/audit").await.text().await.unwrap();
        for action in [
            "policy.draft_saved",
            "policy.published",
            "policy.rolled_back",
        ] {
            assert!(audit.contains(action), "{action}: {audit}");
        }
    })
    .await;
}
