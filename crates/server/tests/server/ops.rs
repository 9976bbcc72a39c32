//! Operational endpoints and middleware.

use crate::support::{Backend, TestApp, each_backend};

#[tokio::test]
async fn healthz_answers_ok() {
    each_backend(|app| async move {
        let response = app.get("/healthz").await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap()["status"],
            "ok"
        );
    })
    .await;
}

#[tokio::test]
async fn readyz_reports_a_reachable_current_database() {
    each_backend(|app| async move {
        let response = app.get("/readyz").await;
        assert_eq!(response.status(), 200, "{:?}", app.backend);
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap()["status"],
            "ready"
        );
    })
    .await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    each_backend(|app| async move {
        let response = app.get("/healthz").await;
        let headers = response.headers();
        assert!(!headers["x-request-id"].is_empty());
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
    })
    .await;
}

#[tokio::test]
async fn a_request_id_sent_by_the_client_is_kept() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    app.get("/healthz").await;
    app.get("/no-such-page").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total")
            && l.contains("route=\"/healthz\"")
            && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("route=\"unmatched\"") && l.contains("status=\"404\"")),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds"), "{text}");
}

#[tokio::test]
async fn graceful_shutdown_lets_the_server_stop_cleanly() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    assert_eq!(app.get("/healthz").await.status(), 200);
    let result = app.stop().await;
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn made_up_methods_and_paths_do_not_grow_the_metrics() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    for i in 0..40 {
        let method = reqwest::Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        app.client
            .request(method.clone(), app.url("/healthz"))
            .send()
            .await
            .unwrap();
        app.client
            .request(method, app.url(&format!("/made-up-{i}")))
            .send()
            .await
            .unwrap();
        app.get(&format!("/assets/theme/made-up-{i}.css")).await;
        app.get(&format!("/no-such-page-{i}")).await;
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .collect();
    assert!(
        !text.contains("MADEUP") && !text.contains("made-up") && !text.contains("no-such-page"),
        "{text}"
    );
    assert!(
        series.iter().any(|l| l.contains("method=\"other\"")),
        "{text}"
    );
    assert!(series.len() <= 8, "{} series: {text}", series.len());
}
