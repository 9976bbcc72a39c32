//! Retention: history entries and events older than a date are purged; the current values,
//! their sources and newer entries stay.

use std::sync::Arc;

use accrete_store::{EventKind, Location, NewEvent, NewUser, ProfileChange, Store, UserUpdate};
use serde_json::json;
use time::Duration;

use crate::common::t0;

crate::for_each_backend!(history_and_events_older_than_the_retention_are_purged);

async fn history_and_events_older_than_the_retention_are_purged(store: Arc<dyn Store>) {
    let user = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    for (days, name) in [(400, "Ada"), (10, "Ada L.")] {
        let at = t0() - Duration::days(days);
        let update = UserUpdate {
            changes: vec![ProfileChange::set(
                Location::Profile,
                "given_name",
                json!(name),
            )],
            ..UserUpdate::default()
        };
        store
            .update_user(user.id, None, &update, "signup", at)
            .await
            .unwrap();
        let event = NewEvent {
            kind: EventKind::PromptShown,
            user_id: user.id,
            step: Some("names".into()),
            client_id: None,
            at,
            logins: None,
            data: json!({}),
        };
        store.record_prompt_event(event).await.unwrap();
    }
    let before = t0() - Duration::days(365);
    assert_eq!(store.purge_history(before).await.unwrap(), 1);
    assert_eq!(store.purge_events(before).await.unwrap(), 1);
    let history = store.user_history(user.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].new_value, Some(json!("Ada L.")));
    assert_eq!(store.user_events(user.id, 10).await.unwrap().len(), 1);
    let kept = store.get_user(user.id).await.unwrap();
    assert_eq!(kept.profile["given_name"], json!("Ada L."));
    assert_eq!(store.value_provenance(user.id).await.unwrap().len(), 1);
    // Nothing older is left: a second purge deletes nothing.
    assert_eq!(store.purge_history(before).await.unwrap(), 0);
    assert_eq!(store.purge_events(before).await.unwrap(), 0);
}
