//! `decide`: at a moment, should this user be asked something, and what?

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use time::OffsetDateTime;

use crate::answers::{FieldError, stored_value_error};
use crate::compile::{CompiledPolicy, Names, StepPlan};
use crate::condition::Input;
use crate::facts::{KnownValue, Moment, MomentKind, PromptState, UserFacts};
use crate::field::{Field, FieldType};
use crate::ids::{FieldKey, StepId};
use crate::step::{AfterLastSkip, Presentation, Step, StepMode};

/// The result of `decide`: what to do, and why for every step.
///
/// The explanation is recorded compactly (no allocation per step) and rendered on demand by
/// [`Decision::explanation`].
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Proceed, or ask one step.
    pub outcome: Outcome,
    entries: Vec<Entry>,
    names: Arc<Names>,
    errors: Vec<String>,
    held_by_condition: bool,
    /// Where the known values of steps with every field known came from, by step index
    /// (filled by [`Decision::with_sources`] only).
    sources: Vec<(u32, Vec<(FieldKey, String)>)>,
}

impl Decision {
    /// Whether a required step with fields to ask was held back by its condition only. Such a
    /// step is due anyway when it was shown and not answered since (prompt history), so a
    /// caller that decided without the prompt history must decide again with it.
    pub fn required_step_held_by_condition(&self) -> bool {
        self.held_by_condition
    }

    /// The step to ask, if any.
    pub fn ask(&self) -> Option<&Ask> {
        match &self.outcome {
            Outcome::Ask(ask) => Some(ask),
            Outcome::Proceed => None,
        }
    }

    /// Every step with whether it was due and why, in decision order (required steps first,
    /// then by priority).
    pub fn explanation(&self) -> Vec<StepExplanation> {
        self.entries
            .iter()
            .map(|entry| self.render(entry))
            .collect()
    }

    /// The same decision whose explanation also says where known values came from
    /// (`given_name known from idp:google`), read from the `facts` it was decided with: for the
    /// simulator and the API, not the sign-in path (it allocates per step).
    pub fn with_sources(mut self, policy: &CompiledPolicy, facts: &UserFacts) -> Decision {
        let mut sources = Vec::new();
        for entry in &self.entries {
            if entry.reason != Compact::AllFieldsKnown {
                continue;
            }
            let Some(step) = policy.step(self.step_id(entry.step).as_str()) else {
                continue;
            };
            let known: Vec<(FieldKey, String)> = step
                .fields
                .iter()
                .filter_map(|key| {
                    let value = facts.values.get(key.as_str())?;
                    (!value.source.is_empty()).then(|| (key.clone(), value.source.clone()))
                })
                .collect();
            sources.push((entry.step, known));
        }
        self.sources = sources;
        self
    }

    /// Why one step was or was not due.
    pub fn explanation_of(&self, step: &str) -> Option<StepExplanation> {
        self.entries
            .iter()
            .find(|entry| self.step_id(entry.step).as_str() == step)
            .map(|entry| self.render(entry))
    }

    fn step_id(&self, index: u32) -> StepId {
        self.names
            .steps
            .get(index as usize)
            .cloned()
            .unwrap_or_else(|| StepId::new("?"))
    }

    fn condition(&self, index: u32) -> Arc<str> {
        self.names
            .conditions
            .get(index as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from("?"))
    }

    fn render(&self, entry: &Entry) -> StepExplanation {
        let reason = match entry.reason {
            Compact::MomentNotInTrigger(moment) => Reason::MomentNotInTrigger { moment },
            Compact::EventNotInTrigger => Reason::EventNotInTrigger,
            Compact::ConditionNotMet(condition) => Reason::ConditionNotMet {
                condition: self.condition(condition),
            },
            Compact::ConditionFailed { condition, error } => Reason::ConditionFailed {
                condition: self.condition(condition),
                error: self.errors.get(error as usize).cloned().unwrap_or_default(),
            },
            Compact::AllFieldsKnown => Reason::AllFieldsKnown {
                sources: self
                    .sources
                    .iter()
                    .find(|(step, _)| *step == entry.step)
                    .map(|(_, known)| known.clone())
                    .unwrap_or_default(),
            },
            Compact::HasSecondFactor => Reason::HasSecondFactor,
            Compact::SkippedThisSignin => Reason::SkippedThisSignin,
            Compact::SkippedWaiting { logins_left, until } => {
                Reason::SkippedWaiting { logins_left, until }
            }
            Compact::SkipLimitReached(skips) => Reason::SkipLimitReached { skips },
            Compact::OptionalLimitReached(limit) => Reason::OptionalLimitReached { limit },
            Compact::Due { required } => Reason::Due { required },
            Compact::Queued { behind } => Reason::Queued {
                behind: self.step_id(behind),
            },
        };
        StepExplanation {
            step: self.step_id(entry.step),
            due: entry.due,
            reason,
        }
    }
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut out = serializer.serialize_struct("Decision", 2)?;
        out.serialize_field("outcome", &self.outcome)?;
        out.serialize_field("explanation", &self.explanation())?;
        out.end()
    }
}

/// One step's line of the explanation, without allocation.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Entry {
    step: u32,
    due: bool,
    reason: Compact,
}

/// [`Reason`] with numbers instead of names.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Compact {
    MomentNotInTrigger(&'static str),
    EventNotInTrigger,
    ConditionNotMet(u32),
    ConditionFailed {
        condition: u32,
        error: u32,
    },
    AllFieldsKnown,
    HasSecondFactor,
    SkippedThisSignin,
    SkippedWaiting {
        logins_left: Option<u64>,
        until: Option<OffsetDateTime>,
    },
    SkipLimitReached(u32),
    OptionalLimitReached(u32),
    Due {
        required: bool,
    },
    Queued {
        behind: u32,
    },
}

/// What the caller should do now.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing to ask: carry on.
    Proceed,
    /// Ask this step.
    Ask(Ask),
}

/// A step to ask, with only the fields that are missing or stale.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ask {
    /// The step.
    pub step: StepId,
    /// The fields to ask now, in the step's order (only the first one for `one_at_a_time`).
    pub fields: Vec<FieldKey>,
    /// A `second_factor` step: the user is asked to set up a second factor (no fields).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub second_factor: bool,
    /// Whether the user must answer before proceeding (no "skip for now").
    pub required: bool,
    /// How the step is presented.
    pub presentation: Presentation,
    /// Values to pre-fill: a source's suggestion, or the current value of a stale field.
    pub prefill: BTreeMap<FieldKey, serde_json::Value>,
    /// Stored values asked again because they fail the field's current validation, with why
    /// (in English; a form shows the error in the user's locale by validating the pre-fill).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub invalid: BTreeMap<FieldKey, FieldError>,
}

/// Why one step was or was not due.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepExplanation {
    /// The step.
    pub step: StepId,
    /// Whether it was due (the asked step, or one waiting behind it).
    pub due: bool,
    /// Why.
    pub reason: Reason,
}

/// Why a step was or was not due. `Display` gives a sentence for people.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// The trigger does not listen to this kind of moment.
    MomentNotInTrigger {
        /// `signup`, `login` or `event`.
        moment: &'static str,
    },
    /// The event is not one of the trigger's events.
    EventNotInTrigger,
    /// The condition (or the part of it shown) did not hold.
    ConditionNotMet {
        /// The part that did not hold.
        condition: Arc<str>,
    },
    /// An expression in the condition failed; the trigger is treated as not matching.
    ConditionFailed {
        /// The expression.
        condition: Arc<str>,
        /// What went wrong.
        error: String,
    },
    /// Every field of the step is known and fresh; with where each value came from when the
    /// decision was made [`Decision::with_sources`].
    AllFieldsKnown {
        /// `(field, source)`: `idp:google`, `prompt`, `account`, `api`...
        sources: Vec<(FieldKey, String)>,
    },
    /// A `second_factor` step: the user has a second factor already.
    HasSecondFactor,
    /// The user skipped the step during this sign-in.
    SkippedThisSignin,
    /// The user skipped the step and the re-ask interval has not passed.
    SkippedWaiting {
        /// Credentialed sign-ins still to come before asking again.
        logins_left: Option<u64>,
        /// Time from which the step may be asked again.
        until: Option<OffsetDateTime>,
    },
    /// The user skipped the step as often as allowed, and the policy says stop.
    SkipLimitReached {
        /// How many times it was skipped.
        skips: u32,
    },
    /// The per-sign-in limit of optional prompts has been reached.
    OptionalLimitReached {
        /// The limit.
        limit: u32,
    },
    /// The step is due (some field is missing or stale) and is the one asked.
    Due {
        /// Whether it must be answered.
        required: bool,
    },
    /// The step is due, but another step is asked first.
    Queued {
        /// The step asked first.
        behind: StepId,
    },
}

impl Reason {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::MomentNotInTrigger { .. } => "moment_not_in_trigger",
            Reason::EventNotInTrigger => "event_not_in_trigger",
            Reason::ConditionNotMet { .. } => "condition_not_met",
            Reason::ConditionFailed { .. } => "condition_failed",
            Reason::AllFieldsKnown { .. } => "all_fields_known",
            Reason::HasSecondFactor => "has_second_factor",
            Reason::SkippedThisSignin => "skipped_this_signin",
            Reason::SkippedWaiting { .. } => "skipped_waiting",
            Reason::SkipLimitReached { .. } => "skip_limit_reached",
            Reason::OptionalLimitReached { .. } => "optional_limit_reached",
            Reason::Due { .. } => "due",
            Reason::Queued { .. } => "queued",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::MomentNotInTrigger { moment } => {
                write!(f, "trigger did not match: not asked at {moment} moments")
            }
            Reason::EventNotInTrigger => {
                f.write_str("trigger did not match: the event is not one of the step's events")
            }
            Reason::ConditionNotMet { condition } => {
                write!(f, "trigger did not match: condition not met: {condition}")
            }
            Reason::ConditionFailed { condition, error } => write!(
                f,
                "trigger did not match: condition could not be evaluated ({error}): {condition}"
            ),
            Reason::AllFieldsKnown { sources } => {
                f.write_str("all fields known")?;
                for (i, (field, source)) in sources.iter().enumerate() {
                    f.write_str(if i == 0 { " (" } else { "; " })?;
                    write!(f, "{field} known from {source}")?;
                }
                if !sources.is_empty() {
                    f.write_str(")")?;
                }
                Ok(())
            }
            Reason::HasSecondFactor => f.write_str("the user has a second factor"),
            Reason::SkippedThisSignin => f.write_str("skipped during this sign-in"),
            Reason::SkippedWaiting { logins_left, until } => {
                f.write_str("skipped; re-ask")?;
                if let Some(n) = logins_left {
                    let plural = if *n == 1 { "" } else { "s" };
                    write!(f, " after {n} more sign-in{plural}")?;
                }
                if let Some(t) = until {
                    if logins_left.is_some() {
                        f.write_str(" and")?;
                    }
                    let when = t
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_else(|_| t.to_string());
                    write!(f, " after {when}")?;
                }
                Ok(())
            }
            Reason::SkipLimitReached { skips } => {
                let plural = if *skips == 1 { "" } else { "s" };
                write!(
                    f,
                    "skipped {skips} time{plural}: skip limit reached, stopped asking"
                )
            }
            Reason::OptionalLimitReached { limit } => {
                let plural = if *limit == 1 { "" } else { "s" };
                write!(
                    f,
                    "limit of {limit} optional prompt{plural} per sign-in reached"
                )
            }
            Reason::Due { required: true } => {
                f.write_str("due: fields missing or stale (required)")
            }
            Reason::Due { required: false } => {
                f.write_str("due: fields missing or stale (optional)")
            }
            Reason::Queued { behind } => write!(f, "due, but step \"{behind}\" is asked first"),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Decides whether the user should be asked something at this moment.
///
/// A step is due when its trigger matches, at least one of its fields is missing (absent from
/// every source) or stale, and its skip policy allows asking now. Required steps come first;
/// at most `settings.max_optional_steps_per_signin` optional steps are asked per sign-in.
pub fn decide(
    policy: &CompiledPolicy,
    facts: &UserFacts,
    moment: &Moment,
    now: OffsetDateTime,
) -> Decision {
    let steps = policy.steps();
    let input = Input { facts, moment, now };
    let optional_limit = policy.policy().settings.max_optional_steps_per_signin;
    let optional_open = moment.optional_steps_asked < optional_limit;
    let mut entries = Vec::with_capacity(steps.len());
    let mut errors = Vec::new();
    let mut first_required: Option<(usize, usize)> = None;
    let mut first_optional: Option<(usize, usize)> = None;
    let mut held_by_condition = false;
    for &index in &policy.order {
        let step = &steps[index];
        let plan = &policy.step_plans[index];
        let status = step_status(policy, step, plan, &input, optional_open, optional_limit);
        let reason = match status {
            Ok(required) => {
                let slot = if required {
                    &mut first_required
                } else {
                    &mut first_optional
                };
                if slot.is_none() {
                    *slot = Some((index, entries.len()));
                }
                Compact::Due { required }
            }
            Err(Refused::Because(reason)) => {
                if matches!(reason, Compact::ConditionNotMet(_)) && step.mode.is_required() {
                    held_by_condition = true;
                }
                reason
            }
            Err(Refused::Failed { condition, error }) => {
                held_by_condition |= step.mode.is_required();
                let number = u32::try_from(errors.len()).unwrap_or(u32::MAX);
                errors.push(error.to_string());
                Compact::ConditionFailed {
                    condition,
                    error: number,
                }
            }
        };
        entries.push(Entry {
            // The number of steps is bounded by the document size limit.
            step: u32::try_from(index).unwrap_or(u32::MAX),
            due: matches!(reason, Compact::Due { .. }),
            reason,
        });
    }
    let names = Arc::clone(&policy.names);
    let Some((index, position)) = first_required.or(first_optional) else {
        return Decision {
            outcome: Outcome::Proceed,
            entries,
            names,
            errors,
            held_by_condition,
            sources: Vec::new(),
        };
    };
    let behind = u32::try_from(index).unwrap_or(u32::MAX);
    for (i, entry) in entries.iter_mut().enumerate() {
        if entry.due && i != position {
            entry.reason = Compact::Queued { behind };
        }
    }
    let ask = build_ask(policy, index, first_required.is_some(), facts, now);
    Decision {
        outcome: Outcome::Ask(ask),
        entries,
        names,
        errors,
        held_by_condition,
        sources: Vec::new(),
    }
}

/// Why a step is not due.
enum Refused {
    Because(Compact),
    Failed {
        condition: u32,
        error: crate::expr::ExpressionError,
    },
}

/// `Ok(required)` when the step is due, else why not.
fn step_status(
    policy: &CompiledPolicy,
    step: &Step,
    plan: &StepPlan,
    input: &Input<'_>,
    optional_open: bool,
    optional_limit: u32,
) -> Result<bool, Refused> {
    let not = |reason| Err(Refused::Because(reason));
    match &input.moment.kind {
        MomentKind::Signup if !plan.on_signup => {
            return not(Compact::MomentNotInTrigger("signup"));
        }
        MomentKind::Login if !plan.on_login => {
            return not(Compact::MomentNotInTrigger("login"));
        }
        MomentKind::Event { name } => {
            if !plan.on_event {
                return not(Compact::MomentNotInTrigger("event"));
            }
            if !step.trigger.events.iter().any(|event| event == name) {
                return not(Compact::EventNotInTrigger);
            }
        }
        _ => {}
    }
    // Presence before the condition: looking up known values is cheap, an expression is not.
    // One missing field is enough to be due: stop looking at the first.
    // A field the user deliberately left blank when answering the step counts as present.
    // A second_factor step has no fields: it is "known" once the user has a second factor.
    let state = || input.facts.prompts.get(step.id.as_str());
    let all_present = if step.second_factor {
        input.facts.second_factor
    } else {
        plan.fields.iter().all(|&i| {
            let field = &policy.fields()[i];
            is_present(field, input.facts, input.now)
                || state().is_some_and(|state| left_blank(field, state, input.facts, input.now))
        })
    };
    let known = if step.second_factor {
        Compact::HasSecondFactor
    } else {
        Compact::AllFieldsKnown
    };
    // The condition says when a step becomes due; a required step shown and not answered
    // since (the user left the page) stays due until it is answered, wherever its condition
    // still allows it (the same client and scopes; see `holds_once_due`).
    if let Some(condition) = &plan.condition
        && let Err(failure) = condition.evaluate(input)
        && !(step.mode.is_required()
            && state().is_some_and(shown_unanswered)
            && condition.holds_once_due(input))
    {
        // A step with nothing missing is not due whatever its condition says.
        if all_present {
            return not(known);
        }
        return Err(match failure.error {
            None => Refused::Because(Compact::ConditionNotMet(failure.condition)),
            Some(error) => Refused::Failed {
                condition: failure.condition,
                error,
            },
        });
    }
    // Validating values costs more than looking them up: only for steps whose trigger matched.
    if all_present
        && !plan
            .fields
            .iter()
            .any(|&i| asks_for(policy, i, state, input.facts, input.now))
    {
        return not(known);
    }
    if input
        .moment
        .skipped_this_signin
        .iter()
        .any(|id| *id == *step.id)
    {
        return not(Compact::SkippedThisSignin);
    }
    let StepMode::Optional { skip } = &step.mode else {
        return Ok(true);
    };
    let mut required = false;
    if let Some(state) = input.facts.prompts.get(step.id.as_str())
        && state.skipped > 0
    {
        let limit_reached = skip.max_skips.is_some_and(|max| state.skipped >= max);
        if limit_reached && skip.after_last_skip == AfterLastSkip::Stop {
            // "Stop" ends the request for missing values; a value the user gave after their
            // last skip and that now needs re-confirming is a new request, offered once more.
            if !given_since_last_skip_and_stale(policy.fields(), plan, state, input) {
                return not(Compact::SkipLimitReached(state.skipped));
            }
            return if optional_open {
                Ok(false)
            } else {
                not(Compact::OptionalLimitReached(optional_limit))
            };
        }
        let logins_left = skip.reask_after_logins.and_then(|n| {
            let due_at = state.logins_at_last_skip.unwrap_or(0).saturating_add(n);
            due_at
                .checked_sub(input.facts.credentialed_logins)
                .filter(|left| *left > 0)
        });
        let until = match (skip.reask_after, state.last_skipped_at) {
            (Some(interval), Some(at)) => interval.after(at).filter(|t| input.now < *t),
            _ => None,
        };
        if logins_left.is_some() || until.is_some() {
            return not(Compact::SkippedWaiting { logins_left, until });
        }
        required = limit_reached;
    }
    if !required && !optional_open {
        return not(Compact::OptionalLimitReached(optional_limit));
    }
    Ok(required)
}

/// The fields of step `id` that are missing or stale for `facts` at `now`, in the step's order:
/// every question a `one_at_a_time` step still has to ask, of which [`Ask::fields`] holds the
/// first. Empty for an unknown step.
pub fn missing_fields(
    policy: &CompiledPolicy,
    id: &str,
    facts: &UserFacts,
    now: OffsetDateTime,
) -> Vec<FieldKey> {
    let Some(index) = policy.steps().iter().position(|s| s.id.as_str() == id) else {
        return Vec::new();
    };
    let fields = policy.fields();
    let state = || facts.prompts.get(id);
    policy.step_plans[index]
        .fields
        .iter()
        .filter(|&&i| asks_for(policy, i, state, facts, now))
        .map(|&i| fields[i].key.clone())
        .collect()
}

/// Whether a field has a fresh value from any source (not yet validated).
fn is_present(field: &Field, facts: &UserFacts, now: OffsetDateTime) -> bool {
    facts
        .values
        .get(field.key.as_str())
        .is_some_and(|known| is_fresh(field, known, now))
}

/// Whether the field at `position` has a fresh value from any source that passes the field's
/// current validation.
fn is_known(
    policy: &CompiledPolicy,
    position: usize,
    facts: &UserFacts,
    now: OffsetDateTime,
) -> bool {
    let field = &policy.fields()[position];
    facts.values.get(field.key.as_str()).is_some_and(|known| {
        is_fresh(field, known, now)
            && stored_value_error(policy, position, &known.value, now.date()).is_none()
    })
}

/// Whether the step asks for `field` now: it has no fresh value, and the user did not leave
/// it blank when answering the step (see [`left_blank`]). `state` is the step's prompt state,
/// looked up only when needed.
fn asks_for<'a>(
    policy: &CompiledPolicy,
    position: usize,
    state: impl Fn() -> Option<&'a PromptState>,
    facts: &UserFacts,
    now: OffsetDateTime,
) -> bool {
    let field = &policy.fields()[position];
    !is_known(policy, position, facts, now)
        && !state().is_some_and(|state| left_blank(field, state, facts, now))
}

/// Whether the user deliberately left `field` blank when answering the step: an optional
/// field, still without a value, in the step's `declined` list, and (with `reconfirm_after`)
/// the step answered less than that period ago. A field added to the step since, or made
/// required since, is asked.
fn left_blank(field: &Field, state: &PromptState, facts: &UserFacts, now: OffsetDateTime) -> bool {
    !field.required
        && state.declined.iter().any(|key| key == field.key.as_str())
        && facts
            .values
            .get(field.key.as_str())
            .is_none_or(|known| known.value.is_null())
        && match (field.reconfirm_after, state.last_answered_at) {
            (Some(interval), Some(answered)) => interval.after(answered).is_none_or(|t| now < t),
            _ => true,
        }
}

/// Whether the step was shown and not answered since (the user left the page).
fn shown_unanswered(state: &PromptState) -> bool {
    state.last_shown_at.is_some_and(|shown| {
        state
            .last_answered_at
            .is_none_or(|answered| shown > answered)
    })
}

/// Whether some field of the step has a value, given after the step's last skip, that is no
/// longer fresh (its `reconfirm_after` passed, or a consent to an older version).
fn given_since_last_skip_and_stale(
    fields: &[Field],
    plan: &StepPlan,
    state: &PromptState,
    input: &Input<'_>,
) -> bool {
    let Some(skipped_at) = state.last_skipped_at else {
        return false;
    };
    plan.fields.iter().any(|&i| {
        let field = &fields[i];
        input
            .facts
            .values
            .get(field.key.as_str())
            .is_some_and(|known| {
                !known.value.is_null()
                    && known.updated_at.is_some_and(|at| at > skipped_at)
                    && !is_fresh(field, known, input.now)
            })
    })
}

/// Whether a value may pre-fill `field`: anything but a consent to another version than the
/// one asked (pre-filling it would show the new text as accepted).
fn may_prefill(field: &Field, value: &serde_json::Value) -> bool {
    field.kind != FieldType::Consent
        || value.get("version").and_then(|v| v.as_str()) == field.consent_version.as_deref()
}

/// Whether a known value counts as known now.
fn is_fresh(field: &Field, known: &KnownValue, now: OffsetDateTime) -> bool {
    if known.value.is_null() {
        return false;
    }
    if field.kind == FieldType::Consent
        && known.value.get("version").and_then(|v| v.as_str()) != field.consent_version.as_deref()
    {
        return false;
    }
    match (field.reconfirm_after, known.updated_at) {
        (Some(interval), Some(updated)) => interval.after(updated).is_none_or(|t| now < t),
        _ => true,
    }
}

fn build_ask(
    policy: &CompiledPolicy,
    index: usize,
    required: bool,
    facts: &UserFacts,
    now: OffsetDateTime,
) -> Ask {
    let step = &policy.steps()[index];
    let plan = &policy.step_plans[index];
    let fields = policy.fields();
    let take = match step.presentation {
        Presentation::AllAtOnce => usize::MAX,
        Presentation::OneAtATime => 1,
    };
    let mut keys = Vec::with_capacity(plan.fields.len().min(take));
    let mut prefill = BTreeMap::new();
    let mut invalid = BTreeMap::new();
    let state = || facts.prompts.get(step.id.as_str());
    for &i in &plan.fields {
        if keys.len() == take {
            break;
        }
        let field = &fields[i];
        if !asks_for(policy, i, state, facts, now) {
            continue;
        }
        let known = facts.values.get(field.key.as_str());
        // A fresh value asked again fails the field's current validation: say why.
        if let Some(known) = known.filter(|known| is_fresh(field, known, now))
            && let Some(error) = stored_value_error(policy, i, &known.value, now.date())
        {
            invalid.insert(field.key.clone(), error);
        }
        // A stale value is the user's own answer, to confirm; otherwise a source's suggestion.
        let suggestion = known
            .map(|known| &known.value)
            .filter(|value| !value.is_null())
            .or_else(|| {
                if facts.suggestions.is_empty() {
                    None
                } else {
                    facts.suggestions.get(field.key.as_str())
                }
            });
        if let Some(value) = suggestion.filter(|value| may_prefill(field, value)) {
            prefill.insert(field.key.clone(), value.clone());
        }
        keys.push(field.key.clone());
    }
    Ask {
        step: step.id.clone(),
        fields: keys,
        second_factor: step.second_factor,
        required,
        presentation: step.presentation,
        prefill,
        invalid,
    }
}
