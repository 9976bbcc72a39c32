//! `accrete webhook add|list|replay|remove` as a user runs them, on the embedded SQLite database: the
//! secret printed once, refused URLs said per input with exit status 2, changes audited.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

mod common;

use common::run;

#[test]
fn a_webhook_is_added_with_its_secret_printed_once_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let (output, added, stderr) = run(
        dir,
        &[
            "webhook",
            "add",
            "https://hooks.example.com/accrete",
            "--event",
            "user.created",
            "--json",
        ],
    );
    assert!(output.status.success(), "{stderr}");
    let added: serde_json::Value = serde_json::from_str(&added).unwrap();
    let secret = added["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{added}");
    let id = added["id"].as_str().unwrap();

    let (output, listed, _) = run(dir, &["webhook", "list"]);
    assert!(output.status.success());
    assert_eq!(
        listed,
        format!("{id}  https://hooks.example.com/accrete  user.created  enabled\n")
    );
    assert!(!listed.contains(secret));

    let (output, _, refused) = run(dir, &["webhook", "add", "https://10.0.0.1/hook"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(refused.contains("url: "), "{refused}");
    assert!(refused.contains("private network"), "{refused}");

    let (output, refused, _) = run(
        dir,
        &[
            "webhook",
            "replay",
            id,
            "--from",
            "yesterday",
            "--to",
            "2026-01-01T00:00:00Z",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(refused.is_empty(), "{refused}");
    let (output, _, said) = run(
        dir,
        &[
            "webhook",
            "replay",
            id,
            "--from",
            "2026-01-02T00:00:00Z",
            "--to",
            "2026-01-01T00:00:00Z",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        said.contains("to: the end of the range must come after its start"),
        "{said}"
    );
    let (output, replayed, stderr) = run(
        dir,
        &[
            "webhook",
            "replay",
            id,
            "--from",
            "2026-01-01T00:00:00Z",
            "--to",
            "2026-01-02T00:00:00Z",
        ],
    );
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        replayed,
        format!("0 deliveries of webhook {id} will be sent again\n")
    );

    let (output, removed, _) = run(dir, &["webhook", "remove", id]);
    assert!(output.status.success());
    assert_eq!(
        removed,
        format!("removed webhook {id} and its deliveries\n")
    );
    let (output, _, missing) = run(dir, &["webhook", "remove", id]);
    assert_eq!(output.status.code(), Some(1));
    assert!(missing.contains("there is no such webhook"), "{missing}");
    let (_, listed, _) = run(dir, &["webhook", "list"]);
    assert!(listed.starts_with("no webhooks"), "{listed}");
}
