//! The published policy, compiled once and shared by every request.
//!
//! The version in force lives in the database; each node re-reads it at most every
//! [`RECHECK`] and compiles a document only when its version changed, so the cost per sign-in
//! is an `Arc` clone and nodes see each other's publishes within a few seconds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accrete_core::{CompiledPolicy, Policy};
use accrete_store::{Store, StoreError};

/// How often a node looks for a newly published policy.
pub const RECHECK: Duration = Duration::from_secs(2);

/// The policy in force on this node, if any.
#[derive(Default)]
pub struct PolicyCache {
    inner: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    checked_at: Option<Instant>,
    version: Option<i64>,
    policy: Option<Arc<CompiledPolicy>>,
}

impl PolicyCache {
    /// The published policy (`None`: no policy, a plain identity server).
    pub async fn current(
        &self,
        store: &dyn Store,
    ) -> Result<Option<Arc<CompiledPolicy>>, StoreError> {
        self.current_at(store, Instant::now()).await
    }

    /// [`PolicyCache::current`] at a given instant (time is passed in for tests).
    async fn current_at(
        &self,
        store: &dyn Store,
        now: Instant,
    ) -> Result<Option<Arc<CompiledPolicy>>, StoreError> {
        if let Some(policy) = self.fresh(now) {
            return Ok(policy);
        }
        let published = store.published_policy().await?;
        let version = published.as_ref().map(|p| p.version);
        if let Ok(cached) = self.inner.lock()
            && cached.version == version
            && cached.checked_at.is_some()
        {
            drop(cached);
            return Ok(self.mark_checked(now, version, None));
        }
        let compiled = published.and_then(|p| {
            let text = p.document.to_string();
            let compiled = Policy::from_json_str(&text)
                .map_err(|e| e.to_string())
                .and_then(|policy| policy.compile().map_err(|e| e.to_string()));
            match compiled {
                Ok(policy) => Some(Arc::new(policy)),
                Err(error) => {
                    // Publishing validates; an unreadable version is ignored, loudly.
                    tracing::error!(version = p.version, %error, "published policy is invalid");
                    None
                }
            }
        });
        Ok(self.mark_checked(now, version, Some(compiled)))
    }

    /// The cached policy if it was checked recently enough.
    fn fresh(&self, now: Instant) -> Option<Option<Arc<CompiledPolicy>>> {
        let cached = self.inner.lock().ok()?;
        let at = cached.checked_at?;
        (now.saturating_duration_since(at) < RECHECK).then(|| cached.policy.clone())
    }

    fn mark_checked(
        &self,
        now: Instant,
        version: Option<i64>,
        replacement: Option<Option<Arc<CompiledPolicy>>>,
    ) -> Option<Arc<CompiledPolicy>> {
        let Ok(mut cached) = self.inner.lock() else {
            return replacement.flatten();
        };
        cached.checked_at = Some(now);
        if let Some(policy) = replacement {
            cached.version = version;
            cached.policy = policy;
        }
        cached.policy.clone()
    }

    /// Forgets the last check, so that the next request reads the database (after a publish
    /// on this node).
    pub fn invalidate(&self) {
        if let Ok(mut cached) = self.inner.lock() {
            cached.checked_at = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn publish(store: &dyn Store, title: &str) {
        let mut policy =
            Policy::from_toml_str(include_str!("../../../examples/policy.toml")).unwrap();
        policy.steps[0].title.insert("en".into(), title.into());
        let document = serde_json::to_value(&policy).unwrap();
        store
            .publish_policy(&document, None, time::OffsetDateTime::now_utc())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_publish_by_another_node_is_seen_within_the_recheck_interval() {
        let (store, _dir) = accrete_store::testing::sqlite_store().await;
        let node = PolicyCache::default();
        let t0 = Instant::now();
        assert!(
            node.current_at(store.as_ref(), t0).await.unwrap().is_none(),
            "no policy yet"
        );
        publish(store.as_ref(), "one").await;
        let soon = t0 + RECHECK / 2;
        assert!(
            node.current_at(store.as_ref(), soon)
                .await
                .unwrap()
                .is_none(),
            "cached"
        );
        let later = t0 + RECHECK;
        let first = node
            .current_at(store.as_ref(), later)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.steps()[0].title["en"], "one");
        // Same version: the compiled policy is shared, not compiled again.
        let again = node
            .current_at(store.as_ref(), later + RECHECK)
            .await
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        publish(store.as_ref(), "two").await;
        let next = node
            .current_at(store.as_ref(), later + RECHECK * 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next.steps()[0].title["en"], "two");
    }
}
