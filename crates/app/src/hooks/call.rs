//! One call of a hook: a JSON POST signed like a webhook (Standard Webhooks headers, the hook's
//! own secret), through the guarded client of webhooks (no private addresses unless allowed),
//! bounded in time and in the size of the reply, logged with its duration and counted.

use std::time::Instant;

use serde_json::Value;
use time::OffsetDateTime;
use url::Url;

use super::spec::HookSpec;
use crate::webhooks::WebhookSettings;
use crate::webhooks::delivery::guarded_client;
use crate::webhooks::settings::check_transport;
use crate::webhooks::signing::signature;

/// Why a call gave nothing usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    /// No complete answer within the hook's timeout.
    #[error("no answer within {0} ms")]
    Timeout(u128),
    /// The connection failed (refused, reset, a restricted address).
    #[error("the call failed: {0}")]
    Transport(String),
    /// A status other than 2xx.
    #[error("answered {0}")]
    Status(u16),
    /// The reply is longer than allowed.
    #[error("the reply is longer than {0} bytes")]
    TooLarge(usize),
    /// The reply is not a JSON object.
    #[error("the reply is not a JSON object")]
    NotJson,
}

impl CallFailure {
    /// The metrics label of the outcome.
    fn outcome(&self) -> &'static str {
        match self {
            CallFailure::Timeout(_) => "timeout",
            CallFailure::Transport(_) => "error",
            CallFailure::Status(_) => "status",
            CallFailure::TooLarge(_) | CallFailure::NotJson => "invalid_reply",
        }
    }
}

/// The HTTP client of hooks and the transport rule it follows.
pub(crate) struct Caller {
    client: reqwest::Client,
    settings: WebhookSettings,
}

impl Caller {
    /// A client following `settings` (`[webhooks]`: private addresses, plain http, reply size).
    pub(crate) fn new(settings: &WebhookSettings) -> Result<Caller, String> {
        // Each call is bounded by its hook's own timeout.
        let client = guarded_client(settings, None, "hooks'")?;
        Ok(Caller {
            client,
            settings: settings.clone(),
        })
    }

    /// POSTs `body` to `hook` and reads its JSON reply, within the hook's timeout.
    pub(crate) async fn call(&self, hook: &HookSpec, body: &Value) -> Result<Value, CallFailure> {
        let started = Instant::now();
        let timeout = hook.timeout();
        let result = match tokio::time::timeout(timeout, self.exchange(hook, body)).await {
            Ok(result) => result,
            Err(_) => Err(CallFailure::Timeout(timeout.as_millis())),
        };
        let elapsed = started.elapsed();
        let outcome = match &result {
            Ok(_) => "ok",
            Err(failure) => failure.outcome(),
        };
        let labels = [
            ("hook", hook.name.clone()),
            ("kind", hook.kind.name().to_owned()),
        ];
        metrics::histogram!("accrete_hook_call_duration_seconds", &labels)
            .record(elapsed.as_secs_f64());
        let labels = [
            ("hook", hook.name.clone()),
            ("kind", hook.kind.name().to_owned()),
            ("outcome", outcome.to_owned()),
        ];
        metrics::counter!("accrete_hook_calls_total", &labels).increment(1);
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        // Neither the body nor the reply is logged: they hold people's values.
        match &result {
            Ok(_) => {
                tracing::info!(hook = %hook.name, kind = hook.kind.name(), duration_ms = ms, "hook called")
            }
            Err(failure) => {
                tracing::warn!(hook = %hook.name, kind = hook.kind.name(), duration_ms = ms, %failure, "hook failed")
            }
        }
        result
    }

    async fn exchange(&self, hook: &HookSpec, body: &Value) -> Result<Value, CallFailure> {
        let url = Url::parse(hook.url.trim())
            .map_err(|_| CallFailure::Transport("the URL cannot be read".to_owned()))?;
        check_transport(&url, &self.settings).map_err(|p| CallFailure::Transport(p.message))?;
        let body = serde_json::to_vec(body).unwrap_or_default();
        let id = format!("hook_{}", uuid::Uuid::new_v4().simple());
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let signed = signature(std::slice::from_ref(&hook.secret), &id, timestamp, &body);
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(body);
        let mut response = request
            .send()
            .await
            .map_err(|e| CallFailure::Transport(innermost(&e)))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(CallFailure::Status(status));
        }
        let limit = self.settings.max_body;
        let mut reply = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| CallFailure::Transport(innermost(&e)))?
        {
            if reply.len() + chunk.len() > limit {
                return Err(CallFailure::TooLarge(limit));
            }
            reply.extend_from_slice(&chunk);
        }
        match serde_json::from_slice::<Value>(&reply) {
            Ok(value) if value.is_object() => Ok(value),
            _ => Err(CallFailure::NotJson),
        }
    }
}

/// The innermost cause of a transport error ("Connection refused"): reqwest's own message
/// names the URL.
fn innermost(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
