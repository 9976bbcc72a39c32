//! The HTTP client of companion mode's calls to a provider (its published keys, Auth0's
//! Management API), under the rules of webhooks and hooks (`[webhooks]`): `https` (plain `http`
//! only when allowed), no loopback, private or link-local address unless allowed (judged on the
//! URL and again on the resolved addresses), no redirect followed, a time limit, a bounded
//! answer. Imports nothing of the companions, which hold it.

use reqwest::header::HeaderMap;
use url::Url;

use crate::webhooks::delivery::guarded_client;
use crate::webhooks::settings::{WebhookSettings, check_transport};

/// The most of an answer read from a provider.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why a call to a provider got no answer to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The URL breaks the transport rules (`[webhooks] allow_http`, `allow_private`).
    #[error("{0}")]
    Refused(String),
    /// No complete answer in time.
    #[error("no answer within {0} s")]
    Timeout(u64),
    /// The connection failed (refused, reset, a name resolving to restricted addresses).
    #[error("{0}")]
    Transport(String),
    /// The answer is longer than [`MAX_ANSWER_BYTES`].
    #[error("the answer is longer than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
}

impl OutboundError {
    /// Whether trying again later may work (not a refused URL).
    pub fn transient(&self) -> bool {
        !matches!(self, OutboundError::Refused(_))
    }
}

/// An answer: its status, headers and body (at most [`MAX_ANSWER_BYTES`]).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// The guarded client.
#[derive(Clone)]
pub(crate) struct Outbound {
    client: reqwest::Client,
    settings: WebhookSettings,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").finish_non_exhaustive()
    }
}

impl Outbound {
    /// A client following `settings`.
    pub(crate) fn new(settings: &WebhookSettings) -> Result<Outbound, String> {
        let client = guarded_client(settings, Some(settings.timeout), "companions'")?;
        Ok(Outbound {
            client,
            settings: settings.clone(),
        })
    }

    /// A request to `url`, if the transport rules allow it.
    pub(crate) fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, OutboundError> {
        let url = Url::parse(url)
            .map_err(|_| OutboundError::Refused("the URL cannot be read".to_owned()))?;
        check_transport(&url, &self.settings).map_err(|p| OutboundError::Refused(p.message))?;
        Ok(self.client.request(method, url))
    }

    /// Sends `request` and reads its answer, within the time limit and the size bound.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, OutboundError> {
        let after = self.settings.timeout;
        let seconds = after.as_secs().max(1);
        match tokio::time::timeout(after, exchange(request, seconds)).await {
            Ok(answer) => answer,
            Err(_) => Err(OutboundError::Timeout(seconds)),
        }
    }
}

async fn exchange(request: reqwest::RequestBuilder, seconds: u64) -> Result<Answer, OutboundError> {
    let failed = |error: reqwest::Error| transport(&error, seconds);
    let mut response = request.send().await.map_err(failed)?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(OutboundError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The innermost cause ("Connection refused"): reqwest's own message names the URL.
fn transport(error: &reqwest::Error, seconds: u64) -> OutboundError {
    if error.is_timeout() {
        return OutboundError::Timeout(seconds);
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    OutboundError::Transport(cause.to_string())
}
