//! The server's theme layer by layer, and the effective theme each node keeps for a few
//! seconds (re-read when the saved version changes).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accrete_store::{StoreError, StoredTheme};
use time::OffsetDateTime;

use super::rules::Theme;

/// How often a node looks for a theme saved elsewhere.
pub const RECHECK: Duration = Duration::from_secs(2);

/// The server's theme, layer by layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerTheme {
    /// What the configuration sets (custom CSS from `css_file` included).
    pub base: Theme,
    /// What was saved at run time (empty when nothing was, or after a reset).
    pub saved: Theme,
    /// What the hosted pages use: `saved` over `base`.
    pub effective: Theme,
    /// The saved version (`None`: never saved).
    pub version: Option<i64>,
    pub updated_at: Option<OffsetDateTime>,
    /// Who saved it last (`user:<id>`, `client:<id>`, `cli`).
    pub updated_by: Option<String>,
}

/// The layers of the server's theme from the configuration's and the stored one. A stored
/// theme that is no longer valid is logged and ignored rather than breaking every page.
pub(crate) fn layers(base: &Theme, stored: Option<&StoredTheme>) -> ServerTheme {
    let saved = stored.map_or_else(Theme::default, |s| {
        Theme::from_json(&s.theme).unwrap_or_else(|problems| {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            tracing::warn!(problems = %problems.join("; "),
                "the saved server theme is invalid and is ignored");
            Theme::default()
        })
    });
    ServerTheme {
        effective: saved.clone().over(base),
        base: base.clone(),
        saved,
        version: stored.map(|s| s.version),
        updated_at: stored.map(|s| s.updated_at),
        updated_by: stored.map(|s| s.updated_by.clone()),
    }
}

/// The effective server theme on this node.
pub struct ThemeCache {
    base: Theme,
    inner: Mutex<Cached>,
}

struct Cached {
    checked_at: Option<Instant>,
    version: Option<i64>,
    effective: Arc<Theme>,
}

impl Default for ThemeCache {
    fn default() -> ThemeCache {
        ThemeCache::new(Theme::default())
    }
}

impl ThemeCache {
    /// A cache over the configuration's theme `base`.
    pub fn new(base: Theme) -> ThemeCache {
        ThemeCache {
            inner: Mutex::new(Cached {
                checked_at: None,
                version: None,
                effective: Arc::new(base.clone()),
            }),
            base,
        }
    }

    /// The configuration's theme.
    pub fn base(&self) -> &Theme {
        &self.base
    }

    /// The effective theme, re-read when the last check is older than [`RECHECK`].
    pub async fn current(
        &self,
        store: &dyn accrete_store::Store,
    ) -> Result<Arc<Theme>, StoreError> {
        self.current_at(store, Instant::now()).await
    }

    /// [`ThemeCache::current`] at a given instant (time is passed in for tests).
    pub(crate) async fn current_at(
        &self,
        store: &dyn accrete_store::Store,
        now: Instant,
    ) -> Result<Arc<Theme>, StoreError> {
        if let Some(theme) = self.fresh(now) {
            return Ok(theme);
        }
        let stored = store.server_theme().await?;
        let version = stored.as_ref().map(|s| s.version);
        let Ok(mut cached) = self.inner.lock() else {
            return Ok(Arc::new(layers(&self.base, stored.as_ref()).effective));
        };
        if cached.version != version || cached.checked_at.is_none() {
            cached.effective = Arc::new(layers(&self.base, stored.as_ref()).effective);
            cached.version = version;
        }
        cached.checked_at = Some(now);
        Ok(cached.effective.clone())
    }

    /// The last effective theme this node read, without looking at the store.
    pub fn last(&self) -> Arc<Theme> {
        self.inner.lock().map_or_else(
            |_| Arc::new(self.base.clone()),
            |cached| cached.effective.clone(),
        )
    }

    fn fresh(&self, now: Instant) -> Option<Arc<Theme>> {
        let cached = self.inner.lock().ok()?;
        let at = cached.checked_at?;
        (now.saturating_duration_since(at) < RECHECK).then(|| cached.effective.clone())
    }

    /// Forgets the last check, so that the next request reads the store (after a save on this
    /// node).
    pub fn invalidate(&self) {
        if let Ok(mut cached) = self.inner.lock() {
            cached.checked_at = None;
        }
    }
}
