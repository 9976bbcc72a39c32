//! Microsoft Entra ID: the multi-tenant issuer template (`{tenantid}`) and a tenant's own issuer
//! found from one of its domains.

use accrete_federation::UpstreamError;
use accrete_federation::spec::Preset;
use serde_json::{Value, json};

use crate::idp::{Auth, Idp};
use crate::support::{provider, sign_in, spec, upstream};

const TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const OTHER_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// A stand-in of `login.microsoftonline.com/{tenant}/v2.0`: tokens from `TENANT`.
async fn entra(tenant_segment: &str, published_issuer: &str) -> Idp {
    let idp = Idp::start(&format!("/{tenant_segment}/v2.0"), Auth::Basic).await;
    let base = idp.base.clone();
    idp.set(|b| {
        b.issuer = format!("{base}/{published_issuer}/v2.0");
        b.token_issuer = format!("{base}/{TENANT}/v2.0");
        b.claims.insert("tid".to_owned(), json!(TENANT));
        b.claims.remove("email_verified");
    });
    idp
}

fn microsoft(idp: &Idp, tenant: Option<&str>) -> accrete_federation::Provider {
    let segment = tenant.unwrap_or("common");
    let mut spec = spec(Preset::Microsoft, &format!("{}/{segment}/v2.0", idp.base));
    spec.tenant = tenant.map(str::to_owned);
    provider(&spec)
}

#[tokio::test]
async fn any_tenant_signs_in_with_its_own_issuer() {
    let idp = entra("common", "{tenantid}").await;
    let provider = microsoft(&idp, None);
    let upstream = upstream();
    let identity = sign_in(&upstream, &provider).await.unwrap();
    assert_eq!(identity.claims["tid"], TENANT);
    // Entra does not vouch for addresses.
    assert!(!identity.email_verified);

    idp.set(|b| {
        b.token_issuer = format!("{}/{OTHER_TENANT}/v2.0", idp.base);
        b.claims.insert("tid".to_owned(), json!(OTHER_TENANT));
    });
    sign_in(&upstream, &provider).await.unwrap();
}

#[tokio::test]
async fn a_token_whose_issuer_is_not_its_tenants_is_refused() {
    let idp = entra("common", "{tenantid}").await;
    idp.set(|b| b.token_issuer = format!("{}/{OTHER_TENANT}/v2.0", idp.base));
    let error = sign_in(&upstream(), &microsoft(&idp, None))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        UpstreamError::IssuerMismatch {
            expected: format!("{}/{TENANT}/v2.0", idp.base),
            got: format!("{}/{OTHER_TENANT}/v2.0", idp.base),
        }
    );
}

#[tokio::test]
async fn a_token_without_tenant_is_refused() {
    let idp = entra("organizations", "{tenantid}").await;
    idp.set(|b| {
        b.claims.insert("tid".to_owned(), Value::Null);
    });
    let error = sign_in(&upstream(), &microsoft(&idp, Some("organizations")))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "id_token");
    assert!(error.to_string().contains("tid"), "{error}");
}

#[tokio::test]
async fn a_response_iss_of_another_shape_is_refused() {
    let idp = entra("common", "{tenantid}").await;
    let provider = microsoft(&idp, None);
    let upstream = upstream();
    idp.set(|b| b.response_iss = Some("https://evil.example/v2.0".to_owned()));
    let error = sign_in(&upstream, &provider).await.unwrap_err();
    assert_eq!(error.kind(), "issuer_mismatch");

    // Of the template's shape but another tenant than the token's.
    idp.set(|b| b.response_iss = Some(format!("{}/{OTHER_TENANT}/v2.0", idp.base)));
    let error = sign_in(&upstream, &provider).await.unwrap_err();
    assert_eq!(error.kind(), "issuer_mismatch");

    idp.set(|b| b.response_iss = Some(format!("{}/{TENANT}/v2.0", idp.base)));
    sign_in(&upstream, &provider).await.unwrap();
}

#[tokio::test]
async fn a_domain_tenant_is_held_to_the_tenant_its_discovery_names() {
    let idp = entra("contoso.example", TENANT).await;
    let provider = microsoft(&idp, Some("contoso.example"));
    let upstream = upstream();
    sign_in(&upstream, &provider).await.unwrap();

    idp.set(|b| {
        b.token_issuer = format!("{}/{OTHER_TENANT}/v2.0", idp.base);
        b.claims.insert("tid".to_owned(), json!(OTHER_TENANT));
    });
    let error = sign_in(&upstream, &provider).await.unwrap_err();
    assert_eq!(error.kind(), "issuer_mismatch");
}

#[tokio::test]
async fn a_discovery_document_of_another_shape_is_refused() {
    let idp = entra("common", "{tenantid}").await;
    idp.set(|b| b.issuer = "https://evil.example/{tenantid}/v2.0".to_owned());
    let error = sign_in(&upstream(), &microsoft(&idp, None))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "issuer_mismatch");
}

#[tokio::test]
async fn the_connection_test_says_any_tenant() {
    let idp = entra("common", "{tenantid}").await;
    let summary = upstream().check(&microsoft(&idp, None)).await.unwrap();
    assert_eq!(
        summary,
        format!(
            "discovery ok, 1 key, issuer {}/{{tenantid}}/v2.0 (any tenant)",
            idp.base
        )
    );
}
