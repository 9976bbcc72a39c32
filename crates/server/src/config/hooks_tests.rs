//! The `[[hooks]]` tables as a configuration reads them: checked at start with messages naming
//! their key, shown without their secrets.

use std::path::Path;

use crate::config::{Config, ConfigError, Layer};

fn resolve(file: &str) -> Result<Config, ConfigError> {
    let file = Layer::from_toml(Path::new("accrete.toml"), file)?;
    Config::resolve(Layer::default(), Layer::default(), file)
}

const HOOKS: &str = r#"
[[hooks]]
name = "clearbit"
kind = "enrichment"
url = "https://hooks.example.com/enrich"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr"
fields = { company = "company.name" }

[[hooks]]
name = "crm"
kind = "post_sign_in"
url = "https://hooks.example.com/sign-in"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr"
failure = "closed"
claim_namespace = "https://example.com/"
"#;

#[test]
fn hooks_of_the_file_are_read_and_shown_without_their_secrets() {
    let config = resolve(HOOKS).unwrap();
    assert_eq!(config.hooks.len(), 2);
    assert_eq!(config.hooks[0].fields["company"], "company.name");
    let shown = config.to_masked_toml();
    assert!(shown.contains("[[hooks]]"), "{shown}");
    assert!(shown.contains("name = \"crm\""), "{shown}");
    assert!(!shown.contains("whsec_"), "{shown}");
    assert!(resolve("").unwrap().hooks.is_empty());
}

#[test]
fn every_problem_of_the_hooks_is_named_by_its_key() {
    let bad = HOOKS
        .replace("https://hooks.example.com/enrich", "http://10.0.0.1/enrich")
        .replace(
            "failure = \"closed\"",
            "failure = \"closed\"\nwhen = [\"signup\"]",
        )
        .replacen(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr",
            "hunter2",
            1,
        );
    let error = resolve(&bad).unwrap_err().to_string();
    assert_eq!(
        error,
        "hooks[0].url: the URL must start with https://; hooks[0].secret: the secret must be \
         `whsec_` and the base64 of at least 24 random bytes (`echo whsec_$(openssl rand -base64 \
         32)` makes one); hooks[1].when[0]: a post_sign_in hook runs at every sign-in: leave \
         `when` out"
    );
    assert!(!error.contains("hunter2"));
    // With plain http allowed, the private address is what is refused.
    let private = format!(
        "[webhooks]\nallow_http = true\n{}",
        HOOKS.replace("https://hooks.example.com/enrich", "http://10.0.0.1/enrich")
    );
    assert!(
        resolve(&private)
            .unwrap_err()
            .to_string()
            .starts_with("hooks[0].url: the URL points to this machine or a private network"),
    );
    let unknown = resolve(&HOOKS.replace("fields =", "feilds ="))
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("feilds"), "{unknown}");
}
