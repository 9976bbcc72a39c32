//! Accrete's own export (`accrete users export`), one user per line:
//!
//! ```json
//! {"id": "<uuid>", "email": "...", "email_verified": true, "created_at": "<RFC 3339>",
//!  "updated_at": "<RFC 3339>", "disabled": false, "disabled_at": null,
//!  "sign_ins": {"credentialed": 3, "sso": 1, "last_at": "<RFC 3339>"},
//!  "password_hash": "...", "profile": {...}, "user_metadata": {...}, "app_metadata": {...},
//!  "fields": {...},
//!  "sources": {"profile.given_name": {"source": "signup", "at": "<RFC 3339>"}},
//!  "prompts": [{"step": "work", "shown": 2, "skipped": 1, ...}],
//!  "history": [...], "identities": [{"provider": "...", "subject": "..."}]}
//! ```
//!
//! `id` gives both `id` and `external_id`; `password_hash` is kept as the export wrote it;
//! `fields` keeps its order; `history` entries are kept as JSON. Other top-level keys are left
//! out, said in the record's notes. Blank lines are skipped.
//!
//! With a mapping, a line is instead read like a CSV row whose columns are JSON pointers
//! (`/email`, `/profile/given_name`, `/company`) into the line's object, or top-level keys;
//! values are kept as JSON, and only mapped values are read.

use std::io::BufRead;

use accrete_store::SignIns;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::json::{self, Members};
use super::{Each, Mapping, ReadError};
use crate::import::{ExternalIdentity, ImportProblem, ImportRecord};

/// The top-level keys of a line of `accrete users export`.
const KEYS: [&str; 17] = [
    "id",
    "email",
    "email_verified",
    "created_at",
    "updated_at",
    "disabled",
    "disabled_at",
    "sign_ins",
    "prompts",
    "password_hash",
    "profile",
    "user_metadata",
    "app_metadata",
    "fields",
    "sources",
    "history",
    "identities",
];

pub(super) fn read(
    input: impl BufRead,
    mapping: Option<&Mapping>,
    each: &mut Each<'_>,
) -> Result<(), ReadError> {
    json::read_list_or_lines(
        input,
        each,
        "a JSON list of users",
        |line, object| match mapping {
            Some(mapping) => mapped(line, object, mapping),
            None => exported(line, object),
        },
    )
}

/// A line read through a mapping: only the mapped values.
fn mapped(
    line: u64,
    object: Map<String, Value>,
    mapping: &Mapping,
) -> Result<ImportRecord, ImportProblem> {
    let mut record = ImportRecord {
        line,
        ..ImportRecord::default()
    };
    mapping
        .apply_json(&Value::Object(object), &mut record)
        .map_err(|(path, message)| ImportProblem::new(line, path, message))?;
    if record.email.trim().is_empty() {
        let path = mapping.email_source().unwrap_or("email");
        return Err(ImportProblem::new(
            line,
            path,
            "the user has no email address",
        ));
    }
    Ok(record)
}

/// `sign_ins` as `accrete users export` writes it: `{"credentialed": 3, "sso": 1, "last_at":
/// "<RFC 3339>"}`, each member optional.
fn sign_ins(members: &Members<'_>) -> Result<SignIns, ImportProblem> {
    let Some(object) = members.object("sign_ins")? else {
        return Ok(SignIns::default());
    };
    let inner = Members {
        line: members.line,
        object,
    };
    let named = |mut problem: ImportProblem| {
        problem.path = format!("sign_ins.{}", problem.path);
        problem
    };
    if let Some(unknown) = object
        .keys()
        .find(|key| !["credentialed", "sso", "last_at"].contains(&key.as_str()))
    {
        return Err(members.problem(
            "sign_ins",
            format!("unknown member `{unknown}`: sign_ins has credentialed, sso and last_at"),
        ));
    }
    Ok(SignIns {
        credentialed: inner.count("credentialed").map_err(named)?.unwrap_or(0),
        sso: inner.count("sso").map_err(named)?.unwrap_or(0),
        last_at: inner.time("last_at").map_err(named)?,
    })
}

/// A line as `accrete users export` writes it. Every member is checked before any is taken:
/// the bags, lists and sources are then moved out of the line's object, not copied.
fn exported(line: u64, mut object: Map<String, Value>) -> Result<ImportRecord, ImportProblem> {
    let members = Members {
        line,
        object: &object,
    };
    let id = members
        .string("id")?
        .map(|id| {
            Uuid::parse_str(id).map_err(|_| members.problem("id", format!("`{id}` is not a UUID")))
        })
        .transpose()?;
    let mut record = ImportRecord {
        line,
        id,
        // In one spelling (lower case, hyphens): the same id written in upper case is the
        // same user.
        external_id: id.map(|id| id.to_string()),
        email: members.string("email")?.unwrap_or_default().to_owned(),
        email_verified: members.flag("email_verified")?.unwrap_or(false),
        created_at: members.time("created_at")?,
        updated_at: members.time("updated_at")?,
        disabled_at: members.time("disabled_at")?,
        disabled: members.flag("disabled")?.unwrap_or(false),
        sign_ins: sign_ins(&members)?,
        ..ImportRecord::default()
    };
    members.list("prompts")?;
    record.password_hash = members.string("password_hash")?.map(str::to_owned);
    for key in ["profile", "user_metadata", "app_metadata", "sources"] {
        members.object(key)?;
    }
    members.list("history")?;
    members.object("fields")?;
    for identity in members.list("identities")? {
        let text = |key| identity.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(provider), Some(subject)) = (text("provider"), text("subject")) else {
            return Err(members.problem("identities", "an identity lacks its provider or subject"));
        };
        record
            .identities
            .push(ExternalIdentity { provider, subject });
    }
    let unknown: Vec<_> = object
        .keys()
        .filter(|key| !KEYS.contains(&key.as_str()))
        .map(|key| format!("`{key}`"))
        .collect();
    if !unknown.is_empty() {
        record
            .notes
            .push(format!("unknown keys are left out: {}", unknown.join(", ")));
    }
    if record.email.trim().is_empty() {
        return Err(members.problem("email", "the user has no email address"));
    }
    // Checked above: each is of its kind, or absent (`null` too).
    let mut object_at = |key: &str| match object.remove(key) {
        Some(Value::Object(members)) => members,
        _ => Map::new(),
    };
    record.profile = object_at("profile");
    record.user_metadata = object_at("user_metadata");
    record.app_metadata = object_at("app_metadata");
    record.sources = object_at("sources");
    record.fields = object_at("fields").into_iter().collect();
    let mut list_at = |key: &str| match object.remove(key) {
        Some(Value::Array(list)) => list,
        _ => Vec::new(),
    };
    record.prompts = list_at("prompts");
    record.history = list_at("history");
    Ok(record)
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
    ) -> Vec<Result<ImportRecord, ImportProblem>> {
        let mut seen = Vec::new();
        read(Cursor::new(text.as_bytes().to_vec()), mapping, &mut |r| {
            seen.push(r);
            ControlFlow::Continue(())
        })
        .unwrap();
        seen
    }

    #[test]
    fn an_exported_line_gives_back_the_same_user() {
        let line = json!({
            "id": "0190a0b2-7c4e-7d11-9a55-3f5e2c1d0e9f",
            "email": "ada@example.com",
            "email_verified": true,
            "created_at": "2024-06-01T08:00:00Z",
            "disabled": true,
            "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
            "profile": {"given_name": "Ada"},
            "user_metadata": {"theme": "dark"},
            "app_metadata": {"plan": "pro"},
            "fields": {"company": "Acme", "age": 36},
            "sources": {"profile.given_name": "signup"},
            "history": [{"at": "2024-06-01T08:00:00Z", "change": "created"}],
            "identities": [{"provider": "google", "subject": "1093"}],
            "exported_at": "2024-07-01T00:00:00Z"
        });
        let seen = read_text(&line.to_string(), None);
        let record = seen[0].as_ref().unwrap();
        assert_eq!(
            record.id.map(|id| id.to_string()).as_deref(),
            Some("0190a0b2-7c4e-7d11-9a55-3f5e2c1d0e9f")
        );
        assert_eq!(
            record.external_id.as_deref(),
            Some("0190a0b2-7c4e-7d11-9a55-3f5e2c1d0e9f")
        );
        assert_eq!(record.email, "ada@example.com");
        assert!(record.email_verified && record.disabled);
        assert_eq!(record.created_at, Some(datetime!(2024-06-01 08:00 UTC)));
        assert!(
            record
                .password_hash
                .as_deref()
                .unwrap()
                .starts_with("$argon2id$")
        );
        assert_eq!(
            record.fields,
            vec![
                ("company".to_owned(), json!("Acme")),
                ("age".to_owned(), json!(36))
            ]
        );
        assert_eq!(record.sources["profile.given_name"], "signup");
        assert_eq!(record.history.len(), 1);
        assert_eq!(
            record.identities,
            vec![ExternalIdentity {
                provider: "google".into(),
                subject: "1093".into()
            }]
        );
        assert_eq!(
            record.notes,
            vec!["unknown keys are left out: `exported_at`"]
        );
    }

    #[test]
    fn a_json_list_of_users_is_read_as_its_lines_would_be() {
        // As the API's `application/json` body takes it for `jsonl`: positions in the list.
        let seen = read_text(
            "[{\"email\":\"a@example.com\",\"profile\":{\"given_name\":\"Ada\"}},\n 7,\n\
             {\"email\":\"b@example.com\"}]",
            None,
        );
        assert_eq!(seen.len(), 3, "{seen:?}");
        let first = seen[0].as_ref().unwrap();
        assert_eq!((first.line, first.email.as_str()), (1, "a@example.com"));
        assert_eq!(first.profile["given_name"], "Ada");
        assert_eq!(
            seen[1],
            Err(ImportProblem::new(
                2,
                "",
                "a number is not a user (a JSON object)"
            ))
        );
        assert_eq!(seen[2].as_ref().unwrap().line, 3);
    }

    #[test]
    fn a_bad_id_or_a_missing_email_is_a_problem_of_its_line() {
        let seen = read_text(
            "{\"id\":\"42\",\"email\":\"a@example.com\"}\n{\"profile\":{}}\n",
            None,
        );
        assert_eq!(
            seen,
            vec![
                Err(ImportProblem::new(1, "id", "`42` is not a UUID")),
                Err(ImportProblem::new(
                    2,
                    "email",
                    "the user has no email address"
                )),
            ]
        );
    }

    #[test]
    fn an_id_in_upper_case_is_the_same_source_id() {
        let seen = read_text(
            "{\"id\":\"0190A0B0-C0D0-7E0F-8000-000000000001\",\"email\":\"a@example.com\"}\n",
            None,
        );
        let record = seen[0].as_ref().unwrap();
        assert_eq!(
            record.external_id.as_deref(),
            Some("0190a0b0-c0d0-7e0f-8000-000000000001")
        );
    }

    #[test]
    fn with_a_mapping_json_pointers_pick_the_values_and_keep_them_as_json() {
        let mapping = Mapping::parse(
            "[columns]\n\"/contact/email\" = \"email\"\n\"/profile/given_name\" = \"profile.given_name\"\n\"/company\" = \"company\"\n\"/active\" = \"disabled\"\n",
        )
        .unwrap();
        let seen = read_text(
            "{\"contact\":{\"email\":\"a@example.com\"},\"profile\":{\"given_name\":\"Ada\"},\"company\":{\"name\":\"Acme\"},\"id\":\"x\"}\n\
             {\"contact\":{}}\n\
             {\"contact\":{\"email\":\"b@example.com\"},\"active\":3}\n",
            Some(&mapping),
        );
        let record = seen[0].as_ref().unwrap();
        assert_eq!(record.email, "a@example.com");
        assert_eq!(record.profile["given_name"], "Ada");
        assert_eq!(
            record.fields,
            vec![("company".to_owned(), json!({"name": "Acme"}))]
        );
        assert_eq!(record.id, None);
        assert_eq!(
            seen[1],
            Err(ImportProblem::new(
                2,
                "/contact/email",
                "the user has no email address"
            ))
        );
        assert_eq!(
            seen[2],
            Err(ImportProblem::new(
                3,
                "/active",
                "a number is not true or false"
            ))
        );
    }
}
