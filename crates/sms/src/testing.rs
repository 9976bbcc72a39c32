//! A real SMS relay for tests: [`SmsReceiver`] listens on 127.0.0.1 (a port of its own), checks
//! each message's Standard Webhooks signature, and hands over the messages it accepted.
//!
//! ```no_run
//! # use std::time::Duration;
//! # async fn example() {
//! use accrete_sms::testing::SmsReceiver;
//! let receiver = SmsReceiver::start();
//! let settings = receiver.settings();
//! // ... something sends a text message ...
//! let message = receiver.next_message(Duration::from_secs(10)).await;
//! assert_eq!(message.code.len(), 6);
//! # }
//! ```
#![expect(
    clippy::panic,
    clippy::expect_used,
    reason = "test helpers fail the test by panicking"
)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::message::WireMessage;
use crate::settings::SmsSettings;
use crate::signature::{SigningSecret, verify};

/// The secret every receiver checks signatures with (24 bytes and more, as `sms.secret` needs).
pub const TEST_SECRET: &str = "whsec_dGVzdC1yZWxheS1zZWNyZXQtZm9yLWFjY3JldGUtc21z";

/// How far a `webhook-timestamp` may be from the receiver's clock (as Standard Webhooks
/// libraries allow).
const TOLERANCE_SECONDS: i64 = 300;

/// A running relay on 127.0.0.1. Stopped when dropped.
pub struct SmsReceiver {
    port: u16,
    shared: Arc<Shared>,
    messages: tokio::sync::Mutex<mpsc::UnboundedReceiver<WireMessage>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

struct Shared {
    secret: SigningSecret,
    sender: mpsc::UnboundedSender<WireMessage>,
    /// Statuses to answer the next requests with, in order, instead of accepting them.
    failures: Mutex<VecDeque<StatusCode>>,
    /// Requests refused for a missing or wrong signature.
    refused: Mutex<usize>,
    /// Every request received, accepted or not.
    requests: Mutex<usize>,
}

impl SmsReceiver {
    /// Starts a relay on a free port of 127.0.0.1 (its own thread and runtime, so that it
    /// answers whatever the test's runtime does), listening when this returns.
    pub fn start() -> SmsReceiver {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let port = listener
            .local_addr()
            .expect("the listener's address")
            .port();
        let (sender, messages) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            secret: SigningSecret::parse(TEST_SECRET).expect("the test secret"),
            sender,
            failures: Mutex::new(VecDeque::new()),
            refused: Mutex::new(0),
            requests: Mutex::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the SMS receiver");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                let router = axum::Router::new()
                    .route("/sms", post(receive))
                    .with_state(state);
                let _ = axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        SmsReceiver {
            port,
            shared,
            messages: tokio::sync::Mutex::new(messages),
            stop: Some(stop),
        }
    }

    /// The URL to post messages to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/sms", self.port)
    }

    /// `[sms]` settings that send to this receiver with its secret.
    pub fn settings(&self) -> SmsSettings {
        SmsSettings {
            url: Some(self.url()),
            secret: Some(TEST_SECRET.to_owned()),
            ..SmsSettings::default()
        }
    }

    /// Answers the next requests with `status` (once each, in order), accepting nothing.
    pub fn fail_next(&self, statuses: impl IntoIterator<Item = u16>) {
        let mut failures = self.shared.failures.lock().expect("the failures");
        for status in statuses {
            failures.push_back(StatusCode::from_u16(status).expect("an HTTP status"));
        }
    }

    /// The next accepted message, waiting at most `timeout`.
    ///
    /// # Panics
    /// When none arrives in time.
    pub async fn next_message(&self, timeout: Duration) -> WireMessage {
        let mut messages = self.messages.lock().await;
        match tokio::time::timeout(timeout, messages.recv()).await {
            Ok(Some(message)) => message,
            _ => panic!("no text message reached the receiver within {timeout:?}"),
        }
    }

    /// An accepted message if one is waiting, without waiting.
    pub fn try_next(&self) -> Option<WireMessage> {
        self.messages.try_lock().ok()?.try_recv().ok()
    }

    /// Requests refused for a missing or wrong signature so far.
    pub fn refused(&self) -> usize {
        *self.shared.refused.lock().expect("the count")
    }

    /// Requests received so far, accepted or not.
    pub fn requests(&self) -> usize {
        *self.shared.requests.lock().expect("the count")
    }
}

impl Drop for SmsReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    *shared.requests.lock().expect("the count") += 1;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = match (
        header("webhook-id"),
        header("webhook-timestamp").and_then(|t| t.parse::<i64>().ok()),
        header("webhook-signature"),
    ) {
        (Some(id), Some(timestamp), Some(signature)) => {
            (OffsetDateTime::now_utc().unix_timestamp() - timestamp).abs() <= TOLERANCE_SECONDS
                && verify(&shared.secret, id, timestamp, &body, signature)
                && serde_json::from_slice::<WireMessage>(&body).is_ok_and(|m| m.id == id)
        }
        _ => false,
    };
    if !signed {
        *shared.refused.lock().expect("the count") += 1;
        return StatusCode::UNAUTHORIZED;
    }
    if let Some(status) = shared.failures.lock().expect("the failures").pop_front() {
        return status;
    }
    match serde_json::from_slice::<WireMessage>(&body) {
        Ok(message) if message.kind == "sms" => {
            let _ = shared.sender.send(message);
            StatusCode::NO_CONTENT
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}
