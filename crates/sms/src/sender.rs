//! The sender: renders text messages and posts them, signed, to the relay, or appends them to
//! the outbox file when there is none; in the background with retries ([`SmsSender::send`]) or
//! awaited once ([`SmsSender::deliver`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

use crate::error::SmsError;
use crate::message::{TextMessage, WireMessage, body, language};
use crate::number::mask_number;
use crate::settings::SmsSettings;
use crate::signature::{SigningSecret, sign};

/// The outbox file's name in the outbox folder: one JSON message a line.
pub const OUTBOX_FILE: &str = "sms.jsonl";

/// How many deliveries may talk to the relay at once.
const CONNECTIONS: usize = 4;

/// Sends text messages. Cheap to clone: clones share one HTTP client.
#[derive(Clone)]
pub struct SmsSender {
    inner: Arc<Inner>,
    retry: RetryPolicy,
}

struct Inner {
    transport: Transport,
    /// The product's name when a message has none.
    product: String,
    /// Where messages go, as logs may show it.
    destination: String,
    connections: tokio::sync::Semaphore,
}

enum Transport {
    Relay {
        client: reqwest::Client,
        url: reqwest::Url,
        secret: SigningSecret,
    },
    /// The outbox file, and a lock so that lines are appended one at a time.
    Outbox(PathBuf, tokio::sync::Mutex<()>),
}

impl SmsSender {
    /// A sender for `settings`, with `product` as the name in messages that carry none: checks
    /// the URL and secret (no connection is made) or creates the outbox folder. Errors name the
    /// setting (`sms.url: ...`) and never repeat the secret.
    pub fn new(settings: &SmsSettings, product: &str) -> Result<SmsSender, SmsError> {
        if settings.timeout.is_zero() {
            return Err(SmsError::Settings {
                setting: "sms.timeout",
                message: "must be more than zero".to_owned(),
            });
        }
        let (transport, destination) = match settings.relay_url() {
            Some(written) => {
                let invalid = |message: String| SmsError::Settings {
                    setting: "sms.url",
                    message,
                };
                let url = reqwest::Url::parse(written)
                    .map_err(|error| invalid(format!("not a URL ({error})")))?;
                if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
                    return Err(invalid("must be an https:// (or http://) URL".to_owned()));
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(invalid(
                        "must not hold a user or password: messages are signed with sms.secret"
                            .to_owned(),
                    ));
                }
                let secret = settings
                    .secret
                    .as_deref()
                    .filter(|secret| !secret.trim().is_empty())
                    .ok_or(SmsError::Settings {
                        setting: "sms.secret",
                        message: "is required with sms.url (whsec_ and base64 of random bytes: \
                                  whsec_$(openssl rand -base64 32))"
                            .to_owned(),
                    })?;
                let secret =
                    SigningSecret::parse(secret).map_err(|message| SmsError::Settings {
                        setting: "sms.secret",
                        message,
                    })?;
                let client = reqwest::Client::builder()
                    .timeout(settings.timeout)
                    .connect_timeout(settings.timeout)
                    // A relay that redirects is misconfigured; following it would send codes to
                    // wherever it points.
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("accrete/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|error| invalid(format!("no HTTP client: {error}")))?;
                let destination = format!("SMS relay {}", without_query(&url));
                (
                    Transport::Relay {
                        client,
                        url,
                        secret,
                    },
                    destination,
                )
            }
            None => {
                std::fs::create_dir_all(&settings.outbox_dir).map_err(|error| {
                    SmsError::Settings {
                        setting: "data_dir",
                        message: format!(
                            "the outbox folder {} cannot be created: {error}",
                            settings.outbox_dir.display()
                        ),
                    }
                })?;
                let file = settings.outbox_dir.join(OUTBOX_FILE);
                let destination = format!("outbox file {}", file.display());
                (
                    Transport::Outbox(file, tokio::sync::Mutex::new(())),
                    destination,
                )
            }
        };
        Ok(SmsSender {
            inner: Arc::new(Inner {
                transport,
                product: product.trim().to_owned(),
                destination,
                connections: tokio::sync::Semaphore::new(CONNECTIONS),
            }),
            retry: RetryPolicy::default(),
        })
    }

    /// This sender with another retry policy for [`SmsSender::send`] (tests use waits of zero).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> SmsSender {
        self.retry = retry;
        self
    }

    /// Where messages go, as it may be logged: `SMS relay https://relay.example.com/sms` or
    /// `outbox file /data/outbox/sms.jsonl`.
    pub fn destination(&self) -> &str {
        &self.inner.destination
    }

    /// The outbox file, when there is no relay.
    pub fn outbox_file(&self) -> Option<&Path> {
        match &self.inner.transport {
            Transport::Outbox(file, _) => Some(file),
            Transport::Relay { .. } => None,
        }
    }

    /// Deletes the lines of the outbox file about the account `user` (their `user`), whatever
    /// number they went to, and those sent to one of `numbers` (a line written without
    /// `user`), so that a person's erasure leaves no copy of their messages there; how many.
    /// Nothing to do with a relay (what it sent is the recipient's).
    ///
    /// # Errors
    /// When the file cannot be read or written again.
    pub async fn forget(&self, user: uuid::Uuid, numbers: &[String]) -> std::io::Result<usize> {
        let Transport::Outbox(file, lock) = &self.inner.transport else {
            return Ok(0);
        };
        let _turn = lock.lock().await;
        let text = match tokio::fs::read_to_string(file).await {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error),
        };
        let user = user.to_string();
        let about = |line: &str| {
            let Ok(line) = serde_json::from_str::<serde_json::Value>(line) else {
                return false;
            };
            let field = |name: &str| line.get(name).and_then(serde_json::Value::as_str);
            field("user") == Some(user.as_str())
                || field("to").is_some_and(|to| numbers.iter().any(|n| n.trim() == to))
        };
        let (gone, kept): (Vec<&str>, Vec<&str>) = text.lines().partition(|line| about(line));
        if gone.is_empty() {
            return Ok(0);
        }
        // Whole or not at all, as a mail of the mail outbox: the file is replaced by a rename.
        let mut rest = kept.join("\n");
        if !rest.is_empty() {
            rest.push('\n');
        }
        let partial = file.with_extension("jsonl.part");
        tokio::fs::write(&partial, rest).await?;
        tokio::fs::rename(&partial, file).await?;
        Ok(gone.len())
    }

    /// Sends `message` in the background and returns at once: a task of the current tokio
    /// runtime delivers it, trying again after a transient failure as the retry policy says
    /// (by default 3 attempts: now, 2 s later, 10 s after that). Failures are logged (`warn`
    /// for each, `error` when giving up) with the number masked. The returned [`Sending`] may
    /// be dropped; the message goes on.
    pub fn send(&self, message: TextMessage) -> Sending {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let error = SmsError::Delivery {
                purpose: message.purpose.name(),
                recipient: mask_number(&message.to),
                message: "not sent: no tokio runtime to send it from".to_owned(),
                permanent: true,
            };
            tracing::error!(purpose = message.purpose.name(), %error, "text message not sent");
            return Sending(State::NotStarted(error));
        };
        let sender = self.clone();
        Sending(State::Running(runtime.spawn(async move {
            sender.deliver_with_retries(&message).await
        })))
    }

    /// Delivers `message` once (to the relay or the outbox), awaited: for tests and commands.
    /// The error is returned, not logged.
    pub async fn deliver(&self, message: TextMessage) -> Result<(), SmsError> {
        let wire = self.prepare(&message);
        self.hand_over(&message, &wire).await
    }

    /// The JSON body of `message`, with a fresh id (kept for every attempt).
    fn prepare(&self, message: &TextMessage) -> WireMessage {
        WireMessage {
            kind: "sms".to_owned(),
            id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
            to: message.to.trim().to_owned(),
            body: body(message, &self.inner.product, OffsetDateTime::now_utc()),
            locale: language(&message.locale).to_owned(),
            purpose: message.purpose,
            code: message.code.clone(),
            expires_at: message.expires_at.to_offset(time::UtcOffset::UTC),
        }
    }

    async fn deliver_with_retries(&self, message: &TextMessage) -> Delivery {
        let purpose = message.purpose.name();
        let to = mask_number(&message.to);
        let wire = self.prepare(message);
        let attempts = self.retry.attempts();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Err(error) = self.hand_over(message, &wire).await else {
                return Delivery {
                    attempts: attempt,
                    result: Ok(()),
                };
            };
            match self.retry.wait_after(attempt) {
                Some(wait) if error.is_transient() => {
                    tracing::warn!(
                        purpose, to = %to, attempt, of = attempts, retry_in = ?wait, %error,
                        "text message delivery failed; trying again"
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    tracing::error!(
                        purpose, to = %to, attempts = attempt, %error,
                        "text message delivery failed; giving up"
                    );
                    return Delivery {
                        attempts: attempt,
                        result: Err(error),
                    };
                }
            }
        }
    }

    /// One attempt: to the relay, or to the outbox with the code logged.
    async fn hand_over(&self, message: &TextMessage, wire: &WireMessage) -> Result<(), SmsError> {
        let purpose = message.purpose.name();
        let to = mask_number(&message.to);
        let failed = |text: String, permanent: bool| SmsError::Delivery {
            purpose,
            recipient: to.clone(),
            // A relay's answer may quote the number or the code.
            message: text
                .replace(message.to.trim(), &to)
                .replace(&message.code, "******"),
            permanent,
        };
        let json = serde_json::to_vec(wire)
            .map_err(|error| failed(format!("not serialised: {error}"), true))?;
        match &self.inner.transport {
            Transport::Relay {
                client,
                url,
                secret,
            } => {
                // Never closed, so `acquire` cannot fail.
                let _turn = self.inner.connections.acquire().await.ok();
                let timestamp = OffsetDateTime::now_utc().unix_timestamp();
                let signature = sign(secret, &wire.id, timestamp, &json);
                let answer = client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("webhook-id", &wire.id)
                    .header("webhook-timestamp", timestamp.to_string())
                    .header("webhook-signature", signature)
                    .body(json)
                    .send()
                    .await;
                match answer {
                    Ok(answer) if answer.status().is_success() => {
                        tracing::info!(purpose, to = %to, "text message handed to the SMS relay");
                        Ok(())
                    }
                    Ok(answer) => {
                        let status = answer.status();
                        let transient = status.is_server_error()
                            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
                        let text = if status.is_redirection() {
                            format!("the relay answered {status} (redirects are not followed)")
                        } else {
                            format!("the relay answered {status}")
                        };
                        Err(failed(text, !transient))
                    }
                    Err(error) if error.is_timeout() => Err(failed(
                        "no answer within the timeout (sms.timeout)".to_owned(),
                        false,
                    )),
                    Err(error) => Err(failed(
                        format!("the relay could not be reached: {}", without_url(&error)),
                        false,
                    )),
                }
            }
            Transport::Outbox(file, lock) => {
                // The line names the account the message is about, for its erasure.
                let json = match message.user {
                    None => json,
                    Some(user) => {
                        let mut line = serde_json::to_value(wire)
                            .map_err(|error| failed(format!("not serialised: {error}"), true))?;
                        line["user"] = serde_json::Value::String(user.to_string());
                        serde_json::to_vec(&line)
                            .map_err(|error| failed(format!("not serialised: {error}"), true))?
                    }
                };
                let _turn = lock.lock().await;
                append_line(file, &json)
                    .await
                    .map_err(|error| failed(format!("{}: {error}", file.display()), false))?;
                // No relay: this is development, and the log is how the code gets read.
                tracing::info!(
                    purpose, to = %to, path = %file.display(), code = %message.code,
                    "no SMS relay: text message written to the outbox"
                );
                Ok(())
            }
        }
    }
}

/// `error`'s message without the URL reqwest puts in it (it may carry a query).
fn without_url(error: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut deepest = None;
    while let Some(inner) = source {
        deepest = Some(inner.to_string());
        source = inner.source();
    }
    deepest.unwrap_or_else(|| "connection failed".to_owned())
}

/// The URL as logs may show it: without its query (it may carry a token).
fn without_query(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// Appends `json` and a newline to `file` in one write (created when missing).
async fn append_line(file: &Path, json: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let mut line = Vec::with_capacity(json.len() + 1);
    line.extend_from_slice(json);
    line.push(b'\n');
    let mut out = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .await?;
    out.write_all(&line).await?;
    out.flush().await
}

impl fmt::Debug for SmsSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsSender")
            .field("destination", &self.inner.destination)
            .field("retry", &self.retry)
            .finish()
    }
}

/// How [`SmsSender::send`] tries again after a transient failure: one attempt, then one more
/// after each wait. Permanent failures (a 4xx answer) are not tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    waits: Arc<[Duration]>,
}

impl RetryPolicy {
    /// Tries at once, then again after each of `waits`.
    pub fn new(waits: impl IntoIterator<Item = Duration>) -> RetryPolicy {
        RetryPolicy {
            waits: waits.into_iter().collect(),
        }
    }

    /// How many attempts at most.
    pub fn attempts(&self) -> usize {
        self.waits.len() + 1
    }

    fn wait_after(&self, attempt: usize) -> Option<Duration> {
        attempt
            .checked_sub(1)
            .and_then(|index| self.waits.get(index))
            .copied()
    }
}

impl Default for RetryPolicy {
    /// Three attempts: now, 2 s later, 10 s after that.
    fn default() -> Self {
        RetryPolicy::new([Duration::from_secs(2), Duration::from_secs(10)])
    }
}

/// A message being sent in the background ([`SmsSender::send`]): await [`Sending::finished`]
/// to learn what became of it. Dropping it does not stop the message.
#[derive(Debug)]
pub struct Sending(State);

#[derive(Debug)]
enum State {
    Running(JoinHandle<Delivery>),
    NotStarted(SmsError),
}

impl Sending {
    /// Waits until the message is delivered or given up.
    pub async fn finished(self) -> Delivery {
        match self.0 {
            State::Running(task) => task.await.unwrap_or_else(|error| Delivery {
                attempts: 0,
                result: Err(SmsError::Delivery {
                    purpose: "unknown",
                    recipient: "***".to_owned(),
                    message: format!("the sending task ended: {error}"),
                    permanent: true,
                }),
            }),
            State::NotStarted(error) => Delivery {
                attempts: 0,
                result: Err(error),
            },
        }
    }
}

/// What became of a message given to [`SmsSender::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// How many delivery attempts were made.
    pub attempts: usize,
    /// The outcome of the last attempt.
    pub result: Result<(), SmsError>,
}
