//! The mail crate's one integration-test binary: every mail delivered over SMTP to a real
//! server (`scripts/smtp-sink`, aiosmtpd) and read back, in English and French; sending in the
//! background; refusals and retries; the outbox; settings refused.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use accrete_mail::testing::{ReceivedMail, SmtpSink};
use accrete_mail::{
    Brand, Letter, LetterKind, MailError, MailSettings, Mailer, RetryPolicy, USER_HEADER,
    parse_address,
};
use time::OffsetDateTime;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

fn settings(smtp_url: Option<String>) -> MailSettings {
    MailSettings {
        smtp_url,
        from_address: "id@acme.example".to_owned(),
        from_name: "Acme ID".to_owned(),
        ..MailSettings::default()
    }
}

fn brand() -> Brand {
    Brand {
        product_name: "<Acme & Co>".to_owned(),
        accent_color: Some("#0a7f5a".to_owned()),
        logo_url: None,
    }
}

fn expires_at() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::minutes(15)
}

fn every_kind() -> Vec<LetterKind> {
    vec![
        LetterKind::VerifyEmail {
            code: "204816".to_owned(),
            link: "https://id.acme.example/email/verify?token=v3r1fy&lang=en".to_owned(),
            expires_at: expires_at(),
        },
        LetterKind::ConfirmNewEmail {
            code: "551902".to_owned(),
            link: "https://id.acme.example/email/confirm?token=c0nf1rm".to_owned(),
            expires_at: expires_at(),
        },
        LetterKind::EmailChanged {
            new_email: "ada.new@example.org".to_owned(),
        },
        LetterKind::PasswordReset {
            link: "https://id.acme.example/password/reset?token=r3s3t".to_owned(),
            expires_at: expires_at(),
        },
        LetterKind::PasswordChanged,
        LetterKind::AccountDeleted,
    ]
}

fn letter(to: &str, locale: &str, kind: LetterKind) -> Letter {
    Letter {
        to: to.to_owned(),
        locale: locale.to_owned(),
        brand: brand(),
        kind,
        user: None,
    }
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The subject each mail has in `language` with the brand above.
fn subject(language: &str, kind: &LetterKind) -> &'static str {
    match (language, kind.name()) {
        ("en", "verify_email") => "Confirm your email address for <Acme & Co>",
        ("en", "confirm_new_email") => "Confirm your new email address for <Acme & Co>",
        ("en", "email_changed") => "Your <Acme & Co> email address was changed",
        ("en", "password_reset") => "Reset your <Acme & Co> password",
        ("en", "password_changed") => "Your <Acme & Co> password was changed",
        ("en", "account_deleted") => "Your <Acme & Co> account was deleted",
        ("fr", "verify_email") => "Confirmez votre adresse e-mail pour <Acme & Co>",
        ("fr", "confirm_new_email") => "Confirmez votre nouvelle adresse e-mail pour <Acme & Co>",
        ("fr", "email_changed") => "L’adresse e-mail de votre compte <Acme & Co> a changé",
        ("fr", "password_reset") => "Réinitialisez votre mot de passe <Acme & Co>",
        ("fr", "password_changed") => "Le mot de passe de votre compte <Acme & Co> a changé",
        ("fr", "account_deleted") => "Votre compte <Acme & Co> a été supprimé",
        (language, name) => panic!("no subject for {language} {name}"),
    }
}

/// Checks one mail as received against the letter it came from.
fn check_received(mail: &ReceivedMail, to: &str, language: &str, kind: &LetterKind) {
    let name = kind.name();
    assert_eq!(mail.to, vec![to.to_owned()], "{name}");
    assert_eq!(mail.from, "id@acme.example", "{name}");
    assert_eq!(mail.subject(), subject(language, kind), "{language} {name}");
    assert_eq!(
        mail.header("Content-Language").as_deref(),
        Some(language),
        "{name}"
    );
    assert_eq!(
        mail.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );
    let raw = String::from_utf8_lossy(&mail.raw);
    assert!(raw.contains("From: \"Acme ID\" <id@acme.example>"), "{raw}");
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(raw.contains("\r\nDate: "), "{raw}");
    let message_id = mail.header("Message-ID").unwrap_or_default();
    assert!(message_id.ends_with("@acme.example"), "{message_id}");

    let text = mail.text_body();
    let html = mail.html_body();
    assert!(text.contains("<Acme & Co>"), "{name}: {text}");
    assert!(html.contains("&lt;Acme &amp; Co&gt;"), "{name}: {html}");
    assert!(!html.contains("<Acme"), "{name}");
    assert!(html.contains("#0a7f5a"), "{name}: the accent");
    assert!(
        html.contains(&format!("<html lang=\"{language}\">")),
        "{name}"
    );
    if let Some(code) = kind.code() {
        assert_eq!(mail.code().as_deref(), Some(code), "{name}: {text}");
        assert!(html.contains(code), "{name}");
    } else {
        assert_eq!(mail.code(), None, "{name}: {text}");
    }
    if let Some(link) = kind.link() {
        assert_eq!(
            mail.link_containing("token=").as_deref(),
            Some(link),
            "{name}"
        );
        assert!(html.contains(&link.replace('&', "&amp;")), "{name}: {html}");
    }
    if let Some(at) = kind.expires_at() {
        let at = at.to_offset(time::UtcOffset::UTC);
        let time = match language {
            "fr" => format!("{}\u{a0}h\u{a0}{:02}\u{a0}UTC", at.hour(), at.minute()),
            _ => format!("{:02}:{:02} UTC", at.hour(), at.minute()),
        };
        assert!(text.contains(&time), "{name}: {text}");
    }
    if let LetterKind::EmailChanged { new_email } = kind {
        assert!(text.contains(new_email.as_str()), "{text}");
    }
}

#[tokio::test]
async fn every_mail_arrives_over_smtp_in_english_and_french_and_reads_back() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let mailer = Mailer::new(settings(Some(sink.url()))).unwrap();
    for (language, locale) in [("en", "en"), ("fr", "fr"), ("fr", "fr-CA"), ("en", "de")] {
        for kind in every_kind() {
            let to = "ada@example.com";
            mailer
                .deliver(letter(to, locale, kind.clone()))
                .await
                .unwrap_or_else(|e| panic!("{locale} {}: {e}", kind.name()));
            let mail = sink.next_mail_async(WAIT).await;
            check_received(&mail, to, language, &kind);
        }
    }
}

#[tokio::test]
async fn a_mail_sent_in_the_background_arrives_after_one_attempt() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let mailer = Mailer::new(settings(Some(sink.url()))).unwrap();
    let kind = every_kind().remove(0);
    let sending = mailer.send(letter("grace@example.com", "fr", kind.clone()));
    let mail = sink.next_mail_async(WAIT).await;
    check_received(&mail, "grace@example.com", "fr", &kind);
    let delivery = sending.finished().await;
    assert_eq!(delivery.attempts, 1);
    assert_eq!(delivery.result, Ok(()));

    // Dropping what `send` returns does not stop the mail.
    drop(mailer.send(letter(
        "linus@example.com",
        "en",
        LetterKind::PasswordChanged,
    )));
    let mail = sink.next_mail_async(WAIT).await;
    assert_eq!(mail.to, vec!["linus@example.com".to_owned()]);
}

#[tokio::test]
async fn with_no_server_listening_deliver_fails_clearly_and_send_tries_every_attempt() {
    let url = format!("smtp://127.0.0.1:{}", closed_port());
    let mailer = Mailer::new(settings(Some(url)))
        .unwrap()
        .with_retry(RetryPolicy::new([Duration::ZERO, Duration::ZERO]));
    let error = mailer
        .deliver(letter("ada@example.com", "en", LetterKind::PasswordChanged))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    let shown = error.to_string();
    assert!(
        shown.starts_with("the password_changed mail to a***@example.com was not delivered: "),
        "{shown}"
    );
    assert!(shown.to_lowercase().contains("refused"), "{shown}");
    assert!(!shown.contains("ada@"), "{shown}");

    let delivery = mailer
        .send(letter("ada@example.com", "en", LetterKind::PasswordChanged))
        .finished()
        .await;
    assert_eq!(delivery.attempts, 3);
    assert!(delivery.result.unwrap_err().is_transient());
}

#[tokio::test]
async fn a_busy_server_is_tried_again_and_a_refusal_is_not() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let mailer = Mailer::new(settings(Some(sink.url())))
        .unwrap()
        .with_retry(RetryPolicy::new([Duration::ZERO, Duration::ZERO]));

    let busy = mailer
        .send(letter(
            "busy-ada@example.com",
            "en",
            LetterKind::AccountDeleted,
        ))
        .finished()
        .await;
    assert_eq!(busy.attempts, 3);
    let error = busy.result.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("451"), "{error}");

    let refused = mailer
        .send(letter(
            "refuse-ada@example.com",
            "en",
            LetterKind::AccountDeleted,
        ))
        .finished()
        .await;
    assert_eq!(refused.attempts, 1);
    let error = refused.result.unwrap_err();
    assert!(!error.is_transient(), "{error}");
    let shown = error.to_string();
    assert!(shown.contains("550"), "{shown}");
    assert!(shown.contains("r***@example.com"), "{shown}");
    assert!(!shown.contains("refuse-ada@"), "{shown}");

    // Neither reached the sink; the next mail does, so nothing is queued behind them.
    mailer
        .deliver(letter("ada@example.com", "en", LetterKind::AccountDeleted))
        .await
        .unwrap();
    assert_eq!(
        sink.next_mail_async(WAIT).await.to,
        vec!["ada@example.com".to_owned()]
    );
}

#[tokio::test]
async fn an_invalid_recipient_is_refused_without_an_attempt() {
    let mailer = Mailer::new(settings(Some(format!(
        "smtp://127.0.0.1:{}",
        closed_port()
    ))))
    .unwrap();
    let error = mailer
        .deliver(letter("not an address", "en", LetterKind::AccountDeleted))
        .await
        .unwrap_err();
    assert!(matches!(error, MailError::Address { .. }), "{error:?}");
    let delivery = mailer
        .send(letter("ada@", "en", LetterKind::AccountDeleted))
        .finished()
        .await;
    assert_eq!(delivery.attempts, 0);
    assert!(parse_address("ada@example.com").is_ok());
}

#[test]
fn send_outside_an_async_runtime_does_not_panic() {
    let mailer = Mailer::new(settings(Some("smtp://127.0.0.1:25".to_owned()))).unwrap();
    let sending = mailer.send(letter("ada@example.com", "en", LetterKind::AccountDeleted));
    let delivery = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(sending.finished());
    assert_eq!(delivery.attempts, 0);
    assert!(
        delivery
            .result
            .unwrap_err()
            .to_string()
            .contains("no tokio runtime")
    );
}

/// The log lines written while `f` runs on this thread, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
        // While only one subscriber is registered, tracing asks the subscriber of the thread
        // that first reaches a log statement whether it is wanted, and remembers the answer for
        // every thread: a test running beside this one, with no subscriber, would switch this
        // one's log lines off. With two registered, every registered one is asked.
        static SECOND: OnceLock<tracing::Dispatch> = OnceLock::new();
        SECOND.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn without_smtp_mails_go_to_the_outbox_and_the_code_and_link_are_logged() {
    let (logs, _guard) = Captured::start();
    let data = tempfile::tempdir().unwrap();
    let outbox = data.path().join("outbox");
    let mailer = Mailer::new(settings(None).outbox_in(data.path())).unwrap();
    assert!(outbox.is_dir(), "the outbox is made when the mailer is");
    assert_eq!(mailer.outbox_dir(), Some(outbox.as_path()));
    assert_eq!(
        mailer.destination(),
        format!("outbox folder {}", outbox.display())
    );

    let kind = every_kind().remove(0);
    let delivery = mailer
        .send(letter("ada@example.com", "en", kind.clone()))
        .finished()
        .await;
    assert_eq!(delivery.result, Ok(()));

    let files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let mail = ReceivedMail::from_file(&files[0]);
    check_received(&mail, "ada@example.com", "en", &kind);

    let logs = logs.text();
    assert!(logs.contains(" INFO "), "{logs}");
    assert!(logs.contains("204816"), "the code is logged: {logs}");
    assert!(logs.contains("token=v3r1fy"), "the link is logged: {logs}");
    assert!(logs.contains("a***@example.com"), "{logs}");
    assert!(!logs.contains("ada@example.com"), "{logs}");
}

/// A person's erasure forgets their mails in the outbox: those sent to the address (whatever
/// its case), not another person's, not a file that is no mail of the outbox.
#[tokio::test]
async fn the_outbox_forgets_the_mails_sent_to_an_address() {
    let data = tempfile::tempdir().unwrap();
    let outbox = data.path().join("outbox");
    let mailer = Mailer::new(settings(None).outbox_in(data.path())).unwrap();
    for to in [
        "ada@example.com",
        "Ada@Example.com",
        "bada@example.com",
        "grace@example.com",
    ] {
        for kind in every_kind().into_iter().take(2) {
            let delivery = mailer.send(letter(to, "en", kind)).finished().await;
            assert_eq!(delivery.result, Ok(()));
        }
    }
    std::fs::write(outbox.join("notes.txt"), "To: ada@example.com\r\n\r\n").unwrap();
    let count = || std::fs::read_dir(&outbox).unwrap().count();
    assert_eq!(count(), 9);

    assert_eq!(
        mailer
            .forget(Uuid::nil(), " ADA@example.com ")
            .await
            .unwrap(),
        4
    );
    let left: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "eml"))
        .map(|path| ReceivedMail::from_file(&path).to.join(","))
        .collect();
    assert_eq!(left.len(), 4, "{left:?}");
    assert!(
        left.iter()
            .all(|to| to.contains("bada@") || to.contains("grace@")),
        "{left:?}"
    );
    assert_eq!(count(), 5, "the other file stays");
    assert_eq!(
        mailer.forget(Uuid::nil(), "ada@example.com").await.unwrap(),
        0
    );
}

/// The outbox's copy of a mail about an account names it, and that account's erasure removes
/// every such mail whatever address it went to (an address the person left, a new one never
/// confirmed); another account's mails stay, even to an address the erased one had.
#[tokio::test]
async fn the_outbox_forgets_the_mails_about_an_account_at_every_address() {
    let data = tempfile::tempdir().unwrap();
    let outbox = data.path().join("outbox");
    let mailer = Mailer::new(settings(None).outbox_in(data.path())).unwrap();
    let (ada, grace) = (Uuid::now_v7(), Uuid::now_v7());
    for (to, user) in [
        ("ada@example.com", Some(ada)),
        ("ada.lovelace@example.org", Some(ada)),
        ("old.ada@example.net", Some(ada)),
        ("old.ada@example.net", Some(grace)),
        ("grace@example.com", Some(grace)),
        ("nobody@example.com", None),
    ] {
        let mut letter = letter(to, "en", LetterKind::PasswordChanged);
        letter.user = user;
        assert_eq!(mailer.send(letter).finished().await.result, Ok(()));
    }
    let tag = format!("{USER_HEADER}: ");
    let mails = || -> Vec<(String, String)> {
        let mut mails: Vec<(String, String)> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
            .map(|text| {
                let header = text
                    .lines()
                    .find_map(|line| line.strip_prefix(&tag))
                    .unwrap_or("")
                    .to_owned();
                let to = text
                    .lines()
                    .find_map(|line| line.strip_prefix("To: "))
                    .unwrap()
                    .to_owned();
                (header, to)
            })
            .collect();
        mails.sort();
        mails
    };
    assert_eq!(mails().len(), 6);
    assert!(
        mails().contains(&(ada.to_string(), "old.ada@example.net".into())),
        "{:?}",
        mails()
    );

    assert_eq!(
        mailer
            .forget(ada, "ada.lovelace@example.org")
            .await
            .unwrap(),
        3
    );
    let mut left = vec![
        (String::new(), "nobody@example.com".to_owned()),
        (grace.to_string(), "grace@example.com".to_owned()),
        (grace.to_string(), "old.ada@example.net".to_owned()),
    ];
    left.sort();
    assert_eq!(mails(), left);
}

#[tokio::test]
async fn over_smtp_neither_the_code_nor_the_link_nor_the_address_is_logged() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let (logs, _guard) = Captured::start();
    let mailer = Mailer::new(settings(Some(sink.url())))
        .unwrap()
        .with_retry(RetryPolicy::new([Duration::ZERO]));
    for kind in every_kind() {
        let delivery = mailer
            .send(letter("ada@example.com", "en", kind))
            .finished()
            .await;
        assert_eq!(delivery.result, Ok(()));
        sink.next_mail_async(WAIT).await;
    }
    let failed = mailer
        .send(letter("busy-ada@example.com", "en", every_kind().remove(3)))
        .finished()
        .await;
    assert_eq!(failed.attempts, 2);

    let logs = logs.text();
    assert!(logs.contains("mail handed to the SMTP server"), "{logs}");
    assert!(logs.contains(" WARN "), "a failed attempt: {logs}");
    assert!(logs.contains(" ERROR "), "giving up: {logs}");
    for secret in [
        "204816", "551902", "v3r1fy", "c0nf1rm", "r3s3t", "ada@", "ada.new@",
    ] {
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
    }
}

#[test]
fn invalid_settings_are_refused_with_the_settings_name_and_no_password() {
    let refused = |settings: MailSettings| Mailer::new(settings).unwrap_err().to_string();
    for (url, expected) in [
        ("smtp//relay:25", "email.smtp_url: not a URL"),
        (
            "http://relay:25",
            "email.smtp_url: the scheme must be smtp or smtps, not http",
        ),
        (
            "smtp://relay:25?tls=maybe",
            "email.smtp_url: tls=maybe is not known",
        ),
        (
            "smtps://relay:465?tls=required",
            "email.smtp_url: smtps:// is TLS",
        ),
        (
            "smtp://mailer:hunter2-secret@relay:25",
            "email.smtp_url: a user name and password are only sent over TLS",
        ),
        ("smtp:relay", "email.smtp_url: names no host"),
    ] {
        let shown = refused(settings(Some(url.to_owned())));
        assert!(shown.starts_with(expected), "{url}: {shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
    }
    for url in [
        "smtp://mailer:hunter2-secret@relay:587?tls=required",
        "smtps://mailer:hunter2-secret@relay",
        "smtp://relay:25?tls=opportunistic",
        "smtp://relay:25/mail.acme.example",
    ] {
        let mailer = Mailer::new(settings(Some(url.to_owned()))).unwrap();
        assert!(!format!("{mailer:?}").contains("hunter2"), "{mailer:?}");
        assert!(!mailer.destination().contains("hunter2"));
    }

    let mut bad_sender = settings(None);
    bad_sender.from_address = "acme id".to_owned();
    assert!(
        refused(bad_sender).starts_with("email.from_address: \"acme id\" is not an email address"),
    );
    let mut bad_name = settings(None);
    bad_name.from_name = "Acme\r\nBcc: all@example.com".to_owned();
    assert!(refused(bad_name).starts_with("email.from_name: "));
    let mut no_time = settings(None);
    no_time.timeout = Duration::ZERO;
    assert_eq!(refused(no_time), "email.timeout: must be more than zero");
}
