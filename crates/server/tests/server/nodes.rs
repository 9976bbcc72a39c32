//! Signing keys across deployments and across the nodes of one deployment.

use std::collections::BTreeSet;
use std::sync::Arc;

use accrete_server::{Config, Layer, Server};
use accrete_store::{ConnectOptions, Store};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::support::{Backend, TEST_MASTER_KEY, TestApp};

/// The `(alg, kid)` pairs a server publishes.
async fn published(base: &str) -> BTreeSet<(String, String)> {
    let jwks: Value = reqwest::get(format!("{base}/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| {
            (
                key["alg"].as_str().unwrap().to_owned(),
                key["kid"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn two_fresh_databases_publish_different_key_ids() {
    let Some(one) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let Some(two) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let kids = |keys: BTreeSet<(String, String)>| -> BTreeSet<String> {
        keys.into_iter().map(|(_, kid)| kid).collect()
    };
    let first = kids(published(&one.base).await);
    let second = kids(published(&two.base).await);
    assert_eq!(first.len(), 3, "one key per algorithm: {first:?}");
    assert_eq!(second.len(), 3, "one key per algorithm: {second:?}");
    assert!(
        first.is_disjoint(&second),
        "a key id names one key only: {first:?} and {second:?}"
    );
}

/// A node: its own connection pool to the shared database, its own server on port 0.
async fn start_node(url: String) -> (String, oneshot::Sender<()>, Arc<dyn Store>) {
    let store = accrete_store::connect(&url, ConnectOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let flags = Layer {
        listen: Some(addr),
        public_url: Some("http://accrete.test".to_owned()),
        master_key: Some(TEST_MASTER_KEY.to_owned()),
        ..Layer::default()
    };
    let config = Arc::new(Config::resolve(flags, Layer::default(), Layer::default()).unwrap());
    let server = Server::new(listener, config, store.clone()).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    (format!("http://{addr}"), stop, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_started_together_on_one_empty_postgresql_schema_publish_one_key_per_algorithm() {
    let Some((url, _schema)) = accrete_store::testing::postgres_schema().await else {
        return;
    };
    let starting: Vec<_> = (0..4)
        .map(|_| tokio::spawn(start_node(url.clone())))
        .collect();
    let mut nodes = Vec::new();
    for node in starting {
        nodes.push(node.await.unwrap());
    }
    let mut sets = Vec::new();
    for (base, _, _) in &nodes {
        sets.push(published(base).await);
    }
    let first = &sets[0];
    let algs: BTreeSet<&str> = first.iter().map(|(alg, _)| alg.as_str()).collect();
    assert_eq!(first.len(), 3, "one key per algorithm: {first:?}");
    assert_eq!(algs.len(), 3, "one key per algorithm: {first:?}");
    for set in &sets {
        assert_eq!(set, first, "every node publishes the same keys");
    }
    let stored = nodes[0].2.list_signing_keys().await.unwrap();
    assert_eq!(stored.len(), 3, "one stored key per algorithm");
}
