//! Renderings of a decision for people and tools (`accrete policy simulate`, the admin API).

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::decide::{Decision, Outcome};

/// The decision as JSON: `decision` (`"ask"` or `"proceed"`), `step`, `fields`, `required`,
/// `presentation`, `prefill`, `invalid` (stored values asked again because they fail their
/// field's validation: `{key: {code, message}}`) and `explanation` (`[{step, due, reason, code}]`).
pub fn decision_json(decision: &Decision) -> Value {
    let explanation: Vec<Value> = decision
        .explanation()
        .iter()
        .map(|entry| {
            json!({
                "step": entry.step,
                "due": entry.due,
                "reason": entry.reason.to_string(),
                "code": entry.reason.code(),
            })
        })
        .collect();
    match &decision.outcome {
        Outcome::Proceed => json!({
            "decision": "proceed",
            "step": null,
            "fields": [],
            "explanation": explanation,
        }),
        Outcome::Ask(ask) => json!({
            "decision": "ask",
            "step": ask.step,
            "fields": ask.fields,
            "required": ask.required,
            "presentation": ask.presentation,
            "prefill": ask.prefill,
            "invalid": ask.invalid,
            "explanation": explanation,
        }),
    }
}

/// The decision as readable text, one line per step after the verdict.
pub fn decision_text(decision: &Decision) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_text(&mut out, decision);
    out
}

fn write_text(out: &mut String, decision: &Decision) -> std::fmt::Result {
    match &decision.outcome {
        Outcome::Proceed => writeln!(out, "proceed: nothing to ask")?,
        Outcome::Ask(ask) => {
            let mode = if ask.required {
                "required"
            } else {
                "optional, can be skipped"
            };
            let fields: Vec<&str> = ask.fields.iter().map(|f| f.as_str()).collect();
            writeln!(
                out,
                "ask step \"{}\" ({mode}): {}",
                ask.step,
                fields.join(", ")
            )?;
            for (key, value) in &ask.prefill {
                writeln!(out, "  pre-filled {key} = {value}")?;
            }
            for (key, error) in &ask.invalid {
                let value = ask.prefill.get(key).cloned().unwrap_or_default();
                writeln!(
                    out,
                    "  stored {key} = {value} is not valid: {}",
                    error.message
                )?;
            }
        }
    }
    writeln!(out, "why:")?;
    let explanation = decision.explanation();
    let width = explanation.iter().map(|e| e.step.len()).max().unwrap_or(0);
    for entry in &explanation {
        let mark = if entry.due { "due" } else { "-  " };
        writeln!(
            out,
            "  {mark} {:width$}  {}",
            entry.step.as_str(),
            entry.reason
        )?;
    }
    Ok(())
}
