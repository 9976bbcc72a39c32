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
