//! Answers from untrusted bytes (a form post or a JSON body) against the example policy:
//! validation must never panic.
#![no_main]

use std::sync::LazyLock;

use accrete_core::{CompiledPolicy, Policy, RawAnswers, validate_answers, validate_json_answers};
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<CompiledPolicy> = LazyLock::new(|| {
    Policy::from_toml_str(include_str!("../../examples/policy.toml"))
        .expect("example parses")
        .compile()
        .expect("example compiles")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = &*POLICY;
    let keys: Vec<&str> = policy.fields().iter().map(|f| f.key.as_str()).collect();

    // As a form body: `key=value&key=value`, unescaped.
    let mut raw = RawAnswers::new();
    for pair in text.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        raw.entry(key.to_owned()).or_default().push(value.to_owned());
    }
    let _ = validate_answers(policy, &keys, &raw, "fr");

    // As a JSON body.
    if let Ok(serde_json::Value::Object(body)) = serde_json::from_str(text) {
        let _ = validate_json_answers(policy, &keys, &body, "en");
    }
});
