//! The `[accounts]` and `[lifetimes]` tables as a configuration reads them: defaults, layers,
//! bounds and the messages naming their key.

use std::path::Path;

use accrete_app::settings::{EmailVerification, Settings};

use crate::config::{Config, ConfigError, Layer};

fn resolve(file: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let file = Layer::from_toml(Path::new("accrete.toml"), file)?;
    let env = Layer::from_env(
        env.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    )?;
    Config::resolve(Layer::default(), env, file)
}

fn refused(file: &str) -> String {
    resolve(file, &[]).unwrap_err().to_string()
}

#[test]
fn without_accounts_or_lifetimes_the_settings_are_todays() {
    let config = resolve("", &[]).unwrap();
    assert_eq!(config.settings(), Settings::default());
    let shown = config.to_masked_toml();
    assert!(
        shown.contains("[accounts]\nself_signup = true\nemail_verification = \"optional\""),
        "{shown}"
    );
    assert!(shown.contains("access_token = \"15m\""), "{shown}");
    assert!(shown.contains("refresh_token_idle = \"off\""), "{shown}");
    assert!(shown.contains("sso_session = \"14d\""), "{shown}");
}

#[test]
fn accounts_and_lifetimes_are_read_from_the_file_and_the_environment_key_by_key() {
    let config = resolve(
        "[accounts]\nself_signup = false\nemail_verification = \"required\"\n\
         [lifetimes]\naccess_token = \"5m\"\nid_token = \"30m\"\nrefresh_token = \"14d\"\n\
         refresh_token_idle = \"2d\"\nsso_session = \"7d\"\nsso_session_idle = \"8h\"\n\
         transaction = \"1h\"\n",
        &[
            ("ACCRETE_ACCOUNTS__EMAIL_VERIFICATION", "off"),
            ("ACCRETE_LIFETIMES__ACCESS_TOKEN", "10m"),
        ],
    )
    .unwrap();
    let settings = config.settings();
    assert!(!settings.self_signup, "from the file");
    assert_eq!(
        settings.email_verification,
        EmailVerification::Off,
        "the environment wins"
    );
    let l = settings.lifetimes;
    assert_eq!(l.access_token, time::Duration::minutes(10));
    assert_eq!(l.id_token, time::Duration::minutes(30));
    assert_eq!(l.refresh_token, time::Duration::days(14));
    assert_eq!(l.refresh_token_idle, Some(time::Duration::days(2)));
    assert_eq!(l.sso_session, time::Duration::days(7));
    assert_eq!(l.sso_session_idle, Some(time::Duration::hours(8)));
    assert_eq!(l.transaction, time::Duration::hours(1));
    // What `config show` writes reads back as the same settings.
    let shown = config.to_masked_toml();
    let again = Layer::from_toml(Path::new("shown.toml"), &shown).unwrap();
    let again = Config::resolve(Layer::default(), Layer::default(), again).unwrap();
    assert_eq!(again.settings(), settings);
}

#[test]
fn an_idle_limit_set_in_the_file_is_turned_off_with_off() {
    let config = resolve(
        "[lifetimes]\nsso_session_idle = \"1h\"\n",
        &[("ACCRETE_LIFETIMES__SSO_SESSION_IDLE", "off")],
    )
    .unwrap();
    assert_eq!(config.settings().lifetimes.sso_session_idle, None);
}

#[test]
fn out_of_bounds_lifetimes_are_refused_naming_their_key() {
    let message = refused("[lifetimes]\naccess_token = \"30s\"\n");
    assert!(
        message.contains("lifetimes.access_token must be between 1m and 1h"),
        "{message}"
    );
    let message = refused("[lifetimes]\nid_token = \"2h\"\n");
    assert!(
        message.contains("lifetimes.id_token must be between 1m and 1h"),
        "{message}"
    );
    assert!(
        message.contains("signing key stays published 1h after a rotation"),
        "{message}"
    );
    let message = refused("[lifetimes]\nrefresh_token = \"400d\"\n");
    assert!(
        message.contains("lifetimes.refresh_token must be between 1m and 365d"),
        "{message}"
    );
    let message = refused("[lifetimes]\ntransaction = \"2d\"\n");
    assert!(
        message.contains("lifetimes.transaction must be between 1m and 1d"),
        "{message}"
    );
    let message = refused("[lifetimes]\nsso_session = \"0s\"\n");
    assert!(
        message.contains("lifetimes.sso_session must be between"),
        "{message}"
    );
}

#[test]
fn an_idle_limit_must_be_shorter_than_its_absolute_lifetime() {
    let message = refused("[lifetimes]\nrefresh_token = \"7d\"\nrefresh_token_idle = \"7d\"\n");
    assert!(
        message.contains(
            "lifetimes.refresh_token_idle (7d) must be shorter than lifetimes.refresh_token (7d)"
        ),
        "{message}"
    );
    let message = refused("[lifetimes]\nsso_session_idle = \"30d\"\n");
    assert!(
        message.contains(
            "lifetimes.sso_session_idle (30d) must be shorter than lifetimes.sso_session (14d)"
        ),
        "{message}"
    );
    let message = refused("[lifetimes]\nsso_session_idle = \"10s\"\n");
    assert!(
        message.contains("lifetimes.sso_session_idle must be at least 1m"),
        "{message}"
    );
}

#[test]
fn unreadable_values_are_refused_with_their_line_or_variable() {
    let message = refused("[lifetimes]\naccess_token = \"soon\"\n");
    assert!(message.starts_with("accrete.toml: line 2:"), "{message}");
    assert!(message.contains("invalid duration \"soon\""), "{message}");
    let message = refused("[accounts]\nemail_verification = \"maybe\"\n");
    assert!(message.contains("line 2"), "{message}");
    assert!(
        message.contains("off") && message.contains("required"),
        "{message}"
    );
    let message = resolve("", &[("ACCRETE_ACCOUNTS__SELF_SIGNUP", "perhaps")])
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("environment variable ACCRETE_ACCOUNTS__SELF_SIGNUP"),
        "{message}"
    );
    let message = refused("[lifetimes]\naccess_tokn = \"5m\"\n");
    assert!(message.contains("access_tokn"), "{message}");
}
