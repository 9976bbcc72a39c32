//! The rules of a client's registration, one definition for every surface that registers or
//! changes a client (the management API, `accrete client create`): [`check_registration`] returns
//! every problem of a registration at once, each naming the setting (and item) it concerns.
//! What each value must look like is in [`crate::client`]; this module adds the rules between
//! settings (a public client has no secret to use `client_credentials` with; the
//! `authorization_code` grant redirects, so it needs a redirect URI).

use crate::client::{GrantType, is_scope_token, is_web_origin, validate_redirect_uri};
use crate::keys::Alg;

/// The longest `client_id` chosen at registration.
pub const CLIENT_ID_MAX_BYTES: usize = 128;
/// The longest display name, in characters.
pub const NAME_MAX_CHARS: usize = 200;

/// A client's settings as written, before any of them is trusted.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    /// The `client_id` asked for; `None` when it is generated (or already registered).
    pub id: Option<&'a str>,
    /// Display name, shown to users.
    pub name: &'a str,
    /// Redirect URIs.
    pub redirect_uris: &'a [String],
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: &'a [String],
    /// Grant type names.
    pub grant_types: &'a [String],
    /// Whether the client is public (holds no secret).
    pub public: bool,
    /// Scopes it may request.
    pub scopes: &'a [String],
    /// Web origins allowed by CORS.
    pub allowed_origins: &'a [String],
    /// The algorithm of its ID tokens.
    pub id_token_alg: &'a str,
}

/// A setting of a registration, as the management API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `id`.
    Id,
    /// `name`.
    Name,
    /// `redirect_uris`.
    RedirectUris,
    /// `post_logout_redirect_uris`.
    PostLogoutRedirectUris,
    /// `grant_types`.
    GrantTypes,
    /// `scopes`.
    Scopes,
    /// `allowed_origins`.
    AllowedOrigins,
    /// `id_token_alg`.
    IdTokenAlg,
}

impl Setting {
    /// The setting's name in the management API.
    pub fn as_str(self) -> &'static str {
        match self {
            Setting::Id => "id",
            Setting::Name => "name",
            Setting::RedirectUris => "redirect_uris",
            Setting::PostLogoutRedirectUris => "post_logout_redirect_uris",
            Setting::GrantTypes => "grant_types",
            Setting::Scopes => "scopes",
            Setting::AllowedOrigins => "allowed_origins",
            Setting::IdTokenAlg => "id_token_alg",
        }
    }
}

/// One refused setting, or one refused item of a list setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationProblem {
    /// The setting concerned.
    pub setting: Setting,
    /// The item of a list setting concerned; `None` for the setting as a whole.
    pub index: Option<usize>,
    /// A stable code (`invalid_uri`, `redirect_uri_required`, ...).
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

impl RegistrationProblem {
    /// The path of the value concerned: `redirect_uris[1]`, `grant_types`.
    pub fn path(&self) -> String {
        match self.index {
            Some(index) => format!("{}[{index}]", self.setting.as_str()),
            None => self.setting.as_str().to_owned(),
        }
    }

    fn new(setting: Setting, index: Option<usize>, code: &'static str, message: String) -> Self {
        RegistrationProblem {
            setting,
            index,
            code,
            message,
        }
    }
}

/// Whether `id` can be a chosen `client_id`: 1 to 128 ASCII letters, digits, `-`, `_` or `.`
/// (it travels in URLs, forms and Basic authentication unescaped).
pub fn is_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= CLIENT_ID_MAX_BYTES
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Checks a registration: every problem, in the order of the settings, empty when it can be
/// stored.
pub fn check_registration(registration: &Registration<'_>) -> Vec<RegistrationProblem> {
    let mut problems = Vec::new();
    let mut refuse = |setting, index, code, message: String| {
        problems.push(RegistrationProblem::new(setting, index, code, message));
    };
    if let Some(id) = registration.id
        && !is_client_id(id)
    {
        refuse(
            Setting::Id,
            None,
            "invalid",
            format!("use 1 to {CLIENT_ID_MAX_BYTES} letters, digits, '-', '_' or '.'"),
        );
    }
    let name = registration.name;
    if name.trim().is_empty() || name.chars().count() > NAME_MAX_CHARS {
        refuse(
            Setting::Name,
            None,
            "invalid",
            format!("use 1 to {NAME_MAX_CHARS} characters, not only spaces"),
        );
    }
    let grants: Vec<Option<GrantType>> = registration
        .grant_types
        .iter()
        .map(|name| GrantType::parse(name))
        .collect();
    if grants.contains(&Some(GrantType::AuthorizationCode)) && registration.redirect_uris.is_empty()
    {
        refuse(
            Setting::RedirectUris,
            None,
            "redirect_uri_required",
            "the authorization_code grant needs at least one redirect URI".to_owned(),
        );
    }
    for (setting, uris) in [
        (Setting::RedirectUris, registration.redirect_uris),
        (
            Setting::PostLogoutRedirectUris,
            registration.post_logout_redirect_uris,
        ),
    ] {
        for (i, uri) in uris.iter().enumerate() {
            if let Err(error) = validate_redirect_uri(uri) {
                refuse(setting, Some(i), "invalid_uri", error.to_string());
            }
        }
    }
    for (i, grant) in grants.iter().enumerate() {
        if grant.is_none() {
            refuse(
                Setting::GrantTypes,
                Some(i),
                "unknown_grant_type",
                "unknown grant type: use authorization_code, refresh_token or client_credentials"
                    .to_owned(),
            );
        }
    }
    if registration.public && grants.contains(&Some(GrantType::ClientCredentials)) {
        refuse(
            Setting::GrantTypes,
            None,
            "public_client",
            "a public client cannot use client_credentials (it holds no secret)".to_owned(),
        );
    }
    for (i, scope) in registration.scopes.iter().enumerate() {
        if !is_scope_token(scope) {
            refuse(
                Setting::Scopes,
                Some(i),
                "invalid_scope",
                "not a scope token: use printable ASCII without spaces, `\"` or `\\`".to_owned(),
            );
        }
    }
    for (i, origin) in registration.allowed_origins.iter().enumerate() {
        if !is_web_origin(origin) {
            refuse(
                Setting::AllowedOrigins,
                Some(i),
                "invalid_origin",
                "not an origin: use scheme://host[:port] with no path".to_owned(),
            );
        }
    }
    if Alg::parse(registration.id_token_alg).is_none() {
        refuse(
            Setting::IdTokenAlg,
            None,
            "unknown_alg",
            "unknown algorithm: use RS256, ES256 or EdDSA".to_owned(),
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A registration's settings, owned, to borrow from.
    struct Settings {
        id: Option<String>,
        name: String,
        redirect_uris: Vec<String>,
        post_logout_redirect_uris: Vec<String>,
        grant_types: Vec<String>,
        public: bool,
        scopes: Vec<String>,
        allowed_origins: Vec<String>,
        id_token_alg: &'static str,
    }

    impl Settings {
        fn web() -> Settings {
            Settings {
                id: Some("shop".to_owned()),
                name: "Shop".to_owned(),
                redirect_uris: strings(&["https://shop.example/cb"]),
                post_logout_redirect_uris: vec![],
                grant_types: strings(&["authorization_code", "refresh_token"]),
                public: false,
                scopes: strings(&["openid", "profile"]),
                allowed_origins: vec![],
                id_token_alg: "RS256",
            }
        }

        fn check(&self) -> Vec<RegistrationProblem> {
            check_registration(&Registration {
                id: self.id.as_deref(),
                name: &self.name,
                redirect_uris: &self.redirect_uris,
                post_logout_redirect_uris: &self.post_logout_redirect_uris,
                grant_types: &self.grant_types,
                public: self.public,
                scopes: &self.scopes,
                allowed_origins: &self.allowed_origins,
                id_token_alg: self.id_token_alg,
            })
        }

        fn paths_and_codes(&self) -> Vec<(String, &'static str)> {
            self.check()
                .into_iter()
                .map(|problem| (problem.path(), problem.code))
                .collect()
        }
    }

    #[test]
    fn a_web_client_with_a_redirect_uri_is_accepted() {
        assert_eq!(Settings::web().check(), []);
    }

    #[test]
    fn the_authorization_code_grant_needs_a_redirect_uri() {
        let settings = Settings {
            redirect_uris: vec![],
            ..Settings::web()
        };
        assert_eq!(
            settings.paths_and_codes(),
            [("redirect_uris".to_owned(), "redirect_uri_required")]
        );
        let backend = Settings {
            redirect_uris: vec![],
            grant_types: strings(&["client_credentials"]),
            ..Settings::web()
        };
        assert_eq!(backend.check(), []);
    }

    #[test]
    fn a_public_client_cannot_use_client_credentials() {
        let settings = Settings {
            public: true,
            grant_types: strings(&["authorization_code", "client_credentials"]),
            ..Settings::web()
        };
        assert_eq!(
            settings.paths_and_codes(),
            [("grant_types".to_owned(), "public_client")]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_with_the_path_of_its_value() {
        let settings = Settings {
            id: Some("bad id!".to_owned()),
            name: "  ".to_owned(),
            redirect_uris: strings(&[
                "https://ok.example/cb",
                "http://shop.example/cb",
                "/relative",
            ]),
            post_logout_redirect_uris: strings(&["https://shop.example/bye#x"]),
            grant_types: strings(&["password", "client_credentials"]),
            public: true,
            scopes: strings(&["openid", "two words"]),
            allowed_origins: strings(&["https://shop.example/app"]),
            id_token_alg: "HS256",
        };
        let expected = [
            ("id", "invalid"),
            ("name", "invalid"),
            ("redirect_uris[1]", "invalid_uri"),
            ("redirect_uris[2]", "invalid_uri"),
            ("post_logout_redirect_uris[0]", "invalid_uri"),
            ("grant_types[0]", "unknown_grant_type"),
            ("grant_types", "public_client"),
            ("scopes[1]", "invalid_scope"),
            ("allowed_origins[0]", "invalid_origin"),
            ("id_token_alg", "unknown_alg"),
        ]
        .map(|(path, code)| (path.to_owned(), code));
        assert_eq!(settings.paths_and_codes(), expected);
        let problems = settings.check();
        assert_eq!(
            problems[2].message,
            "redirect URI must use https (http only for localhost / loopback)"
        );
    }

    #[test]
    fn a_client_id_is_1_to_128_url_safe_characters() {
        for good in ["shop", "a", "my-app_2.0", &"x".repeat(128)] {
            assert!(is_client_id(good), "{good}");
        }
        for bad in ["", "a b", "a/b", "é", &"x".repeat(129)] {
            assert!(!is_client_id(bad), "{bad}");
        }
        let generated = Settings {
            id: None,
            ..Settings::web()
        };
        assert_eq!(generated.check(), []);
    }

    #[test]
    fn a_name_is_1_to_200_characters_not_only_spaces() {
        for (name, accepted) in [
            ("x".to_owned(), true),
            ("é".repeat(200), true),
            ("é".repeat(201), false),
            (String::new(), false),
            (" \t".to_owned(), false),
        ] {
            let settings = Settings {
                name: name.clone(),
                ..Settings::web()
            };
            assert_eq!(settings.check().is_empty(), accepted, "{name:?}");
        }
    }
}
