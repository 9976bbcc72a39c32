//! The console's forms of a client: the kinds the creation wizard offers (each a shape of the
//! same settings), the form read into `accrete_app::client_admin::Settings` (the use-case checks
//! them; this only translates), refused settings placed on their inputs, and the configuration
//! snippet shown after creation.

use std::collections::BTreeMap;

use accrete_app::client_admin::Settings;
use accrete_app::problems::Problem;
use accrete_app::settings::{EmailVerification, MfaMode};
use accrete_store::Client;
use minijinja::{Value, context};

use crate::hosted::i18n::{text, text_with};
use crate::hosted::theme::THEME_KEYS;

/// What kind of application a client is, as the wizard asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A server-side web application: confidential, code + refresh tokens.
    Web,
    /// A single-page application: public, code + PKCE, its origins allowed by CORS.
    Spa,
    /// A native or mobile application: public, loopback or private-use scheme redirect.
    Native,
    /// A back end calling APIs on its own behalf: confidential, client credentials only.
    Machine,
}

impl Kind {
    pub(super) const ALL: [Kind; 4] = [Kind::Web, Kind::Spa, Kind::Native, Kind::Machine];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Kind::Web => "web",
            Kind::Spa => "spa",
            Kind::Native => "native",
            Kind::Machine => "machine",
        }
    }

    pub(super) fn parse(value: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// The kind a stored client looks like.
    pub(super) fn of(client: &Client) -> Kind {
        let code = client.grant_types.iter().any(|g| g == "authorization_code");
        match (client.public, code) {
            (false, false) => Kind::Machine,
            (false, true) => Kind::Web,
            (true, _) if !client.allowed_origins.is_empty() => Kind::Spa,
            (true, _) => Kind::Native,
        }
    }

    fn public(self) -> bool {
        matches!(self, Kind::Spa | Kind::Native)
    }

    fn grants(self) -> Vec<String> {
        let names: &[&str] = match self {
            Kind::Machine => &["client_credentials"],
            _ => &["authorization_code", "refresh_token"],
        };
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    /// The scopes the wizard proposes.
    pub(super) fn default_scopes(self) -> &'static str {
        match self {
            Kind::Machine => "",
            _ => "openid profile email",
        }
    }
}

/// The fields of the wizard's second step and of a client's page (each absent from one of
/// them is empty). Checkboxes are present when ticked.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub(super) struct ClientForm {
    pub csrf: String,
    pub kind: String,
    pub client_id: String,
    pub name: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub allowed_origins: String,
    pub scopes: String,
    pub audience: String,
    pub grant_authorization_code: Option<String>,
    pub grant_refresh_token: Option<String>,
    pub grant_client_credentials: Option<String>,
    pub id_token_alg: String,
    pub password_signin: Option<String>,
    /// `""` (the server's), `on`, `off`.
    pub self_signup: String,
    /// `""` (the server's) or a value.
    pub email_verification: String,
    pub mfa: String,
    /// `all` (every enabled connection) or `listed`.
    pub connections_mode: String,
    /// One name a line.
    pub connections: String,
    #[serde(rename = "theme.brand")]
    pub theme_brand: String,
    #[serde(rename = "theme.logo_url")]
    pub theme_logo_url: String,
    #[serde(rename = "theme.primary")]
    pub theme_primary: String,
    #[serde(rename = "theme.primary_text")]
    pub theme_primary_text: String,
    #[serde(rename = "theme.background")]
    pub theme_background: String,
    #[serde(rename = "theme.surface")]
    pub theme_surface: String,
    #[serde(rename = "theme.text")]
    pub theme_text: String,
    #[serde(rename = "theme.css")]
    pub theme_css: String,
}

/// The non-empty lines of a text area, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Words separated by spaces, commas or lines.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The origins of `uris` (`https://app.example` of `https://app.example/callback`), once each:
/// a single-page app's default allowed origins.
fn origins_of(uris: &[String]) -> Vec<String> {
    let mut origins: Vec<String> = Vec::new();
    for uri in uris {
        if let Ok(url) = url::Url::parse(uri) {
            let origin = url.origin().ascii_serialization();
            if origin != "null" && !origins.contains(&origin) {
                origins.push(origin);
            }
        }
    }
    origins
}

impl ClientForm {
    /// The wizard's form of a new client of `kind`, with its defaults.
    pub(super) fn new_of(kind: Kind) -> ClientForm {
        ClientForm {
            kind: kind.as_str().to_owned(),
            scopes: kind.default_scopes().to_owned(),
            ..ClientForm::default()
        }
    }

    /// A stored client's settings as its page's form.
    pub(super) fn of(client: &Client) -> ClientForm {
        let theme = |key: &str| {
            client
                .theme
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let has = |grant: &str| {
            client
                .grant_types
                .iter()
                .any(|g| g == grant)
                .then(String::new)
        };
        ClientForm {
            csrf: String::new(),
            kind: Kind::of(client).as_str().to_owned(),
            client_id: client.id.clone(),
            name: client.name.clone(),
            redirect_uris: client.redirect_uris.join("\n"),
            post_logout_redirect_uris: client.post_logout_redirect_uris.join("\n"),
            allowed_origins: client.allowed_origins.join("\n"),
            scopes: client.scopes.join(" "),
            audience: client.audience.join(" "),
            grant_authorization_code: has("authorization_code"),
            grant_refresh_token: has("refresh_token"),
            grant_client_credentials: has("client_credentials"),
            id_token_alg: client.id_token_alg.clone(),
            password_signin: client.password_signin.then(String::new),
            self_signup: match client.self_signup {
                Some(true) => "on".into(),
                Some(false) => "off".into(),
                None => String::new(),
            },
            email_verification: client.email_verification.clone().unwrap_or_default(),
            mfa: client.mfa.clone().unwrap_or_default(),
            connections_mode: if client.connections.is_some() {
                "listed".into()
            } else {
                "all".into()
            },
            connections: client.connections.clone().unwrap_or_default().join("\n"),
            theme_brand: theme("brand"),
            theme_logo_url: theme("logo_url"),
            theme_primary: theme("primary"),
            theme_primary_text: theme("primary_text"),
            theme_background: theme("background"),
            theme_surface: theme("surface"),
            theme_text: theme("text"),
            theme_css: theme("css"),
        }
    }

    fn theme_values(&self) -> [(&'static str, &str); 8] {
        [
            ("brand", &self.theme_brand),
            ("logo_url", &self.theme_logo_url),
            ("primary", &self.theme_primary),
            ("primary_text", &self.theme_primary_text),
            ("background", &self.theme_background),
            ("surface", &self.theme_surface),
            ("text", &self.theme_text),
            ("css", &self.theme_css),
        ]
    }

    /// The settings of a new client of `kind`: the wizard's few fields, the rest the kind's.
    pub(super) fn new_settings(&self, kind: Kind) -> Settings {
        let redirect_uris = match kind {
            Kind::Machine => Vec::new(),
            _ => lines(&self.redirect_uris),
        };
        let allowed_origins = match kind {
            Kind::Spa if lines(&self.allowed_origins).is_empty() => origins_of(&redirect_uris),
            Kind::Spa => lines(&self.allowed_origins),
            _ => Vec::new(),
        };
        let post_logout_redirect_uris = match kind {
            Kind::Web | Kind::Spa => lines(&self.post_logout_redirect_uris),
            _ => Vec::new(),
        };
        Settings {
            name: self.name.clone(),
            redirect_uris,
            post_logout_redirect_uris,
            grant_types: kind.grants(),
            scopes: words(&self.scopes),
            audience: match kind {
                Kind::Machine => words(&self.audience),
                _ => Vec::new(),
            },
            public: kind.public(),
            id_token_alg: "RS256".to_owned(),
            allowed_origins,
            theme: Ok(serde_json::json!({})),
            connections: None,
            password_signin: true,
            self_signup: None,
            email_verification: None,
            mfa: None,
        }
    }

    /// The settings of a client's page, over the stored client (whose kind, public or
    /// confidential, does not change).
    pub(super) fn settings(&self, current: &Client) -> Settings {
        let mut theme = serde_json::Map::new();
        for (key, value) in self.theme_values() {
            let value = if key == "css" { value } else { value.trim() };
            if !value.is_empty() {
                theme.insert(key.to_owned(), serde_json::Value::String(value.to_owned()));
            }
        }
        let mut grant_types = Vec::new();
        for (ticked, grant) in [
            (&self.grant_authorization_code, "authorization_code"),
            (&self.grant_refresh_token, "refresh_token"),
            (&self.grant_client_credentials, "client_credentials"),
        ] {
            if ticked.is_some() {
                grant_types.push(grant.to_owned());
            }
        }
        let choice = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
        Settings {
            name: self.name.clone(),
            redirect_uris: lines(&self.redirect_uris),
            post_logout_redirect_uris: lines(&self.post_logout_redirect_uris),
            grant_types,
            scopes: words(&self.scopes),
            audience: words(&self.audience),
            public: current.public,
            id_token_alg: choice(&self.id_token_alg)
                .unwrap_or_else(|| current.id_token_alg.clone()),
            allowed_origins: lines(&self.allowed_origins),
            theme: crate::hosted::theme::client_setting(&serde_json::Value::Object(theme)),
            connections: (self.connections_mode == "listed").then(|| lines(&self.connections)),
            password_signin: self.password_signin.is_some(),
            self_signup: match self.self_signup.as_str() {
                "on" => Some(true),
                "off" => Some(false),
                _ => None,
            },
            // An unknown value is the server's (the select offers only known ones).
            email_verification: choice(&self.email_verification)
                .as_deref()
                .and_then(EmailVerification::parse),
            mfa: choice(&self.mfa).as_deref().and_then(MfaMode::parse),
        }
    }

    /// The form as the templates show it.
    pub(super) fn view(&self) -> Value {
        let theme: Vec<Value> = self
            .theme_values()
            .into_iter()
            .map(|(key, value)| context! { key, value })
            .collect();
        context! {
            kind => self.kind,
            client_id => self.client_id,
            name => self.name,
            redirect_uris => self.redirect_uris,
            post_logout_redirect_uris => self.post_logout_redirect_uris,
            allowed_origins => self.allowed_origins,
            scopes => self.scopes,
            audience => self.audience,
            grant_authorization_code => self.grant_authorization_code.is_some(),
            grant_refresh_token => self.grant_refresh_token.is_some(),
            grant_client_credentials => self.grant_client_credentials.is_some(),
            id_token_alg => self.id_token_alg,
            password_signin => self.password_signin.is_some(),
            self_signup => self.self_signup,
            email_verification => self.email_verification,
            mfa => self.mfa,
            connections_mode => self.connections_mode,
            connections => self.connections,
            theme,
        }
    }
}

/// The input a refused setting belongs to: `redirect_uris[1]` → `redirect_uris`,
/// `connections/0` → `connections`, `id` → `client_id`, `grant_types` → `grants`;
/// `theme.primary` stays.
fn input_of(path: &str) -> String {
    if path.starts_with("theme.") {
        return path.to_owned();
    }
    let base = path.split(['[', '/', '.']).next().unwrap_or(path);
    match base {
        "id" => "client_id".to_owned(),
        "grant_types" => "grants".to_owned(),
        "theme" => "theme.css".to_owned(),
        other => other.to_owned(),
    }
}

/// The line a problem is about (`redirect_uris[1]` → 2), for list settings.
fn line_of(path: &str) -> Option<usize> {
    let index = path
        .split_once('[')
        .map(|(_, rest)| rest.trim_end_matches(']'))
        .or_else(|| path.split_once('/').map(|(_, rest)| rest))?;
    index.parse::<usize>().ok().map(|i| i + 1)
}

/// A problem in words of the page's language: `console.clients.problem.<input>.<code>` or
/// `console.clients.problem.<code>`, else the use-case's sentence.
fn words_of(locale: &str, input: &str, problem: &Problem) -> String {
    let specific = format!("console.clients.problem.{input}.{}", problem.code);
    let general = format!("console.clients.problem.{}", problem.code);
    let sentence = [specific, general]
        .into_iter()
        .map(|key| (text(locale, &key), key))
        .find(|(said, key)| said != key)
        .map(|(said, _)| said)
        .unwrap_or_else(|| problem.message.clone());
    match line_of(&problem.path) {
        Some(line) => text_with(
            locale,
            "console.clients.problem.line",
            &[("line", &line.to_string()), ("problem", &sentence)],
        ),
        None => sentence,
    }
}

/// Refused settings by the input they belong to (several joined), each in words; `known`:
/// the inputs the page shows (a problem of another goes to the page's alert, key `""`).
pub(super) fn errors_by_input(
    locale: &str,
    problems: &[Problem],
    known: &[&str],
) -> BTreeMap<String, String> {
    let mut errors: BTreeMap<String, String> = BTreeMap::new();
    for problem in problems {
        let input = input_of(&problem.path);
        let said = words_of(locale, &input, problem);
        let key = if known.contains(&input.as_str()) || input.starts_with("theme.") {
            input
        } else {
            String::new()
        };
        errors
            .entry(key)
            .and_modify(|e| {
                e.push(' ');
                e.push_str(&said);
            })
            .or_insert(said);
    }
    errors
}

/// The inputs of the wizard's form for `kind`.
pub(super) fn wizard_inputs(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Web => &[
            "name",
            "client_id",
            "redirect_uris",
            "post_logout_redirect_uris",
            "scopes",
        ],
        Kind::Spa => &[
            "name",
            "client_id",
            "redirect_uris",
            "post_logout_redirect_uris",
            "allowed_origins",
            "scopes",
        ],
        Kind::Native => &["name", "client_id", "redirect_uris", "scopes"],
        Kind::Machine => &["name", "client_id", "scopes", "audience"],
    }
}

/// The inputs of a client's page.
pub(super) const PAGE_INPUTS: &[&str] = &[
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "allowed_origins",
    "scopes",
    "audience",
    "grants",
    "id_token_alg",
    "connections",
    "email_verification",
    "mfa",
    "self_signup",
];

/// The keys a client's theme takes, for the page's inputs `theme.<key>`.
pub(super) fn theme_keys() -> &'static [&'static str] {
    &THEME_KEYS
}

/// A ready-to-paste configuration of a common OpenID Connect library for this kind of client,
/// with the real issuer, `client_id` and first redirect URI (the secret is read from the
/// environment: it is shown once, beside it, never written into code).
pub(super) fn snippet(kind: Kind, issuer: &str, client: &Client) -> (&'static str, String) {
    let id = &client.id;
    let redirect = client
        .redirect_uris
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let scope = client.scopes.join(" ");
    match kind {
        Kind::Web => (
            "Node.js · openid-client",
            format!(
                "import * as client from 'openid-client';\n\n\
                 const config = await client.discovery(\n  new URL('{issuer}'),\n  '{id}',\n  \
                 process.env.CLIENT_SECRET,\n);\n\n\
                 // Send the browser to sign in:\n\
                 const code_verifier = client.randomPKCECodeVerifier();\n\
                 const url = client.buildAuthorizationUrl(config, {{\n  \
                 redirect_uri: '{redirect}',\n  scope: '{scope}',\n  \
                 code_challenge: await client.calculatePKCECodeChallenge(code_verifier),\n  \
                 code_challenge_method: 'S256',\n}});\n\n\
                 // Back at {redirect}:\n\
                 const tokens = await client.authorizationCodeGrant(config, currentUrl, {{\n  \
                 pkceCodeVerifier: code_verifier,\n}});\n"
            ),
        ),
        Kind::Spa => (
            "Browser · oidc-client-ts",
            format!(
                "import {{ UserManager }} from 'oidc-client-ts';\n\n\
                 const userManager = new UserManager({{\n  authority: '{issuer}',\n  \
                 client_id: '{id}',\n  redirect_uri: '{redirect}',\n  \
                 response_type: 'code',\n  scope: '{scope}',\n}});\n\n\
                 // Sign in:\nawait userManager.signinRedirect();\n\
                 // On {redirect}:\nconst user = await userManager.signinRedirectCallback();\n"
            ),
        ),
        Kind::Native => (
            "iOS · AppAuth",
            format!(
                "let issuer = URL(string: \"{issuer}\")!\n\
                 OIDAuthorizationService.discoverConfiguration(forIssuer: issuer) {{ configuration, error in\n  \
                 guard let configuration = configuration else {{ return }}\n  \
                 let request = OIDAuthorizationRequest(\n    configuration: configuration,\n    \
                 clientId: \"{id}\",\n    scopes: \"{scope}\".components(separatedBy: \" \"),\n    \
                 redirectURL: URL(string: \"{redirect}\")!,\n    \
                 responseType: OIDResponseTypeCode,\n    additionalParameters: nil)\n  \
                 // PKCE is added by AppAuth.\n  \
                 appDelegate.currentAuthorizationFlow = OIDAuthState.authState(\n    \
                 byPresenting: request, presenting: viewController) {{ authState, error in }}\n}}\n"
            ),
        ),
        Kind::Machine => (
            "curl · client credentials",
            format!(
                "curl -s -X POST '{issuer}/token' \\\n  \
                 -u '{id}':\"$CLIENT_SECRET\" \\\n  \
                 -d grant_type=client_credentials{}\n",
                if scope.is_empty() {
                    String::new()
                } else {
                    format!(" \\\n  --data-urlencode 'scope={scope}'")
                }
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_setting_is_placed_on_its_input_with_its_line() {
        let problems = [
            Problem::new("redirect_uris[1]", "invalid_uri", "bad"),
            Problem::new("theme.primary", "invalid_colour", "bad colour"),
            Problem::new("id", "invalid", "bad id"),
            Problem::new("public", "immutable", "no"),
        ];
        let errors = errors_by_input("en", &problems, wizard_inputs(Kind::Web));
        assert!(errors["redirect_uris"].starts_with("Line 2"), "{errors:?}");
        assert!(errors.contains_key("theme.primary"));
        assert!(errors.contains_key("client_id"));
        assert_eq!(errors[""], "no", "an input the page does not show");
    }

    #[test]
    fn a_single_page_app_allows_the_origins_of_its_redirect_uris_by_default() {
        let form = ClientForm {
            name: "SPA".into(),
            redirect_uris:
                "https://spa.example/cb\nhttps://spa.example/other\nhttp://localhost:3000/cb".into(),
            ..ClientForm::new_of(Kind::Spa)
        };
        let settings = form.new_settings(Kind::Spa);
        assert_eq!(
            settings.allowed_origins,
            ["https://spa.example", "http://localhost:3000"]
        );
        assert!(settings.public);
        let machine = ClientForm::new_of(Kind::Machine).new_settings(Kind::Machine);
        assert_eq!(machine.grant_types, ["client_credentials"]);
        assert!(machine.redirect_uris.is_empty() && !machine.public);
    }
}
