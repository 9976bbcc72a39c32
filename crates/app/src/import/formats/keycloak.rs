//! Keycloak's users, from a realm export as `kc.sh export` writes it: one realm file
//! (`--users realm_file`), a `realm-users-N.json` of `--users different_files`
//! (`{"realm": ..., "users": [...]}`), or the list of every realm of `--file` without `--realm`
//! (their users numbered on across the file). The document is streamed: the rest of the realm
//! is skipped unread, and each element of `users` is built, handed on and dropped before the
//! next is read. A record's `line` is the user's position in `users` (1-based).
//!
//! Read: `id` (→ `external_id`), `email` (or else a `username` that is an email address, noted),
//! `emailVerified`, `enabled: false` (→ `disabled`), `createdTimestamp` (ms), `firstName` and
//! `lastName` (→ `profile.given_name`, `profile.family_name`), `username` (→
//! `profile.preferred_username`, unless it is the email), `attributes` (→ `fields`, keyed by the
//! attribute's name: one value as a string, several as a list of strings, noted, for the
//! policy's field type to accept or refuse), `federatedIdentities` (→ `identities`), and the
//! password credential.
//!
//! Passwords: recent versions keep `secretData` and `credentialData` as JSON strings inside the
//! JSON; older ones (before Keycloak 8 or so) `hashedSaltedValue`, `salt`, `hashIterations` and
//! `algorithm` on the credential itself. Supported: `pbkdf2` (HMAC-SHA1), `pbkdf2-sha256`,
//! `pbkdf2-sha512`, `argon2` (`type`, `version`, `memory` and `parallelism` from
//! `additionalParameters`, the iterations from `hashIterations`, the key length from the hash
//! itself) and `bcrypt` (the community provider, whose value is a bcrypt string). Any other
//! algorithm leaves the user without a password, noted. When a user has several password
//! credentials, the one Keycloak checks is kept: the lowest `priority`, and among equal or
//! absent priorities the first in the file (the order Keycloak exports and checks them in).
//!
//! Left out: roles, groups, required actions, consents, service accounts (a problem: they are
//! not people), plain-text `value` passwords of files written for import (never stored), and
//! the other credentials (OTP, WebAuthn...: noted, the user enrolls them again).

use std::fmt;
use std::io::BufRead;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::json::{self, UserList, WithUsers, document_error};
use super::{Each, Mapping, ReadError};
use crate::import::{ExternalIdentity, ImportProblem, ImportRecord};

mod credentials;

use credentials::{Credential, credentials};

const WHAT: &str = "a Keycloak realm export";

pub(super) fn read(
    mut input: impl BufRead,
    mapping: Option<&Mapping>,
    each: &mut Each<'_>,
) -> Result<(), ReadError> {
    let (start, _) = json::peek_start(&mut input)?;
    let mut handle = |position, value| each(user(position, value, mapping));
    let mut users = UserList::new(&mut handle);
    let mut document = serde_json::Deserializer::from_reader(input);
    let (read, found) = match start {
        Some(b'{') => {
            let mut realm = WithUsers {
                users: &mut users,
                found: false,
            };
            ((&mut realm).deserialize(&mut document), realm.found)
        }
        Some(b'[') => {
            let mut realms = Realms {
                users: &mut users,
                found: false,
            };
            ((&mut realms).deserialize(&mut document), realms.found)
        }
        _ => {
            return Err(ReadError::NotFormat {
                line: 1,
                message: format!("not {WHAT}: the file is not a JSON object"),
            });
        }
    };
    match read {
        Err(_) if users.stopped => return Ok(()),
        Err(e) => return Err(document_error(e, WHAT)),
        Ok(()) => document.end().map_err(|e| document_error(e, WHAT))?,
    }
    if !found {
        return Err(ReadError::NotFormat {
            line: 1,
            message: format!(
                "not {WHAT} with users: the document has no `users`. An export made with \
                 `--users different_files` keeps them in the `<realm>-users-<n>.json` files \
                 beside it: import each of those (or export with `--users realm_file`)"
            ),
        });
    }
    Ok(())
}

/// A realm, or a list of realms, whose users are streamed.
struct Realms<'l, 'f> {
    users: &'l mut UserList<'f>,
    found: bool,
}

impl<'de> DeserializeSeed<'de> for &mut Realms<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for &mut Realms<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of realms")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut realms: A) -> Result<(), A::Error> {
        loop {
            let mut realm = WithUsers {
                users: &mut *self.users,
                found: false,
            };
            let more = realms.next_element_seed(&mut realm)?;
            self.found |= realm.found;
            if more.is_none() {
                return Ok(());
            }
        }
    }
}

/// The members of a user read here; the others are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    id: Option<String>,
    username: Option<String>,
    email: Option<String>,
    email_verified: Option<bool>,
    enabled: Option<bool>,
    created_timestamp: Option<i64>,
    first_name: Option<String>,
    last_name: Option<String>,
    attributes: Option<Map<String, Value>>,
    federated_identities: Option<Vec<FederatedIdentity>>,
    credentials: Option<Vec<Credential>>,
    service_account_client_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FederatedIdentity {
    identity_provider: Option<String>,
    user_id: Option<String>,
}

/// One user of Keycloak; with a mapping, its targets are then set from the user's object too.
fn user(
    position: u64,
    value: Value,
    mapping: Option<&Mapping>,
) -> Result<ImportRecord, ImportProblem> {
    let problem = |path: &str, message: String| ImportProblem::new(position, path, message);
    let user = User::deserialize(&value)
        .map_err(|e| problem("", format!("the user cannot be read: {e}")))?;
    if let Some(client) = &user.service_account_client_id {
        return Err(problem(
            crate::import::NOTE,
            format!("the service account of the client `{client}` is not a person: left out"),
        ));
    }
    let mut record = ImportRecord {
        line: position,
        external_id: user.id.clone(),
        email_verified: user.email_verified.unwrap_or(false),
        disabled: user.enabled == Some(false),
        ..ImportRecord::default()
    };
    match (&user.email, &user.username) {
        (Some(email), _) if !email.trim().is_empty() => record.email = email.clone(),
        (_, Some(username)) if looks_like_email(username) => {
            record.email = username.clone();
            record.notes.push(format!(
                "no email: the username `{username}` is used as the email address"
            ));
        }
        _ => {}
    }
    if let Some(ms) = user.created_timestamp {
        let instant = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .map_err(|_| problem("createdTimestamp", format!("{ms} is not an instant")))?;
        record.created_at = Some(instant);
    }
    let names = [
        ("given_name", &user.first_name),
        ("family_name", &user.last_name),
    ];
    for (claim, name) in names {
        if let Some(name) = name.as_ref().filter(|n| !n.is_empty()) {
            record
                .profile
                .insert(claim.to_owned(), name.as_str().into());
        }
    }
    if let Some(username) = &user.username
        && !username.eq_ignore_ascii_case(&record.email)
    {
        record
            .profile
            .insert("preferred_username".to_owned(), username.as_str().into());
    }
    for (name, values) in user.attributes.iter().flatten() {
        if !mapping.is_some_and(|m| m.maps_member("attributes", name)) {
            attribute(&mut record, name, values);
        }
    }
    for identity in user.federated_identities.iter().flatten() {
        match (&identity.identity_provider, &identity.user_id) {
            (Some(provider), Some(subject)) => record.identities.push(ExternalIdentity {
                provider: provider.clone(),
                subject: subject.clone(),
            }),
            (provider, _) => record.notes.push(format!(
                "a federated identity of `{}` without its provider or user id was left out",
                provider.as_deref().unwrap_or_default()
            )),
        }
    }
    credentials(&mut record, user.credentials.as_deref().unwrap_or_default());
    if let Some(mapping) = mapping {
        mapping
            .apply_json(&value, &mut record)
            .map_err(|(path, message)| problem(&path, message))?;
    }
    if record.email.trim().is_empty() {
        return Err(problem("email", "the user has no email address".to_owned()));
    }
    Ok(record)
}

/// Whether a username is an email address (a realm with "email as username", or a habit).
fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// An attribute (a list of strings in Keycloak) as a field: one value as itself, several as
/// the list, noted.
fn attribute(record: &mut ImportRecord, name: &str, values: &Value) {
    let value = match values {
        Value::Null => return,
        Value::Array(list) if list.is_empty() => return,
        Value::Array(list) if list.len() == 1 => list[0].clone(),
        Value::Array(list) => {
            record.notes.push(format!(
                "the attribute `{name}` has {} values: given as a list",
                list.len()
            ));
            values.clone()
        }
        other => other.clone(),
    };
    record.fields.push((name.to_owned(), value));
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
        let realm = json!({"realm": "acme", "users": [user]});
        let mut seen = read_text(&realm.to_string(), None).unwrap();
        assert_eq!(seen.len(), 1);
        seen.remove(0).unwrap()
    }

    /// A credential as recent versions write it: JSON documents inside strings.
    fn credential(algorithm: &str, iterations: i64, parameters: Value) -> Value {
        let secret = json!({
            "value": "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSorLC0uLzA=",
            "salt": "AAECAwQFBgcICQoLDA0ODw==",
            "additionalParameters": {}
        });
        let data = json!({
            "hashIterations": iterations,
            "algorithm": algorithm,
            "additionalParameters": parameters
        });
        json!({
            "id": "c1",
            "type": "password",
            "createdDate": 1_700_000_000_000_i64,
            "secretData": secret.to_string(),
            "credentialData": data.to_string()
        })
    }

    #[test]
    fn a_user_gives_its_names_attributes_identities_and_dates() {
        let record = one(json!({
            "id": "5f0c1d2e-0000-4000-8000-000000000001",
            "createdTimestamp": 1_700_000_000_123_i64,
            "username": "ada",
            "enabled": true,
            "emailVerified": true,
            "firstName": "Ada",
            "lastName": "Lovelace",
            "email": "ada@example.com",
            "attributes": {"company": ["Acme"], "team": ["core", "infra"], "empty": []},
            "federatedIdentities": [{"identityProvider": "github", "userId": "4242", "userName": "ada"}],
            "realmRoles": ["default-roles-acme"],
            "notBefore": 0,
            "groups": []
        }));
        assert_eq!(record.line, 1);
        assert_eq!(
            record.external_id.as_deref(),
            Some("5f0c1d2e-0000-4000-8000-000000000001")
        );
        assert_eq!(record.email, "ada@example.com");
        assert!(record.email_verified && !record.disabled);
        assert_eq!(
            record.created_at,
            Some(datetime!(2023-11-14 22:13:20.123 UTC))
        );
        assert_eq!(record.profile["given_name"], "Ada");
        assert_eq!(record.profile["family_name"], "Lovelace");
        assert_eq!(record.profile["preferred_username"], "ada");
        assert_eq!(
            record.fields,
            vec![
                ("company".to_owned(), json!("Acme")),
                ("team".to_owned(), json!(["core", "infra"])),
            ]
        );
        assert_eq!(
            record.identities,
            vec![ExternalIdentity {
                provider: "github".into(),
                subject: "4242".into()
            }]
        );
        assert_eq!(
            record.notes,
            vec!["the attribute `team` has 2 values: given as a list"]
        );
    }

    #[test]
    fn each_generation_of_password_credentials_gives_a_phc_string() {
        let recent = one(json!({
            "email": "a@example.com",
            "credentials": [credential("pbkdf2-sha256", 27_500, json!({}))]
        }));
        assert_eq!(
            recent.password_hash.as_deref().unwrap().split('$').nth(1),
            Some("pbkdf2-sha256")
        );
        assert!(
            recent
                .password_hash
                .as_deref()
                .unwrap()
                .starts_with("$pbkdf2-sha256$i=27500,l=53$")
        );
        let sha1 = one(json!({
            "email": "a@example.com",
            "credentials": [credential("pbkdf2", 20_000, json!({}))]
        }));
        assert!(
            sha1.password_hash
                .as_deref()
                .unwrap()
                .starts_with("$pbkdf2$i=20000,")
        );
        let old = one(json!({
            "email": "a@example.com",
            "credentials": [{
                "type": "password",
                "hashedSaltedValue": "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSorLC0uLzA=",
                "salt": "AAECAwQFBgcICQoLDA0ODw==",
                "hashIterations": 27_500,
                "counter": 0,
                "algorithm": "pbkdf2-sha256",
                "digits": 0,
                "period": 0,
                "config": {}
            }]
        }));
        assert_eq!(old.password_hash, recent.password_hash);
        let argon2 = one(json!({
            "email": "a@example.com",
            "credentials": [credential("argon2", 5, json!({
                "hashLength": ["32"], "memory": ["7168"], "type": ["id"],
                "version": ["1.3"], "parallelism": ["1"]
            }))]
        }));
        assert!(
            argon2
                .password_hash
                .as_deref()
                .unwrap()
                .starts_with("$argon2id$v=19$m=7168,t=5,p=1$AAECAwQFBgcICQoLDA0ODw$"),
            "{argon2:?}"
        );
    }

    #[test]
    fn an_unknown_algorithm_or_a_plain_password_leaves_a_note_and_no_hash() {
        let record = one(json!({
            "email": "a@example.com",
            "credentials": [credential("scrypt", 1, json!({})), {"type": "otp", "secretData": "{}"}]
        }));
        assert_eq!(record.password_hash, None);
        assert_eq!(
            record.notes,
            vec!["the `otp` credential is not imported: the user enrolls it again"]
        );
        assert_eq!(
            record.password_left_out.as_deref(),
            Some(
                "the password algorithm `scrypt` is not supported: the password was not \
                 imported and the user will have to reset it"
            )
        );
        let record = one(json!({
            "email": "a@example.com",
            "credentials": [{"type": "password", "value": "hunter2", "temporary": false}]
        }));
        assert_eq!(record.password_hash, None);
        let why = record.password_left_out.unwrap_or_default();
        assert!(why.contains("plain text"), "{why}");
    }

    #[test]
    fn of_several_password_credentials_the_lowest_priority_then_the_first_is_kept() {
        let mut first = credential("pbkdf2-sha256", 27_500, json!({}));
        first["priority"] = json!(20);
        let mut second = credential("pbkdf2-sha512", 210_000, json!({}));
        second["priority"] = json!(10);
        let record = one(json!({"email": "a@example.com", "credentials": [first, second]}));
        assert!(
            record
                .password_hash
                .as_deref()
                .unwrap()
                .starts_with("$pbkdf2-sha512$i=210000,")
        );
        assert_eq!(
            record.notes,
            vec!["2 password credentials: the one Keycloak checks first is kept"]
        );
        let record = one(json!({
            "email": "a@example.com",
            "credentials": [
                credential("pbkdf2-sha512", 210_000, json!({})),
                credential("pbkdf2-sha256", 27_500, json!({}))
            ]
        }));
        assert!(
            record
                .password_hash
                .as_deref()
                .unwrap()
                .starts_with("$pbkdf2-sha512$")
        );
    }

    #[test]
    fn a_username_that_is_an_email_stands_for_a_missing_email() {
        let record = one(json!({"username": "grace@example.com", "enabled": false}));
        assert_eq!(record.email, "grace@example.com");
        assert!(record.disabled);
        assert!(!record.profile.contains_key("preferred_username"));
        assert_eq!(
            record.notes,
            vec!["no email: the username `grace@example.com` is used as the email address"]
        );
    }

    #[test]
    fn users_without_email_and_service_accounts_are_problems_of_their_position() {
        let realm = json!({"users": [
            {"username": "service-account-api", "serviceAccountClientId": "api"},
            {"username": "bob"},
            {"email": "c@example.com", "enabled": "yes"},
            {"email": "d@example.com"}
        ]});
        let seen = read_text(&realm.to_string(), None).unwrap();
        let problems: Vec<_> = seen
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|p| (p.line, p.path.as_str()))
            .collect();
        // A service account is no user: a note, not a problem of a user.
        assert_eq!(problems, vec![(1, "note"), (2, "email"), (3, "")]);
        assert_eq!(seen[3].as_ref().unwrap().line, 4);
    }

    #[test]
    fn a_document_without_users_is_not_a_realm_export() {
        let error = read_text(r#"{"realm": "acme", "clients": []}"#, None).unwrap_err();
        assert!(
            matches!(&error, ReadError::NotFormat { message, .. } if message.contains("`users`")),
            "{error:?}"
        );
        assert!(matches!(
            read_text("email,name\n", None),
            Err(ReadError::NotFormat { line: 1, .. })
        ));
        let cut = read_text(r#"{"users": [{"email": "a@example.com"}, {"email": "#, None);
        assert!(
            matches!(&cut, Err(ReadError::NotFormat { message, .. })
                if message.starts_with("the file ends in the middle of a Keycloak realm export")),
            "{cut:?}"
        );
        let split = read_text(r#"{"realm": "acme", "enabled": true}"#, None);
        assert!(
            matches!(&split, Err(ReadError::NotFormat { message, .. })
                if message.contains("-users-<n>.json")),
            "{split:?}"
        );
    }

    #[test]
    fn an_export_of_every_realm_gives_the_users_of_each() {
        let realms = json!([
            {"realm": "master", "users": [{"email": "admin@example.com"}]},
            {"realm": "acme", "users": [{"email": "a@example.com"}, {"email": "b@example.com"}]}
        ]);
        let seen = read_text(&realms.to_string(), None).unwrap();
        let lines: Vec<_> = seen.iter().map(|r| r.as_ref().unwrap().line).collect();
        assert_eq!(lines, vec![1, 2, 3]);
    }

    #[test]
    fn a_mapping_sends_an_attribute_elsewhere() {
        let mapping =
            Mapping::parse("[columns]\n\"/attributes/phone/0\" = \"profile.phone_number\"\n")
                .unwrap();
        let realm =
            json!({"users": [{"email": "a@example.com", "attributes": {"phone": ["+331234"]}}]});
        let seen = read_text(&realm.to_string(), Some(&mapping)).unwrap();
        let record = seen[0].as_ref().unwrap();
        assert_eq!(record.profile["phone_number"], "+331234");
        // Moved, not also read as the field `phone` (which the policy does not have).
        assert!(record.fields.is_empty(), "{:?}", record.fields);
    }
}
