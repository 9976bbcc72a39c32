//! A real SMTP server for tests: [`SmtpSink`] runs `scripts/smtp-sink` (Python, aiosmtpd) on
//! 127.0.0.1 and reads back each mail it receives as a [`ReceivedMail`].
//!
//! ```no_run
//! # use std::time::Duration;
//! # async fn example() {
//! use accrete_mail::testing::SmtpSink;
//! let Some(sink) = SmtpSink::start() else { return }; // skipped: no aiosmtpd here
//! let settings = accrete_mail::MailSettings {
//!     smtp_url: Some(sink.url()),
//!     ..Default::default()
//! };
//! // ... something sends a mail ...
//! let mail = sink.next_mail_async(Duration::from_secs(10)).await;
//! assert!(mail.code().is_some());
//! # }
//! ```
#![expect(
    clippy::panic,
    clippy::expect_used,
    reason = "test helpers fail the test by panicking"
)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mail_parser::MessageParser;

/// The variable naming the Python that has aiosmtpd, when it is not the project's virtualenv.
pub const PYTHON_VAR: &str = "ACCRETE_TEST_SMTP_PYTHON";

/// How long the sink may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `scripts/smtp-sink`: an SMTP server on 127.0.0.1 that accepts every mail (except
/// to `refuse-...@` (550) and `busy-...@` (451) recipients) and keeps it. Stopped when dropped;
/// it also stops by itself when this process dies (its standard input closes).
pub struct SmtpSink {
    child: Child,
    /// Held open: the sink exits when it closes.
    _stdin: Option<ChildStdin>,
    port: u16,
    lines: Arc<Mutex<Receiver<String>>>,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts a sink on a free port and waits until it listens (by reading its `ready` line:
    /// no sleeps). `None`, after saying so on stderr, when no Python with aiosmtpd is found
    /// (run `scripts/install-deps`, or set `ACCRETE_TEST_SMTP_PYTHON`).
    ///
    /// # Panics
    /// When Python or aiosmtpd is missing and `CI=true` (in CI a skipped mail test is a
    /// failure), or when the sink does not start.
    pub fn start() -> Option<SmtpSink> {
        let Some(python) = python() else {
            let message = format!(
                "no Python with aiosmtpd for scripts/smtp-sink: run scripts/install-deps, or set \
                 {PYTHON_VAR} to a python that can `import aiosmtpd`"
            );
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("CI=true and {message}");
            }
            eprintln!("SKIPPED: tests that need an SMTP server; {message}");
            return None;
        };
        let dir = tempfile::tempdir().expect("a temporary folder for the sink's mails");
        let script = repo_root().join("scripts/smtp-sink");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg("0")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", script.display()));
        let stdout = child.stdout.take().expect("the sink's stdout is piped");
        let (lines_in, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_in.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = match lines.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("scripts/smtp-sink did not say `ready` within {START_TIMEOUT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                panic!("scripts/smtp-sink exited before listening ({status}); see its stderr")
            }
        };
        let port = ready
            .strip_prefix("ready ")
            .and_then(|port| port.trim().parse().ok())
            .unwrap_or_else(|| panic!("scripts/smtp-sink said {ready:?}, not `ready <port>`"));
        let stdin = child.stdin.take();
        Some(SmtpSink {
            child,
            _stdin: stdin,
            port,
            lines: Arc::new(Mutex::new(lines)),
            _dir: dir,
        })
    }

    /// The URL of the sink for `email.smtp_url`: `smtp://127.0.0.1:PORT` (no TLS).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The port the sink listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The next mail received, waiting at most `timeout`. Blocks the thread: in a test on
    /// tokio's default (current-thread) runtime whose server sends the mail, use
    /// [`SmtpSink::next_mail_async`].
    ///
    /// # Panics
    /// When no mail arrives in time, or the sink stopped.
    pub fn next_mail(&self, timeout: Duration) -> ReceivedMail {
        next_mail(&self.lines, timeout)
            .unwrap_or_else(|| panic!("no mail reached the SMTP sink within {timeout:?}"))
    }

    /// The next mail received, waiting at most `timeout`, without blocking the runtime.
    ///
    /// # Panics
    /// When no mail arrives in time, or the sink stopped.
    pub async fn next_mail_async(&self, timeout: Duration) -> ReceivedMail {
        self.try_next_mail_async(timeout)
            .await
            .unwrap_or_else(|| panic!("no mail reached the SMTP sink within {timeout:?}"))
    }

    /// The next mail received within `timeout`, or `None`.
    pub async fn try_next_mail_async(&self, timeout: Duration) -> Option<ReceivedMail> {
        let lines = Arc::clone(&self.lines);
        tokio::task::spawn_blocking(move || next_mail(&lines, timeout))
            .await
            .expect("the task reading the sink's output")
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the next line of the sink and the mail it names.
fn next_mail(lines: &Mutex<Receiver<String>>, timeout: Duration) -> Option<ReceivedMail> {
    let line = {
        let lines = lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        lines.recv_timeout(timeout).ok()?
    };
    let value: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("scripts/smtp-sink printed {line:?}, not JSON: {e}"));
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let path = PathBuf::from(text("path").expect("the sink names the mail's file"));
    let raw = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("cannot read {} from the sink: {e}", path.display()));
    Some(ReceivedMail {
        to: value
            .get("to")
            .and_then(|to| to.as_array())
            .map(|to| {
                to.iter()
                    .filter_map(|a| a.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        from: text("from").unwrap_or_default(),
        raw,
    })
}

/// A mail as the sink received it: the envelope, and the message read back with mail-parser.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope's recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The envelope's sender (`MAIL FROM`).
    pub from: String,
    /// The message as received.
    pub raw: Vec<u8>,
}

impl ReceivedMail {
    /// Reads `raw` (an `.eml` file, such as the outbox's) as a mail; the envelope taken from
    /// its `To` and `From` headers.
    pub fn from_raw(raw: Vec<u8>) -> ReceivedMail {
        let (to, from) = {
            let message = parse(&raw);
            let addresses = |list: Option<&mail_parser::Address<'_>>| -> Vec<String> {
                list.map(|list| {
                    list.iter()
                        .filter_map(|a| a.address().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
            };
            (
                addresses(message.to()),
                addresses(message.from())
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
            )
        };
        ReceivedMail { to, from, raw }
    }

    /// Reads the `.eml` file at `path`.
    ///
    /// # Panics
    /// When the file cannot be read.
    pub fn from_file(path: &Path) -> ReceivedMail {
        let raw =
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        ReceivedMail::from_raw(raw)
    }

    /// The subject, decoded.
    pub fn subject(&self) -> String {
        parse(&self.raw).subject().unwrap_or_default().to_owned()
    }

    /// A header's value as written (unfolded and decoded where mail-parser knows the header).
    pub fn header(&self, name: &str) -> Option<String> {
        let message = parse(&self.raw);
        let value = message.header(name)?;
        Some(match value {
            mail_parser::HeaderValue::Text(text) => text.to_string(),
            mail_parser::HeaderValue::TextList(list) => list.join(", "),
            _ => message
                .header_raw(name)
                .unwrap_or_default()
                .trim()
                .to_owned(),
        })
    }

    /// The plain-text alternative, decoded.
    pub fn text_body(&self) -> String {
        parse(&self.raw)
            .body_text(0)
            .map(|text| text.into_owned())
            .unwrap_or_default()
    }

    /// The HTML alternative, decoded.
    pub fn html_body(&self) -> String {
        parse(&self.raw)
            .body_html(0)
            .map(|html| html.into_owned())
            .unwrap_or_default()
    }

    /// The first `http(s)://` link of the plain text that contains `needle`.
    pub fn link_containing(&self, needle: &str) -> Option<String> {
        self.text_body()
            .split_whitespace()
            .filter(|word| word.starts_with("https://") || word.starts_with("http://"))
            .find(|link| link.contains(needle))
            .map(str::to_owned)
    }

    /// The first number of exactly six digits in the plain text: the code of a
    /// verification mail.
    pub fn code(&self) -> Option<String> {
        self.text_body()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .find(|word| word.len() == 6 && word.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
    }
}

/// `raw` parsed; a message mail-parser cannot read fails the test.
fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::default()
        .parse(raw)
        .expect("the mail parses as a MIME message")
}

/// The repository's root (this crate is `crates/mail`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first Python that can import aiosmtpd: `ACCRETE_TEST_SMTP_PYTHON`, the project's virtualenv
/// (`target/schemathesis-venv`, made by scripts/install-deps), then `python3`. Looked for once
/// per test process.
fn python() -> Option<OsString> {
    static PYTHON: OnceLock<Option<OsString>> = OnceLock::new();
    PYTHON.get_or_init(find_python).clone()
}

fn find_python() -> Option<OsString> {
    let mut candidates = Vec::new();
    if let Some(python) = std::env::var_os(PYTHON_VAR).filter(|p| !p.is_empty()) {
        candidates.push(python);
    }
    candidates.push(
        repo_root()
            .join("target/schemathesis-venv/bin/python")
            .into_os_string(),
    );
    candidates.push(OsString::from("python3"));
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}
