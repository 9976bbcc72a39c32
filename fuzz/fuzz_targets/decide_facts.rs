//! User facts and moments from untrusted JSON (`policy simulate` input, stored state):
//! reading them and deciding must never panic.
#![no_main]

use std::sync::LazyLock;

use accrete_core::{CompiledPolicy, Moment, Policy, UserFacts, decide};
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
    let (user, moment) = text.split_once('\n').unwrap_or((text, r#"{"kind":"login"}"#));
    let (Ok(facts), Ok(moment)) = (
        serde_json::from_str::<UserFacts>(user),
        serde_json::from_str::<Moment>(moment),
    ) else {
        return;
    };
    let decision = decide(&POLICY, &facts, &moment, facts.created_at);
    let _ = accrete_core::decision_json(&decision);
});
