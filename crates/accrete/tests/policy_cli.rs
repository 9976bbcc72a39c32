//! `accrete policy validate` and `accrete policy simulate`, run as the built binary.
#![expect(
    clippy::expect_used,
    reason = "helpers outside #[test] functions fail the test by panicking"
)]

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
        .display()
        .to_string()
}

fn accrete(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accrete"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn validating_the_example_policy_succeeds_with_a_summary() {
    let out = accrete(&["policy", "validate", &repo("examples/policy.toml")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ok: 18 fields, 8 steps\n");
}

#[test]
fn validating_a_policy_with_problems_fails_listing_each_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        r#"version = 1
[[fields]]
key = "company"
kind = "text"
labels = { en = "Company" }
[[steps]]
id = "work"
title = { en = "Work" }
fields = ["compnay", "company"]
mode = "required"
trigger = { moments = [] }
"#,
    )
    .unwrap();
    let out = accrete(&["policy", "validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let errors = stderr(&out);
    assert!(
        errors.contains(r#"steps[0].fields[0]: unknown field "compnay"; did you mean "company"?"#),
        "{errors}"
    );
    assert!(
        errors.contains("steps[0].trigger.moments: no moment listed: the step is never asked"),
        "{errors}"
    );
}

#[test]
fn a_json_policy_is_accepted_by_its_extension() {
    let toml = std::fs::read_to_string(repo("examples/policy.toml")).unwrap();
    let json = accrete_core::Policy::from_toml_str(&toml)
        .unwrap()
        .to_json_string()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    std::fs::write(&file, json).unwrap();
    let out = accrete(&["policy", "validate", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn simulate_prints_the_decision_as_json() {
    let out = accrete(&[
        "policy",
        "simulate",
        &repo("examples/policy.toml"),
        "--user",
        &repo("examples/facts/third-login-user.json"),
        "--moment",
        &repo("examples/facts/moment-login.json"),
        "--now",
        "2026-03-01T12:00:00Z",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["decision"], "ask");
    assert_eq!(json["step"], "work");
    assert_eq!(json["fields"], serde_json::json!(["company", "job_title"]));
    let explanation = json["explanation"].as_array().unwrap();
    assert_eq!(explanation.len(), 8);
    assert!(
        explanation
            .iter()
            .all(|e| e["step"].is_string() && e["due"].is_boolean() && e["reason"].is_string())
    );
}

#[test]
fn simulate_prints_readable_text_with_human() {
    let out = accrete(&[
        "policy",
        "simulate",
        &repo("examples/policy.toml"),
        "--user",
        &repo("examples/facts/regular-user.json"),
        "--moment",
        &repo("examples/facts/moment-login.json"),
        "--now",
        "2026-03-01T12:00:00Z",
        "--human",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("proceed: nothing to ask\n"), "{text}");
    assert!(text.contains("birthday"), "{text}");
}

#[test]
fn simulate_refuses_a_malformed_moment() {
    let dir = tempfile::tempdir().unwrap();
    let moment = dir.path().join("moment.json");
    std::fs::write(&moment, r#"{ "kind": "event" }"#).unwrap();
    let out = accrete(&[
        "policy",
        "simulate",
        &repo("examples/policy.toml"),
        "--user",
        &repo("examples/facts/new-user.json"),
        "--moment",
        moment.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("moment"), "{}", stderr(&out));
}
