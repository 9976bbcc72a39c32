//! Checks on values written by an administrator (the API's users use-cases): metadata key rules and size caps, the claims a
//! profile may hold, and typed fields validated by the engine (values come back normalised).

use accrete_core::{
    CompiledPolicy, FieldType, JsonAnswers, STANDARD_CLAIMS, consent_record_as_given,
    validate_json_answers,
};
use accrete_store::{Location, PHONE_NUMBER_VERIFIED, User};
use serde_json::{Map, Value};

use crate::facts::{bag, location_of};
use crate::problems::{Problem, push};

/// Largest serialized size of one metadata bag, in bytes.
pub const MAX_BAG_BYTES: usize = 16 * 1024;
/// Longest metadata key, in characters.
pub const MAX_KEY_CHARS: usize = 128;
/// Deepest nesting of metadata objects.
pub const MAX_DEPTH: usize = 8;

/// The keys of a metadata object's members, at any depth, may not be empty, contain `.` or `$`,
/// be longer than [`MAX_KEY_CHARS`], or nest deeper than [`MAX_DEPTH`].
fn check_keys(path: &str, object: &Map<String, Value>, depth: usize, problems: &mut Vec<Problem>) {
    if depth > MAX_DEPTH {
        push(
            problems,
            path.to_owned(),
            "too_deep",
            format!("objects may nest at most {MAX_DEPTH} levels"),
        );
        return;
    }
    for (key, inner) in object {
        // The member's path, written only when a problem or an object needs it.
        let here = || format!("{path}.{key}");
        if key.is_empty() || key.contains('.') || key.contains('$') {
            push(
                problems,
                here(),
                "invalid_key",
                "a metadata key must be non-empty and contain neither '.' nor '$'",
            );
        } else if key.chars().count() > MAX_KEY_CHARS {
            push(
                problems,
                here(),
                "invalid_key",
                format!("a metadata key has at most {MAX_KEY_CHARS} characters"),
            );
        } else if let Value::Object(inner) = inner {
            check_keys(&here(), inner, depth + 1, problems);
        }
    }
}

/// The bag after applying `patch` (RFC 7396) to the user's current bag, for the size check.
pub fn merged(current: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(fields) => {
            let mut object = match current {
                Value::Object(object) => object.clone(),
                _ => Map::new(),
            };
            for (key, value) in fields {
                if value.is_null() {
                    object.remove(key);
                } else {
                    let next = merged(object.get(key).unwrap_or(&Value::Null), value);
                    object.insert(key.clone(), next);
                }
            }
            Value::Object(object)
        }
        other => other.clone(),
    }
}

/// Refuses a bag over [`MAX_BAG_BYTES`].
pub fn check_size(location: Location, value: &Value, problems: &mut Vec<Problem>) {
    let size = serialized_len(value);
    if size > MAX_BAG_BYTES {
        push(
            problems,
            location.as_str().to_owned(),
            "too_large",
            format!(
                "{} would be {size} bytes; the limit is {MAX_BAG_BYTES}",
                location.as_str()
            ),
        );
    }
}

/// The length of `value` serialised as JSON, counted without writing it anywhere.
fn serialized_len(value: &Value) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

/// The keys of the policy's consent fields kept in `location`.
pub fn consent_keys(policy: &CompiledPolicy, location: Location) -> impl Iterator<Item = &str> {
    policy
        .fields()
        .iter()
        .filter(|field| field.kind == FieldType::Consent)
        .map(location_of)
        .filter(move |(place, _)| *place == location)
        .map(|(_, key)| key)
}

/// The language of the problems told to operators and applications: the management API's, the
/// importer's report, refused hook and upstream values (the hosted pages check answers in the
/// person's own language).
pub const MESSAGES: &str = "en";

/// Validates the top-level values of `values` (a bag patch or claim map) that are typed fields
/// of `location`, replacing each with its normalised form. Errors are keyed
/// `<location>.<key>`, their messages in the management API's language ([`MESSAGES`]). `now`
/// is the write's time: the day dates are checked against, and the time of a consent given by
/// its choice alone.
pub fn validate_typed(
    policy: &CompiledPolicy,
    location: Location,
    values: &mut Map<String, Value>,
    now: time::OffsetDateTime,
    problems: &mut Vec<Problem>,
) {
    let mut answers = JsonAnswers::new();
    let mut asked: Vec<(String, String)> = Vec::new();
    // Consent records given with their version, stored as given once the field's rules
    // (accepted, required) have checked them.
    let mut as_given: Vec<(String, Value)> = Vec::new();
    for field in policy.fields() {
        let (at, key) = location_of(field);
        if at != location {
            continue;
        }
        if let Some(value) = values.get(key).filter(|v| !v.is_null()) {
            if field.kind == FieldType::Consent {
                match consent_record_as_given(value) {
                    Some(Ok(record)) => as_given.push((key.to_owned(), record)),
                    Some(Err(message)) => {
                        push(
                            problems,
                            format!("{}.{key}", location.as_str()),
                            "invalid_type",
                            message,
                        );
                        continue;
                    }
                    None => {}
                }
            }
            answers.insert(field.key.to_string(), value.clone());
            asked.push((field.key.to_string(), key.to_owned()));
        }
    }
    if asked.is_empty() {
        return;
    }
    let fields: Vec<&str> = asked.iter().map(|(field, _)| field.as_str()).collect();
    match validate_json_answers(policy, &fields, &answers, MESSAGES, now.date()) {
        Ok(typed) => {
            for (field, key) in &asked {
                // A non-required field answered with an empty value is absent: a deletion.
                let value = typed.get(field.as_str()).cloned().unwrap_or(Value::Null);
                values.insert(key.clone(), value);
            }
            // A consent given by its choice alone is accepted now, to the version in force
            // (the record a person's answer makes, without an application), at the write's time.
            let at = now
                .replace_nanosecond(0)
                .unwrap_or(now)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            for key in consent_keys(policy, location) {
                if !as_given.iter().any(|(given, _)| given == key)
                    && let Some(Value::Object(record)) = values.get_mut(key)
                {
                    record.insert("at".to_owned(), Value::String(at.clone()));
                }
            }
            for (key, record) in as_given {
                values.insert(key, record);
            }
        }
        Err(errors) => {
            for (field, list) in errors.0 {
                let key = asked
                    .iter()
                    .find(|(f, _)| *f == field)
                    .map_or(field.clone(), |(_, k)| k.clone());
                for error in list {
                    push(
                        problems,
                        format!("{}.{key}", location.as_str()),
                        error.code,
                        error.message,
                    );
                }
            }
        }
    }
}

/// Whether `claim` may be stored in the profile: a standard claim, or one a field stores.
pub fn is_profile_claim(policy: &CompiledPolicy, claim: &str) -> bool {
    STANDARD_CLAIMS.iter().any(|(name, _)| *name == claim)
        || policy
            .fields()
            .iter()
            .any(|field| location_of(field) == (Location::Profile, claim))
}

/// Checks a replacement of profile claims; untyped claims must be strings.
pub fn check_profile(
    policy: &CompiledPolicy,
    claims: &mut Map<String, Value>,
    now: time::OffsetDateTime,
    problems: &mut Vec<Problem>,
) {
    for (claim, value) in claims.iter() {
        let key = format!("profile.{claim}");
        if claim == PHONE_NUMBER_VERIFIED {
            push(
                problems,
                key,
                "read_only",
                "set by Accrete when the person enters the code sent to their number; \
                 a phone_number written here is unverified",
            );
        } else if !is_profile_claim(policy, claim) {
            push(
                problems,
                key,
                "unknown_claim",
                "not a standard claim; store it in user_metadata or app_metadata",
            );
        } else if !(value.is_null() || value.is_string()) {
            push(problems, key, "invalid_type", "a profile claim is a string");
        } else if value.as_str().is_some_and(|s| s.chars().count() > 1000) {
            push(problems, key, "too_long", "at most 1000 characters");
        }
    }
    validate_typed(policy, Location::Profile, claims, now, problems);
}

/// Checks a metadata merge patch against the key rules, the typed fields of the bag and the
/// size cap (against the user's current bag, when known).
pub fn check_metadata(
    policy: &CompiledPolicy,
    location: Location,
    patch: &mut Map<String, Value>,
    user: Option<&User>,
    now: time::OffsetDateTime,
    problems: &mut Vec<Problem>,
) {
    check_keys(location.as_str(), patch, 0, problems);
    validate_typed(policy, location, patch, now, problems);
    // The patch is lent as a value for the merge, not copied (the importer checks a million).
    let whole = Value::Object(std::mem::take(patch));
    let current = user.map_or(&Value::Null, |u| bag(u, location));
    check_size(location, &merged(current, &whole), problems);
    if let Value::Object(members) = whole {
        *patch = members;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_keys_with_a_dot_or_a_dollar_are_refused_at_any_depth() {
        let mut problems = Vec::new();
        check_keys(
            "user_metadata",
            json!({"ok": {"a.b": 1, "$c": 2}, "": 3})
                .as_object()
                .unwrap(),
            0,
            &mut problems,
        );
        assert_eq!(problems.len(), 3);
        assert!(problems.iter().any(|p| p.path == "user_metadata.ok.a.b"));
        assert!(problems.iter().any(|p| p.path == "user_metadata.ok.$c"));
    }

    fn example() -> CompiledPolicy {
        accrete_core::Policy::from_toml_str(include_str!("../../../examples/policy.toml"))
            .unwrap()
            .compile()
            .unwrap()
    }

    #[test]
    fn a_consent_record_given_with_its_version_is_stored_as_given() {
        let policy = example();
        // The `terms` consent of user_metadata, checked as the API and the importer check it:
        // what is stored, and the paths of the problems.
        let written = time::macros::datetime!(2026-12-06 10:11:12.345 UTC);
        let checked = |terms: Value| {
            let mut bag = Map::new();
            bag.insert("terms".into(), terms);
            let mut problems = Vec::new();
            check_metadata(
                &policy,
                Location::UserMetadata,
                &mut bag,
                None,
                written,
                &mut problems,
            );
            let paths: Vec<String> = problems.into_iter().map(|p| p.path).collect();
            (bag.remove("terms"), paths)
        };
        // Accepted in the source system, to a version older than the one in force.
        let record = json!({
            "accepted": true,
            "version": "1999-01",
            "url": "https://example.com/terms/1999-01",
            "at": "1999-01-02T03:04:05Z",
            "client_id": "shop"
        });
        assert_eq!(checked(record.clone()), (Some(record), vec![]));

        // Only the choice: the version in force, as a person's answer takes, accepted at the
        // write's time (to the second).
        for choice in [json!({"accepted": true}), json!(true)] {
            let (stored, problems) = checked(choice);
            assert!(problems.is_empty(), "{problems:?}");
            let stored = stored.unwrap();
            assert_eq!(stored["version"], "2026-01");
            assert_eq!(stored["at"], "2026-12-06T10:11:12Z", "{stored}");
            assert!(stored.get("client_id").is_none(), "{stored}");
        }

        // A record of the wrong shape is refused, not stored.
        for wrong in [
            json!({"accepted": true, "version": "1999-01", "at": "yesterday"}),
            json!({"accepted": true, "version": 3}),
            json!({"accepted": true, "version": "1999-01", "signed": "x"}),
            // The pages link the url; the version is as a policy's.
            json!({"accepted": true, "version": "v9", "url": "javascript:alert(1)"}),
            json!({"accepted": true, "version": ""}),
            json!({"accepted": true, "version": "v".repeat(65)}),
        ] {
            let (_, problems) = checked(wrong.clone());
            assert_eq!(problems, vec!["user_metadata.terms"], "{wrong}");
        }
    }

    #[test]
    fn a_merged_bag_over_the_cap_is_refused() {
        let mut problems = Vec::new();
        let big = "x".repeat(MAX_BAG_BYTES);
        let after = merged(&json!({"a": 1}), &json!({"b": big, "a": null}));
        assert_eq!(after.get("a"), None);
        check_size(Location::AppMetadata, &after, &mut problems);
        assert_eq!(problems[0].path, "app_metadata");
        assert_eq!(problems[0].code, "too_large");
    }
}
