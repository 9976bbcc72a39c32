//! Claims as plain JSON: the userinfo answer merged into the ID token's claims, an OAuth 2
//! profile named as OpenID Connect names it, and what [`crate::UpstreamIdentity`] reads of them.

use serde_json::{Map, Value};

use crate::error::UpstreamError;

/// Claims whose `_verified` companion vouches for them: the two travel together, from the same
/// answer.
const VERIFIED_PAIRS: [(&str, &str); 2] = [
    ("email", "email_verified"),
    ("phone_number", "phone_number_verified"),
];

/// Adds to the ID token's claims those of the userinfo answer it lacks. The ID token's are kept
/// (it is signed; the two seldom differ); `sub` is never taken (the caller has checked they are
/// equal); an address and its `_verified` flag come from the same answer.
pub(crate) fn merge_userinfo(claims: &mut Map<String, Value>, userinfo: Map<String, Value>) {
    let paired_in_token: Vec<&str> = VERIFIED_PAIRS
        .iter()
        .filter(|(claim, _)| claims.contains_key(*claim))
        .flat_map(|(claim, flag)| [*claim, *flag])
        .collect();
    for (name, value) in userinfo {
        if name == "sub" || paired_in_token.contains(&name.as_str()) {
            continue;
        }
        claims.entry(name).or_insert(value);
    }
}

/// The email address and whether the provider vouches for it (`email_verified` true, or the
/// string `"true"` as Apple writes it).
pub(crate) fn email(claims: &Map<String, Value>) -> (Option<String>, bool) {
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|email| !email.is_empty())
        .map(str::to_owned);
    let verified = email.is_some() && claims.get("email_verified").is_some_and(is_true);
    (email, verified)
}

/// `true`, or a string that says so (`"true"`).
pub(crate) fn is_true(value: &Value) -> bool {
    match value {
        Value::Bool(value) => *value,
        Value::String(value) => value.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// `amr` (a list of strings) and `acr`.
pub(crate) fn authentication(claims: &Map<String, Value>) -> (Vec<String>, Option<String>) {
    let amr = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|methods| {
            methods
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let acr = claims.get("acr").and_then(Value::as_str).map(str::to_owned);
    (amr, acr)
}

/// The subject of an OAuth 2 profile: its `sub`, else its `id` (GitHub's is a number), as a
/// string.
pub(crate) fn oauth2_subject(profile: &Map<String, Value>) -> Result<String, UpstreamError> {
    let subject = match (profile.get("sub"), profile.get("id")) {
        (Some(Value::String(sub)), _) => sub.clone(),
        (Some(Value::Number(sub)), _) | (None, Some(Value::Number(sub))) => sub.to_string(),
        (None, Some(Value::String(id))) => id.clone(),
        _ => String::new(),
    };
    if subject.is_empty() {
        Err(UpstreamError::NoSubject)
    } else {
        Ok(subject)
    }
}

/// An OAuth 2 profile answer with OpenID Connect's names added: `sub`, `preferred_username`
/// (from `login` or `username`), `picture` (from `avatar_url`), and `email_verified` as a
/// boolean next to an `email` (false unless the answer says true). The answer's own keys stay.
pub(crate) fn normalize_oauth2(
    mut profile: Map<String, Value>,
) -> Result<Map<String, Value>, UpstreamError> {
    let subject = oauth2_subject(&profile)?;
    profile.insert("sub".to_owned(), Value::String(subject));
    for (oidc, others) in [
        ("preferred_username", &["login", "username"][..]),
        ("picture", &["avatar_url"][..]),
    ] {
        if !profile.get(oidc).is_some_and(Value::is_string)
            && let Some(value) = others
                .iter()
                .find_map(|other| profile.get(*other).filter(|value| value.is_string()))
        {
            let value = value.clone();
            profile.insert(oidc.to_owned(), value);
        }
    }
    let verified = profile.get("email_verified").is_some_and(is_true);
    if profile.get("email").is_some_and(Value::is_string) {
        profile.insert("email_verified".to_owned(), Value::Bool(verified));
    } else {
        profile.remove("email");
        profile.remove("email_verified");
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("an object"),
        }
    }

    #[test]
    fn userinfo_adds_what_the_id_token_lacks() {
        let mut claims = map(json!({"sub": "1", "name": "From token"}));
        merge_userinfo(
            &mut claims,
            map(json!({"sub": "1", "name": "From userinfo", "groups": ["a"]})),
        );
        assert_eq!(
            Value::Object(claims),
            json!({"sub": "1", "name": "From token", "groups": ["a"]})
        );
    }

    #[test]
    fn an_address_and_its_verification_come_from_one_answer() {
        let mut claims = map(json!({"sub": "1", "email": "a@token.example"}));
        merge_userinfo(
            &mut claims,
            map(json!({"email": "b@userinfo.example", "email_verified": true})),
        );
        assert_eq!(email(&claims), (Some("a@token.example".to_owned()), false));

        let mut claims = map(json!({"sub": "1"}));
        merge_userinfo(
            &mut claims,
            map(json!({"email": "b@userinfo.example", "email_verified": true})),
        );
        assert_eq!(
            email(&claims),
            (Some("b@userinfo.example".to_owned()), true)
        );
    }

    #[test]
    fn apple_writes_verification_as_a_string() {
        let claims = map(json!({"email": "a@privaterelay.appleid.com", "email_verified": "true"}));
        assert!(email(&claims).1);
        let claims = map(json!({"email_verified": true}));
        assert_eq!(email(&claims), (None, false));
    }

    #[test]
    fn oauth2_profiles_get_openid_connect_names() {
        let profile = normalize_oauth2(map(json!({
            "id": 42, "login": "octocat", "avatar_url": "https://a.example/1.png",
            "name": "The Octocat", "email": "octo@example.com"
        })))
        .unwrap();
        assert_eq!(profile["sub"], "42");
        assert_eq!(profile["preferred_username"], "octocat");
        assert_eq!(profile["picture"], "https://a.example/1.png");
        assert_eq!(profile["email_verified"], false);
        assert_eq!(profile["login"], "octocat");
        assert_eq!(
            normalize_oauth2(map(json!({"name": "nobody"}))),
            Err(UpstreamError::NoSubject)
        );
        assert_eq!(
            normalize_oauth2(map(json!({"sub": ""}))),
            Err(UpstreamError::NoSubject)
        );
    }
}
