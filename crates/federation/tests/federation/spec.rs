//! Connection specs: what may be written, how it reads back, what it means for the protocol, and
//! that secrets never leak.

use accrete_federation::spec::{
    AppleKey, ClaimMapping, ConnectionSpec, Preset, REDACTED, Secrets, SpecProblem, Sync,
    default_mapping,
};
use accrete_federation::{ClientAuth, Protocol, Quirks};

use crate::keys::APPLE;

const SECRET: &str = "s3cr3t-never-shown";

fn spec(preset: Preset) -> ConnectionSpec {
    ConnectionSpec {
        name: "upstream".to_owned(),
        display_name: None,
        preset,
        issuer: (preset == Preset::Oidc).then(|| "https://id.example.com".to_owned()),
        tenant: None,
        authorization_endpoint: (preset == Preset::OAuth2)
            .then(|| "https://oauth.example.com/authorize".to_owned()),
        token_endpoint: (preset == Preset::OAuth2)
            .then(|| "https://oauth.example.com/token".to_owned()),
        userinfo_endpoint: (preset == Preset::OAuth2)
            .then(|| "https://api.example.com/me".to_owned()),
        client_id: "client-1".to_owned(),
        client_secret: (preset != Preset::Apple).then(|| SECRET.to_owned()),
        apple: (preset == Preset::Apple).then(|| AppleKey {
            team_id: "TEAM123456".to_owned(),
            key_id: "KEY1234567".to_owned(),
            private_key: APPLE.pem.clone(),
        }),
        scopes: None,
        domains: Vec::new(),
        mapping: None,
        enabled: true,
    }
}

fn problems(spec: &ConnectionSpec) -> Vec<(String, &'static str)> {
    match spec.check() {
        Ok(()) => Vec::new(),
        Err(problems) => problems
            .into_iter()
            .map(|SpecProblem { path, code, .. }| (path, code))
            .collect(),
    }
}

fn one(path: &str, code: &'static str) -> Vec<(String, &'static str)> {
    vec![(path.to_owned(), code)]
}

#[test]
fn every_preset_has_a_valid_minimal_spec() {
    for preset in Preset::ALL {
        assert_eq!(problems(&spec(preset)), vec![], "{preset}");
        assert!(spec(preset).provider().is_ok(), "{preset}");
    }
}

#[test]
fn a_name_is_lower_case_letters_digits_and_hyphens() {
    for bad in ["", "-github", "GitHub", "git_hub", &"a".repeat(41)] {
        let mut spec = spec(Preset::GitHub);
        spec.name = bad.to_owned();
        assert_eq!(problems(&spec), one("name", "invalid_name"), "{bad:?}");
    }
}

#[test]
fn a_display_name_is_one_line_of_text() {
    for bad in ["", "  ", "a\nb", &"a".repeat(101)] {
        let mut spec = spec(Preset::Google);
        spec.display_name = Some(bad.to_owned());
        assert_eq!(
            problems(&spec),
            one("display_name", "invalid_display_name"),
            "{bad:?}"
        );
    }
}

#[test]
fn the_display_name_defaults_to_the_preset_then_the_name() {
    assert_eq!(spec(Preset::GitHub).display_name_or_default(), "GitHub");
    assert_eq!(spec(Preset::Oidc).display_name_or_default(), "upstream");
    let mut named = spec(Preset::Oidc);
    named.display_name = Some("Acme SSO".to_owned());
    assert_eq!(named.display_name_or_default(), "Acme SSO");
}

#[test]
fn oidc_requires_an_issuer() {
    let mut spec = spec(Preset::Oidc);
    spec.issuer = None;
    assert_eq!(problems(&spec), one("issuer", "required"));
}

#[test]
fn oauth2_requires_its_three_endpoints() {
    let mut spec = spec(Preset::OAuth2);
    spec.authorization_endpoint = None;
    spec.token_endpoint = None;
    spec.userinfo_endpoint = None;
    assert_eq!(
        problems(&spec),
        vec![
            ("authorization_endpoint".to_owned(), "required"),
            ("token_endpoint".to_owned(), "required"),
            ("userinfo_endpoint".to_owned(), "required"),
        ]
    );
}

#[test]
fn an_url_that_is_not_absolute_https_is_invalid() {
    for bad in [
        "id.example.com",
        "ftp://id.example.com",
        "https://user:password@id.example.com",
        "https://id.example.com/#top",
        "https://id.example.com/?tenant=a",
    ] {
        let mut spec = spec(Preset::Oidc);
        spec.issuer = Some(bad.to_owned());
        assert_eq!(problems(&spec), one("issuer", "invalid_url"), "{bad}");
    }
}

#[test]
fn plain_http_is_only_for_loopback() {
    let mut spec = spec(Preset::OAuth2);
    spec.token_endpoint = Some("http://oauth.example.com/token".to_owned());
    assert_eq!(problems(&spec), one("token_endpoint", "insecure_url"));
    for loopback in [
        "http://localhost:8080/token",
        "http://127.0.0.1:8080/token",
        "http://[::1]:8080/token",
    ] {
        spec.token_endpoint = Some(loopback.to_owned());
        assert_eq!(problems(&spec), vec![], "{loopback}");
    }
}

#[test]
fn values_a_preset_does_not_use_are_not_applicable() {
    let mut github = spec(Preset::GitHub);
    github.issuer = Some("https://github.com".to_owned());
    github.tenant = Some("common".to_owned());
    assert_eq!(
        problems(&github),
        vec![
            ("issuer".to_owned(), "not_applicable"),
            ("tenant".to_owned(), "not_applicable")
        ]
    );

    let mut google = spec(Preset::Google);
    google.token_endpoint = Some("https://oauth2.googleapis.com/token".to_owned());
    google.apple = spec(Preset::Apple).apple;
    assert_eq!(
        problems(&google),
        vec![
            ("token_endpoint".to_owned(), "not_applicable"),
            ("apple".to_owned(), "not_applicable")
        ]
    );

    let mut apple = spec(Preset::Apple);
    apple.client_secret = Some(SECRET.to_owned());
    assert_eq!(problems(&apple), one("client_secret", "not_applicable"));
}

#[test]
fn a_tenant_is_a_keyword_an_id_or_a_domain() {
    let mut spec = spec(Preset::Microsoft);
    for good in [
        "common",
        "organizations",
        "consumers",
        "9188040d-6c67-4c5b-b112-36a304b66dad",
        "contoso.onmicrosoft.com",
    ] {
        spec.tenant = Some(good.to_owned());
        assert_eq!(problems(&spec), vec![], "{good}");
    }
    for bad in ["everyone", "Contoso.com", "9188040d"] {
        spec.tenant = Some(bad.to_owned());
        assert_eq!(problems(&spec), one("tenant", "invalid_tenant"), "{bad}");
    }
}

#[test]
fn a_client_id_is_required_and_one_line() {
    let mut spec = spec(Preset::Google);
    spec.client_id = String::new();
    assert_eq!(problems(&spec), one("client_id", "required"));
    for bad in [" client", "client\n", &"c".repeat(256)] {
        spec.client_id = bad.to_owned();
        assert_eq!(
            problems(&spec),
            one("client_id", "invalid_client_id"),
            "{bad:?}"
        );
    }
}

#[test]
fn a_secret_is_required_except_for_apple() {
    for preset in Preset::ALL {
        let mut spec = spec(preset);
        spec.client_secret = None;
        let expected = if preset == Preset::Apple {
            vec![]
        } else {
            one("client_secret", "required")
        };
        assert_eq!(problems(&spec), expected, "{preset}");
    }
    let mut empty = spec(Preset::GitLab);
    empty.client_secret = Some(String::new());
    assert_eq!(problems(&empty), one("client_secret", "required"));
}

#[test]
fn a_secret_with_a_line_break_is_invalid_and_not_repeated() {
    let mut spec = spec(Preset::GitLab);
    spec.client_secret = Some(format!("{SECRET}\n"));
    let problems = spec.check().unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].code, "invalid_client_secret");
    assert!(!problems[0].message.contains(SECRET));
}

#[test]
fn apple_requires_its_key() {
    let mut spec = spec(Preset::Apple);
    spec.apple = None;
    assert_eq!(problems(&spec), one("apple", "required"));
}

#[test]
fn apple_ids_are_ten_upper_case_characters() {
    let mut spec = spec(Preset::Apple);
    let key = spec.apple.as_mut().unwrap();
    key.team_id = "team123456".to_owned();
    key.key_id = "KEY123".to_owned();
    assert_eq!(
        problems(&spec),
        vec![
            ("apple/team_id".to_owned(), "invalid_team_id"),
            ("apple/key_id".to_owned(), "invalid_key_id")
        ]
    );
}

#[test]
fn apple_private_key_is_required_and_must_sign() {
    let mut spec = spec(Preset::Apple);
    spec.apple.as_mut().unwrap().private_key = String::new();
    assert_eq!(problems(&spec), one("apple/private_key", "required"));
    spec.apple.as_mut().unwrap().private_key =
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned();
    assert_eq!(
        problems(&spec),
        one("apple/private_key", "invalid_private_key")
    );
}

#[test]
fn scopes_are_scope_tokens() {
    let mut spec = spec(Preset::GitHub);
    spec.scopes = Some(vec![
        "read:user".to_owned(),
        "two words".to_owned(),
        String::new(),
        "quote\"".to_owned(),
    ]);
    assert_eq!(
        problems(&spec),
        vec![
            ("scopes/1".to_owned(), "invalid_scope"),
            ("scopes/2".to_owned(), "invalid_scope"),
            ("scopes/3".to_owned(), "invalid_scope")
        ]
    );
}

#[test]
fn domains_are_lower_case_dns_names_listed_once() {
    let mut spec = spec(Preset::Microsoft);
    spec.domains = vec![
        "example.com".to_owned(),
        "Example.org".to_owned(),
        "localhost".to_owned(),
        "example.com".to_owned(),
    ];
    assert_eq!(
        problems(&spec),
        vec![
            ("domains/1".to_owned(), "invalid_domain"),
            ("domains/2".to_owned(), "invalid_domain"),
            ("domains/3".to_owned(), "duplicate_domain")
        ]
    );
}

#[test]
fn a_mapping_names_a_json_pointer_and_a_field() {
    let mut spec = spec(Preset::Oidc);
    let mapping = |claim: &str, field: &str| ClaimMapping {
        claim: claim.to_owned(),
        field: field.to_owned(),
        sync: Sync::Always,
    };
    spec.mapping = Some(vec![
        mapping("/org/name", "company"),
        mapping("given_name", "first_name"),
        mapping("/a~2", "x"),
        mapping("/a", ""),
        mapping("/a", "two words"),
        mapping("", "whole"),
    ]);
    assert_eq!(
        problems(&spec),
        vec![
            ("mapping/1/claim".to_owned(), "invalid_pointer"),
            ("mapping/2/claim".to_owned(), "invalid_pointer"),
            ("mapping/3/field".to_owned(), "required"),
            ("mapping/4/field".to_owned(), "invalid_field"),
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut spec = spec(Preset::Oidc);
    spec.name = "Bad Name".to_owned();
    spec.issuer = None;
    spec.client_secret = None;
    spec.domains = vec!["nope".to_owned()];
    assert_eq!(
        problems(&spec),
        vec![
            ("name".to_owned(), "invalid_name"),
            ("issuer".to_owned(), "required"),
            ("client_secret".to_owned(), "required"),
            ("domains/0".to_owned(), "invalid_domain"),
        ]
    );
    // The first problem is why it cannot be resolved.
    assert_eq!(spec.provider().unwrap_err().path, "name");
}

#[test]
fn the_default_mapping_maps_standard_claims_if_empty() {
    let mapping = spec(Preset::Google).mapping_or_default();
    assert_eq!(mapping, default_mapping());
    assert_eq!(mapping.len(), 10);
    assert!(mapping.iter().all(|m| m.sync == Sync::IfEmpty));
    assert!(
        mapping
            .iter()
            .any(|m| m.claim == "/given_name" && m.field == "given_name")
    );
    assert!(
        mapping
            .iter()
            .any(|m| m.claim == "/website" && m.field == "website")
    );
}

const TOML_SPEC: &str = r#"
name = "acme"
display_name = "Acme SSO"
preset = "oidc"
issuer = "https://sso.acme.example"
client_id = "accrete"
client_secret = "s3cr3t-never-shown"
scopes = ["openid", "email", "groups"]
domains = ["acme.example", "acme-corp.example"]

[[mapping]]
claim = "/given_name"
field = "first_name"

[[mapping]]
claim = "/org/name"
field = "company"
sync = "always"
"#;

#[test]
fn a_toml_spec_reads_with_defaults_and_writes_back_the_same() {
    let spec: ConnectionSpec = toml::from_str(TOML_SPEC).unwrap();
    assert!(spec.enabled);
    assert_eq!(spec.preset, Preset::Oidc);
    let mapping = spec.mapping.as_ref().unwrap();
    assert_eq!(mapping[0].sync, Sync::IfEmpty);
    assert_eq!(mapping[1].sync, Sync::Always);
    assert_eq!(spec.check(), Ok(()));

    let written = toml::to_string(&spec).unwrap();
    let again: ConnectionSpec = toml::from_str(&written).unwrap();
    assert_eq!(again, spec);

    let apple = super::spec::spec(Preset::Apple);
    let again: ConnectionSpec = toml::from_str(&toml::to_string(&apple).unwrap()).unwrap();
    assert_eq!(again, apple);
}

#[test]
fn a_json_spec_writes_back_the_same() {
    for preset in Preset::ALL {
        let mut spec = spec(preset);
        spec.enabled = false;
        spec.mapping = Some(default_mapping());
        let json = serde_json::to_string(&spec).unwrap();
        let again: ConnectionSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(again, spec, "{preset}");
    }
    let json = serde_json::json!({
        "name": "gh", "preset": "github", "client_id": "c", "client_secret": "s",
        "issuer": null, "scopes": null
    });
    let spec: ConnectionSpec = serde_json::from_value(json).unwrap();
    assert_eq!(spec.preset, Preset::GitHub);
    assert!(spec.enabled);
    assert!(spec.domains.is_empty());
}

#[test]
fn unknown_keys_and_presets_are_refused() {
    let unknown = serde_json::json!({
        "name": "gh", "preset": "github", "client_id": "c", "client_secret": "s", "colour": "red"
    });
    assert!(serde_json::from_value::<ConnectionSpec>(unknown).is_err());
    let preset = serde_json::json!({"name": "x", "preset": "facebook", "client_id": "c"});
    assert!(serde_json::from_value::<ConnectionSpec>(preset).is_err());
    let sync = serde_json::json!({"claim": "/a", "field": "b", "sync": "sometimes"});
    assert!(serde_json::from_value::<ClaimMapping>(sync).is_err());
}

fn leaks(spec: &ConnectionSpec, secrets: &[&str]) -> bool {
    let shown = [
        serde_json::to_string(spec).unwrap(),
        toml::to_string(spec).unwrap(),
        format!("{spec:?}"),
        format!("{:?}", spec.secrets()),
        format!("{:?}", spec.provider().ok()),
    ];
    shown
        .iter()
        .any(|text| secrets.iter().any(|secret| text.contains(secret)))
}

#[test]
fn without_secrets_and_redacted_never_show_a_secret() {
    let key_body = APPLE.pem.lines().nth(1).unwrap().to_owned();
    for preset in [Preset::Google, Preset::Apple] {
        let spec = spec(preset);
        let secrets = [SECRET, key_body.as_str()];
        assert!(!leaks(&spec.without_secrets(), &secrets), "{preset}");
        assert!(!leaks(&spec.redacted(), &secrets), "{preset}");
        // Debug output of the spec itself is redacted too.
        assert!(!format!("{spec:?}").contains(SECRET));
        assert!(!format!("{spec:?}").contains(&key_body));
    }
    let redacted = spec(Preset::Google).redacted();
    assert_eq!(redacted.client_secret.as_deref(), Some(REDACTED));
    let redacted = spec(Preset::Apple).redacted();
    assert_eq!(redacted.apple.unwrap().private_key, REDACTED);
}

#[test]
fn secrets_come_apart_and_back() {
    for preset in [Preset::GitHub, Preset::Apple] {
        let spec = spec(preset);
        let secrets = spec.secrets();
        assert!(!secrets.is_empty());
        let bare = spec.without_secrets();
        assert!(bare.secrets().is_empty());
        assert_eq!(bare.with_secrets(secrets), spec, "{preset}");
    }
    // A secret written in an update wins over the stored one.
    let mut updated = spec(Preset::GitHub);
    updated.client_secret = Some("new".to_owned());
    let stored = Secrets {
        client_secret: Some("old".to_owned()),
        apple_private_key: None,
    };
    assert_eq!(
        updated.with_secrets(stored).client_secret.as_deref(),
        Some("new")
    );
}

#[test]
fn presets_resolve_to_their_issuers_and_quirks() {
    let google = spec(Preset::Google).provider().unwrap();
    let Protocol::Oidc {
        issuer,
        issuer_template,
        endpoint_hosts,
    } = &google.protocol
    else {
        panic!("google is OpenID Connect")
    };
    assert_eq!(issuer.as_str(), "https://accounts.google.com/");
    assert_eq!(issuer_template, &None);
    assert!(endpoint_hosts.contains(&"oauth2.googleapis.com".to_owned()));
    assert_eq!(google.scopes, ["openid", "email", "profile"]);
    assert_eq!(google.client_auth, ClientAuth::Secret(SECRET.to_owned()));
    assert_eq!(google.quirks, Quirks::default());

    let apple = spec(Preset::Apple).provider().unwrap();
    assert_eq!(
        apple.protocol.issuer().map(url::Url::as_str),
        Some("https://appleid.apple.com/")
    );
    assert_eq!(apple.response_mode.as_deref(), Some("form_post"));
    assert_eq!(apple.scopes, ["name", "email"]);
    assert!(apple.quirks.apple_user_param);
    assert!(matches!(
        &apple.client_auth,
        ClientAuth::Apple { team_id, key_id, .. } if team_id == "TEAM123456" && key_id == "KEY1234567"
    ));

    let gitlab = spec(Preset::GitLab).provider().unwrap();
    assert_eq!(
        gitlab.protocol.issuer().map(url::Url::as_str),
        Some("https://gitlab.com/")
    );
    let mut self_managed = spec(Preset::GitLab);
    self_managed.issuer = Some("https://gitlab.acme.example".to_owned());
    assert_eq!(
        self_managed
            .provider()
            .unwrap()
            .protocol
            .issuer()
            .map(url::Url::as_str),
        Some("https://gitlab.acme.example/")
    );
}

#[test]
fn microsoft_multi_tenant_issuers_are_a_template() {
    let cases = [
        (None, "common", true),
        (Some("organizations"), "organizations", true),
        (Some("consumers"), "consumers", true),
        (
            Some("contoso.onmicrosoft.com"),
            "contoso.onmicrosoft.com",
            true,
        ),
        (
            Some("9188040d-6c67-4c5b-b112-36a304b66dad"),
            "9188040d-6c67-4c5b-b112-36a304b66dad",
            false,
        ),
    ];
    for (tenant, segment, templated) in cases {
        let mut spec = spec(Preset::Microsoft);
        spec.tenant = tenant.map(str::to_owned);
        let provider = spec.provider().unwrap();
        let Protocol::Oidc {
            issuer,
            issuer_template,
            endpoint_hosts,
        } = provider.protocol
        else {
            panic!("microsoft is OpenID Connect")
        };
        assert_eq!(
            issuer.as_str(),
            format!("https://login.microsoftonline.com/{segment}/v2.0")
        );
        let expected =
            templated.then(|| "https://login.microsoftonline.com/{tenantid}/v2.0".to_owned());
        assert_eq!(issuer_template, expected, "{segment}");
        assert_eq!(endpoint_hosts, ["graph.microsoft.com"]);
    }
}

#[test]
fn github_and_oauth2_resolve_to_endpoints() {
    let github = spec(Preset::GitHub).provider().unwrap();
    assert_eq!(
        github.protocol,
        Protocol::OAuth2 {
            authorization_endpoint: "https://github.com/login/oauth/authorize".parse().unwrap(),
            token_endpoint: "https://github.com/login/oauth/access_token"
                .parse()
                .unwrap(),
            userinfo_endpoint: "https://api.github.com/user".parse().unwrap(),
        }
    );
    assert_eq!(
        github.quirks.github_emails.map(String::from).as_deref(),
        Some("https://api.github.com/user/emails")
    );
    assert_eq!(github.scopes, ["read:user", "user:email"]);

    let oauth2 = spec(Preset::OAuth2).provider().unwrap();
    assert!(oauth2.scopes.is_empty());
    assert_eq!(oauth2.quirks, Quirks::default());
    let Protocol::OAuth2 {
        userinfo_endpoint, ..
    } = oauth2.protocol
    else {
        panic!("oauth2 is OAuth 2")
    };
    assert_eq!(userinfo_endpoint.as_str(), "https://api.example.com/me");
}
