//! Profile values released as OpenID Connect claims, by granted scope.

use accrete_core::{CompiledPolicy, Field, Storage};
use accrete_store::{PHONE_NUMBER, PHONE_NUMBER_VERIFIED, User};
use serde_json::{Map, Value};

use crate::facts::stored_value;

/// The standard scope that releases a standard claim (OpenID Connect Core, 5.4).
fn standard_scope(claim: &str) -> Option<&'static str> {
    match claim {
        "name" | "family_name" | "given_name" | "middle_name" | "nickname"
        | "preferred_username" | "profile" | "picture" | "website" | "gender" | "birthdate"
        | "zoneinfo" | "locale" => Some("profile"),
        "phone_number" | "phone_number_verified" => Some("phone"),
        "address" => Some("address"),
        "email" | "email_verified" => Some("email"),
        _ => None,
    }
}

/// The claims of `user`'s stored profile values that `scopes` release, values keeping their
/// JSON types (numbers, booleans, arrays).
///
/// - Standard claims stored in the profile are released by their standard scope (`profile`,
///   `phone`, `address`), whether or not the policy declares a field for them.
/// - A field with a `scope` is released by that scope under its `claim` name (default: its
///   key), wherever it is stored; a field without one is released only if it is a standard
///   claim.
/// - `email` and `email_verified` come from the account itself, not from here.
pub fn claims_for(
    policy: Option<&CompiledPolicy>,
    user: &User,
    scopes: &[String],
) -> Map<String, Value> {
    let granted = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut claims = Map::new();
    if let Some(profile) = user.profile.as_object() {
        for (claim, value) in profile {
            if value.is_null() || claim == "email" || claim == "email_verified" {
                continue;
            }
            if standard_scope(claim).is_some_and(granted) {
                claims.insert(claim.clone(), value.clone());
            }
        }
        // A number is verified only when a code sent to it was entered (OpenID Connect:
        // `false` otherwise); the flag is stored only when true.
        if claims.contains_key(PHONE_NUMBER) {
            claims
                .entry(PHONE_NUMBER_VERIFIED)
                .or_insert(Value::Bool(false));
        }
    }
    let Some(policy) = policy else {
        return claims;
    };
    for field in policy.fields() {
        let Some(scope) = &field.scope else {
            continue;
        };
        if !granted(scope) {
            continue;
        }
        let Some(value) = stored_value(user, field) else {
            continue;
        };
        claims.insert(claim_name(field), value.clone());
    }
    claims
}

/// The most bytes (as JSON) of the claims hooks add to one ID token.
pub const MAX_HOOK_CLAIMS_BYTES: usize = 2048;

/// A hook's `claims` named under its `namespace` (`https://example.com/segment`); a name that
/// starts with the namespace already is kept as it is.
pub fn namespaced_claims(namespace: &str, claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .filter(|(name, value)| !name.is_empty() && !value.is_null())
        .map(|(name, value)| {
            let name = if name.starts_with(namespace) {
                name.clone()
            } else {
                format!("{namespace}{name}")
            };
            (name, value.clone())
        })
        .collect()
}

/// The ID token's claims with the hooks' `added` ones: never a protocol claim, a standard
/// claim, or a claim the profile released already (a hook adds, it never overrides).
pub fn with_hook_claims(
    mut released: Map<String, Value>,
    added: &Map<String, Value>,
) -> Map<String, Value> {
    for (name, value) in added {
        if accrete_oidc::jwt::is_reserved(name)
            || standard_scope(name).is_some()
            || released.contains_key(name)
        {
            continue;
        }
        released.insert(name.clone(), value.clone());
    }
    released
}

/// The claim name a field is released under: its `claim`, else its standard claim, else its key.
fn claim_name(field: &Field) -> String {
    match (&field.claim, &field.storage) {
        (Some(claim), _) => claim.clone(),
        (None, Storage::Profile { claim }) => claim.clone(),
        (None, _) => field.key.as_str().to_owned(),
    }
}

/// The scopes the policy's fields name, each with the claims it releases (in the policy's
/// order), for discovery's `scopes_supported` and `claims_supported`: what [`claims_for`] can
/// release.
pub fn custom_scopes(policy: &CompiledPolicy) -> Vec<(String, Vec<String>)> {
    let mut scopes: Vec<(String, Vec<String>)> = Vec::new();
    for field in policy.fields() {
        let Some(scope) = &field.scope else {
            continue;
        };
        let claim = claim_name(field);
        match scopes.iter_mut().find(|(name, _)| name == scope) {
            Some((_, claims)) if claims.contains(&claim) => {}
            Some((_, claims)) => claims.push(claim),
            None => scopes.push((scope.clone(), vec![claim])),
        }
    }
    scopes
}

#[cfg(test)]
mod tests {
    use super::*;
    use accrete_core::Policy;
    use serde_json::json;
    use time::OffsetDateTime;

    fn user(profile: Value, user_metadata: Value) -> User {
        let now = OffsetDateTime::UNIX_EPOCH;
        User {
            id: uuid::Uuid::nil(),
            email: "ann@example.com".into(),
            email_verified: true,
            password_hash: None,
            created_at: now,
            updated_at: now,
            credentialed_logins: 1,
            sso_logins: 0,
            last_login_at: None,
            profile,
            user_metadata,
            app_metadata: json!({}),
            version: 1,
            mfa_factors: 0,
            disabled_at: None,
        }
    }

    fn example() -> CompiledPolicy {
        Policy::from_toml_str(include_str!("../../../examples/policy.toml"))
            .unwrap()
            .compile()
            .unwrap()
    }

    #[test]
    fn standard_claims_follow_their_scope_and_custom_scopes_release_custom_claims() {
        let policy = example();
        let user = user(
            json!({ "given_name": "Ann", "phone_number": "+33612345678" }),
            json!({ "company": "Acme", "job_title": "CTO", "team_size": 12, "interests": ["identity"] }),
        );
        let scopes = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let profile = claims_for(Some(&policy), &user, &scopes(&["openid", "profile"]));
        assert_eq!(
            profile,
            json!({ "given_name": "Ann" }).as_object().unwrap().clone()
        );
        let phone = claims_for(Some(&policy), &user, &scopes(&["openid", "phone"]));
        assert_eq!(phone["phone_number"], "+33612345678");
        let work = claims_for(Some(&policy), &user, &scopes(&["openid", "work"]));
        assert_eq!(work["company"], "Acme");
        assert_eq!(work["job_title"], "CTO");
        assert!(!work.contains_key("given_name"));
    }

    #[test]
    fn values_keep_their_json_types() {
        let mut policy = Policy::new();
        let mut size = accrete_core::Field::new("team_size", accrete_core::FieldType::Integer);
        size.scope = Some("work".into());
        let mut tags = accrete_core::Field::new("interests", accrete_core::FieldType::Multiselect);
        tags.scope = Some("work".into());
        tags.claim = Some("topics".into());
        tags.options = vec![accrete_core::FieldOption {
            value: "identity".into(),
            labels: Default::default(),
        }];
        for field in [&mut size, &mut tags] {
            field.required = false;
            field.labels.insert("en".into(), "label".into());
        }
        policy.fields = vec![size, tags];
        let policy = policy.compile().unwrap();
        let user = user(
            json!({}),
            json!({ "team_size": 12, "interests": ["identity"] }),
        );
        let claims = claims_for(Some(&policy), &user, &["work".to_owned()]);
        assert_eq!(claims["team_size"], json!(12));
        assert_eq!(claims["topics"], json!(["identity"]));
    }

    #[test]
    fn hook_claims_are_namespaced_and_never_override_standard_protocol_or_profile_claims() {
        let given = json!({ "segment": "enterprise", "https://crm.example/tier": 2, "gone": null });
        let named = namespaced_claims("https://crm.example/", given.as_object().unwrap());
        assert_eq!(
            Value::Object(named.clone()),
            json!({ "https://crm.example/segment": "enterprise", "https://crm.example/tier": 2 })
        );
        let mut added = named;
        added.insert("sub".into(), json!("someone else"));
        added.insert("email".into(), json!("x@example.com"));
        added.insert("company".into(), json!("Hooked"));
        let released = json!({ "company": "Acme" }).as_object().unwrap().clone();
        let merged = with_hook_claims(released, &added);
        assert_eq!(merged["company"], "Acme");
        assert_eq!(merged["https://crm.example/segment"], "enterprise");
        assert!(!merged.contains_key("sub"));
        assert!(!merged.contains_key("email"));
    }

    #[test]
    fn custom_scopes_list_each_scope_once_with_the_claim_names_it_releases() {
        let scopes = custom_scopes(&example());
        let work = scopes.iter().find(|(scope, _)| scope == "work").unwrap();
        assert_eq!(work.1, ["company", "job_title"]);
        assert_eq!(
            scopes.iter().filter(|(scope, _)| scope == "work").count(),
            1
        );
    }
}
