//! The server's theme: saved over and over as one numbered row, each save recorded in the audit
//! log with what it replaced.

use std::sync::Arc;

use accrete_store::{NewAuditEntry, Store};
use serde_json::json;

use crate::common::t0;

crate::for_each_backend!(
    no_theme_is_saved_at_first,
    each_save_is_the_next_version_and_is_audited_with_what_it_replaced,
);

fn audit() -> NewAuditEntry {
    NewAuditEntry {
        at: t0(),
        actor: "user:ada".into(),
        action: "theme.updated".into(),
        target: Some("theme".into()),
        before: None,
        after: None,
        ip: Some("192.0.2.1".into()),
    }
}

async fn no_theme_is_saved_at_first(store: Arc<dyn Store>) {
    assert_eq!(store.server_theme().await.unwrap(), None);
}

async fn each_save_is_the_next_version_and_is_audited_with_what_it_replaced(store: Arc<dyn Store>) {
    let first = json!({"brand": "Acme", "primary": "#0a7d5a"});
    let saved = store.replace_server_theme(&first, audit()).await.unwrap();
    assert_eq!(saved.version, 1);
    assert_eq!(saved.theme, first);
    assert_eq!(saved.updated_by, "user:ada");
    assert_eq!(saved.updated_at, t0());
    let second = json!({"primary": "#d9480f", "css": ".card { border: 0 }"});
    let saved = store.replace_server_theme(&second, audit()).await.unwrap();
    assert_eq!(saved.version, 2);
    assert_eq!(store.server_theme().await.unwrap(), Some(saved));
    // A reset stores the empty theme: the version still grows, so every node notices.
    let reset = store
        .replace_server_theme(&json!({}), audit())
        .await
        .unwrap();
    assert_eq!(reset.version, 3);
    assert_eq!(reset.theme, json!({}));

    let log = store.list_audit(None, 10).await.unwrap();
    let entries: Vec<_> = log.iter().rev().map(|e| &e.entry).collect();
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e.action == "theme.updated"
        && e.target.as_deref() == Some("theme")
        && e.ip.as_deref() == Some("192.0.2.1")));
    assert_eq!(entries[0].before, Some(json!({})));
    assert_eq!(entries[0].after, Some(first.clone()));
    assert_eq!(entries[1].before, Some(first));
    assert_eq!(entries[1].after, Some(second.clone()));
    assert_eq!(entries[2].before, Some(second));
    assert_eq!(entries[2].after, Some(json!({})));
}
