//! Discovery documents and JWKS, kept per issuer so that a sign-in costs no fetch and no parsing:
//! fetched together, kept [`METADATA_TTL`], fetched once however many sign-ins ask at the same
//! moment. A token signed with a key the JWKS lacks fetches the JWKS again (the provider rotated
//! its keys), at most once per [`KEYS_REFETCH_INTERVAL`] per issuer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use openidconnect::core::CoreJsonWebKeySet;
use url::Url;

use crate::discovery::{self, Discovery};
use crate::error::UpstreamError;
use crate::http::{Allowed, Http};

/// How long a discovery document and its JWKS are used before they are fetched again.
pub const METADATA_TTL: Duration = Duration::from_secs(10 * 60);
/// How often an unknown `kid` may fetch the JWKS again.
pub const KEYS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Where a provider's metadata comes from.
pub(crate) struct Source<'a> {
    pub(crate) issuer: &'a Url,
    pub(crate) template: Option<&'a str>,
    pub(crate) endpoint_hosts: &'a [String],
    pub(crate) allowed: &'a Allowed,
}

impl Source<'_> {
    /// One entry per issuer, and per what the document was checked against.
    fn key(&self) -> String {
        format!(
            "{} {} {}",
            self.issuer,
            self.template.unwrap_or(""),
            self.endpoint_hosts.join(",")
        )
    }
}

/// A provider's metadata as last fetched.
#[derive(Clone)]
pub(crate) struct Metadata {
    pub(crate) discovery: Arc<Discovery>,
    pub(crate) keys: Arc<CoreJsonWebKeySet>,
}

/// What a slot holds: the metadata and when it was fetched, and when an unknown `kid` last
/// fetched the keys again.
#[derive(Default)]
struct State {
    fetched: Option<(Metadata, Instant)>,
    keys_refetched: Option<Instant>,
}

#[derive(Default)]
struct Slot {
    state: Mutex<State>,
    /// Held while fetching, so that concurrent sign-ins wait for one fetch.
    fetching: tokio::sync::Mutex<()>,
}

impl Slot {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The metadata if it was fetched less than `fresh_for` ago.
    fn current(&self, fresh_for: Duration) -> Option<Metadata> {
        self.state()
            .fetched
            .as_ref()
            .filter(|(_, at)| at.elapsed() < fresh_for)
            .map(|(metadata, _)| metadata.clone())
    }
}

/// The metadata of every provider in use.
#[derive(Default)]
pub(crate) struct Cache {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl Cache {
    fn slot(&self, source: &Source<'_>) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(source.key()).or_default().clone()
    }

    /// The provider's discovery document and JWKS: kept ones younger than [`METADATA_TTL`], or
    /// fetched now (always when `refresh`).
    pub(crate) async fn metadata(
        &self,
        http: &Http,
        source: &Source<'_>,
        refresh: bool,
    ) -> Result<Metadata, UpstreamError> {
        let slot = self.slot(source);
        if !refresh && let Some(metadata) = slot.current(METADATA_TTL) {
            return Ok(metadata);
        }
        let started = Instant::now();
        let _fetching = slot.fetching.lock().await;
        // Another sign-in may have fetched while this one waited.
        if let Some(metadata) = slot.current(started.elapsed()) {
            return Ok(metadata);
        }
        let discovery =
            discovery::discover(http, source.allowed, source.issuer, source.template).await?;
        let keys = discovery::keys(http, source.allowed, &discovery.jwks_uri).await?;
        tracing::debug!(issuer = %source.issuer, keys = keys.keys().len(), "provider metadata fetched");
        let metadata = Metadata {
            discovery: Arc::new(discovery),
            keys: Arc::new(keys),
        };
        slot.state().fetched = Some((metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    /// Keys newer than `seen`, for a token signed with a key `seen` lacks: those another
    /// sign-in fetched meanwhile, else fetched now unless an unknown key fetched them less than
    /// [`KEYS_REFETCH_INTERVAL`] ago (then `None`).
    pub(crate) async fn newer_keys(
        &self,
        http: &Http,
        source: &Source<'_>,
        seen: &Metadata,
    ) -> Result<Option<Arc<CoreJsonWebKeySet>>, UpstreamError> {
        let slot = self.slot(source);
        let _fetching = slot.fetching.lock().await;
        {
            let mut state = slot.state();
            if let Some((current, _)) = &state.fetched
                && !Arc::ptr_eq(&current.keys, &seen.keys)
            {
                return Ok(Some(current.keys.clone()));
            }
            if state
                .keys_refetched
                .is_some_and(|at| at.elapsed() < KEYS_REFETCH_INTERVAL)
            {
                return Ok(None);
            }
            state.keys_refetched = Some(Instant::now());
        }
        let keys = Arc::new(discovery::keys(http, source.allowed, &seen.discovery.jwks_uri).await?);
        tracing::info!(
            issuer = %source.issuer,
            keys = keys.keys().len(),
            "provider keys fetched again for a token signed with an unknown key"
        );
        let mut state = slot.state();
        let metadata = Metadata {
            discovery: seen.discovery.clone(),
            keys: keys.clone(),
        };
        match &mut state.fetched {
            Some((current, _)) => current.keys = keys.clone(),
            None => state.fetched = Some((metadata, Instant::now())),
        }
        Ok(Some(keys))
    }
}
