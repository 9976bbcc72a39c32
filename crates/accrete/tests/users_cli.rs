//! `accrete users import` and `export` as an operator runs them: a first import in one
//! transaction, the same file again a batch at a time (nothing to change), a dry run in one
//! transaction (which sees the users of its earlier batches).
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

mod common;

use common::run;

fn users(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"email\":\"user{i}@example.com\",\"email_verified\":true,\
                 \"profile\":{{\"given_name\":\"User {i}\"}}}}\n"
            )
        })
        .collect()
}

#[test]
fn a_first_import_in_one_transaction_then_the_same_file_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    // Three batches of the importer (500 users each).
    std::fs::write(&file, users(1_200)).unwrap();
    let file = file.to_str().unwrap();

    let args = [
        "users",
        "import",
        file,
        "--format",
        "jsonl",
        "--single-transaction",
    ];
    let (output, stdout, stderr) = run(dir.path(), &args);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("1200 read: 1200 created, 0 updated, 0 unchanged, 0 not imported"),
        "{stdout}"
    );
    let args = ["users", "import", file, "--format", "jsonl"];
    let (output, stdout, stderr) = run(dir.path(), &args);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("1200 read: 0 created, 0 updated, 1200 unchanged"),
        "{stdout}"
    );
    let (output, stdout, stderr) = run(dir.path(), &["users", "export"]);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1_200);
    assert!(stdout.contains("\"given_name\":\"User 1199\""), "{stdout}");
}

#[test]
fn a_dry_run_in_one_transaction_counts_a_user_twice_in_the_file_once_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    // 600 users, the first of them again at the end, in another batch.
    let text = users(600) + &users(1);
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();

    let args = [
        "users",
        "import",
        file,
        "--format",
        "jsonl",
        "--single-transaction",
        "--dry-run",
    ];
    let (output, stdout, stderr) = run(dir.path(), &args);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("dry run (nothing stored): 601 read: 600 created, 0 updated, 1 unchanged"),
        "{stdout}"
    );
    let (output, stdout, stderr) = run(dir.path(), &["users", "export"]);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 0, "{stdout}");
}
