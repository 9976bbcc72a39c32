//! The readers through [`read`], on the fixtures of `tests/fixtures/import/`: records and
//! problems as the use-case receives them, and imported password hashes that verify with the
//! passwords they were made from.

use super::*;
use accrete_oidc::password::{PasswordCheck, verify_password};
use serde_json::json;
use std::cell::Cell;
use std::fs::File;
use std::io::Cursor;
use std::rc::Rc;
use time::macros::datetime;

use crate::import::ExternalIdentity;

fn fixture(name: &str) -> File {
    File::open(format!(
        "{}/tests/fixtures/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn read_all(
    format: Format,
    input: impl Read,
    mapping: Option<&Mapping>,
) -> Result<Vec<Result<ImportRecord, ImportProblem>>, ReadError> {
    let mut seen = Vec::new();
    read(format, input, mapping, &mut |result| {
        seen.push(result);
        ControlFlow::Continue(())
    })?;
    Ok(seen)
}

fn record(seen: &[Result<ImportRecord, ImportProblem>], i: usize) -> &ImportRecord {
    seen[i].as_ref().unwrap()
}

fn problem(seen: &[Result<ImportRecord, ImportProblem>], i: usize) -> (u64, &str, &str) {
    let problem = seen[i].as_ref().unwrap_err();
    (
        problem.line,
        problem.path.as_str(),
        problem.message.as_str(),
    )
}

/// Whether the record's password hash verifies `password` (and asks to be replaced, as every
/// imported hash does).
fn verifies(record: &ImportRecord, password: &str) -> bool {
    let hash = record.password_hash.as_deref().unwrap();
    verify_password(password, hash) == Ok(PasswordCheck::Verified { needs_rehash: true })
}

#[test]
fn format_names_read_back() {
    for format in Format::ALL {
        assert_eq!(Format::parse(format.as_str()), Some(format));
    }
    assert_eq!(Format::parse("Auth0"), None);
    assert_eq!(Format::parse("xml"), None);
}

#[test]
fn an_auth0_export_gives_users_hashes_identities_and_the_problems_of_its_lines() {
    let seen = read_all(Format::Auth0, fixture("auth0-export.ndjson"), None).unwrap();
    assert_eq!(seen.len(), 7);

    let ada = record(&seen, 0);
    assert_eq!(ada.line, 1);
    assert_eq!(ada.email, "ada@example.com");
    assert!(ada.email_verified);
    assert_eq!(
        ada.external_id.as_deref(),
        Some("auth0|64b1f0c2a7d3e5f601234567")
    );
    assert_eq!(ada.created_at, Some(datetime!(2023-03-14 09:26:53.589 UTC)));
    assert_eq!(ada.profile["given_name"], "Ada");
    assert_eq!(ada.profile["preferred_username"], "ada");
    assert_eq!(ada.user_metadata["newsletter"], true);
    assert_eq!(ada.app_metadata["roles"], json!(["admin"]));
    assert!(
        ada.identities.is_empty(),
        "Auth0's own identity is not reported"
    );
    assert!(ada.password_hash.as_deref().unwrap().starts_with("$2b$10$"));
    assert!(verifies(ada, "Passw0rd-bcrypt"));
    assert!(ada.notes.is_empty());

    let grace = record(&seen, 1);
    assert_eq!(
        grace.identities,
        vec![ExternalIdentity {
            provider: "google-oauth2".into(),
            subject: "109384756102938475610".into()
        }]
    );
    assert!(
        grace
            .password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$v=19$m=4096,t=3,p=1$")
    );
    assert!(verifies(grace, "Passw0rd-auth0"));

    let mallory = record(&seen, 2);
    assert!(mallory.disabled);
    assert!(!mallory.email_verified);
    assert_eq!(mallory.profile["phone_number"], "+14155550123");
    assert_eq!(mallory.profile["phone_number_verified"], true);
    assert!(
        mallory
            .password_hash
            .as_deref()
            .unwrap()
            .starts_with("$pbkdf2-sha512$i=10000,l=64$")
    );
    assert!(verifies(mallory, "Passw0rd-pbkdf2"));

    let legacy = record(&seen, 3);
    assert_eq!(legacy.password_hash, None);
    assert_eq!(
        legacy.password_left_out.as_deref(),
        Some(
            "the password algorithm `md5` is not supported: the password was not imported and \
             the user will have to reset it"
        )
    );

    let (line, path, message) = problem(&seen, 4);
    assert_eq!((line, path), (5, ""));
    assert!(message.starts_with("not JSON"), "{message}");
    assert_eq!(
        problem(&seen, 5),
        (6, "email", "the user has no email address")
    );

    let linus = record(&seen, 6);
    assert_eq!(linus.line, 8, "the blank line 7 is counted");
    assert_eq!(
        linus.identities,
        vec![ExternalIdentity {
            provider: "github".into(),
            subject: "4242".into()
        }]
    );
}

#[test]
fn a_keycloak_realm_gives_each_generation_of_password_hashes() {
    let seen = read_all(Format::Keycloak, fixture("keycloak-realm.json"), None).unwrap();
    assert_eq!(seen.len(), 7);

    let olive = record(&seen, 0);
    assert_eq!(olive.line, 1);
    assert_eq!(olive.email, "olive@example.com");
    assert_eq!(
        olive.external_id.as_deref(),
        Some("0b7f7c4e-1c5d-4a63-9f3e-2a7f0f3c1a01")
    );
    assert_eq!(olive.created_at, Some(datetime!(2019-01-01 00:00 UTC)));
    assert!(
        olive
            .password_hash
            .as_deref()
            .unwrap()
            .starts_with("$pbkdf2$i=20000,l=64$")
    );
    assert!(verifies(olive, "Passw0rd-old"));

    let sam = record(&seen, 1);
    assert!(!sam.email_verified);
    assert_eq!(sam.profile["given_name"], "Sam");
    assert_eq!(sam.profile["family_name"], "Sha");
    assert_eq!(
        sam.fields,
        vec![
            ("company".to_owned(), json!("Acme")),
            ("phone".to_owned(), json!("+33123456789")),
            ("teams".to_owned(), json!(["core", "infra"])),
        ]
    );
    assert_eq!(
        sam.identities,
        vec![ExternalIdentity {
            provider: "github".into(),
            subject: "583231".into()
        }]
    );
    assert!(
        sam.password_hash
            .as_deref()
            .unwrap()
            .starts_with("$pbkdf2-sha256$i=27500,l=64$")
    );
    // Keycloak hashed this short password padded with NULs to 14 characters.
    assert!(verifies(sam, "short-pw"));
    assert_eq!(
        sam.notes,
        vec!["the attribute `teams` has 2 values: given as a list"]
    );

    let nina = record(&seen, 2);
    assert!(nina.disabled);
    assert!(
        nina.password_hash
            .as_deref()
            .unwrap()
            .starts_with("$pbkdf2-sha512$i=210000,l=64$")
    );
    assert!(verifies(nina, "Passw0rd-sha512"));

    let argo = record(&seen, 3);
    assert!(
        argo.password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$v=19$m=7168,t=5,p=1$")
    );
    assert!(verifies(argo, "Passw0rd-argon2"));
    assert_eq!(
        argo.notes,
        vec!["the `otp` credential is not imported: the user enrolls it again"]
    );

    // The service account of a client: a note, not a user.
    let (line, path, message) = problem(&seen, 4);
    assert_eq!((line, path), (5, "note"));
    assert!(message.contains("billing"), "{message}");

    let lin = record(&seen, 5);
    assert_eq!(lin.email, "lin@example.com");
    assert_eq!(lin.notes.len(), 1);

    assert_eq!(
        problem(&seen, 6),
        (7, "email", "the user has no email address")
    );
}

#[test]
fn a_csv_read_through_a_mapping_gives_its_mapped_columns() {
    let text = std::io::read_to_string(fixture("mapping.toml")).unwrap();
    let mapping = Mapping::parse(&text).unwrap();
    let seen = read_all(Format::Csv, fixture("users.csv"), Some(&mapping)).unwrap();
    assert_eq!(seen.len(), 5);

    let ada = record(&seen, 0);
    assert_eq!(ada.line, 2);
    assert_eq!(ada.email, "ada@example.com");
    assert!(ada.email_verified);
    assert_eq!(ada.external_id.as_deref(), Some("c-001"));
    assert_eq!(ada.created_at, Some(datetime!(2023-03-14 09:26:53 UTC)));
    assert_eq!(ada.profile["given_name"], "Ada");
    assert_eq!(ada.profile["family_name"], "Lovelace");
    assert_eq!(ada.app_metadata["plan"], "pro");
    assert_eq!(ada.user_metadata["newsletter"], "true");
    assert_eq!(
        ada.fields,
        vec![("company".to_owned(), json!("Analytical Engines"))]
    );
    assert_eq!(
        ada.notes,
        vec!["columns not in the mapping are left out: `Notes`"]
    );

    let grace = record(&seen, 1);
    assert_eq!(
        grace.fields,
        vec![("company".to_owned(), json!("Navy, US"))]
    );
    assert_eq!(grace.created_at, Some(datetime!(2023-06-01 00:00 UTC)));
    assert!(grace.user_metadata.is_empty());
    assert!(grace.notes.is_empty());

    // An unreadable cell is left out, and said; the user is read.
    let alan = record(&seen, 2);
    assert_eq!(alan.line, 4);
    assert!(!alan.email_verified);
    assert_eq!(alan.left_out.len(), 1);
    assert_eq!(alan.left_out[0].0, "Verified");
    assert!(
        alan.left_out[0].1.contains("perhaps"),
        "{:?}",
        alan.left_out
    );
    assert_eq!(
        problem(&seen, 3),
        (5, "E-mail", "the user has no email address")
    );

    let edsger = record(&seen, 4);
    assert_eq!(edsger.line, 6);
    assert!(!edsger.email_verified);
    assert_eq!(
        edsger.fields,
        vec![("company".to_owned(), json!("TU \"Eindhoven\""))]
    );
    assert!(edsger.app_metadata.is_empty());
}

#[test]
fn a_csv_whose_header_names_no_email_target_is_refused_whole() {
    let error = read_all(Format::Csv, fixture("users.csv"), None).unwrap_err();
    assert!(
        matches!(&error, ReadError::NotFormat { line: 1, message } if message.contains("email")),
        "{error:?}"
    );
}

#[test]
fn accretes_own_export_reads_back() {
    let seen = read_all(Format::Jsonl, fixture("accrete.jsonl"), None).unwrap();
    assert_eq!(seen.len(), 5);

    let ada = record(&seen, 0);
    assert_eq!(
        ada.id.map(|id| id.to_string()).as_deref(),
        Some("0190a0b2-7c4e-7d11-9a55-3f5e2c1d0e9f")
    );
    assert_eq!(
        ada.external_id.as_deref(),
        Some("0190a0b2-7c4e-7d11-9a55-3f5e2c1d0e9f")
    );
    assert!(
        ada.password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert_eq!(ada.profile["birthdate"], "1815-12-10");
    assert_eq!(
        ada.fields,
        vec![
            ("company".to_owned(), json!("Analytical Engines")),
            ("employees".to_owned(), json!(12)),
        ]
    );
    assert_eq!(ada.sources["profile.birthdate"], "step:about-you");
    assert_eq!(ada.history.len(), 1);
    assert_eq!(ada.identities.len(), 1);
    assert!(ada.notes.is_empty());

    let grace = record(&seen, 1);
    assert!(grace.disabled);
    assert_eq!(grace.created_at, Some(datetime!(2024-06-02 07:30 UTC)));
    assert_eq!(
        grace.notes,
        vec!["unknown keys are left out: `last_sign_in`"]
    );

    assert_eq!(problem(&seen, 2), (4, "id", "`not-a-uuid` is not a UUID"));
    let (line, path, _) = problem(&seen, 3);
    assert_eq!((line, path), (5, ""));
    assert_eq!(record(&seen, 4).line, 6);
}

#[test]
fn reading_stops_at_the_first_break() {
    let mut calls = 0;
    read(
        Format::Auth0,
        fixture("auth0-export.ndjson"),
        None,
        &mut |_| {
            calls += 1;
            if calls == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .unwrap();
    assert_eq!(calls, 2);
}

#[test]
fn a_password_hash_accrete_would_not_verify_is_dropped_with_a_note() {
    let text = "email,password_hash\n\
                a@example.com,$2b$31$AOiHAOiHAOiHAOiHAOiHAO4TIq1Ws5Jmpb.MWruAu1owvGpwKp2UW\n\
                b@example.com,plaintext\n";
    let seen = read_all(Format::Csv, Cursor::new(text), None).unwrap();
    let a = record(&seen, 0);
    assert_eq!(a.password_hash, None);
    let why = a.password_left_out.as_deref().unwrap_or_default();
    assert!(why.contains("bcrypt cost 31"), "{a:?}");
    assert!(why.ends_with("the user will have to reset it"));
    let b = record(&seen, 1);
    assert_eq!(b.password_hash, None);
    assert!(b.password_left_out.is_some(), "{b:?}");
}

/// A realm export of `total` users made as it is read, counting the users it has written.
struct GeneratedRealm {
    total: usize,
    written: Rc<Cell<usize>>,
    chunk: Vec<u8>,
    at: usize,
    finished: bool,
}

impl GeneratedRealm {
    fn new(total: usize, written: Rc<Cell<usize>>) -> Self {
        let head = r#"{"id":"big","realm":"big","clients":[{"clientId":"app","redirectUris":["*"]}],"users":["#;
        GeneratedRealm {
            total,
            written,
            chunk: head.as_bytes().to_vec(),
            at: 0,
            finished: false,
        }
    }
}

impl Read for GeneratedRealm {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.chunk.len() {
            let n = self.written.get();
            self.at = 0;
            self.chunk = if n < self.total {
                self.written.set(n + 1);
                let comma = if n == 0 { "" } else { "," };
                format!(
                    r#"{comma}{{"id":"{n}","username":"user{n}","email":"user{n}@example.com","enabled":true,"attributes":{{"n":["{n}"]}},"credentials":[]}}"#
                )
                .into_bytes()
            } else if !self.finished {
                self.finished = true;
                br#"],"groups":[]}"#.to_vec()
            } else {
                return Ok(0);
            };
        }
        let n = out.len().min(self.chunk.len() - self.at);
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn five_thousand_users_are_read_one_at_a_time() {
    let written = Rc::new(Cell::new(0));
    let input = GeneratedRealm::new(5_000, Rc::clone(&written));
    let mut count = 0;
    let mut most_ahead = 0;
    read(Format::Keycloak, input, None, &mut |r| {
        let record = r.unwrap();
        count += 1;
        assert_eq!(record.line, count);
        assert_eq!(record.email, format!("user{}@example.com", count - 1));
        // The file is read only a buffer ahead of the user handed on, never whole.
        most_ahead = most_ahead.max(written.get() - usize::try_from(count).unwrap());
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(count, 5_000);
    assert!(most_ahead < 200, "read {most_ahead} users ahead");
}

#[test]
fn reading_stops_when_asked_and_reads_no_further() {
    let written = Rc::new(Cell::new(0));
    let input = GeneratedRealm::new(5_000, Rc::clone(&written));
    let mut count = 0;
    read(Format::Keycloak, input, None, &mut |_| {
        count += 1;
        if count == 10 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(count, 10);
    assert!(written.get() < 300, "{} users were read", written.get());
}

#[test]
fn a_file_read_in_the_wrong_format_says_which_format_it_looks_like() {
    let lines = "{\"user_id\":\"auth0|1\",\"email\":\"a@example.com\"}\n\
                 {\"user_id\":\"auth0|2\",\"email\":\"b@example.com\"}\n";
    let realm = "{\n  \"realm\": \"acme\",\n  \"users\": []\n}\n";
    for (format, input, says) in [
        (Format::Keycloak, lines, "--format auth0 or --format jsonl"),
        (Format::Csv, lines, "this is JSON, not CSV"),
        (Format::Auth0, realm, "--format keycloak"),
        (Format::Jsonl, realm, "--format keycloak"),
    ] {
        let error = read_all(format, Cursor::new(input), None).unwrap_err();
        assert!(
            matches!(&error, ReadError::NotFormat { message, .. } if message.contains(says)),
            "{format:?}: {error:?}"
        );
    }
}
