//! The `[[companions]]` tables as a configuration reads them: checked at start with messages
//! naming their key, shown without their secrets.

use std::path::Path;

use crate::config::{Config, ConfigError, Layer};

fn resolve(file: &str) -> Result<Config, ConfigError> {
    let file = Layer::from_toml(Path::new("accrete.toml"), file)?;
    Config::resolve(Layer::default(), Layer::default(), file)
}

const COMPANIONS: &str = r#"
[[companions]]
name = "auth0"
issuer = "example.eu.auth0.com"
secret = "a shared secret of at least thirty-two characters"
client = "auth0-companion"
"#;

#[test]
fn companions_of_the_file_are_read_and_shown_without_their_secrets() {
    let config = resolve(COMPANIONS).unwrap();
    assert_eq!(config.companions.len(), 1);
    assert_eq!(
        config.companions[0].continue_url().as_deref(),
        Some("https://example.eu.auth0.com/continue")
    );
    let shown = config.to_masked_toml();
    assert!(shown.contains("[[companions]]"), "{shown}");
    assert!(shown.contains("name = \"auth0\""), "{shown}");
    assert!(!shown.contains("thirty-two"), "{shown}");
    assert!(resolve("").unwrap().companions.is_empty());
}

#[test]
fn every_problem_of_the_companions_is_named_by_its_key() {
    let bad = COMPANIONS
        .replace("a shared secret of at least thirty-two characters", "short")
        .replace("name = \"auth0\"", "name = \"Auth 0\"");
    let error = resolve(&bad).unwrap_err().to_string();
    assert!(error.contains("companions[0].name:"), "{error}");
    assert!(
        error.contains("companions[0].secret: at least 32 characters"),
        "{error}"
    );
    let es256 = COMPANIONS.replace("secret = ", "algorithm = \"ES256\"\nsigning_key = ");
    let error = resolve(&es256).unwrap_err().to_string();
    assert!(error.contains("companions[0].jwks:"), "{error}");
    let unknown = format!("{COMPANIONS}colour = \"blue\"\n");
    assert!(resolve(&unknown).is_err(), "unknown keys are refused");
}

const WRITING: &str = r#"
[[companions]]
name = "auth0"
issuer = "example.eu.auth0.com"
secret = "a shared secret of at least thirty-two characters"
client = "auth0-companion"
[companions.management]
client_id = "m2m-client"
client_secret = "the machine-to-machine secret"
"#;

#[test]
fn the_management_credentials_are_read_and_their_secret_never_shown() {
    let config = resolve(WRITING).unwrap();
    let management = config.companions[0].management.as_ref().unwrap();
    assert_eq!(management.client_id, "m2m-client");
    assert_eq!(
        management.audience(&config.companions[0].issuer),
        "https://example.eu.auth0.com/api/v2/"
    );
    let shown = config.to_masked_toml();
    assert!(shown.contains("[companions.management]"), "{shown}");
    assert!(shown.contains("client_id = \"m2m-client\""), "{shown}");
    assert!(!shown.contains("machine-to-machine secret"), "{shown}");
    assert!(!format!("{config:?}").contains("machine-to-machine secret"));
}

#[test]
fn management_and_published_keys_problems_are_named_by_their_key() {
    let error = resolve(&WRITING.replace("client_id = \"m2m-client\"", "client_id = \"\""))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("companions[0].management.client_id:"),
        "{error}"
    );
    let local = format!("{WRITING}base_url = \"http://127.0.0.1:8080\"\n");
    let error = resolve(&local).unwrap_err().to_string();
    assert!(
        error.contains("companions[0].management.base_url: the URL must start with https://"),
        "{error}"
    );
    let allowed = format!("{local}[webhooks]\nallow_http = true\nallow_private = true\n");
    assert!(resolve(&allowed).is_ok(), "allowed by [webhooks]");
    let typo = format!("{WRITING}client_secrets = \"x\"\n");
    assert!(resolve(&typo).is_err(), "unknown keys are refused");

    let es256 = r#"
[[companions]]
name = "keycloak"
kind = "generic"
issuer = "https://sso.example.com/realms/main"
algorithm = "ES256"
jwks_uri = "http://sso.example.com/realms/main/certs"
signing_key = "not a key"
continue_url = "https://sso.example.com/continue"
client = "keycloak-companion"
"#;
    let error = resolve(es256).unwrap_err().to_string();
    assert!(
        error.contains("companions[0].jwks_uri: the URL must start with https://"),
        "{error}"
    );
    assert!(error.contains("companions[0].signing_key:"), "{error}");
    let both = es256.replace("jwks_uri = ", "jwks = \"{}\"\njwks_uri = ");
    let error = resolve(&both).unwrap_err().to_string();
    assert!(error.contains("companions[0].jwks_uri: give"), "{error}");
}
