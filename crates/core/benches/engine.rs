//! `decide` on a 20-step, 50-field policy, and validation of a 10-field answer.
#![expect(
    clippy::unwrap_used,
    reason = "benchmark set-up: a failure ends the run"
)]

use std::hint::black_box;

use accrete_core::{
    CompiledPolicy, KnownValue, Moment, Policy, RawAnswers, UserFacts, decide, validate_answers,
};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use time::macros::datetime;

/// 50 text fields `f00..f49`; 20 steps of 2 or 3 fields with a mix of triggers.
fn generated_policy() -> CompiledPolicy {
    let mut toml = String::from("version = 1\n");
    for i in 0..50 {
        toml.push_str(&format!(
            "[[fields]]\nkey = \"f{i:02}\"\nkind = \"text\"\nlabels = {{ en = \"Field {i}\" }}\n"
        ));
    }
    for s in 0..20 {
        let fields: Vec<String> = (0..50)
            .filter(|f| f % 20 == s)
            .map(|f| format!("\"f{f:02}\""))
            .collect();
        let mode = if s % 3 == 0 {
            "\"required\"".to_owned()
        } else {
            "{ optional = { max_skips = 2, reask_after_logins = 2 } }".to_owned()
        };
        let trigger = match s % 5 {
            0 => "{ moments = [\"signup\"] }".to_owned(),
            1 => format!(
                "{{ moments = [\"login\"], condition = {{ login_count = {{ exactly = {} }} }} }}",
                s + 1
            ),
            2 => "{ moments = [\"login\"], condition = { client = { ids = [\"shop\", \"store\"] } } }"
                .to_owned(),
            3 => "{ moments = [\"login\"], condition = { all = [{ scopes = { any_of = [\"profile\"] } }, { since_signup = { at_least = \"30d\" } }] } }"
                .to_owned(),
            _ => format!("{{ moments = [\"event\"], events = [\"cta:{s}\"] }}"),
        };
        toml.push_str(&format!(
            "[[steps]]\nid = \"s{s:02}\"\ntitle = {{ en = \"Step {s}\" }}\nfields = [{}]\npriority = {s}\nmode = {mode}\ntrigger = {trigger}\n",
            fields.join(", ")
        ));
    }
    Policy::from_toml_str(&toml).unwrap().compile().unwrap()
}

/// A user of two months on their 7th sign-in, who answered every step that applied so far
/// (30 of the 50 fields known; the shop and in-app event steps never came up).
fn typical_user() -> UserFacts {
    let mut facts = UserFacts::new(datetime!(2026-01-01 09:00 UTC));
    facts.credentialed_logins = 7;
    facts.sso_logins = 12;
    for i in (0..50).filter(|f| !matches!((f % 20) % 5, 2 | 4)) {
        facts.values.insert(
            format!("f{i:02}"),
            KnownValue::new(json!(format!("value {i}")), "prompt"),
        );
    }
    facts
}

fn bench_decide(c: &mut Criterion) {
    let policy = generated_policy();
    let now = datetime!(2026-03-01 12:00 UTC);
    let user = typical_user();
    let login = Moment::login()
        .with_client("web")
        .with_scopes(&["openid", "email"]);
    assert!(decide(&policy, &user, &login, now).ask().is_none());
    c.bench_function("decide/proceed (20 steps, 50 fields)", |b| {
        b.iter(|| decide(black_box(&policy), black_box(&user), black_box(&login), now));
    });

    let shop = Moment::login()
        .with_client("shop")
        .with_scopes(&["openid", "profile"]);
    let missing = typical_user();
    let decision = decide(&policy, &missing, &shop, now);
    assert!(decision.ask().is_some());
    c.bench_function("decide/ask (20 steps, 50 fields)", |b| {
        b.iter(|| {
            decide(
                black_box(&policy),
                black_box(&missing),
                black_box(&shop),
                now,
            )
        });
    });
}

const EXAMPLE: &str = include_str!("../../../examples/policy.toml");

fn bench_validate(c: &mut Criterion) {
    let policy = Policy::from_toml_str(EXAMPLE).unwrap().compile().unwrap();
    let answers: [(&str, &[&str]); 10] = [
        ("given_name", &["Ada"]),
        ("family_name", &["Lovelace"]),
        ("terms", &["on"]),
        ("company", &["Analytical Engines"]),
        ("job_title", &["Engineer"]),
        ("company_size", &["11-50"]),
        ("birthdate", &["1990-12-10"]),
        ("interests", &["security", "identity"]),
        ("country", &["fr"]),
        ("work_email", &["ada@Example.com"]),
    ];
    let mut raw = RawAnswers::new();
    for (key, values) in answers {
        raw.insert(
            key.to_owned(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        );
    }
    let keys: Vec<&str> = answers.iter().map(|(k, _)| *k).collect();
    validate_answers(
        &policy,
        &keys,
        &raw,
        "en",
        time::macros::date!(2026 - 03 - 01),
    )
    .unwrap();
    c.bench_function("validate/10 fields", |b| {
        b.iter(|| {
            validate_answers(
                black_box(&policy),
                black_box(&keys),
                black_box(&raw),
                "en",
                time::macros::date!(2026 - 03 - 01),
            )
        });
    });

    let mut with_phone = raw.clone();
    with_phone.remove("work_email");
    with_phone.insert(
        "phone_number".to_owned(),
        vec!["+33 6 12 34 56 78".to_owned()],
    );
    let phone_keys: Vec<&str> = with_phone.keys().map(String::as_str).collect();
    validate_answers(
        &policy,
        &phone_keys,
        &with_phone,
        "en",
        time::macros::date!(2026 - 03 - 01),
    )
    .unwrap();
    c.bench_function("validate/10 fields including a phone", |b| {
        b.iter(|| {
            validate_answers(
                black_box(&policy),
                black_box(&phone_keys),
                black_box(&with_phone),
                "en",
                time::macros::date!(2026 - 03 - 01),
            )
        });
    });
}

fn bench_example(c: &mut Criterion) {
    let policy = Policy::from_toml_str(EXAMPLE).unwrap().compile().unwrap();
    let mut user = UserFacts::new(datetime!(2026-01-01 09:00 UTC));
    user.credentialed_logins = 7;
    for key in ["given_name", "family_name", "company", "job_title"] {
        user.values
            .insert(key.to_owned(), KnownValue::new(json!("known"), "prompt"));
    }
    // Stored values are known only when valid for their field (a date here).
    user.values.insert(
        "birthdate".to_owned(),
        KnownValue::new(json!("1990-05-17"), "prompt"),
    );
    user.values.insert(
        "terms".to_owned(),
        KnownValue::new(json!({ "accepted": true, "version": "2026-01" }), "signup"),
    );
    let login = Moment::login().with_client("web").with_scopes(&["openid"]);
    let now = datetime!(2026-03-01 12:00 UTC);
    assert!(decide(&policy, &user, &login, now).ask().is_none());
    c.bench_function(
        "decide/example policy with two CEL expressions, proceed",
        |b| {
            b.iter(|| decide(black_box(&policy), black_box(&user), black_box(&login), now));
        },
    );
    // Every field of the policy known: the load harness's user with nothing due.
    let mut complete = user.clone();
    for field in policy.fields() {
        complete
            .values
            .entry(field.key.as_str().to_owned())
            .or_insert_with(|| KnownValue::new(json!("known"), "prompt"));
    }
    assert!(decide(&policy, &complete, &login, now).ask().is_none());
    c.bench_function("decide/example policy, every field known, proceed", |b| {
        b.iter(|| {
            decide(
                black_box(&policy),
                black_box(&complete),
                black_box(&login),
                now,
            )
        });
    });
}

criterion_group!(benches, bench_decide, bench_validate, bench_example);
criterion_main!(benches);
