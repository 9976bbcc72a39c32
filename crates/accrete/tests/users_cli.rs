//! `accrete users import` and `export` as an operator runs them: a first import in one
//! transaction, the same file again a batch at a time (nothing to change), a dry run in one
//! transaction (which sees the users of its earlier batches); users imported by a later run come
//! after those already here, whatever their creation dates.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

mod common;

use std::path::Path;

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

/// Writes `text` as `users.jsonl` in `dir`; its path.
fn write_users(dir: &Path, text: &str) -> String {
    let file = dir.join("users.jsonl");
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_owned()
}

/// `accrete users import FILE --format jsonl` with `flags`, which must succeed; its output.
fn import(dir: &Path, file: &str, flags: &[&str]) -> String {
    let mut args = vec!["users", "import", file, "--format", "jsonl"];
    args.extend_from_slice(flags);
    let (output, stdout, stderr) = run(dir, &args);
    assert!(output.status.success(), "{stderr}");
    stdout
}

/// `accrete users export`, which must succeed; its output.
fn export(dir: &Path) -> String {
    let (output, stdout, stderr) = run(dir, &["users", "export"]);
    assert!(output.status.success(), "{stderr}");
    stdout
}

#[test]
fn a_first_import_in_one_transaction_then_the_same_file_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Three batches of the importer (500 users each).
    let file = write_users(dir.path(), &users(1_200));

    let stdout = import(dir.path(), &file, &["--single-transaction"]);
    assert!(
        stdout.contains("1200 read: 1200 created, 0 updated, 0 unchanged, 0 not imported"),
        "{stdout}"
    );
    let stdout = import(dir.path(), &file, &[]);
    assert!(
        stdout.contains("1200 read: 0 created, 0 updated, 1200 unchanged"),
        "{stdout}"
    );
    let stdout = export(dir.path());
    assert_eq!(stdout.lines().count(), 1_200);
    assert!(stdout.contains("\"given_name\":\"User 1199\""), "{stdout}");
}

#[test]
fn a_dry_run_in_one_transaction_refuses_a_user_twice_in_the_file_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // 600 users, the first of them again at the end, in another batch.
    let file = write_users(dir.path(), &(users(600) + &users(1)));

    let args = [
        "users",
        "import",
        &file,
        "--format",
        "jsonl",
        "--single-transaction",
        "--dry-run",
    ];
    let (output, stdout, stderr) = run(dir.path(), &args);
    // A user not imported makes the import incomplete.
    assert_eq!(output.status.code(), Some(3), "{stdout} {stderr}");
    assert!(
        stdout.contains(
            "dry run (nothing stored): 601 read: 600 created, 0 updated, 0 unchanged, 1 not imported"
        ),
        "{stdout}"
    );
    let report = std::fs::read_to_string(format!("{file}.report.csv")).unwrap();
    assert!(
        report.contains("601,email,\"the user is not imported: an earlier user of the file"),
        "{report}"
    );
    let stdout = export(dir.path());
    assert_eq!(stdout.lines().count(), 0, "{stdout}");
}

/// Ids follow the order users came to this server, not their creation dates in the source:
/// users imported by a later run, created years ago in the system they come from, are listed
/// (and exported) after the users already here, so an application that reads the list on from
/// its last cursor finds them. Each run is its own process, as an operator's are.
#[test]
fn users_imported_later_come_after_the_users_already_here_whatever_their_creation_dates() {
    let dir = tempfile::tempdir().unwrap();
    let here = write_users(dir.path(), &users(3));
    import(dir.path(), &here, &[]);
    let old = dir.path().join("old.jsonl");
    std::fs::write(
        &old,
        "{\"email\":\"old@example.com\",\"created_at\":\"2020-01-01T00:00:00Z\"}\n\
         {\"email\":\"older@example.com\",\"created_at\":\"2019-01-01T00:00:00Z\"}\n",
    )
    .unwrap();
    import(dir.path(), old.to_str().unwrap(), &[]);

    let exported: Vec<serde_json::Value> = export(dir.path())
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let emails: Vec<&str> = exported
        .iter()
        .map(|user| user["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [
            "user0@example.com",
            "user1@example.com",
            "user2@example.com",
            "old@example.com",
            "older@example.com"
        ]
    );
    // The source's creation date is kept as the user's.
    assert_eq!(exported[3]["created_at"], "2020-01-01T00:00:00Z");
    assert_eq!(exported[4]["created_at"], "2019-01-01T00:00:00Z");
}

#[test]
fn a_password_left_out_makes_the_import_incomplete_and_an_import_that_stops_says_what_it_kept() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.csv");
    let report_flag = report.to_str().unwrap();
    // A hash in an algorithm Accrete does not verify: the user is imported without it.
    let file = write_users(
        dir.path(),
        "{\"email\":\"ada@example.com\",\"password_hash\":\"$md5$not-a-hash\"}\n",
    );
    let (output, stdout, stderr) = run(
        dir.path(),
        &[
            "users",
            "import",
            &file,
            "--format",
            "jsonl",
            "--report",
            report_flag,
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{stdout} {stderr}");
    assert!(stdout.contains("1 read: 1 created"), "{stdout}");
    assert!(stdout.contains("(1 values left out)"), "{stdout}");
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(written.contains("1,password_hash,"), "{written}");

    // A realm export cut short after 600 users: what was read before is kept and said; the
    // report of the run before stays, this run having nothing to add to it.
    let mut realm = String::from("{\"realm\":\"acme\",\"users\":[");
    for i in 0..600 {
        realm.push_str(&format!("{{\"email\":\"user{i}@example.com\"}},"));
    }
    realm.push_str("{\"email\":\"us");
    let cut = dir.path().join("realm.json");
    std::fs::write(&cut, realm).unwrap();
    let (output, stdout, stderr) = run(
        dir.path(),
        &[
            "users",
            "import",
            cut.to_str().unwrap(),
            "--format",
            "keycloak",
            "--report",
            report_flag,
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{stdout} {stderr}");
    assert!(
        stderr.contains(
            "stopped: the batches stored before it stopped are kept (600 users created, 0 updated)"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("the file ends in the middle of"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&report).unwrap(), written);
    assert!(!dir.path().join("report.csv.part").exists());
    assert_eq!(export(dir.path()).lines().count(), 601);

    // A file of another format stops at its first line, having stored nothing: said so, not
    // "the batches stored before it stopped are kept (0 users created...)".
    let csv = dir.path().join("users.csv");
    std::fs::write(&csv, "email\ngrace@example.com\n").unwrap();
    let (output, stdout, stderr) = run(
        dir.path(),
        &[
            "users",
            "import",
            csv.to_str().unwrap(),
            "--format",
            "keycloak",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{stdout} {stderr}");
    assert!(stderr.contains("stopped: nothing was stored\n"), "{stderr}");
    assert!(stderr.contains("not a Keycloak realm export"), "{stderr}");
    assert_eq!(export(dir.path()).lines().count(), 601);
}
