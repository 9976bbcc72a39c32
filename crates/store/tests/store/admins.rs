//! Administrators, the audit log and console sessions: a role change and its audit entry go
//! together, the log pages newest first, sessions expire and go with their user, and the log
//! outlives the accounts it names.

use std::sync::Arc;

use accrete_store::{ConsoleSession, NewAuditEntry, NewUser, Store, StoreError};
use serde_json::json;
use time::Duration;
use uuid::Uuid;

use crate::common::t0;
use crate::oidc::user;

crate::for_each_backend!(
    a_role_change_is_recorded_with_the_role_before_and_after,
    the_audit_log_pages_newest_first,
    a_console_session_expires_and_goes_with_its_user,
);

fn audit(action: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: t0(),
        actor: "cli".into(),
        action: action.into(),
        target: None,
        before: None,
        after: None,
        ip: Some("127.0.0.1".into()),
    }
}

async fn a_role_change_is_recorded_with_the_role_before_and_after(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    assert_eq!(store.admin_role(ada.id).await.unwrap(), None);
    assert_eq!(store.count_admins(None).await.unwrap(), 0);
    let before = store
        .set_admin_role(ada.id, Some("owner"), audit("admin.granted"))
        .await
        .unwrap();
    assert_eq!(before, None);
    assert_eq!(
        store.admin_role(ada.id).await.unwrap().as_deref(),
        Some("owner")
    );
    let before = store
        .set_admin_role(ada.id, Some("viewer"), audit("admin.changed"))
        .await
        .unwrap();
    assert_eq!(before.as_deref(), Some("owner"));
    // The same role again changes nothing and records nothing.
    store
        .set_admin_role(ada.id, Some("viewer"), audit("admin.changed"))
        .await
        .unwrap();
    let admins = store.list_admins().await.unwrap();
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0].email, "ada@example.com");
    assert_eq!(admins[0].role, "viewer");
    assert_eq!(admins[0].granted_by, "cli");
    assert_eq!(store.count_admins(Some("owner")).await.unwrap(), 0);
    assert_eq!(store.count_admins(Some("viewer")).await.unwrap(), 1);

    store
        .set_admin_role(ada.id, None, audit("admin.revoked"))
        .await
        .unwrap();
    assert_eq!(store.count_admins(None).await.unwrap(), 0);
    let log = store.list_audit(None, 10).await.unwrap();
    let seen: Vec<_> = log
        .iter()
        .map(|e| {
            (
                e.entry.action.as_str(),
                e.entry.before.clone(),
                e.entry.after.clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("admin.revoked", Some(json!({"role": "viewer"})), None),
            (
                "admin.changed",
                Some(json!({"role": "owner"})),
                Some(json!({"role": "viewer"}))
            ),
            ("admin.granted", None, Some(json!({"role": "owner"}))),
        ]
    );
    assert!(matches!(
        store
            .set_admin_role(Uuid::new_v4(), Some("owner"), audit("admin.granted"))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.list_audit(None, 10).await.unwrap().len(), 3);
}

async fn the_audit_log_pages_newest_first(store: Arc<dyn Store>) {
    for i in 0..5 {
        let mut entry = audit(&format!("client.updated.{i}"));
        entry.target = Some(format!("client:c{i}"));
        entry.after = Some(json!({ "name": format!("C{i}") }));
        store.record_audit(entry).await.unwrap();
    }
    let first = store.list_audit(None, 2).await.unwrap();
    assert_eq!(first[0].entry.action, "client.updated.4");
    assert_eq!(first[1].entry.action, "client.updated.3");
    let next = store.list_audit(Some(first[1].seq), 10).await.unwrap();
    let actions: Vec<_> = next.iter().map(|e| e.entry.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["client.updated.2", "client.updated.1", "client.updated.0"]
    );
    assert_eq!(next[0].entry.target.as_deref(), Some("client:c2"));
    assert_eq!(next[0].entry.after, Some(json!({ "name": "C2" })));
    assert_eq!(next[0].entry.ip.as_deref(), Some("127.0.0.1"));
}

async fn a_console_session_expires_and_goes_with_its_user(store: Arc<dyn Store>) {
    let ada = user(&store).await;
    let bob = store
        .create_user(NewUser::with_email("bob@example.com", t0()))
        .await
        .unwrap();
    let session = |hash: &str, user_id| ConsoleSession {
        hash: hash.into(),
        user_id,
        created_at: t0(),
        auth_time: t0(),
        expires_at: t0() + Duration::hours(8),
    };
    store
        .create_console_session(session("a", ada.id))
        .await
        .unwrap();
    store
        .create_console_session(session("b", bob.id))
        .await
        .unwrap();
    assert_eq!(
        store.console_session("a", t0()).await.unwrap(),
        Some(session("a", ada.id))
    );
    let later = t0() + Duration::hours(9);
    assert_eq!(store.console_session("a", later).await.unwrap(), None);
    assert!(store.delete_console_session("a").await.unwrap());
    assert!(!store.delete_console_session("a").await.unwrap());
    // Bob's account goes: his session and role go too; the log of his grant stays.
    store
        .set_admin_role(bob.id, Some("support"), audit("admin.granted"))
        .await
        .unwrap();
    store.delete_user(bob.id).await.unwrap();
    assert_eq!(store.console_session("b", t0()).await.unwrap(), None);
    assert_eq!(store.count_admins(None).await.unwrap(), 0);
    assert_eq!(store.list_audit(None, 10).await.unwrap().len(), 1);
    assert_eq!(
        store.delete_expired_console_sessions(later).await.unwrap(),
        0
    );
}
