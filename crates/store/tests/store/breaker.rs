//! PostgreSQL going away and coming back, through a TCP proxy the test can close: while the
//! database is known to be down, store methods fail at once instead of waiting for the pool.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use accrete_store::prelude::*;
use accrete_store::testing::postgres_schema;
use accrete_store::{ConnectOptions, PostgresStore, StoreError};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards connections to PostgreSQL until closed; can be opened again on the same address.
struct Proxy {
    addr: SocketAddr,
    target: SocketAddr,
    accept: Option<JoinHandle<()>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            target,
            accept: None,
            links: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let (target, links) = (self.target, Arc::clone(&self.links));
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links.lock().unwrap().push(link);
            }
        }));
    }

    /// Refuses new connections and cuts the open ones, as a stopped database would.
    async fn close(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            let _ = accept.await;
        }
        let links: Vec<_> = self.links.lock().unwrap().drain(..).collect();
        for link in links {
            link.abort();
            let _ = link.await;
        }
    }

    async fn reopen(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_down_methods_fail_at_once_and_recover_when_it_returns() {
    let Some((url, _schema)) = postgres_schema().await else {
        return;
    };
    PostgresStore::connect(&url, ConnectOptions::default())
        .await
        .unwrap()
        .migrate()
        .await
        .unwrap();
    let target = tokio::net::lookup_host("127.0.0.1:5432")
        .await
        .unwrap()
        .next()
        .unwrap();
    let mut proxy = Proxy::start(target).await;
    let (_, rest) = url.split_once('@').unwrap();
    let (_, path) = rest.split_once('/').unwrap();
    let proxied = format!("postgres://postgres@{}/{path}", proxy.addr);
    // A pool that would wait an hour for a connection: a method that waited for it would hang
    // the test rather than pass.
    let patient = ConnectOptions {
        max_connections: 4,
        connect_timeout: Duration::from_secs(3600),
    };
    let store = PostgresStore::connect(&proxied, patient).await.unwrap();
    store.ping().await.unwrap();
    assert!(!store.database_down());

    proxy.close().await;
    let first = store.ping().await;
    assert!(
        matches!(first, Err(StoreError::Unavailable { .. })),
        "{first:?}"
    );
    for _ in 0..20 {
        let refused = store.count_users().await;
        assert!(
            matches!(refused, Err(StoreError::Unavailable { .. })),
            "{refused:?}"
        );
    }

    // More methods than the pool had connections: the database is known to be down by now.
    assert!(store.database_down());

    proxy.reopen().await;
    store.database_back().await;
    assert!(!store.database_down());
    assert_eq!(store.count_users().await.unwrap(), 0);
    store.ping().await.unwrap();
}
