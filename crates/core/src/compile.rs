//! `CompiledPolicy`: a validated policy with its regular expressions, expressions and lookups
//! prepared once, shared by every decision and every answer validation.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use crate::checks;
use crate::condition::CompiledCondition;
use crate::dates::DateBound;
use crate::field::{Field, Limit};
use crate::ids::{FieldKey, StepId};
use crate::policy::Policy;
use crate::problems::{PolicyProblems, Problems};
use crate::step::{Step, TriggerMoment};

/// A validated policy, ready for `decide` and answer validation. Cheap to share: it is `Send +
/// Sync` and meant to live behind an `Arc`.
#[derive(Debug)]
pub struct CompiledPolicy {
    policy: Policy,
    field_index: HashMap<FieldKey, usize>,
    step_index: HashMap<StepId, usize>,
    pub(crate) field_rules: Vec<FieldRules>,
    pub(crate) step_plans: Vec<StepPlan>,
    /// Step indices in the order they are considered: required first, then by priority
    /// (highest first), then document order.
    pub(crate) order: Vec<usize>,
    /// What a decision's explanation refers to by number.
    pub(crate) names: Arc<Names>,
}

/// Step ids and condition descriptions, shared by every decision so that building an
/// explanation costs no allocation per step.
#[derive(Debug, PartialEq)]
pub(crate) struct Names {
    pub(crate) steps: Vec<StepId>,
    pub(crate) conditions: Vec<Arc<str>>,
}

/// A field's validation rules in ready-to-use form.
#[derive(Debug, Default)]
pub(crate) struct FieldRules {
    pub(crate) pattern: Option<Regex>,
    pub(crate) min_number: Option<f64>,
    pub(crate) max_number: Option<f64>,
    pub(crate) min_date: Option<DateBound>,
    pub(crate) max_date: Option<DateBound>,
}

/// A step's trigger and fields in ready-to-use form.
#[derive(Debug)]
pub(crate) struct StepPlan {
    pub(crate) fields: Vec<usize>,
    pub(crate) on_signup: bool,
    pub(crate) on_login: bool,
    pub(crate) on_event: bool,
    pub(crate) condition: Option<CompiledCondition>,
}

// Here rather than in `policy.rs`, so that the document does not depend on its compiled form
// (which depends on the checks, which read the document).
impl Policy {
    /// Validates everything and prepares the policy for `decide` and answer validation.
    pub fn compile(&self) -> Result<CompiledPolicy, PolicyProblems> {
        CompiledPolicy::new(self.clone())
    }
}

impl CompiledPolicy {
    fn new(policy: Policy) -> Result<Self, PolicyProblems> {
        let mut problems = Problems::default();
        checks::check_document(&policy, &mut problems);
        let field_index = checks::check_fields(&policy, &mut problems);
        let field_rules = policy
            .fields
            .iter()
            .enumerate()
            .map(|(i, field)| field_rules(field, i, &mut problems))
            .collect();
        let step_index = checks::check_steps(&policy, &field_index, &mut problems);
        let mut conditions = Vec::new();
        let step_plans: Vec<StepPlan> = policy
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                step_plan(
                    step,
                    i,
                    &policy.fields,
                    &field_index,
                    &mut problems,
                    &mut conditions,
                )
            })
            .collect();
        checks::check_required_fields_are_asked(&policy, &mut problems);
        if !problems.0.is_empty() {
            return Err(PolicyProblems {
                problems: problems.0,
            });
        }
        let mut order: Vec<usize> = (0..policy.steps.len()).collect();
        order.sort_by_key(|&i| {
            let step = &policy.steps[i];
            (
                !step.mode.is_required(),
                std::cmp::Reverse(step.priority),
                i,
            )
        });
        let names = Arc::new(Names {
            steps: policy.steps.iter().map(|step| step.id.clone()).collect(),
            conditions,
        });
        Ok(Self {
            names,
            policy,
            field_index,
            step_index,
            field_rules,
            step_plans,
            order,
        })
    }

    /// The source document.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Every field, in document order.
    pub fn fields(&self) -> &[Field] {
        &self.policy.fields
    }

    /// Every step, in document order.
    pub fn steps(&self) -> &[Step] {
        &self.policy.steps
    }

    /// The field with this key.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.field_index.get(key).map(|&i| &self.policy.fields[i])
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.step_index.get(id).map(|&i| &self.policy.steps[i])
    }

    pub(crate) fn field_position(&self, key: &str) -> Option<usize> {
        self.field_index.get(key).copied()
    }
}

fn field_rules(field: &Field, i: usize, problems: &mut Problems) -> FieldRules {
    let mut rules = FieldRules::default();
    let path = format!("fields[{i}].validation");
    if let Some(pattern) = &field.validation.pattern {
        // Compiling the bare pattern first guarantees it is balanced, so that anchoring it
        // cannot change its meaning (`a)|(b` would otherwise escape the group).
        let build = |source: &str| regex::RegexBuilder::new(source).size_limit(1 << 20).build();
        match build(pattern).and_then(|_| build(&format!("^(?:{pattern})$"))) {
            Ok(regex) => rules.pattern = Some(regex),
            Err(error) => problems.push(
                format!("{path}.pattern"),
                format!("invalid regular expression: {error}"),
            ),
        }
    }
    for (name, limit, number, date) in [
        (
            "min",
            &field.validation.min,
            &mut rules.min_number,
            &mut rules.min_date,
        ),
        (
            "max",
            &field.validation.max,
            &mut rules.max_number,
            &mut rules.max_date,
        ),
    ] {
        match limit {
            None => {}
            Some(Limit::Number(value)) if value.is_finite() => *number = Some(*value),
            Some(Limit::Number(_)) => {
                problems.push(format!("{path}.{name}"), "must be a finite number");
            }
            Some(Limit::Date(text)) => match DateBound::parse(text) {
                Some(parsed) => *date = Some(parsed),
                None => problems.push(
                    format!("{path}.{name}"),
                    format!(
                        "{text:?} is not a date written YYYY-MM-DD, \"today\", or a distance \
                         from today such as \"-18y\", \"+30d\" (units d, w, m, y; at most 1000y)"
                    ),
                ),
            },
        }
    }
    rules
}

fn step_plan(
    step: &Step,
    i: usize,
    fields: &[Field],
    field_index: &HashMap<FieldKey, usize>,
    problems: &mut Problems,
    conditions: &mut Vec<Arc<str>>,
) -> StepPlan {
    let condition = step.trigger.condition.as_ref().and_then(|condition| {
        CompiledCondition::compile(
            condition,
            &format!("steps[{i}].trigger.condition"),
            fields,
            problems,
            conditions,
        )
    });
    StepPlan {
        fields: step
            .fields
            .iter()
            .filter_map(|key| field_index.get(key.as_str()).copied())
            .collect(),
        on_signup: step.trigger.moments.contains(&TriggerMoment::Signup),
        on_login: step.trigger.moments.contains(&TriggerMoment::Login),
        on_event: step.trigger.moments.contains(&TriggerMoment::Event),
        condition,
    }
}
