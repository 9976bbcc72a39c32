//! Outbound safety: requests only to the connection's hosts, over https (plain http to loopback
//! only when allowed), no redirects followed, answers of bounded size, and a time limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use accrete_federation::spec::Preset;
use accrete_federation::{HttpOptions, Upstream, UpstreamError};
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::idp::{Auth, CLIENT_SECRET, Idp};
use crate::support::{options, provider, sign_in, spec, upstream};

fn host_of(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn an_endpoint_on_another_host_is_refused() {
    let idp = Idp::start("", Auth::Basic).await;
    let elsewhere = Idp::start("", Auth::Basic).await;
    let token_endpoint = format!("{}/token", elsewhere.base);
    idp.set(|b| {
        b.discovery_overrides
            .insert("token_endpoint".to_owned(), json!(token_endpoint));
    });
    let provider = provider(&spec(Preset::Oidc, &idp.base));
    let upstream = upstream();
    let expected = UpstreamError::HostNotAllowed {
        host: host_of(&elsewhere.base),
    };
    assert_eq!(sign_in(&upstream, &provider).await.unwrap_err(), expected);
    assert_eq!(upstream.check(&provider).await.unwrap_err(), expected);
    assert_eq!(elsewhere.hits("/token"), 0);

    let jwks_uri = format!("{}/jwks", elsewhere.base);
    idp.set(|b| {
        b.discovery_overrides.remove("token_endpoint");
        b.discovery_overrides
            .insert("jwks_uri".to_owned(), json!(jwks_uri));
    });
    assert_eq!(upstream.check(&provider).await.unwrap_err(), expected);
    assert_eq!(elsewhere.hits("/jwks"), 0);
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed_for_loopback() {
    let idp = Idp::start("", Auth::Basic).await;
    let provider = provider(&spec(Preset::Oidc, &idp.base));
    let strict = Upstream::new(HttpOptions::default()).unwrap();
    assert_eq!(
        sign_in(&strict, &provider).await.unwrap_err(),
        UpstreamError::HostNotAllowed {
            host: host_of(&idp.base)
        }
    );
    assert_eq!(idp.hits("/.well-known/openid-configuration"), 0);
}

/// A provider whose discovery document has moved: it answers with a redirect.
async fn moved() -> (String, Arc<AtomicUsize>) {
    let followed = Arc::new(AtomicUsize::new(0));
    let counter = followed.clone();
    let router = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/elsewhere")]) }),
        )
        .route(
            "/elsewhere",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { StatusCode::NOT_FOUND }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, followed)
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let (base, followed) = moved().await;
    let provider = provider(&spec(Preset::Oidc, &base));
    let error = upstream().check(&provider).await.unwrap_err();
    assert_eq!(
        error,
        UpstreamError::BadStatus {
            host: host_of(&base),
            status: 302
        }
    );
    assert_eq!(followed.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let idp = Idp::start("", Auth::Basic).await;
    idp.set(|b| {
        b.discovery_overrides
            .insert("padding".to_owned(), json!("x".repeat(4096)));
    });
    let provider = provider(&spec(Preset::Oidc, &idp.base));
    let small = Upstream::new(HttpOptions {
        max_body: 2048,
        ..options()
    })
    .unwrap();
    assert_eq!(
        small.check(&provider).await.unwrap_err(),
        UpstreamError::TooLarge {
            host: host_of(&idp.base),
            limit: 2048
        }
    );
}

/// A server that answers every request with an endless chunked body (no length announced).
async fn endless() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0_u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("400\r\n{}\r\n", " ".repeat(0x400));
                while socket.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    base
}

#[tokio::test]
async fn a_streamed_answer_is_cut_at_the_limit() {
    let base = endless().await;
    let provider = provider(&spec(Preset::Oidc, &base));
    assert_eq!(
        upstream().check(&provider).await.unwrap_err(),
        UpstreamError::TooLarge {
            host: host_of(&base),
            limit: 1024 * 1024
        }
    );
}

/// A server that accepts connections and never answers.
async fn silent() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    base
}

#[tokio::test]
async fn a_provider_that_does_not_answer_times_out() {
    let base = silent().await;
    let after = Duration::from_millis(300);
    let impatient = Upstream::new(HttpOptions {
        timeout: after,
        ..options()
    })
    .unwrap();
    let provider = provider(&spec(Preset::Oidc, &base));
    let error = impatient.check(&provider).await.unwrap_err();
    assert_eq!(
        error,
        UpstreamError::Timeout {
            host: host_of(&base),
            after
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the provider at {} did not answer within 300 ms",
            host_of(&base)
        )
    );
}

#[tokio::test]
async fn a_provider_that_is_not_there_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let provider = provider(&spec(Preset::Oidc, &base));
    let error = upstream().check(&provider).await.unwrap_err();
    assert_eq!(error.kind(), "unreachable");
    assert!(error.to_string().contains(&host_of(&base)), "{error}");
    assert!(!error.to_string().contains("well-known"), "{error}");
}

#[tokio::test]
async fn errors_never_show_the_secret() {
    let idp = Idp::start("", Auth::Post).await;
    let mut wrong = spec(Preset::Oidc, &idp.base);
    wrong.client_secret = Some("a-wrong-secret".to_owned());
    let error = sign_in(&upstream(), &provider(&wrong)).await.unwrap_err();
    assert_eq!(error.kind(), "token_endpoint");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("a-wrong-secret") && !shown.contains(CLIENT_SECRET));
    assert!(!format!("{:?}", provider(&wrong)).contains("a-wrong-secret"));
}
