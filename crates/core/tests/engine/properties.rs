//! Properties of `decide`, of the document format, and of parsing untrusted input.

use std::collections::BTreeMap;

use accrete_core::{
    AfterLastSkip, CompiledPolicy, Condition, Expression, Field, FieldType, HumanDuration,
    KnownValue, LoginCount, Moment, MomentKind, Policy, Presentation, PromptState, RawAnswers,
    SkipPolicy, Step, StepId, StepMode, Trigger, TriggerMoment, UserFacts, decide,
    validate_answers, validate_json_answers,
};
use proptest::prelude::*;
use serde_json::json;
use time::Duration;

use crate::support::{NOW, SIGNED_UP, example};

const CLIENTS: [&str; 2] = ["c0", "c1"];
const SCOPES: [&str; 3] = ["openid", "profile", "work"];
const EVENTS: [&str; 2] = ["e0", "e1"];

fn condition() -> impl Strategy<Value = Condition> {
    let leaf = prop_oneof![
        proptest::sample::subsequence(CLIENTS.to_vec(), 1..=2).prop_map(|ids| Condition::Client {
            ids: ids.into_iter().map(str::to_owned).collect()
        }),
        (0u64..6).prop_map(|n| Condition::LoginCount(LoginCount::Exactly(n))),
        (0u64..6).prop_map(|n| Condition::LoginCount(LoginCount::AtLeast(n))),
        (1u64..4).prop_map(|n| Condition::LoginCount(LoginCount::Every(n))),
        (
            proptest::sample::subsequence(SCOPES.to_vec(), 0..=2),
            proptest::sample::subsequence(SCOPES.to_vec(), 0..=2)
        )
            .prop_filter("one list", |(a, b)| !a.is_empty() || !b.is_empty())
            .prop_map(|(any_of, all_of)| Condition::Scopes {
                any_of: any_of.into_iter().map(str::to_owned).collect(),
                all_of: all_of.into_iter().map(str::to_owned).collect(),
            }),
        (0u64..60).prop_map(|days| Condition::SinceSignup {
            at_least: Some(HumanDuration::days(days)),
            at_most: None,
        }),
        (0u64..60).prop_map(|days| Condition::SinceSignup {
            at_least: None,
            at_most: Some(HumanDuration::days(days)),
        }),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..3).prop_map(Condition::All),
            proptest::collection::vec(inner.clone(), 1..3).prop_map(Condition::Any),
            inner.prop_map(|c| Condition::Not(Box::new(c))),
        ]
    })
}

fn mode() -> impl Strategy<Value = StepMode> {
    prop_oneof![
        Just(StepMode::Required),
        (
            proptest::option::of(1u32..3),
            proptest::option::of(0u64..3),
            proptest::option::of(1u64..10),
            any::<bool>()
        )
            .prop_map(|(max_skips, logins, days, require)| StepMode::Optional {
                skip: SkipPolicy {
                    max_skips,
                    reask_after_logins: logins,
                    reask_after: days.map(HumanDuration::days),
                    after_last_skip: if require && max_skips.is_some() {
                        AfterLastSkip::Require
                    } else {
                        AfterLastSkip::Stop
                    },
                },
            }),
    ]
}

fn trigger() -> impl Strategy<Value = Trigger> {
    (
        proptest::sample::subsequence(
            vec![
                TriggerMoment::Signup,
                TriggerMoment::Login,
                TriggerMoment::Event,
            ],
            1..=3,
        ),
        proptest::sample::subsequence(EVENTS.to_vec(), 1..=2),
        proptest::option::of(condition()),
    )
        .prop_map(|(moments, events, condition)| {
            let events = if moments.contains(&TriggerMoment::Event) {
                events.into_iter().map(str::to_owned).collect()
            } else {
                Vec::new()
            };
            Trigger {
                moments,
                events,
                condition,
            }
        })
}

/// A valid policy of 1..8 optional-answer text fields and 1..6 steps.
fn policy() -> impl Strategy<Value = Policy> {
    (1usize..8, 1u32..3).prop_flat_map(|(field_count, max_optional)| {
        let step = (
            proptest::sample::subsequence((0..field_count).collect::<Vec<_>>(), 1..=field_count),
            -3i32..3,
            any::<bool>(),
            mode(),
            trigger(),
        );
        proptest::collection::vec(step, 1..6).prop_map(move |steps| {
            let mut policy = Policy::new();
            policy.settings.max_optional_steps_per_signin = max_optional;
            for i in 0..field_count {
                let mut field = Field::new(&format!("f{i}"), FieldType::Text);
                field.required = false;
                field.labels.insert("en".to_owned(), format!("Field {i}"));
                if i % 3 == 1 {
                    field.labels.insert("fr".to_owned(), format!("Champ {i}"));
                    field.validation.max_length = Some(50);
                }
                policy.fields.push(field);
            }
            for (s, (fields, priority, one_at_a_time, mode, trigger)) in
                steps.into_iter().enumerate()
            {
                policy.steps.push(Step {
                    id: StepId::new(&format!("s{s}")),
                    title: BTreeMap::from([("en".to_owned(), format!("Step {s}"))]),
                    fields: fields.iter().map(|i| format!("f{i}").into()).collect(),
                    priority,
                    presentation: if one_at_a_time {
                        Presentation::OneAtATime
                    } else {
                        Presentation::AllAtOnce
                    },
                    mode,
                    trigger,
                    second_factor: false,
                });
            }
            policy
        })
    })
}

fn user() -> impl Strategy<Value = UserFacts> {
    (
        0u64..8,
        0u64..60,
        proptest::collection::btree_set(0usize..8, 0..8),
        proptest::collection::btree_map(
            0usize..6,
            (1u32..3, proptest::option::of(0u64..8), 0i64..10),
            0..3,
        ),
    )
        .prop_map(|(logins, age_days, known, skips)| {
            let mut facts = UserFacts::new(NOW - Duration::days(age_days.cast_signed()));
            facts.credentialed_logins = logins;
            for i in known {
                facts.values.insert(
                    format!("f{i}"),
                    KnownValue::new(json!(format!("v{i}")), "test"),
                );
            }
            for (s, (skipped, at_login, days_ago)) in skips {
                let at = NOW - Duration::days(days_ago);
                facts.prompts.insert(
                    format!("s{s}"),
                    PromptState {
                        shown: skipped,
                        skipped,
                        last_shown_at: Some(at),
                        last_skipped_at: Some(at),
                        logins_at_last_skip: at_login,
                        ..PromptState::default()
                    },
                );
            }
            facts
        })
}

fn moment() -> impl Strategy<Value = Moment> {
    (
        0usize..4,
        proptest::option::of(proptest::sample::select(CLIENTS.to_vec())),
        proptest::sample::subsequence(SCOPES.to_vec(), 0..=3),
        0u32..3,
        proptest::collection::btree_set(0usize..6, 0..2),
    )
        .prop_map(|(kind, client, scopes, asked, skipped)| {
            let kind = match kind {
                0 => MomentKind::Signup,
                1 => MomentKind::Login,
                2 => MomentKind::Event {
                    name: "e0".to_owned(),
                },
                _ => MomentKind::Event {
                    name: "e1".to_owned(),
                },
            };
            let mut moment = Moment::new(kind);
            moment.client_id = client.map(str::to_owned);
            moment.scopes = scopes.into_iter().map(str::to_owned).collect();
            moment.optional_steps_asked = asked;
            moment.skipped_this_signin = skipped.into_iter().map(|s| format!("s{s}")).collect();
            moment
        })
}

/// An independent reading of the trigger rules, to check `decide` against.
fn holds(condition: &Condition, facts: &UserFacts, moment: &Moment) -> bool {
    match condition {
        Condition::All(items) => items.iter().all(|c| holds(c, facts, moment)),
        Condition::Any(items) => items.iter().any(|c| holds(c, facts, moment)),
        Condition::Not(inner) => !holds(inner, facts, moment),
        Condition::Client { ids } => moment
            .client_id
            .as_ref()
            .is_some_and(|client| ids.contains(client)),
        Condition::LoginCount(test) => {
            let n = facts.credentialed_logins;
            match *test {
                LoginCount::Exactly(k) => n == k,
                LoginCount::AtLeast(k) => n >= k,
                LoginCount::Every(k) => n > 0 && n.is_multiple_of(k),
            }
        }
        Condition::Scopes { any_of, all_of } => {
            (any_of.is_empty() || any_of.iter().any(|s| moment.scopes.contains(s)))
                && all_of.iter().all(|s| moment.scopes.contains(s))
        }
        Condition::SinceSignup { at_least, at_most } => {
            let age = NOW - facts.created_at;
            let days = |d: &HumanDuration| Duration::try_from(d.as_std()).unwrap_or(Duration::MAX);
            at_least.as_ref().is_none_or(|d| age >= days(d))
                && at_most.as_ref().is_none_or(|d| age <= days(d))
        }
        Condition::Expression { .. } => unreachable!("not generated"),
    }
}

fn trigger_matches(step: &Step, facts: &UserFacts, moment: &Moment) -> bool {
    let moment_ok = match &moment.kind {
        MomentKind::Signup => step.trigger.moments.contains(&TriggerMoment::Signup),
        MomentKind::Login => step.trigger.moments.contains(&TriggerMoment::Login),
        MomentKind::Event { name } => {
            step.trigger.moments.contains(&TriggerMoment::Event)
                && step.trigger.events.contains(name)
        }
    };
    // A required step shown and not answered since stays due while its condition can still
    // hold for some sign-in count and sign-up age (its client and scopes must hold now).
    let pending = step.mode.is_required()
        && facts.prompts.get(step.id.as_str()).is_some_and(|state| {
            state
                .last_shown_at
                .is_some_and(|shown| state.last_answered_at.is_none_or(|at| shown > at))
        });
    moment_ok
        && step
            .trigger
            .condition
            .as_ref()
            .is_none_or(|c| holds(c, facts, moment) || (pending && could_hold(c, facts, moment).0))
}

/// Whether `condition` can be (true, false) for some sign-in count and sign-up age, each
/// occurrence chosen freely.
fn could_hold(condition: &Condition, facts: &UserFacts, moment: &Moment) -> (bool, bool) {
    match condition {
        Condition::LoginCount(_) | Condition::SinceSignup { .. } => (true, true),
        Condition::All(items) => items.iter().fold((true, false), |(t, f), c| {
            let (ct, cf) = could_hold(c, facts, moment);
            (t && ct, f || cf)
        }),
        Condition::Any(items) => items.iter().fold((false, true), |(t, f), c| {
            let (ct, cf) = could_hold(c, facts, moment);
            (t || ct, f && cf)
        }),
        Condition::Not(inner) => {
            let (t, f) = could_hold(inner, facts, moment);
            (f, t)
        }
        other => {
            let value = holds(other, facts, moment);
            (value, !value)
        }
    }
}

fn compiled(policy: &Policy) -> CompiledPolicy {
    policy
        .compile()
        .unwrap_or_else(|problems| panic!("generated policy compiles:\n{problems}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_asks_for_a_known_field(policy in policy(), facts in user(), moment in moment()) {
        let decision = decide(&compiled(&policy), &facts, &moment, NOW);
        if let Some(ask) = decision.ask() {
            prop_assert!(!ask.fields.is_empty());
            for key in &ask.fields {
                prop_assert!(!facts.values.contains_key(key.as_str()), "asked known {key}");
            }
        }
    }

    #[test]
    fn never_asks_a_step_whose_trigger_does_not_match(
        policy in policy(), facts in user(), moment in moment()
    ) {
        let decision = decide(&compiled(&policy), &facts, &moment, NOW);
        if let Some(ask) = decision.ask() {
            let step = policy.steps.iter().find(|s| s.id == ask.step).unwrap();
            prop_assert!(trigger_matches(step, &facts, &moment));
            prop_assert!(!moment.skipped_this_signin.contains(&ask.step.to_string()));
        }
        for entry in decision.explanation() {
            let step = policy.steps.iter().find(|s| s.id == entry.step).unwrap();
            if !trigger_matches(step, &facts, &moment) {
                prop_assert!(!entry.due);
            }
        }
    }

    #[test]
    fn required_steps_come_before_optional_ones(
        policy in policy(), facts in user(), moment in moment()
    ) {
        let decision = decide(&compiled(&policy), &facts, &moment, NOW);
        let required_due = policy.steps.iter().any(|step| {
            step.mode.is_required()
                && trigger_matches(step, &facts, &moment)
                && step.fields.iter().any(|f| !facts.values.contains_key(f.as_str()))
                && !moment.skipped_this_signin.contains(&step.id.to_string())
        });
        if required_due {
            let ask = decision.ask();
            prop_assert!(ask.is_some_and(|ask| ask.required), "{:?}", decision.outcome);
        }
    }

    #[test]
    fn at_most_the_configured_number_of_optional_steps_is_asked_per_signin(
        policy in policy(), facts in user(), moment in moment()
    ) {
        let compiled = compiled(&policy);
        let limit = policy.settings.max_optional_steps_per_signin;
        let mut facts = facts;
        let mut moment = moment;
        moment.optional_steps_asked = 0;
        moment.skipped_this_signin.clear();
        let mut optional_asked = 0;
        for _ in 0..50 {
            let decision = decide(&compiled, &facts, &moment, NOW);
            let Some(ask) = decision.ask() else { break };
            if ask.required {
                for key in &ask.fields {
                    facts.values.insert(key.to_string(), KnownValue::new(json!("answer"), "test"));
                }
            } else {
                optional_asked += 1;
                moment.optional_steps_asked += 1;
                moment.skipped_this_signin.push(ask.step.to_string());
            }
        }
        prop_assert!(optional_asked <= limit, "{optional_asked} > {limit}");
        prop_assert!(decide(&compiled, &facts, &moment, NOW).ask().is_none());
    }

    #[test]
    fn decide_is_deterministic(policy in policy(), facts in user(), moment in moment()) {
        let compiled = compiled(&policy);
        let first = decide(&compiled, &facts, &moment, NOW);
        let second = decide(&compiled, &facts, &moment, NOW);
        prop_assert_eq!(&first, &second);
        let recompiled = compiled_again(&policy);
        prop_assert_eq!(first.explanation(), decide(&recompiled, &facts, &moment, NOW).explanation());
    }

    #[test]
    fn policies_round_trip_through_toml_and_json(policy in policy()) {
        let toml = policy.to_toml_string().unwrap();
        prop_assert_eq!(&Policy::from_toml_str(&toml).unwrap(), &policy, "{}", toml);
        let json = policy.to_json_string().unwrap();
        prop_assert_eq!(&Policy::from_json_str(&json).unwrap(), &policy);
    }

    #[test]
    fn arbitrary_documents_never_panic(text in "\\PC{0,400}") {
        if let Ok(policy) = Policy::from_toml_str(&text) {
            let _ = policy.compile();
        }
        if let Ok(policy) = Policy::from_json_str(&text) {
            let _ = policy.compile();
        }
    }

    #[test]
    fn mangled_example_documents_never_panic(
        at in 0usize..10_000, len in 0usize..40, patch in "\\PC{0,20}"
    ) {
        let text = crate::support::EXAMPLE;
        let mut start = at % text.len();
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mangled = format!("{}{patch}{}", &text[..start], &text[end..]);
        if let Ok(policy) = Policy::from_toml_str(&mangled) {
            let _ = policy.compile();
        }
    }

    #[test]
    fn arbitrary_expressions_never_panic(source in "\\PC{0,200}") {
        if let Ok(expression) = Expression::compile(&source) {
            let _ = expression.evaluate(&UserFacts::new(SIGNED_UP), &Moment::login(), NOW);
        }
    }

    #[test]
    fn arbitrary_form_answers_never_panic(
        answers in proptest::collection::btree_map(
            proptest::sample::select(vec![
                "given_name", "terms", "phone_number", "company_size", "birthdate", "website",
                "interests", "country", "bio", "newsletter", "work_email", "employee_id",
                "team_size", "annual_budget", "unknown",
            ]),
            proptest::collection::vec("\\PC{0,40}", 0..4),
            0..10,
        ),
        locale in "[a-z]{2}(-[A-Z]{2})?",
    ) {
        let policy = example();
        let raw: RawAnswers = answers.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let keys: Vec<&str> = policy.fields().iter().map(|f| f.key.as_str()).collect();
        match validate_answers(&policy, &keys, &raw, &locale, crate::support::NOW.date()) {
            Ok(answers) => prop_assert!(answers.keys().all(|k| policy.field(k).is_some())),
            Err(errors) => prop_assert!(!errors.0.is_empty()),
        }
    }

    #[test]
    fn arbitrary_json_answers_never_panic(text in "\\PC{0,300}") {
        let policy = example();
        let keys: Vec<&str> = policy.fields().iter().map(|f| f.key.as_str()).collect();
        if let Ok(serde_json::Value::Object(body)) = serde_json::from_str(&text) {
            let _ = validate_json_answers(&policy, &keys, &body, "en", crate::support::NOW.date());
        }
    }
}

fn compiled_again(policy: &Policy) -> CompiledPolicy {
    compiled(&Policy::from_json_str(&policy.to_json_string().unwrap()).unwrap())
}

#[test]
fn json_answers_of_any_scalar_shape_never_panic() {
    let policy = example();
    let keys: Vec<&str> = policy.fields().iter().map(|f| f.key.as_str()).collect();
    for value in [
        json!(null),
        json!(1e308),
        json!(-1),
        json!(u64::MAX),
        json!(true),
        json!([]),
        json!([null]),
        json!({}),
        json!({ "accepted": "yes" }),
        json!("x".repeat(10_000)),
    ] {
        let body: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|k| ((*k).to_owned(), value.clone()))
            .collect();
        let result = validate_json_answers(&policy, &keys, &body, "fr", crate::support::NOW.date());
        assert!(result.is_err() || result.is_ok_and(|a| a.len() <= keys.len()));
    }
}
