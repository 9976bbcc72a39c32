//! Webhooks: events fanned out to the endpoints that want them, deliveries leased by one worker
//! at a time (also across two stores on PostgreSQL), attempts logged by the lease holder only,
//! giving up disables the endpoint and says so, replay, purge.

use std::sync::Arc;

use accrete_store::testing::postgres_schema;
use accrete_store::{
    AttemptOutcome, AttemptRecord, ConnectOptions, DeliveryStatus, NewWebhookEndpoint,
    NewWebhookEvent, PostgresStore, Store, WebhookAttempt, WebhookEndpoint,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::common::t0;

crate::for_each_backend!(
    events_are_fanned_out_once_to_the_enabled_endpoints_that_want_them,
    what_is_recorded_about_a_user_is_in_the_outbox_and_leaves_it_when_nobody_wants_it,
    a_lease_is_held_by_one_worker_until_it_expires_and_only_its_holder_records,
    giving_up_fails_the_delivery_disables_the_endpoint_and_records_why,
    a_replayed_delivery_is_due_again_and_old_events_are_purged_once_done,
    the_deliveries_of_a_time_range_are_replayed_for_one_endpoint_only,
    a_claim_fans_out_and_leases_and_attempts_recorded_together_need_their_lease,
    a_commit_that_writes_events_rings_the_outbox_signal,
);

async fn endpoint(store: &Arc<dyn Store>, events: &[&str]) -> WebhookEndpoint {
    store
        .create_webhook_endpoint(NewWebhookEndpoint {
            url: "https://hooks.example.com/".into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            description: None,
            sealed_secrets: vec![1, 2, 3],
            include_values: false,
            now: t0(),
        })
        .await
        .unwrap()
}

async fn event(store: &Arc<dyn Store>, kind: &'static str, at: OffsetDateTime) -> String {
    store
        .record_webhook_event(NewWebhookEvent {
            kind,
            payload: json!({"n": 1}),
            at,
        })
        .await
        .unwrap()
}

/// Prompt events, value changes and sign-ins each write their outbox event with them; fan-out
/// drops the events that no endpoint wants and keeps the others for delivery; with no endpoint
/// enabled, nothing is written at all.
async fn what_is_recorded_about_a_user_is_in_the_outbox_and_leaves_it_when_nobody_wants_it(
    store: Arc<dyn Store>,
) {
    use accrete_store::{EventKind, Location, NewEvent, NewUser, ProfileChange, SignInKind};
    let wanting = endpoint(&store, &["user.updated"]).await;
    let user = store
        .create_user(NewUser::with_email("ada@example.com", t0()))
        .await
        .unwrap();
    store
        .record_prompt_event(NewEvent {
            kind: EventKind::PromptShown,
            user_id: user.id,
            step: Some("company".into()),
            client_id: Some("shop".into()),
            at: t0(),
            logins: None,
            data: json!({}),
        })
        .await
        .unwrap();
    let update = accrete_store::UserUpdate {
        changes: vec![ProfileChange {
            location: Location::Profile,
            key: "company".into(),
            value: Some(json!("Acme")),
        }],
        ..Default::default()
    };
    store
        .update_user(user.id, None, &update, "prompt:company", t0())
        .await
        .unwrap();
    store
        .record_sign_in(user.id, SignInKind::Sso, t0())
        .await
        .unwrap();
    let mut recorded = store.recent_webhook_events(10).await.unwrap();
    recorded.reverse();
    let kinds: Vec<&str> = recorded.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "user.created",
            "prompt.shown",
            "user.updated",
            "signin.succeeded"
        ]
    );
    assert_eq!(recorded[1].payload["step"], "company");
    assert_eq!(recorded[1].payload["client_id"], "shop");
    let change = &recorded[2].payload["changes"][0];
    assert_eq!(change["key"], "company");
    assert_eq!(change["value"], "Acme");
    assert_eq!(recorded[2].payload["source"], "prompt:company");
    assert_eq!(recorded[3].payload["kind"], "sso");

    assert_eq!(store.fan_out_webhook_events(t0(), 100).await.unwrap(), 4);
    let left = store.recent_webhook_events(10).await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].kind, "user.updated");
    let deliveries = store.list_webhook_deliveries(wanting.id, 10).await.unwrap();
    assert_eq!(deliveries.len(), 1);

    assert!(store.delete_webhook_endpoint(wanting.id).await.unwrap());
    store
        .record_sign_in(user.id, SignInKind::Sso, t0())
        .await
        .unwrap();
    let after: Vec<String> = store
        .recent_webhook_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(after, ["user.updated"], "no endpoint, no new event");
}

fn attempt(at: OffsetDateTime, status: Option<i64>) -> WebhookAttempt {
    WebhookAttempt {
        attempt: 0,
        at,
        status_code: status,
        error: None,
        duration_ms: 3,
    }
}

async fn events_are_fanned_out_once_to_the_enabled_endpoints_that_want_them(store: Arc<dyn Store>) {
    let all = endpoint(&store, &[]).await;
    let users = endpoint(&store, &["user.created"]).await;
    let off = endpoint(&store, &[]).await;
    let update = accrete_store::WebhookEndpointUpdate {
        id: off.id,
        url: off.url.clone(),
        events: vec![],
        description: None,
        enabled: false,
        include_values: false,
        sealed_secrets: None,
        now: t0(),
    };
    store.update_webhook_endpoint(update).await.unwrap();
    event(&store, "policy.published", t0()).await;
    assert_eq!(store.fan_out_webhook_events(t0(), 100).await.unwrap(), 1);
    assert_eq!(store.fan_out_webhook_events(t0(), 100).await.unwrap(), 0);
    assert_eq!(
        store
            .list_webhook_deliveries(all.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .list_webhook_deliveries(users.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_webhook_deliveries(off.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let delivery = &store.list_webhook_deliveries(all.id, 10).await.unwrap()[0];
    assert_eq!(delivery.event_type, "policy.published");
    assert_eq!(delivery.status, DeliveryStatus::Pending);

    event(&store, "user.created", t0()).await;
    store.fan_out_webhook_events(t0(), 100).await.unwrap();
    assert_eq!(
        store
            .list_webhook_deliveries(users.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_webhook_deliveries(all.id, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn a_lease_is_held_by_one_worker_until_it_expires_and_only_its_holder_records(
    store: Arc<dyn Store>,
) {
    endpoint(&store, &[]).await;
    event(&store, "user.created", t0()).await;
    store.fan_out_webhook_events(t0(), 10).await.unwrap();
    let minute = Duration::minutes(1);
    let a = store
        .lease_webhook_deliveries("a", t0(), t0() + minute, 10)
        .await
        .unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].event.kind, "user.created");
    assert_eq!(a[0].sealed_secrets, vec![1, 2, 3]);
    assert!(
        store
            .lease_webhook_deliveries("b", t0(), t0() + minute, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // A dead worker's lease expires; another takes the delivery over.
    let later = t0() + minute;
    let b = store
        .lease_webhook_deliveries("b", later, later + minute, 10)
        .await
        .unwrap();
    assert_eq!(b.len(), 1);
    let record = |owner: &str, outcome| AttemptRecord {
        delivery_id: b[0].delivery_id,
        owner: owner.into(),
        attempt: attempt(later, Some(500)),
        outcome,
    };
    let retry = AttemptOutcome::Retry(later + minute);
    assert!(
        !store
            .record_webhook_attempt(record(&a[0].lease, retry.clone()))
            .await
            .unwrap()
    );
    assert!(
        store
            .record_webhook_attempt(record(&b[0].lease, retry))
            .await
            .unwrap()
    );
    let delivery = store
        .get_webhook_delivery(b[0].delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.attempts, 1);
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.next_attempt_at, later + minute);
    // Not due before its time.
    assert!(
        store
            .lease_webhook_deliveries("c", later, later + minute, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = later + minute;
    let c = store
        .lease_webhook_deliveries("c", due, due + minute, 10)
        .await
        .unwrap();
    let done = AttemptRecord {
        delivery_id: c[0].delivery_id,
        owner: c[0].lease.clone(),
        attempt: attempt(due, Some(204)),
        outcome: AttemptOutcome::Delivered,
    };
    assert!(store.record_webhook_attempt(done).await.unwrap());
    let delivery = store
        .get_webhook_delivery(c[0].delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    assert_eq!(delivery.delivered_at, Some(due));
    let log = store.webhook_attempts(delivery.id).await.unwrap();
    let statuses: Vec<_> = log.iter().map(|a| (a.attempt, a.status_code)).collect();
    assert_eq!(statuses, [(1, Some(500)), (2, Some(204))]);
}

async fn giving_up_fails_the_delivery_disables_the_endpoint_and_records_why(store: Arc<dyn Store>) {
    let hook = endpoint(&store, &["user.created"]).await;
    // Another endpoint stays enabled to hear that the first one was disabled.
    endpoint(&store, &["webhook.endpoint_disabled"]).await;
    event(&store, "user.created", t0()).await;
    store.fan_out_webhook_events(t0(), 10).await.unwrap();
    let at = t0() + Duration::days(3);
    let leased = store
        .lease_webhook_deliveries("a", at, at + Duration::minutes(1), 10)
        .await
        .unwrap();
    let record = AttemptRecord {
        delivery_id: leased[0].delivery_id,
        owner: leased[0].lease.clone(),
        attempt: attempt(at, None),
        outcome: AttemptOutcome::GiveUp("deliveries failed for 3 days".into()),
    };
    assert!(store.record_webhook_attempt(record).await.unwrap());
    let hook = store.get_webhook_endpoint(hook.id).await.unwrap().unwrap();
    assert!(!hook.enabled);
    assert_eq!(
        hook.disabled_reason.as_deref(),
        Some("deliveries failed for 3 days")
    );
    let delivery = store
        .get_webhook_delivery(leased[0].delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    let newest = &store.recent_webhook_events(1).await.unwrap()[0];
    assert_eq!(newest.kind, "webhook.endpoint_disabled");
    assert_eq!(newest.payload["endpoint"]["id"], hook.id.to_string());
}

async fn a_replayed_delivery_is_due_again_and_old_events_are_purged_once_done(
    store: Arc<dyn Store>,
) {
    let hook = endpoint(&store, &[]).await;
    event(&store, "user.deleted", t0()).await;
    store.fan_out_webhook_events(t0(), 10).await.unwrap();
    let leased = store
        .lease_webhook_deliveries("a", t0(), t0() + Duration::minutes(1), 10)
        .await
        .unwrap();
    let id = leased[0].delivery_id;
    let done = AttemptRecord {
        delivery_id: id,
        owner: leased[0].lease.clone(),
        attempt: attempt(t0(), Some(200)),
        outcome: AttemptOutcome::Delivered,
    };
    store.record_webhook_attempt(done).await.unwrap();
    let later = t0() + Duration::hours(1);
    let replayed = store.replay_webhook_delivery(id, later).await.unwrap();
    assert_eq!(replayed.status, DeliveryStatus::Pending);
    assert_eq!(replayed.next_attempt_at, later);
    // A pending delivery keeps its event.
    let month = t0() + Duration::days(31);
    assert_eq!(store.purge_webhook_events(month).await.unwrap(), 0);
    let again = store
        .lease_webhook_deliveries("b", later, later + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    let done = AttemptRecord {
        delivery_id: id,
        owner: again[0].lease.clone(),
        attempt: attempt(later, Some(200)),
        outcome: AttemptOutcome::Delivered,
    };
    store.record_webhook_attempt(done).await.unwrap();
    assert_eq!(store.purge_webhook_events(t0()).await.unwrap(), 0);
    assert_eq!(store.purge_webhook_events(month).await.unwrap(), 1);
    assert!(
        store
            .list_webhook_deliveries(hook.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_deliveries_of_a_time_range_are_replayed_for_one_endpoint_only(store: Arc<dyn Store>) {
    let hook = endpoint(&store, &[]).await;
    let other = endpoint(&store, &[]).await;
    let minute = Duration::minutes(1);
    for i in 0..5 {
        event(&store, "user.created", t0() + minute * i).await;
    }
    store.fan_out_webhook_events(t0(), 10).await.unwrap();
    let leased = store
        .lease_webhook_deliveries("a", t0(), t0() + minute, 20)
        .await
        .unwrap();
    assert_eq!(leased.len(), 10);
    let records = leased
        .iter()
        .map(|d| AttemptRecord {
            delivery_id: d.delivery_id,
            owner: d.lease.clone(),
            attempt: attempt(t0(), Some(200)),
            outcome: AttemptOutcome::Delivered,
        })
        .collect();
    let held = store.record_webhook_attempts(records).await.unwrap();
    assert_eq!(held, vec![true; 10]);
    let later = t0() + Duration::hours(1);
    // [t0 + 1 min, t0 + 3 min): the events of minutes 1 and 2, to `hook` only.
    let replayed = store
        .replay_webhook_deliveries(hook.id, t0() + minute, t0() + minute * 3, later)
        .await
        .unwrap();
    assert_eq!(replayed, 2);
    let pending: Vec<_> = store
        .list_webhook_deliveries(hook.id, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.status == DeliveryStatus::Pending)
        .collect();
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|d| d.next_attempt_at == later));
    assert!(
        store
            .list_webhook_deliveries(other.id, 10)
            .await
            .unwrap()
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered)
    );
    let none = store
        .replay_webhook_deliveries(hook.id, later, later + minute, later)
        .await
        .unwrap();
    assert_eq!(none, 0);
}

async fn a_claim_fans_out_and_leases_and_attempts_recorded_together_need_their_lease(
    store: Arc<dyn Store>,
) {
    endpoint(&store, &[]).await;
    for _ in 0..3 {
        event(&store, "user.created", t0()).await;
    }
    let minute = Duration::minutes(1);
    let (fanned, claimed) = store
        .claim_webhook_deliveries("a", t0(), t0() + minute, 100, 2)
        .await
        .unwrap();
    assert_eq!(
        (fanned, claimed.len()),
        (3, 2),
        "fanned out and leased in one call"
    );
    let (fanned, rest) = store
        .claim_webhook_deliveries("b", t0(), t0() + minute, 100, 10)
        .await
        .unwrap();
    assert_eq!((fanned, rest.len()), (0, 1));
    let record = |leased: &accrete_store::LeasedDelivery, owner: &str| AttemptRecord {
        delivery_id: leased.delivery_id,
        owner: owner.to_owned(),
        attempt: attempt(t0(), Some(204)),
        outcome: AttemptOutcome::Delivered,
    };
    let held = store
        .record_webhook_attempts(vec![
            record(&claimed[0], &claimed[0].lease),
            record(&claimed[1], "not-the-holder"),
            record(&rest[0], &rest[0].lease),
        ])
        .await
        .unwrap();
    assert_eq!(held, vec![true, false, true]);
    let statuses: Vec<_> = [&claimed[0], &claimed[1], &rest[0]]
        .iter()
        .map(|d| d.delivery_id)
        .collect();
    let mut found = Vec::new();
    for id in statuses {
        let delivery = store.get_webhook_delivery(id).await.unwrap().unwrap();
        found.push((delivery.status, delivery.attempts));
    }
    assert_eq!(
        found,
        [
            (DeliveryStatus::Delivered, 1),
            (DeliveryStatus::Pending, 0),
            (DeliveryStatus::Delivered, 1)
        ]
    );
    let log = store
        .webhook_attempts(claimed[0].delivery_id)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].attempt, 1);
}

async fn a_commit_that_writes_events_rings_the_outbox_signal(store: Arc<dyn Store>) {
    let mut signal = store.webhook_outbox_signal().await.unwrap();
    // Events are written while an endpoint is enabled.
    endpoint(&store, &[]).await;
    event(&store, "user.created", t0()).await;
    let woken = tokio::time::timeout(std::time::Duration::from_secs(10), signal.committed()).await;
    assert!(
        matches!(woken, Ok(Ok(()))),
        "no signal within ten seconds of the commit: {woken:?}"
    );
}

/// Two nodes leasing at once on PostgreSQL: each delivery goes to exactly one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_postgres_nodes_leasing_at_once_never_lease_one_delivery_twice() {
    let Some((url, _schema)) = postgres_schema().await else {
        return;
    };
    let a: Arc<dyn Store> = Arc::new(
        PostgresStore::connect(&url, ConnectOptions::default())
            .await
            .unwrap(),
    );
    a.migrate().await.unwrap();
    let b: Arc<dyn Store> = Arc::new(
        PostgresStore::connect(&url, ConnectOptions::default())
            .await
            .unwrap(),
    );
    endpoint(&a, &[]).await;
    for _ in 0..40 {
        event(&a, "user.created", t0()).await;
    }
    let (fa, fb) = tokio::join!(
        a.fan_out_webhook_events(t0(), 25),
        b.fan_out_webhook_events(t0(), 25)
    );
    let fanned = fa.unwrap() + fb.unwrap();
    let rest = a.fan_out_webhook_events(t0(), 100).await.unwrap();
    assert_eq!(fanned + rest, 40);
    let until = t0() + Duration::minutes(1);
    let mut leased = Vec::new();
    for _ in 0..4 {
        let (la, lb) = tokio::join!(
            a.lease_webhook_deliveries("a", t0(), until, 7),
            b.lease_webhook_deliveries("b", t0(), until, 7)
        );
        leased.extend(la.unwrap().into_iter().map(|d| d.delivery_id));
        leased.extend(lb.unwrap().into_iter().map(|d| d.delivery_id));
    }
    let mut ids = leased.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), leased.len(), "a delivery was leased twice");
    assert_eq!(leased.len(), 40);
}
