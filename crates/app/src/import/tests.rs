//! The import as its users run it: a file read, checked with the policy and stored; passwords
//! of the source verified at the first sign-in and replaced; a second run changing nothing; an
//! export read back into another database giving the same export.

use accrete_core::Policy;
use time::OffsetDateTime;

use super::*;
use crate::accounts::{self, SignIn};
use crate::export;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import");

async fn app() -> (App, tempfile::TempDir) {
    let (store, dir) = accrete_store::testing::sqlite_store().await;
    (App::for_tests(store, "http://issuer"), dir)
}

async fn publish_example(app: &App) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/policy.toml"
    ))
    .unwrap();
    let policy = Policy::from_toml_str(&text).unwrap();
    let document = serde_json::to_value(&policy).unwrap();
    app.store()
        .publish_policy(&document, None, OffsetDateTime::now_utc())
        .await
        .unwrap();
    app.policy_changed();
}

#[derive(Default)]
struct Collected {
    problems: Vec<ImportProblem>,
    batches: usize,
}

impl Observer for Collected {
    fn problem(&mut self, problem: &ImportProblem) {
        self.problems.push(problem.clone());
    }
    fn progress(&mut self, _: &Summary) {
        self.batches += 1;
    }
}

async fn import_file(app: &App, file: &str, format: Format) -> (Summary, Collected) {
    let input = std::fs::File::open(format!("{FIXTURES}/{file}")).unwrap();
    import_from(app, input, format).await
}

/// Imports `csv`, a batch at a time.
async fn import_csv(app: &App, csv: &str) -> (Summary, Collected) {
    import_from(app, std::io::Cursor::new(csv.to_owned()), Format::Csv).await
}

/// Imports `input` read as `format`, a batch at a time: what it did and what it said.
async fn import_from(
    app: &App,
    input: impl std::io::Read + Send + 'static,
    format: Format,
) -> (Summary, Collected) {
    let mut seen = Collected::default();
    let summary = run(
        app,
        input,
        format,
        None,
        (ImportScope::Batches, false),
        &mut seen,
    )
    .await
    .unwrap();
    (summary, seen)
}

async fn sign_in(app: &App, email: &str, password: &str) -> bool {
    let attempt = SignIn {
        email,
        password: password.into(),
        source: "192.0.2.1".into(),
        throttle: None,
        now: OffsetDateTime::now_utc(),
    };
    accounts::sign_in(app, attempt).await.is_ok()
}

/// The user stored with `email`.
async fn stored(app: &App, email: &str) -> accrete_store::User {
    app.store()
        .find_user_by_email(email)
        .await
        .unwrap()
        .unwrap()
}

async fn hash_of(app: &App, email: &str) -> String {
    stored(app, email).await.password_hash.unwrap()
}

#[tokio::test]
async fn auth0_users_are_imported_once_and_sign_in_with_their_passwords() {
    let (app, _dir) = app().await;
    let (summary, seen) = import_file(&app, "auth0-export.ndjson", Format::Auth0).await;
    assert_eq!(
        summary.created + summary.refused,
        summary.read,
        "{summary:?} {:?}",
        seen.problems
    );
    assert!(
        summary.refused >= 2,
        "a malformed line and one without email: {summary:?}"
    );
    assert!(seen.problems.iter().any(|p| p.path == "email"));
    assert!(
        seen.problems
            .iter()
            .any(|p| p.message.contains("md5") && p.message.contains("reset")),
        "{:?}",
        seen.problems
    );

    let ada = stored(&app, "ada@example.com").await;
    assert!(ada.email_verified);
    assert_eq!(ada.profile["given_name"], "Ada");
    assert_eq!(ada.app_metadata["plan"], "pro");
    let sources = app.store().value_provenance(ada.id).await.unwrap();
    assert!(
        sources.iter().all(|s| s.source == "import:auth0"),
        "{sources:?}"
    );
    let mallory = stored(&app, "mallory@example.com").await;
    assert!(mallory.disabled_at.is_some(), "blocked in Auth0");
    assert_eq!(mallory.profile["phone_number_verified"], true);

    // bcrypt, verified once with its own algorithm, then Accrete's own hash.
    assert!(hash_of(&app, "ada@example.com").await.starts_with("$2b$"));
    assert!(!sign_in(&app, "ada@example.com", "not the password").await);
    assert!(sign_in(&app, "ada@example.com", "Passw0rd-bcrypt").await);
    let rehashed = hash_of(&app, "ada@example.com").await;
    assert!(
        rehashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{rehashed}"
    );
    assert!(sign_in(&app, "ada@example.com", "Passw0rd-bcrypt").await);
    // Argon2 from Auth0's custom_password_hash.
    assert!(sign_in(&app, "grace@example.com", "Passw0rd-auth0").await);

    // The same file again: nothing changes, the new password hash stays, and no hash of the
    // file is said to be stored.
    assert!(summary.with_password >= 2, "{summary:?}");
    let (again, _) = import_file(&app, "auth0-export.ndjson", Format::Auth0).await;
    assert_eq!((again.created, again.updated), (0, 0), "{again:?}");
    assert_eq!(again.with_password, 0, "{again:?}");
    assert_eq!(again.unchanged, summary.created);
    assert_eq!(hash_of(&app, "ada@example.com").await, rehashed);
}

#[tokio::test]
async fn keycloak_passwords_of_every_generation_sign_in() {
    let (app, _dir) = app().await;
    let (summary, seen) = import_file(&app, "keycloak-realm.json", Format::Keycloak).await;
    assert!(summary.created >= 4, "{summary:?} {:?}", seen.problems);
    // pbkdf2 (SHA-1) of an old version, and argon2 of version 25.
    assert!(sign_in(&app, "olive@example.com", "Passw0rd-old").await);
    assert!(
        hash_of(&app, "olive@example.com")
            .await
            .starts_with("$argon2id$v=19$m=19456")
    );
}

#[tokio::test]
async fn a_keycloak_service_account_is_noted_not_counted_as_a_user_not_imported() {
    let (app, _dir) = app().await;
    let realm = r#"{"realm": "acme", "users": [
        {"id": "1", "username": "ada", "email": "ada@example.com", "enabled": true},
        {"id": "2", "username": "service-account-backend", "enabled": true,
         "serviceAccountClientId": "backend"}
    ]}"#;
    let (summary, seen) = import_from(
        &app,
        std::io::Cursor::new(realm.to_owned()),
        Format::Keycloak,
    )
    .await;
    assert_eq!((summary.read, summary.created, summary.refused), (1, 1, 0));
    assert_eq!(seen.problems.len(), 1, "{:?}", seen.problems);
    assert_eq!(seen.problems[0].path, NOTE);
    assert!(
        seen.problems[0].message.contains("`backend`"),
        "{:?}",
        seen.problems
    );
    assert!(!seen.problems[0].message.contains("not imported"));
}

#[tokio::test]
async fn a_value_refused_by_its_field_is_reported_and_the_rest_imported() {
    let (app, _dir) = app().await;
    publish_example(&app).await;
    let csv = "email,given_name,birthdate,country,user_metadata.team\n\
               ada@example.com,Ada,not a date,FR,core\n\
               bob@example.com,Bob,1990-02-03,XX,\n";
    let (summary, seen) = import_csv(&app, csv).await;
    assert_eq!(summary.created, 2, "{:?}", seen.problems);
    assert_eq!(summary.values_refused, 2, "{:?}", seen.problems);
    let lines: Vec<(u64, &str)> = seen
        .problems
        .iter()
        .map(|p| (p.line, p.path.as_str()))
        .collect();
    assert!(lines.contains(&(2, "profile.birthdate")), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|(line, path)| *line == 3 && path.ends_with("country")),
        "{lines:?}"
    );
    let ada = stored(&app, "ada@example.com").await;
    assert!(
        ada.profile.get("birthdate").is_none(),
        "a refused value is not stored"
    );
    assert_eq!(ada.profile["given_name"], "Ada");
    assert_eq!(ada.user_metadata["team"], "core");
    let bob = stored(&app, "bob@example.com").await;
    assert_eq!(bob.profile["birthdate"], "1990-02-03");
}

#[tokio::test]
async fn a_value_over_its_limit_is_left_out_alone_and_several_choices_are_read_from_a_cell() {
    let (app, _dir) = app().await;
    publish_example(&app).await;
    // A 20,000-character bio: over its field's 500 and, with it, over the bag's 16 KiB; the
    // bag without it is well under.
    let csv = format!(
        "email,bio,user_metadata.keep,interests\n\
         ada@example.com,{},1,\"security, devops\"\n\
         bob@example.com,,,design\n",
        "b".repeat(20_000)
    );
    let (summary, seen) = import_csv(&app, &csv).await;
    assert_eq!(summary.created, 2, "{:?}", seen.problems);
    let paths: Vec<&str> = seen.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["user_metadata.bio"], "{:?}", seen.problems);
    let ada = stored(&app, "ada@example.com").await;
    assert_eq!(ada.user_metadata["keep"], "1");
    assert_eq!(
        ada.user_metadata["interests"],
        serde_json::json!(["security", "devops"])
    );
    assert!(ada.user_metadata.get("bio").is_none());
    let bob = stored(&app, "bob@example.com").await;
    assert_eq!(
        bob.user_metadata["interests"],
        serde_json::json!(["design"])
    );
}

#[tokio::test]
async fn every_user_of_the_file_is_counted_once_whether_imported_or_not() {
    let (app, _dir) = app().await;
    // One imported, one refused once read (its address), one refused as it is read (its
    // `disabled`, which a user is not imported without).
    let csv = "email,given_name,disabled\n\
               ada@example.com,Ada,\n\
               not-an-address,Bob,\n\
               cy@example.com,Cy,perhaps\n";
    let (summary, seen) = import_csv(&app, csv).await;
    assert_eq!(
        (summary.read, summary.created, summary.refused),
        (3, 1, 2),
        "{summary:?} {:?}",
        seen.problems
    );
    assert_eq!(
        summary.read,
        summary.created + summary.updated + summary.unchanged + summary.refused
    );
}

#[tokio::test]
async fn a_second_line_of_the_same_user_is_refused_not_merged_into_the_first() {
    let (app, _dir) = app().await;
    // The same address in another case, then the same id in the source with another address.
    let csv = "external_id,email,profile.given_name,profile.family_name\n\
               1,ada@example.com,Ada,Lovelace\n\
               2,ADA@example.com,Mallory,\n\
               1,grace@example.com,Grace,Hopper\n\
               3,cy@example.com,Cy,\n";
    let (summary, seen) = import_csv(&app, csv).await;
    assert_eq!(
        (summary.read, summary.created, summary.refused),
        (4, 2, 2),
        "{summary:?} {:?}",
        seen.problems
    );
    let refused: Vec<(u64, &str)> = seen
        .problems
        .iter()
        .map(|p| (p.line, p.path.as_str()))
        .collect();
    assert_eq!(refused, [(3, "email"), (4, "external_id")]);
    assert!(
        seen.problems[0].message.starts_with(
            "the user is not imported: an earlier user of the file has the same email"
        ),
        "{:?}",
        seen.problems
    );
    // The first line's values are the user's; nobody is Grace.
    let ada = stored(&app, "ada@example.com").await;
    assert_eq!(ada.profile["given_name"], "Ada");
    assert_eq!(ada.profile["family_name"], "Lovelace");
    assert!(
        app.store()
            .find_user_by_email("grace@example.com")
            .await
            .unwrap()
            .is_none()
    );
    // Run again: the first lines are found unchanged, the second ones refused again.
    let (again, _) = import_csv(&app, csv).await;
    assert_eq!((again.unchanged, again.refused), (2, 2), "{again:?}");
}

#[tokio::test]
async fn two_columns_for_one_value_keep_the_one_that_names_its_place_and_say_so() {
    let (app, _dir) = app().await;
    publish_example(&app).await;
    let csv = "email,given_name,profile.given_name\n\
               ada@example.com,Ada,Ada\n\
               bob@example.com,Bob,Robert\n";
    let (summary, seen) = import_csv(&app, csv).await;
    assert_eq!(
        (summary.created, summary.values_refused),
        (2, 1),
        "{:?}",
        seen.problems
    );
    assert_eq!(seen.problems.len(), 1, "{:?}", seen.problems);
    assert_eq!(
        (seen.problems[0].line, seen.problems[0].path.as_str()),
        (3, "given_name")
    );
    let bob = stored(&app, "bob@example.com").await;
    assert_eq!(bob.profile["given_name"], "Robert");
}

#[tokio::test]
async fn a_prompt_state_that_names_a_step_twice_is_left_out_and_the_import_goes_on() {
    let (app, _dir) = app().await;
    let jsonl = "{\"email\":\"dp0@example.com\"}\n\
                 {\"email\":\"dp1@example.com\",\"prompts\":[{\"step\":\"work\",\"shown\":1},\
                 {\"step\":\"work\",\"shown\":2}]}\n\
                 {\"email\":\"dp2@example.com\",\"prompts\":[{\"step\":\"work\",\"skipped\":-1}]}\n";
    let (summary, seen) =
        import_from(&app, std::io::Cursor::new(jsonl.to_owned()), Format::Jsonl).await;
    assert_eq!(summary.created, 3, "{summary:?} {:?}", seen.problems);
    let paths: Vec<(u64, &str)> = seen
        .problems
        .iter()
        .map(|p| (p.line, p.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        [(2, "prompts"), (3, "prompts")],
        "{:?}",
        seen.problems
    );
    assert!(
        seen.problems[0].message.contains("twice"),
        "{:?}",
        seen.problems
    );
}

#[tokio::test]
async fn a_dry_run_counts_and_stores_nothing() {
    for scope in [ImportScope::Batches, ImportScope::Whole] {
        let (app, _dir) = app().await;
        let input = std::fs::File::open(format!("{FIXTURES}/auth0-export.ndjson")).unwrap();
        let mut seen = Collected::default();
        let summary = run(&app, input, Format::Auth0, None, (scope, true), &mut seen)
            .await
            .unwrap();
        assert!(summary.created > 0, "{scope:?}");
        assert_eq!(app.store().count_users().await.unwrap(), 0, "{scope:?}");
    }
}

/// A file whose reading fails (a disk, a network share) after `lines` users.
struct FailsAfter(std::io::Cursor<Vec<u8>>);

impl FailsAfter {
    fn new(lines: usize) -> Self {
        let text: String = (0..lines)
            .map(|i| format!("{{\"email\":\"user{i}@example.com\",\"profile\":{{\"given_name\":\"U{i}\"}}}}\n"))
            .collect();
        Self(std::io::Cursor::new(text.into_bytes()))
    }
}

impl std::io::Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(std::io::Error::other("the disk went away")),
            n => Ok(n),
        }
    }
}

#[tokio::test]
async fn a_file_that_fails_halfway_keeps_its_batches_or_with_one_transaction_nothing() {
    let lines = 2 * BATCH + 100;
    // A batch at a time: what was read before the failure is stored, and the failure told.
    let (batches, _dir) = app().await;
    let mut seen = Collected::default();
    let input = FailsAfter::new(lines);
    let scope = (ImportScope::Batches, false);
    let result = run(&batches, input, Format::Jsonl, None, scope, &mut seen).await;
    assert!(matches!(result, Err(ImportError::Read(_))), "{result:?}");
    assert_eq!(batches.store().count_users().await.unwrap(), lines as i64);

    // One transaction: all or nothing.
    let (whole, _dir) = app().await;
    let mut seen = Collected::default();
    let input = FailsAfter::new(lines);
    let scope = (ImportScope::Whole, false);
    let result = run(&whole, input, Format::Jsonl, None, scope, &mut seen).await;
    assert!(matches!(result, Err(ImportError::Read(_))), "{result:?}");
    assert_eq!(whole.store().count_users().await.unwrap(), 0);
    // The same file read to its end is stored whole, in one transaction.
    let mut seen = Collected::default();
    let input = std::io::Cursor::new(FailsAfter::new(lines).0.into_inner());
    let summary = run(&whole, input, Format::Jsonl, None, scope, &mut seen)
        .await
        .unwrap();
    assert_eq!(summary.created, lines as u64);
    assert_eq!(seen.batches, 3);
    assert_eq!(whole.store().count_users().await.unwrap(), lines as i64);
}

async fn export_all(app: &App) -> String {
    let mut out = Vec::new();
    let options = export::Options {
        with_history: true,
        with_password_hashes: true,
    };
    export::users(app, options, &mut out, &mut |_| {})
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn an_export_read_back_into_another_database_exports_the_same() {
    let (first, _dir) = app().await;
    import_file(&first, "auth0-export.ndjson", Format::Auth0).await;
    import_file(&first, "keycloak-realm.json", Format::Keycloak).await;
    // What a user's life adds: sign-ins, a skipped step, a value given later, a disabling.
    assert!(sign_in(&first, "ada@example.com", "Passw0rd-bcrypt").await);
    let ada = stored(&first, "ada@example.com").await;
    let later = OffsetDateTime::now_utc() + time::Duration::minutes(5);
    for kind in [
        accrete_store::EventKind::PromptShown,
        accrete_store::EventKind::PromptSkipped,
    ] {
        let event = accrete_store::NewEvent {
            kind,
            user_id: ada.id,
            step: Some("work".into()),
            client_id: Some("shop".into()),
            at: later,
            logins: Some(1),
            data: serde_json::json!({}),
        };
        first.store().record_prompt_event(event).await.unwrap();
    }
    let change = accrete_store::UserUpdate {
        changes: vec![accrete_store::ProfileChange::set(
            Location::UserMetadata,
            "team",
            serde_json::json!("analytical engines"),
        )],
        ..Default::default()
    };
    first
        .store()
        .update_user(ada.id, None, &change, "account", later)
        .await
        .unwrap();
    first
        .store()
        .set_user_disabled(ada.id, Some(later), later)
        .await
        .unwrap();
    let exported = export_all(&first).await;
    assert!(exported.lines().count() >= 8, "{exported}");
    let line: Value = exported
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|line| line["email"] == "ada@example.com")
        .unwrap();
    assert_eq!(line["sign_ins"]["credentialed"], 1, "{line}");
    assert_eq!(line["prompts"][0]["skipped"], 1, "{line}");
    assert_eq!(line["prompts"][0]["logins_at_last_skip"], 1, "{line}");
    assert_eq!(
        line["sources"]["user_metadata.team"]["source"], "account",
        "{line}"
    );
    assert_eq!(line["updated_at"], line["disabled_at"], "{line}");

    let (second, _dir2) = app().await;
    let mut seen = Collected::default();
    // In one transaction (`--single-transaction`): the same users as a batch at a time.
    let input = std::io::Cursor::new(exported.clone().into_bytes());
    let scope = (ImportScope::Whole, false);
    let summary = run(&second, input, Format::Jsonl, None, scope, &mut seen)
        .await
        .unwrap();
    assert_eq!(summary.refused, 0, "{:?}", seen.problems);
    assert_eq!(export_all(&second).await, exported);
    // And into PostgreSQL, which orders an object's members its own way: the same file.
    if let Some((store, _guard)) = accrete_store::testing::postgres_store().await {
        let third = App::for_tests(store, "http://issuer");
        let input = std::io::Cursor::new(exported.clone().into_bytes());
        let summary = run(&third, input, Format::Jsonl, None, scope, &mut seen)
            .await
            .unwrap();
        assert_eq!(summary.refused, 0, "{:?}", seen.problems);
        assert_eq!(export_all(&third).await, exported);
    }
    // And read back again: nothing to change.
    let input = std::io::Cursor::new(exported.into_bytes());
    let scope = (ImportScope::Batches, false);
    let again = run(&second, input, Format::Jsonl, None, scope, &mut seen)
        .await
        .unwrap();
    assert_eq!(again.unchanged, summary.created);
}
