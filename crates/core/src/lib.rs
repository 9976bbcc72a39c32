//! The progressive profiling engine of Accrete.
//!
//! A pure library (no I/O, no async, no clock of its own: time is an argument) that knows which
//! profile fields exist, validates answers, and decides at each moment whether a user should be
//! asked something:
//!
//! - [`Policy`] is the document (TOML or JSON) of [`Field`]s and [`Step`]s;
//!   [`Policy::compile`] validates it into a [`CompiledPolicy`].
//! - [`decide`] takes the compiled policy, the user's [`UserFacts`], the [`Moment`] and the
//!   time, and returns a [`Decision`] with an explanation for every step.
//! - [`validate_answers`] (form posts) and [`validate_json_answers`] (API) turn raw answers into
//!   typed values or per-field errors in the user's locale.
#![warn(missing_docs)]

mod answers;
mod checks;
mod compile;
mod condition;
mod dates;
mod decide;
mod duration;
mod expr;
mod facts;
mod field;
mod ids;
mod policy;
mod problems;
mod report;
mod step;
mod web_url;

pub use answers::{
    Answers, FORM_ERROR_KEY, FieldError, FieldErrors, JsonAnswers, MAX_FIELDS_PER_ANSWER,
    MAX_VALUE_BYTES, MAX_VALUES_PER_FIELD, RawAnswers, consent_record_as_given, country_codes,
    validate_answers, validate_json_answers, validate_step_answers,
};
pub use checks::MAX_TEXT_CHARS;
pub use compile::CompiledPolicy;
pub use condition::{Condition, LoginCount, MAX_CONDITION_DEPTH};
pub use decide::{Ask, Decision, Outcome, Reason, StepExplanation, decide, missing_fields};
pub use duration::{DurationError, HumanDuration};
pub use expr::{Expression, ExpressionError, MAX_EXPRESSION_LEN};
pub use facts::{KnownValue, Moment, MomentKind, PromptState, UserFacts};
pub use field::{
    Field, FieldOption, FieldType, Limit, Localized, STANDARD_CLAIMS, Storage, UserAccess,
    Validation, localized,
};
pub use ids::{FieldKey, StepId};
pub use policy::{MAX_POLICY_BYTES, POLICY_VERSION, Policy, PolicyError, Settings};
pub use problems::{PolicyProblems, Problem};
pub use report::{decision_json, decision_text};
pub use step::{AfterLastSkip, Presentation, SkipPolicy, Step, StepMode, Trigger, TriggerMoment};
