//! The mailer: renders letters and hands them to the SMTP server, or writes them to the outbox
//! folder when there is none; in the background with retries ([`Mailer::send`]) or awaited
//! once ([`Mailer::deliver`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use time::OffsetDateTime;
use tokio::task::JoinHandle;

use crate::address::{mask_address, parse_address};
use crate::error::MailError;
use crate::letter::Letter;
use crate::settings::{MailSettings, smtp_transport};

/// Sends the account mails. Cheap to clone: clones share one transport.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
    retry: RetryPolicy,
}

struct Inner {
    transport: Transport,
    from: Mailbox,
    /// The product's name when a letter's brand has none: `email.from_name`.
    product: String,
    /// The longest one attempt may take.
    timeout: Duration,
    /// Where mails go, as logs may show it (no password).
    destination: String,
    /// Bounds the connections open to the SMTP server at once: a burst of sign-ups queues
    /// here rather than opening a connection each (relays limit them per client).
    connections: tokio::sync::Semaphore,
}

/// How many deliveries may talk to the SMTP server at once.
const CONNECTIONS: usize = 4;

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

/// A letter rendered and built, ready for each attempt.
struct Prepared {
    envelope: Envelope,
    bytes: Vec<u8>,
}

impl Mailer {
    /// A mailer for `settings`: checks the sender, the SMTP URL (no connection is made) or
    /// creates the outbox folder. Errors name the setting (`email.smtp_url: ...`).
    pub fn new(settings: MailSettings) -> Result<Mailer, MailError> {
        let address =
            settings
                .from_address
                .trim()
                .parse()
                .map_err(|error| MailError::Settings {
                    setting: "email.from_address",
                    message: format!(
                        "{:?} is not an email address ({error})",
                        settings.from_address
                    ),
                })?;
        if settings.from_name.chars().any(char::is_control) {
            return Err(MailError::Settings {
                setting: "email.from_name",
                message: "must be one line, without control characters".to_owned(),
            });
        }
        if settings.timeout.is_zero() {
            return Err(MailError::Settings {
                setting: "email.timeout",
                message: "must be more than zero".to_owned(),
            });
        }
        let name = settings.from_name.trim();
        let from = Mailbox::new((!name.is_empty()).then(|| name.to_owned()), address);
        let (transport, destination) = match settings.smtp_url() {
            Some(url) => (
                Transport::Smtp(smtp_transport(url, settings.timeout)?),
                format!("SMTP server {}", crate::settings::mask_url(url)),
            ),
            None => {
                std::fs::create_dir_all(&settings.outbox_dir).map_err(|error| {
                    MailError::Settings {
                        setting: "data_dir",
                        message: format!(
                            "the outbox folder {} cannot be created: {error}",
                            settings.outbox_dir.display()
                        ),
                    }
                })?;
                (
                    Transport::Outbox(settings.outbox_dir.clone()),
                    format!("outbox folder {}", settings.outbox_dir.display()),
                )
            }
        };
        Ok(Mailer {
            inner: Arc::new(Inner {
                transport,
                from,
                product: name.to_owned(),
                timeout: settings.timeout,
                destination,
                connections: tokio::sync::Semaphore::new(CONNECTIONS),
            }),
            retry: RetryPolicy::default(),
        })
    }

    /// This mailer with another retry policy for [`Mailer::send`] (tests use waits of zero).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Mailer {
        self.retry = retry;
        self
    }

    /// Where mails go, as it may be logged: `SMTP server smtp://user:********@host:587` or
    /// `outbox folder /data/outbox`.
    pub fn destination(&self) -> &str {
        &self.inner.destination
    }

    /// Deletes the mails of the outbox folder about the account `user` (its [`USER_HEADER`]),
    /// whatever address they went to, and those sent to `address` (compared without case; a
    /// mail written without the header), so that a person's erasure leaves no copy of their
    /// mails there; how many. Nothing to do with an SMTP server (what it delivered is the
    /// recipient's).
    ///
    /// # Errors
    /// When the folder or a mail in it cannot be read, or a mail cannot be deleted.
    pub async fn forget(&self, user: uuid::Uuid, address: &str) -> std::io::Result<usize> {
        let Transport::Outbox(dir) = &self.inner.transport else {
            return Ok(0);
        };
        let wanted = address.trim().to_lowercase();
        let mut entries = match tokio::fs::read_dir(dir).await {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error),
        };
        let mut removed = 0;
        while let Some(entry) = entries.next_entry().await? {
            let path = entry.path();
            if path.extension().is_none_or(|extension| extension != "eml") {
                continue;
            }
            let bytes = tokio::fs::read(&path).await?;
            if about(&bytes, user, &wanted) {
                tokio::fs::remove_file(&path).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The outbox folder, when there is no SMTP server.
    pub fn outbox_dir(&self) -> Option<&Path> {
        match &self.inner.transport {
            Transport::Outbox(dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    /// Sends `letter` in the background and returns at once: a task of the current tokio
    /// runtime renders it and delivers it, trying again after a transient failure as the
    /// retry policy says (by default 3 attempts: now, 2 s later, 10 s after that). Failures are
    /// logged (`warn` for each, `error` when giving up) with the recipient masked. The returned
    /// [`Sending`] may be dropped; the mail goes on.
    pub fn send(&self, letter: Letter) -> Sending {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let error = MailError::Delivery {
                letter: letter.kind.name(),
                recipient: mask_address(&letter.to),
                message: "not sent: no tokio runtime to send it from".to_owned(),
                permanent: true,
            };
            tracing::error!(letter = letter.kind.name(), %error, "mail not sent");
            return Sending(State::NotStarted(error));
        };
        let mailer = self.clone();
        Sending(State::Running(runtime.spawn(async move {
            mailer.deliver_with_retries(&letter).await
        })))
    }

    /// Renders `letter` and delivers it once (to the SMTP server or the outbox), awaited: for
    /// tests and commands. The error is returned, not logged.
    pub async fn deliver(&self, letter: Letter) -> Result<(), MailError> {
        let prepared = self.prepare(&letter)?;
        self.hand_over(&letter, &prepared).await
    }

    async fn deliver_with_retries(&self, letter: &Letter) -> Delivery {
        let name = letter.kind.name();
        let to = mask_address(&letter.to);
        let prepared = match self.prepare(letter) {
            Ok(prepared) => prepared,
            Err(error) => {
                tracing::error!(letter = name, to = %to, %error, "mail not sent");
                return Delivery {
                    attempts: 0,
                    result: Err(error),
                };
            }
        };
        let attempts = self.retry.attempts();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let Err(error) = self.hand_over(letter, &prepared).await else {
                return Delivery {
                    attempts: attempt,
                    result: Ok(()),
                };
            };
            match self.retry.wait_after(attempt) {
                Some(wait) if error.is_transient() => {
                    tracing::warn!(
                        letter = name, to = %to, attempt, of = attempts, retry_in = ?wait, %error,
                        "mail delivery failed; trying again"
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    tracing::error!(
                        letter = name, to = %to, attempts = attempt, %error,
                        "mail delivery failed; giving up"
                    );
                    return Delivery {
                        attempts: attempt,
                        result: Err(error),
                    };
                }
            }
        }
    }

    /// Checks the recipient, renders and builds the message.
    fn prepare(&self, letter: &Letter) -> Result<Prepared, MailError> {
        let to = parse_address(letter.to.trim())?;
        let name = letter.kind.name();
        let rendered =
            crate::render::render(letter, &self.inner.product, OffsetDateTime::now_utc())?;
        let message =
            crate::message::build(name, rendered, &self.inner.from, Mailbox::new(None, to))?;
        Ok(Prepared {
            envelope: message.envelope().clone(),
            bytes: message.formatted(),
        })
    }

    /// One attempt: to the SMTP server, or to the outbox with the code or link logged.
    async fn hand_over(&self, letter: &Letter, prepared: &Prepared) -> Result<(), MailError> {
        let name = letter.kind.name();
        let to = mask_address(&letter.to);
        let failed = |message: String, permanent: bool| MailError::Delivery {
            letter: name,
            recipient: to.clone(),
            // A server's reply may quote the address.
            message: message.replace(letter.to.trim(), &to),
            permanent,
        };
        match &self.inner.transport {
            Transport::Smtp(smtp) => {
                let timeout = self.inner.timeout;
                // Never closed, so `acquire` cannot fail; the wait for a turn is not part of
                // the attempt's time.
                let _turn = self.inner.connections.acquire().await.ok();
                let sent = smtp.send_raw(&prepared.envelope, &prepared.bytes);
                match tokio::time::timeout(timeout, sent).await {
                    Ok(Ok(_)) => {
                        tracing::info!(letter = name, to = %to, "mail handed to the SMTP server");
                        Ok(())
                    }
                    Ok(Err(error)) => Err(failed(error.to_string(), error.is_permanent())),
                    Err(_) => Err(failed(format!("no answer within {timeout:?}"), false)),
                }
            }
            Transport::Outbox(dir) => {
                let path = write_outbox(dir, letter.user, &prepared.bytes)
                    .await
                    .map_err(|error| failed(format!("{}: {error}", dir.display()), false))?;
                // No SMTP server: this is development, and the log is how the code gets read.
                tracing::info!(
                    letter = name, to = %to, path = %path.display(),
                    code = letter.kind.code(), link = letter.kind.link(),
                    "no SMTP server: mail written to the outbox"
                );
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("destination", &self.inner.destination)
            .field("from", &self.inner.from.to_string())
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.retry)
            .finish()
    }
}

/// The header of a mail in the outbox folder that names the account it is about (the
/// [`Letter::user`]); only the outbox's copy has it, not a mail handed to an SMTP server.
pub const USER_HEADER: &str = "X-Accrete-User";

/// Writes `bytes` as `<dir>/<uuid v7>.eml` (names sort by time), after a [`USER_HEADER`] line
/// when the mail is about an account, whole or not at all: a reader never sees half a mail.
async fn write_outbox(
    dir: &Path,
    user: Option<uuid::Uuid>,
    bytes: &[u8],
) -> std::io::Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await?;
    let name = uuid::Uuid::now_v7().simple().to_string();
    let partial = dir.join(format!("{name}.eml.part"));
    let path = dir.join(format!("{name}.eml"));
    let mut written = Vec::with_capacity(bytes.len() + 64);
    if let Some(user) = user {
        written.extend_from_slice(format!("{USER_HEADER}: {user}\r\n").as_bytes());
    }
    written.extend_from_slice(bytes);
    tokio::fs::write(&partial, written).await?;
    tokio::fs::rename(&partial, &path).await?;
    Ok(path)
}

/// Whether a written mail is about the account `user` ([`USER_HEADER`]) or went to `address`
/// (lower-cased; its `To:` header).
fn about(bytes: &[u8], user: uuid::Uuid, address: &str) -> bool {
    let Some(headers) = mail_parser::MessageParser::default().parse_headers(bytes) else {
        return false;
    };
    let tagged = headers
        .header_raw(USER_HEADER)
        .and_then(|value| uuid::Uuid::parse_str(value.trim()).ok());
    tagged == Some(user)
        || headers.to().is_some_and(|to| {
            to.iter()
                .filter_map(|one| one.address())
                .any(|one| one.to_lowercase() == address)
        })
}

/// How [`Mailer::send`] tries again after a transient failure: one attempt, then one more after
/// each wait. Permanent failures (a 5xx reply) are not tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    waits: Arc<[Duration]>,
}

impl RetryPolicy {
    /// Tries at once, then again after each of `waits` (the waits between attempts).
    pub fn new(waits: impl IntoIterator<Item = Duration>) -> RetryPolicy {
        RetryPolicy {
            waits: waits.into_iter().collect(),
        }
    }

    /// How many attempts at most.
    pub fn attempts(&self) -> usize {
        self.waits.len() + 1
    }

    /// The wait after attempt `attempt` (counted from 1) failed, if there is another.
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

/// A letter given to [`Mailer::send`]. Dropping it does not stop the mail.
#[derive(Debug)]
pub struct Sending(State);

#[derive(Debug)]
enum State {
    Running(JoinHandle<Delivery>),
    NotStarted(MailError),
}

impl Sending {
    /// Waits until the mail is delivered or given up.
    pub async fn finished(self) -> Delivery {
        match self.0 {
            State::Running(task) => task.await.unwrap_or_else(|error| Delivery {
                attempts: 0,
                result: Err(MailError::Delivery {
                    letter: "unknown",
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

/// What became of a letter given to [`Mailer::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// How many delivery attempts were made (0 when it could not be rendered).
    pub attempts: usize,
    /// The outcome of the last attempt.
    pub result: Result<(), MailError>,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::RetryPolicy;

    #[test]
    fn the_default_retry_policy_is_three_attempts_within_twelve_seconds_of_waiting() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.attempts(), 3);
        assert_eq!(policy.wait_after(1), Some(Duration::from_secs(2)));
        assert_eq!(policy.wait_after(2), Some(Duration::from_secs(10)));
        assert_eq!(policy.wait_after(3), None);
        assert_eq!(policy.wait_after(0), None);
        assert_eq!(RetryPolicy::new([]).attempts(), 1);
    }
}
