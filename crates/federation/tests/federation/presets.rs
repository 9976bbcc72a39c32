//! The OpenID Connect presets pointed at a stand-in through `issuer`.

use accrete_federation::spec::Preset;
use serde_json::json;

use crate::idp::{Auth, Idp, SUBJECT};
use crate::support::{provider, sign_in, spec, upstream};

#[tokio::test]
async fn a_self_managed_gitlab_signs_in_with_its_groups() {
    let idp = Idp::start("", Auth::Basic).await;
    idp.set(|b| {
        b.userinfo = Some(json!({
            "sub": SUBJECT,
            "nickname": "ada",
            "groups": ["research", "research/engines"],
            "https://gitlab.org/claims/groups/owner": ["research"],
        }));
    });
    let identity = sign_in(&upstream(), &provider(&spec(Preset::GitLab, &idp.base)))
        .await
        .unwrap();
    assert_eq!(identity.claims["nickname"], "ada");
    assert_eq!(
        identity.claims["groups"],
        json!(["research", "research/engines"])
    );
    assert_eq!(idp.last_authorize()["scope"], "openid email profile");
}

#[tokio::test]
async fn google_authenticates_with_basic_when_both_are_listed() {
    let idp = Idp::start("", Auth::Basic).await;
    let identity = sign_in(&upstream(), &provider(&spec(Preset::Google, &idp.base)))
        .await
        .unwrap();
    assert_eq!(identity.subject, SUBJECT);
    assert!(!idp.last_token_request().contains_key("client_secret"));
}
