//! Settings of accounts (self sign-up, email verification) and lifetimes: the server's, and
//! what a client's own values make of them.
//!
//! The values live in `model.rs`, which imports nothing of ours, so that [`App`] can hold them
//! while the resolution here reads the `App`.

mod model;

use accrete_store::Client;

use crate::app::App;

pub use model::{EmailVerification, Lifetimes, MfaMode, MfaSettings, Retention, Settings};

/// Whether people signing in to `client` (`None`: outside any application) verify their email
/// address: the client's own value when it has one, else the server's.
pub fn email_verification_for(app: &App, client: Option<&Client>) -> EmailVerification {
    resolve_email_verification(app.settings(), client)
}

/// Whether people may create their own account through `client` (`None`: outside any
/// application): the client's own value when it has one, else the server's.
pub fn self_signup_for(app: &App, client: Option<&Client>) -> bool {
    resolve_self_signup(app.settings(), client)
}

/// When people signing in to `client` are asked for a second factor: the client's own rule
/// when it has one, else the server's.
pub fn mfa_for(app: &App, client: Option<&Client>) -> MfaMode {
    resolve_mfa(app.settings(), client)
}

fn resolve_mfa(settings: &Settings, client: Option<&Client>) -> MfaMode {
    client
        .and_then(|c| c.mfa.as_deref())
        .and_then(|value| {
            let parsed = MfaMode::parse(value);
            if parsed.is_none() {
                tracing::warn!(value, "a client's mfa is not a known value");
            }
            parsed
        })
        .unwrap_or(settings.mfa.mode)
}

fn resolve_email_verification(settings: &Settings, client: Option<&Client>) -> EmailVerification {
    client
        .and_then(|c| c.email_verification.as_deref())
        .and_then(|value| {
            let parsed = EmailVerification::parse(value);
            if parsed.is_none() {
                // Written by hand in the database: the server's setting holds.
                tracing::warn!(value, "a client's email_verification is not a known value");
            }
            parsed
        })
        .unwrap_or(settings.email_verification)
}

fn resolve_self_signup(settings: &Settings, client: Option<&Client>) -> bool {
    client
        .and_then(|c| c.self_signup)
        .unwrap_or(settings.self_signup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn client(self_signup: Option<bool>, email_verification: Option<&str>) -> Client {
        let now = OffsetDateTime::UNIX_EPOCH;
        Client {
            id: "web".to_owned(),
            secret_hash: None,
            name: "Web".to_owned(),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            grant_types: vec![],
            scopes: vec![],
            audience: vec![],
            public: true,
            id_token_alg: "RS256".to_owned(),
            allowed_origins: vec![],
            theme: serde_json::json!({}),
            connections: None,
            password_signin: true,
            self_signup,
            email_verification: email_verification.map(str::to_owned),
            mfa: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn server(email_verification: EmailVerification, self_signup: bool) -> Settings {
        Settings {
            email_verification,
            self_signup,
            ..Settings::default()
        }
    }

    #[test]
    fn the_defaults_are_todays_behaviour() {
        let defaults = Settings::default();
        assert!(defaults.self_signup);
        assert_eq!(defaults.email_verification, EmailVerification::Optional);
        assert_eq!(defaults.lifetimes.access_token, time::Duration::minutes(15));
        assert_eq!(defaults.lifetimes.id_token, time::Duration::hours(1));
        assert_eq!(defaults.lifetimes.refresh_token, time::Duration::days(30));
        assert_eq!(defaults.lifetimes.refresh_token_idle, None);
        assert_eq!(defaults.lifetimes.sso_session, time::Duration::days(14));
        assert_eq!(defaults.lifetimes.sso_session_idle, None);
        assert_eq!(defaults.lifetimes.transaction, time::Duration::minutes(30));
    }

    #[test]
    fn email_verification_is_the_clients_when_it_has_one_else_the_servers() {
        for theirs in EmailVerification::ALL {
            let settings = server(theirs, true);
            assert_eq!(resolve_email_verification(&settings, None), theirs);
            assert_eq!(
                resolve_email_verification(&settings, Some(&client(None, None))),
                theirs
            );
            for own in EmailVerification::ALL {
                let with_own = client(None, Some(own.as_str()));
                assert_eq!(resolve_email_verification(&settings, Some(&with_own)), own);
            }
        }
    }

    #[test]
    fn an_unknown_stored_email_verification_falls_back_to_the_servers() {
        let settings = server(EmailVerification::Required, true);
        let odd = client(None, Some("sometimes"));
        assert_eq!(
            resolve_email_verification(&settings, Some(&odd)),
            EmailVerification::Required
        );
    }

    #[test]
    fn self_signup_is_the_clients_when_it_has_one_else_the_servers() {
        for theirs in [true, false] {
            let settings = server(EmailVerification::Optional, theirs);
            assert_eq!(resolve_self_signup(&settings, None), theirs);
            assert_eq!(
                resolve_self_signup(&settings, Some(&client(None, None))),
                theirs
            );
            for own in [true, false] {
                assert_eq!(
                    resolve_self_signup(&settings, Some(&client(Some(own), None))),
                    own
                );
            }
        }
    }

    #[test]
    fn email_verification_reads_and_writes_as_documented() {
        for value in EmailVerification::ALL {
            assert_eq!(EmailVerification::parse(value.as_str()), Some(value));
            let json = serde_json::to_value(value).unwrap();
            assert_eq!(json, serde_json::json!(value.as_str()));
        }
        assert_eq!(EmailVerification::parse("Required"), None);
    }

    #[test]
    fn mfa_is_the_clients_rule_when_it_has_one_else_the_servers() {
        let mut server = Settings::default();
        assert_eq!(server.mfa.mode, MfaMode::IfEnrolled);
        assert_eq!(server.mfa.max_age, time::Duration::hours(12));
        let mut web = client(None, None);
        assert_eq!(resolve_mfa(&server, Some(&web)), MfaMode::IfEnrolled);
        server.mfa.mode = MfaMode::Off;
        assert_eq!(resolve_mfa(&server, None), MfaMode::Off);
        web.mfa = Some("required".into());
        assert_eq!(resolve_mfa(&server, Some(&web)), MfaMode::Required);
        web.mfa = Some("sometimes".into());
        assert_eq!(resolve_mfa(&server, Some(&web)), MfaMode::Off);
        for value in MfaMode::ALL {
            assert_eq!(MfaMode::parse(value.as_str()), Some(value));
            assert_eq!(
                serde_json::to_value(value).unwrap(),
                serde_json::json!(value.as_str())
            );
        }
    }
}
