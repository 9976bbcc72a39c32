//! The sender against a real relay (`testing::SmsReceiver` on 127.0.0.1) and the outbox.

use std::time::Duration;

use accrete_sms::testing::{SmsReceiver, TEST_SECRET};
use accrete_sms::{RetryPolicy, SmsError, SmsPurpose, SmsSender, SmsSettings, TextMessage};
use time::OffsetDateTime;

const WAIT: Duration = Duration::from_secs(10);

fn message(to: &str, purpose: SmsPurpose, locale: &str) -> TextMessage {
    TextMessage {
        to: to.into(),
        locale: locale.into(),
        product_name: String::new(),
        purpose,
        code: "042917".into(),
        expires_at: OffsetDateTime::now_utc() + time::Duration::minutes(10),
        user: None,
    }
}

fn no_waits() -> RetryPolicy {
    RetryPolicy::new([Duration::ZERO, Duration::ZERO])
}

#[tokio::test]
async fn a_message_reaches_the_relay_signed_with_its_number_code_purpose_and_text() {
    let receiver = SmsReceiver::start();
    let sender = SmsSender::new(&receiver.settings(), "Accrete").unwrap();
    assert!(
        sender
            .destination()
            .starts_with("SMS relay http://127.0.0.1:")
    );
    sender
        .deliver(message("+33612345678", SmsPurpose::VerifyPhone, "fr-FR"))
        .await
        .unwrap();
    let got = receiver.next_message(WAIT).await;
    assert_eq!(got.kind, "sms");
    assert!(got.id.starts_with("msg_"), "{}", got.id);
    assert_eq!(got.to, "+33612345678");
    assert_eq!(got.code, "042917");
    assert_eq!(got.locale, "fr");
    assert_eq!(got.purpose, SmsPurpose::VerifyPhone);
    assert!(
        got.body.starts_with("042917 est votre code Accrete"),
        "{}",
        got.body
    );
    assert_eq!(receiver.refused(), 0);
}

#[tokio::test]
async fn a_relay_that_is_busy_is_tried_again_and_the_message_keeps_its_id() {
    let receiver = SmsReceiver::start();
    receiver.fail_next([503, 429]);
    let sender = SmsSender::new(&receiver.settings(), "Accrete")
        .unwrap()
        .with_retry(no_waits());
    let delivery = sender
        .send(message("+14155550100", SmsPurpose::SignIn, "en"))
        .finished()
        .await;
    assert_eq!(delivery.result, Ok(()));
    assert_eq!(delivery.attempts, 3);
    assert_eq!(receiver.requests(), 3);
    let got = receiver.next_message(WAIT).await;
    assert_eq!(got.purpose, SmsPurpose::SignIn);
    assert!(got.body.contains("sign-in code"), "{}", got.body);
}

#[tokio::test]
async fn a_refusal_is_not_tried_again_and_says_so_without_the_number_or_the_code() {
    let receiver = SmsReceiver::start();
    receiver.fail_next([400]);
    let sender = SmsSender::new(&receiver.settings(), "Accrete")
        .unwrap()
        .with_retry(no_waits());
    let delivery = sender
        .send(message("+33612345678", SmsPurpose::VerifyPhone, "en"))
        .finished()
        .await;
    assert_eq!(delivery.attempts, 1);
    let error = delivery.result.unwrap_err();
    assert!(!error.is_transient());
    let shown = error.to_string();
    assert!(shown.contains("400"), "{shown}");
    assert!(shown.contains("+33*******78"), "{shown}");
    assert!(
        !shown.contains("+33612345678") && !shown.contains("042917"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_relay() {
    let receiver = SmsReceiver::start();
    let settings = SmsSettings {
        secret: Some("whsec_b3RoZXItc2VjcmV0LW9mLWVub3VnaC1ieXRlcw==".into()),
        ..receiver.settings()
    };
    let sender = SmsSender::new(&settings, "Accrete").unwrap();
    let error = sender
        .deliver(message("+33612345678", SmsPurpose::VerifyPhone, "en"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
    assert_eq!(receiver.refused(), 1);
    assert!(receiver.try_next().is_none());
}

#[tokio::test]
async fn a_relay_that_cannot_be_reached_is_a_passing_failure() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = SmsSettings {
        url: Some(format!("http://127.0.0.1:{port}/sms")),
        secret: Some(TEST_SECRET.into()),
        ..SmsSettings::default()
    };
    let sender = SmsSender::new(&settings, "Accrete").unwrap();
    let error = sender
        .deliver(message("+33612345678", SmsPurpose::VerifyPhone, "en"))
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    use axum::response::Redirect;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new().route(
        "/sms",
        axum::routing::post(|| async { Redirect::temporary("http://127.0.0.1:9/elsewhere") }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let settings = SmsSettings {
        url: Some(format!("http://127.0.0.1:{port}/sms")),
        secret: Some(TEST_SECRET.into()),
        ..SmsSettings::default()
    };
    let sender = SmsSender::new(&settings, "Accrete").unwrap();
    let error = sender
        .deliver(message("+33612345678", SmsPurpose::VerifyPhone, "en"))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("redirects are not followed"),
        "{error}"
    );
    assert!(!error.is_transient());
}

#[tokio::test]
async fn without_a_relay_messages_are_appended_to_the_outbox_file_one_json_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let settings = SmsSettings::default().outbox_in(dir.path());
    let sender = SmsSender::new(&settings, "Acme").unwrap();
    let file = sender.outbox_file().unwrap().to_owned();
    assert_eq!(file, dir.path().join("outbox").join("sms.jsonl"));
    for to in ["+33612345678", "+14155550100"] {
        sender
            .deliver(message(to, SmsPurpose::VerifyPhone, "en"))
            .await
            .unwrap();
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<accrete_sms::WireMessage> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].to, "+14155550100");
    assert!(
        lines[0].body.contains("your Acme code"),
        "{}",
        lines[0].body
    );
}

/// A line of the outbox file about an account names it, and that account's erasure removes
/// every such line whatever number it went to, and the lines to its number written without a
/// name; another account's lines stay.
#[tokio::test]
async fn the_outbox_file_forgets_the_messages_about_an_account_at_every_number() {
    let dir = tempfile::tempdir().unwrap();
    let sender = SmsSender::new(&SmsSettings::default().outbox_in(dir.path()), "Acme").unwrap();
    let file = sender.outbox_file().unwrap().to_owned();
    let (ada, grace) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    for (to, user) in [
        ("+33612345678", Some(ada)),
        ("+33700000001", Some(ada)),
        ("+33700000001", Some(grace)),
        ("+33612345678", None),
        ("+14155550100", None),
    ] {
        let mut message = message(to, SmsPurpose::VerifyPhone, "en");
        message.user = user;
        sender.deliver(message).await.unwrap();
    }
    let lines = || -> Vec<(String, String)> {
        std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .map(|line| {
                let field = |name: &str| line[name].as_str().unwrap_or("").to_owned();
                (field("user"), field("to"))
            })
            .collect()
    };
    assert_eq!(lines()[0], (ada.to_string(), "+33612345678".to_owned()));

    let numbers = ["+33612345678".to_owned()];
    assert_eq!(sender.forget(ada, &numbers).await.unwrap(), 3);
    assert_eq!(
        lines(),
        [
            (grace.to_string(), "+33700000001".to_owned()),
            (String::new(), "+14155550100".to_owned()),
        ]
    );
    assert_eq!(sender.forget(ada, &numbers).await.unwrap(), 0);
    sender
        .deliver(message("+14155550100", SmsPurpose::SignIn, "en"))
        .await
        .unwrap();
    assert_eq!(lines().len(), 3, "the file goes on after a rewrite");
}

#[test]
fn wrong_settings_name_the_setting_and_never_repeat_the_secret() {
    let with = |url: &str, secret: Option<&str>| SmsSettings {
        url: Some(url.into()),
        secret: secret.map(str::to_owned),
        ..SmsSettings::default()
    };
    let error = |settings: SmsSettings| match SmsSender::new(&settings, "Accrete") {
        Err(SmsError::Settings { setting, message }) => format!("{setting}: {message}"),
        other => panic!("{other:?}"),
    };
    assert!(
        error(with("https://relay.example.com/sms", None)).starts_with("sms.secret: is required")
    );
    assert!(error(with("ftp://relay.example.com/sms", Some(TEST_SECRET))).starts_with("sms.url:"));
    assert!(error(with("not a url", Some(TEST_SECRET))).starts_with("sms.url: not a URL"));
    let shown = error(with(
        "https://relay.example.com/sms",
        Some("plain-secret-value"),
    ));
    assert!(shown.starts_with("sms.secret:"), "{shown}");
    assert!(!shown.contains("plain-secret-value"), "{shown}");
    let zero = SmsSettings {
        timeout: Duration::ZERO,
        ..SmsSettings::default()
    };
    assert!(error(zero).starts_with("sms.timeout"));
}
