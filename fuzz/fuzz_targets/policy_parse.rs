//! Policy documents from untrusted bytes: reading (TOML and JSON), compiling and writing back
//! must never panic, and what compiles must round-trip.
#![no_main]

use accrete_core::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [Policy::from_toml_str(text), Policy::from_json_str(text)] {
        let Ok(policy) = parsed else { continue };
        if policy.compile().is_ok() {
            let toml = policy.to_toml_string().expect("a compiled policy can be written");
            let again = Policy::from_toml_str(&toml).expect("what was written can be read");
            assert_eq!(again, policy, "TOML round-trip");
            let json = policy.to_json_string().expect("a compiled policy can be written");
            let again = Policy::from_json_str(&json).expect("what was written can be read");
            assert_eq!(again, policy, "JSON round-trip");
        }
    }
});
