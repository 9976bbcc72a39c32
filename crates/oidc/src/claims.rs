//! Which claims each scope releases (OpenID Connect Core §5.4), and filtering a user's claims by the
//! scopes granted. Values keep their JSON types (booleans, numbers, objects).

use serde_json::{Map, Value};

/// Claims released by the `profile` scope.
pub const PROFILE_CLAIMS: &[&str] = &[
    "name",
    "family_name",
    "given_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "updated_at",
];
/// Claims released by the `email` scope.
pub const EMAIL_CLAIMS: &[&str] = &["email", "email_verified"];
/// Claims released by the `phone` scope.
pub const PHONE_CLAIMS: &[&str] = &["phone_number", "phone_number_verified"];
/// Claims released by the `address` scope.
pub const ADDRESS_CLAIMS: &[&str] = &["address"];

/// The standard scopes this provider understands.
pub const STANDARD_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "phone",
    "address",
    "offline_access",
];

/// The standard claims a scope releases (empty for `openid`, `offline_access` and unknown scopes).
pub fn standard_claims_for(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => PROFILE_CLAIMS,
        "email" => EMAIL_CLAIMS,
        "phone" => PHONE_CLAIMS,
        "address" => ADDRESS_CLAIMS,
        _ => &[],
    }
}

/// Every standard claim (for `claims_supported`), with `sub` first.
pub fn all_standard_claims() -> Vec<&'static str> {
    let mut claims = vec!["sub"];
    for scope in ["profile", "email", "phone", "address"] {
        claims.extend_from_slice(standard_claims_for(scope));
    }
    claims
}

/// Custom scopes declared by the administrator: (scope, claim names it releases).
pub type CustomScopes<'a> = &'a [(String, Vec<String>)];

/// Whether a claim is released by one of `scopes`.
pub fn is_released<S: AsRef<str>>(claim: &str, scopes: &[S], custom: CustomScopes<'_>) -> bool {
    scopes.iter().any(|scope| {
        let scope = scope.as_ref();
        standard_claims_for(scope).contains(&claim)
            || custom
                .iter()
                .any(|(name, claims)| name == scope && claims.iter().any(|c| c == claim))
    })
}

/// The user's claims that the granted `scopes` release, in the user's order, types preserved.
/// `sub` is never in the result: the caller sets it from the user id.
pub fn filter_claims<S: AsRef<str>>(
    user_claims: &Map<String, Value>,
    scopes: &[S],
    custom: CustomScopes<'_>,
) -> Map<String, Value> {
    user_claims
        .iter()
        .filter(|(claim, value)| !value.is_null() && is_released(claim, scopes, custom))
        .map(|(claim, value)| (claim.clone(), value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user() -> Map<String, Value> {
        json!({
            "sub": "should-not-leak",
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "email": "ada@example.com",
            "email_verified": true,
            "phone_number": "+33612345678",
            "phone_number_verified": false,
            "address": {"locality": "London", "country": "GB"},
            "updated_at": 1_700_000_000,
            "company": "Analytical Engines",
            "nickname": null
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn openid_alone_releases_nothing() {
        assert!(filter_claims(&user(), &["openid"], &[]).is_empty());
    }

    #[test]
    fn profile_scope_releases_profile_claims_with_their_types() {
        let released = filter_claims(&user(), &["openid", "profile"], &[]);
        assert_eq!(released["name"], json!("Ada Lovelace"));
        assert_eq!(released["updated_at"], json!(1_700_000_000));
        assert!(!released.contains_key("email"));
        assert!(!released.contains_key("sub"));
    }

    #[test]
    fn email_scope_releases_email_and_verified_flag_as_boolean() {
        let released = filter_claims(&user(), &["openid", "email"], &[]);
        assert_eq!(released.len(), 2);
        assert_eq!(released["email_verified"], json!(true));
    }

    #[test]
    fn phone_and_address_scopes_release_their_claims() {
        let released = filter_claims(&user(), &["phone", "address"], &[]);
        assert_eq!(released["phone_number_verified"], json!(false));
        assert_eq!(
            released["address"],
            json!({"locality": "London", "country": "GB"})
        );
        assert!(!released.contains_key("name"));
    }

    #[test]
    fn custom_scope_releases_its_declared_claims_only() {
        let custom = vec![("org".to_owned(), vec!["company".to_owned()])];
        let released = filter_claims(&user(), &["openid", "org"], &custom);
        assert_eq!(released.len(), 1);
        assert_eq!(released["company"], json!("Analytical Engines"));
        assert!(filter_claims(&user(), &["openid"], &custom).is_empty());
    }

    #[test]
    fn null_values_are_not_released() {
        assert!(!filter_claims(&user(), &["profile"], &[]).contains_key("nickname"));
    }

    #[test]
    fn claims_supported_lists_every_standard_claim() {
        let all = all_standard_claims();
        assert_eq!(all[0], "sub");
        assert!(all.contains(&"phone_number_verified") && all.contains(&"address"));
        assert_eq!(all.len(), 1 + 14 + 2 + 2 + 1);
    }
}
