//! Auth0's users: the NDJSON file of its "export users" job (one user per line, blank lines
//! skipped), and also a file prepared for its bulk import (one JSON list of users, told apart
//! by its leading `[`, read element by element; a record's `line` is then the user's position
//! in the list).
//!
//! Read: `user_id` (→ `external_id`), `email`, `email_verified`, the standard claims
//! `given_name`, `family_name`, `name`, `nickname`, `picture`, `phone_number`, `locale` and
//! `username` (→ `preferred_username`, unless it is the email) into `profile`, `phone_verified`
//! (→ `profile.phone_number_verified`), `user_metadata` and `app_metadata` as they are,
//! `blocked` (→ `disabled`), `created_at`, and the `identities` of other providers than
//! `auth0` (provider = the connection, subject = the identity's `user_id`).
//!
//! The password hashes export that Auth0's support gives a leaving customer is read too: its
//! `_id.$oid` is the user's `auth0|<oid>` id and its `passwordHash` a bcrypt hash, so that file
//! and the export job's one find the same users.
//!
//! Passwords, from the import format: `password_hash` (bcrypt `$2a$`/`$2b$`/`$2y$`) and
//! `custom_password_hash` with the algorithm `bcrypt` (`hash.value` a bcrypt string), `argon2`
//! or `pbkdf2` (`hash.value` a PHC string; PBKDF2 with SHA-1, SHA-256 or SHA-512, `i` and `l`
//! defaulting to 100000 and 64 as Auth0 does). Any other algorithm (md4, md5, sha*, hmac,
//! ldap...) or a password encoded other than UTF-8 before hashing leaves the user without a
//! password and says so in `notes`.
//!
//! Left out: `updated_at`, `last_login`, `logins_count` and the other statistics, roles and
//! organisations (not in the export), and `mfa_factors` (noted: second factors are enrolled
//! again).

use std::io::BufRead;

use serde_json::{Map, Value};

use super::hashes::{argon2_from_phc, is_bcrypt, leave_out_password, pbkdf2_from_phc};
use super::json::{self, Members};
use super::{Each, Mapping, ReadError};
use crate::import::{ExternalIdentity, ImportProblem, ImportRecord};

/// Auth0's standard claims copied to `profile` under the same name.
const CLAIMS: [&str; 7] = [
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "phone_number",
    "locale",
];

pub(super) fn read(
    input: impl BufRead,
    mapping: Option<&Mapping>,
    each: &mut Each<'_>,
) -> Result<(), ReadError> {
    json::read_list_or_lines(input, each, "a JSON list of Auth0 users", |line, object| {
        user(line, object, mapping)
    })
}

/// One user of Auth0; with a mapping, its targets are then set from the user's object too.
fn user(
    line: u64,
    object: Map<String, Value>,
    mapping: Option<&Mapping>,
) -> Result<ImportRecord, ImportProblem> {
    let members = Members {
        line,
        object: &object,
    };
    let mut record = ImportRecord {
        line,
        email: members.string("email")?.unwrap_or_default().to_owned(),
        external_id: match members.string("user_id")? {
            Some(id) => Some(id.to_owned()),
            // The password hashes export that Auth0's support gives: a database user's id
            // without its `auth0|` prefix, as `_id.$oid`.
            None => object
                .get("_id")
                .and_then(|id| id.get("$oid"))
                .and_then(Value::as_str)
                .map(|oid| format!("auth0|{oid}")),
        },
        disabled: members.flag("blocked")?.unwrap_or(false),
        user_metadata: members
            .object("user_metadata")?
            .cloned()
            .unwrap_or_default(),
        app_metadata: members.object("app_metadata")?.cloned().unwrap_or_default(),
        ..ImportRecord::default()
    };
    // Unreadable, these are left out and said; the user is imported (an unreadable `blocked`
    // refuses the user above: imported, a blocked person would be let in).
    match members.flag("email_verified") {
        Ok(verified) => record.email_verified = verified.unwrap_or(false),
        Err(problem) => record.leave_out("email_verified", left_out(problem, "not confirmed")),
    }
    match members.time("created_at") {
        Ok(created) => record.created_at = created,
        Err(problem) => record.leave_out("created_at", left_out(problem, "the import's date")),
    }
    for claim in CLAIMS {
        if let Some(value) = object.get(claim).filter(|v| !v.is_null()) {
            record.profile.insert(claim.to_owned(), value.clone());
        }
    }
    if let Some(verified) = members.flag("phone_verified")? {
        record
            .profile
            .insert("phone_number_verified".to_owned(), Value::Bool(verified));
    }
    if let Some(username) = members.string("username")?
        && !username.eq_ignore_ascii_case(&record.email)
    {
        record
            .profile
            .insert("preferred_username".to_owned(), username.into());
    }
    identities(&members, &mut record)?;
    password(&members, &mut record)?;
    if object.get("mfa_factors").is_some_and(|f| !f.is_null()) {
        record.notes.push(
            "second factors (`mfa_factors`) are not imported: the user enrolls them again"
                .to_owned(),
        );
    }
    if let Some(mapping) = mapping {
        // A metadata key the mapping sends elsewhere is moved there, not copied.
        for (under, bag) in [
            ("user_metadata", &mut record.user_metadata),
            ("app_metadata", &mut record.app_metadata),
        ] {
            bag.retain(|key, _| !mapping.maps_member(under, key));
        }
        mapping
            .apply_json(&Value::Object(object), &mut record)
            .map_err(|(path, message)| ImportProblem::new(line, path, message))?;
    }
    if record.email.trim().is_empty() {
        return Err(ImportProblem::new(
            line,
            "email",
            "the user has no email address",
        ));
    }
    Ok(record)
}

/// The identities of other providers than Auth0's own database (a social or enterprise
/// connection), reported with the connection as provider.
fn identities(members: &Members<'_>, record: &mut ImportRecord) -> Result<(), ImportProblem> {
    for identity in members.list("identities")? {
        let Value::Object(identity) = identity else {
            return Err(members.problem("identities", "an identity is not an object"));
        };
        let text = |key: &str| match identity.get(key) {
            Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
            // Some providers (GitHub, Twitter...) have numeric ids.
            Some(Value::Number(number)) => Some(number.to_string()),
            _ => None,
        };
        let provider = text("provider");
        if provider.as_deref() == Some("auth0") {
            continue;
        }
        match (text("connection").or(provider), text("user_id")) {
            (Some(provider), Some(subject)) => {
                record
                    .identities
                    .push(ExternalIdentity { provider, subject });
            }
            (provider, _) => record.notes.push(format!(
                "an identity of `{}` without its connection or user_id was left out",
                provider.unwrap_or_default()
            )),
        }
    }
    Ok(())
}

/// Why a member that cannot be read is left out, and what the user has instead.
fn left_out(problem: ImportProblem, instead: &str) -> String {
    format!("{}: left out ({instead} instead)", problem.message)
}

/// `password_hash`, or else `custom_password_hash` (Auth0 takes only one of them).
fn password(members: &Members<'_>, record: &mut ImportRecord) -> Result<(), ImportProblem> {
    let custom = members.object("custom_password_hash")?;
    // `passwordHash`: the password hashes export of Auth0's support (bcrypt).
    let given = match members.string("password_hash")? {
        Some(hash) => Some(hash),
        None => members.string("passwordHash")?,
    };
    let stored = match (given, custom) {
        (Some(hash), custom) => {
            if custom.is_some() {
                record.notes.push(
                    "both `password_hash` and `custom_password_hash` are given: `password_hash` is kept"
                        .to_owned(),
                );
            }
            if is_bcrypt(hash) {
                Ok(hash.to_owned())
            } else {
                Err("`password_hash` is not a bcrypt hash".to_owned())
            }
        }
        (None, Some(custom)) => custom_hash(custom),
        (None, None) => return Ok(()),
    };
    match stored {
        Ok(hash) => record.password_hash = Some(hash),
        Err(why) => leave_out_password(record, why),
    }
    Ok(())
}

/// A `custom_password_hash`: `{"algorithm": ..., "hash": {"value": ..., "encoding": ...},
/// "salt": ..., "password": {"encoding": ...}}` (early versions of the schema gave `hash` as a
/// string).
fn custom_hash(custom: &Map<String, Value>) -> Result<String, String> {
    let Some(algorithm) = custom.get("algorithm").and_then(Value::as_str) else {
        return Err("`custom_password_hash` has no algorithm".to_owned());
    };
    let value = match custom.get("hash") {
        Some(Value::Object(hash)) => hash.get("value").and_then(Value::as_str),
        Some(Value::String(value)) => Some(value.as_str()),
        _ => None,
    };
    let Some(value) = value else {
        return Err("`custom_password_hash` has no hash.value".to_owned());
    };
    let encoding = custom
        .get("password")
        .and_then(|password| password.get("encoding"))
        .and_then(Value::as_str)
        .unwrap_or("utf8");
    if !matches!(algorithm, "bcrypt" | "argon2" | "pbkdf2") {
        return Err(format!(
            "the password algorithm `{algorithm}` is not supported"
        ));
    }
    // Accrete hashes the UTF-8 bytes of a password: a hash of other bytes never matches.
    if !encoding.eq_ignore_ascii_case("utf8") && !encoding.eq_ignore_ascii_case("utf-8") {
        return Err(format!(
            "passwords encoded as `{encoding}` before hashing are not supported"
        ));
    }
    match algorithm {
        "bcrypt" if is_bcrypt(value) => Ok(value.to_owned()),
        "bcrypt" => Err("the bcrypt hash is malformed".to_owned()),
        "argon2" => argon2_from_phc(value),
        _ => pbkdf2_from_phc(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Cursor;
    use std::ops::ControlFlow;
    use time::macros::datetime;

    fn read_text(
        text: &str,
        mapping: Option<&Mapping>,
    ) -> Result<Vec<Result<ImportRecord, ImportProblem>>, ReadError> {
        let mut seen = Vec::new();
        read(Cursor::new(text.as_bytes().to_vec()), mapping, &mut |r| {
            seen.push(r);
            ControlFlow::Continue(())
        })?;
        Ok(seen)
    }

    fn one(user: Value) -> ImportRecord {
        let mut seen = read_text(&user.to_string(), None).unwrap();
        assert_eq!(seen.len(), 1);
        seen.remove(0).unwrap()
    }

    #[test]
    fn an_exported_user_gives_its_claims_metadata_and_dates() {
        let record = one(json!({
            "user_id": "auth0|64b1f0c2",
            "email": "ada@example.com",
            "email_verified": true,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "name": "Ada Lovelace",
            "nickname": "ada",
            "picture": "https://s.gravatar.com/avatar/x.png",
            "phone_number": "+441234567890",
            "phone_verified": false,
            "locale": "en-GB",
            "created_at": "2023-03-14T09:26:53.589Z",
            "updated_at": "2024-01-01T00:00:00.000Z",
            "user_metadata": {"theme": "dark"},
            "app_metadata": {"plan": "pro"},
            "logins_count": 12
        }));
        assert_eq!(record.line, 1);
        assert_eq!(record.email, "ada@example.com");
        assert!(record.email_verified);
        assert_eq!(record.external_id.as_deref(), Some("auth0|64b1f0c2"));
        assert_eq!(
            record.created_at,
            Some(datetime!(2023-03-14 09:26:53.589 UTC))
        );
        assert_eq!(record.profile["given_name"], "Ada");
        assert_eq!(record.profile["locale"], "en-GB");
        assert_eq!(record.profile["phone_number_verified"], false);
        assert_eq!(record.profile.len(), 8);
        assert_eq!(record.user_metadata["theme"], "dark");
        assert_eq!(record.app_metadata["plan"], "pro");
        assert!(!record.disabled);
        assert!(record.notes.is_empty());
    }

    #[test]
    fn social_identities_are_reported_and_auth0_ones_ignored() {
        let record = one(json!({
            "email": "grace@example.com",
            "identities": [
                {"connection": "Username-Password-Authentication", "provider": "auth0", "user_id": "1", "isSocial": false},
                {"connection": "google-oauth2", "provider": "google-oauth2", "user_id": "1093", "isSocial": true},
                {"connection": "github", "provider": "github", "user_id": 4242, "isSocial": true}
            ]
        }));
        assert_eq!(
            record.identities,
            vec![
                ExternalIdentity {
                    provider: "google-oauth2".into(),
                    subject: "1093".into()
                },
                ExternalIdentity {
                    provider: "github".into(),
                    subject: "4242".into()
                },
            ]
        );
    }

    #[test]
    fn the_password_hashes_export_of_auth0_support_is_read() {
        let hash = "$2b$10$gmX.WmbkeebEEVwALo78d.Lw/IfgLXj./nl49bV0BESg7/SuaR3X.";
        let record = one(json!({
            "_id": {"$oid": "5dea9f9c82dd7c0e76e4ec90"},
            "email": "a@example.com",
            "email_verified": true,
            "passwordHash": hash,
            "password_set_date": {"$date": "2019-12-06T18:36:12.412Z"},
            "tenant": "example",
            "connection": "Username-Password-Authentication"
        }));
        assert_eq!(record.password_hash.as_deref(), Some(hash));
        assert_eq!(
            record.external_id.as_deref(),
            Some("auth0|5dea9f9c82dd7c0e76e4ec90")
        );
        assert!(record.email_verified);
    }

    #[test]
    fn a_bcrypt_password_hash_is_kept_as_it_is() {
        let hash = "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K";
        let record = one(json!({"email": "a@example.com", "password_hash": hash}));
        assert_eq!(record.password_hash.as_deref(), Some(hash));
    }

    #[test]
    fn an_unsupported_custom_hash_leaves_a_note_and_no_password() {
        let record = one(json!({
            "email": "a@example.com",
            "custom_password_hash": {
                "algorithm": "md5",
                "hash": {"value": "1bc29b36f623ba82aaf6724fd3b16718", "encoding": "hex"}
            }
        }));
        assert_eq!(record.password_hash, None);
        assert_eq!(
            record.password_left_out.as_deref(),
            Some(
                "the password algorithm `md5` is not supported: the password was not imported \
                 and the user will have to reset it"
            )
        );
        assert!(record.notes.is_empty(), "{:?}", record.notes);
    }

    #[test]
    fn a_hash_of_a_non_utf8_password_cannot_be_verified() {
        let record = one(json!({
            "email": "a@example.com",
            "custom_password_hash": {
                "algorithm": "bcrypt",
                "hash": {"value": "$2b$10$nFguVi9LsCAcvTZFKQlRKeLVydo8ETv483lkNsSFI/Wl1Rz1Ypo1K"},
                "password": {"encoding": "utf16le"}
            }
        }));
        assert_eq!(record.password_hash, None);
        let why = record.password_left_out.unwrap_or_default();
        assert!(why.contains("utf16le"), "{why}");
    }

    #[test]
    fn a_user_without_email_or_with_a_wrong_member_is_a_problem_of_its_line() {
        let text = "{\"email\":\"a@example.com\"}\n{\"user_id\":\"auth0|2\"}\n{\"email\":\"b@example.com\",\"blocked\":\"yes\"}\n";
        let seen = read_text(text, None).unwrap();
        assert!(seen[0].is_ok());
        assert_eq!(
            seen[1],
            Err(ImportProblem::new(
                2,
                "email",
                "the user has no email address"
            ))
        );
        assert_eq!(
            seen[2],
            Err(ImportProblem::new(
                3,
                "blocked",
                "a string where true or false is expected"
            ))
        );
    }

    #[test]
    fn an_unreadable_creation_date_or_verification_is_left_out_and_the_user_read() {
        let record = one(json!({
            "user_id": "auth0|e4",
            "email": "a@example.com",
            "created_at": "2021-03-14 09:26:53",
            "email_verified": "true",
            "given_name": "Bad"
        }));
        assert_eq!(record.created_at, None);
        assert!(!record.email_verified);
        assert_eq!(record.profile["given_name"], "Bad");
        let what: Vec<&str> = record.left_out.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(what, ["email_verified", "created_at"]);
        assert!(
            record.left_out[1].1.contains("the import's date"),
            "{:?}",
            record.left_out
        );
    }

    #[test]
    fn a_file_prepared_for_auth0s_import_is_a_json_list() {
        let text = r#"[
  {"email": "a@example.com", "blocked": true},
  "oops",
  {"email": "b@example.com"}
]"#;
        let seen = read_text(text, None).unwrap();
        assert_eq!(seen.len(), 3);
        let first = seen[0].as_ref().unwrap();
        assert_eq!(first.line, 1);
        assert!(first.disabled);
        assert_eq!(seen[1].as_ref().unwrap_err().line, 2);
        assert_eq!(seen[2].as_ref().unwrap().line, 3);
    }

    #[test]
    fn a_mapping_moves_the_metadata_it_sends_to_its_targets() {
        let mapping = Mapping::parse(
            "[columns]\n\"/user_metadata/company\" = \"company\"\n\
             \"/app_metadata/size\" = \"app_metadata.company_size\"\n",
        )
        .unwrap();
        let seen = read_text(
            r#"{"email":"a@example.com","user_metadata":{"company":"Acme","team":"core"},
                "app_metadata":{"size":"11-50"}}"#
                .replace('\n', "")
                .as_str(),
            Some(&mapping),
        )
        .unwrap();
        let record = seen[0].as_ref().unwrap();
        assert_eq!(record.fields, vec![("company".to_owned(), json!("Acme"))]);
        assert_eq!(
            record.user_metadata,
            json!({"team": "core"}).as_object().unwrap().clone()
        );
        assert_eq!(
            record.app_metadata,
            json!({"company_size": "11-50"})
                .as_object()
                .unwrap()
                .clone()
        );
    }
}
