//! Steps: groups of fields asked together, with a trigger, a mode and a priority.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::condition::Condition;
use crate::duration::HumanDuration;
use crate::field::Localized;
use crate::ids::{FieldKey, StepId};

/// A group of fields asked together (or one at a time) when its trigger matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique `snake_case` identifier.
    pub id: StepId,
    /// Title of the prompt page per locale.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub title: Localized,
    /// Keys of the fields asked, in order (none for a `second_factor` step).
    #[serde(default)]
    pub fields: Vec<FieldKey>,
    /// The step asks the user to protect their account with a second factor (an authenticator
    /// app, their verified phone, a passkey) rather than for fields: it is due while they have
    /// none ([`crate::UserFacts::second_factor`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub second_factor: bool,
    /// Among steps of the same mode, a higher priority is asked first (ties: document order).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
    /// All fields on one page, or one question at a time.
    #[serde(default, skip_serializing_if = "Presentation::is_default")]
    pub presentation: Presentation,
    /// Required (blocks the sign-in) or optional (can be skipped).
    pub mode: StepMode,
    /// When the step applies.
    pub trigger: Trigger,
}

/// How a step's fields are presented.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presentation {
    /// Every missing field on one page.
    #[default]
    AllAtOnce,
    /// One missing field per page: `decide` asks for the first missing field only.
    OneAtATime,
}

impl Presentation {
    fn is_default(&self) -> bool {
        *self == Presentation::AllAtOnce
    }
}

/// Whether a step blocks the sign-in.
///
/// In a document: `mode = "required"` or `mode = { optional = { max_skips = 2 } }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ModeRepr", into = "ModeRepr")]
pub enum StepMode {
    /// Must be answered before the user proceeds.
    Required,
    /// Offers "skip for now".
    Optional {
        /// What happens when the user skips.
        skip: SkipPolicy,
    },
}

impl StepMode {
    /// Whether the mode is `Required`.
    pub fn is_required(&self) -> bool {
        matches!(self, StepMode::Required)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ModeRepr {
    Required,
    Optional(SkipPolicy),
}

impl From<ModeRepr> for StepMode {
    fn from(repr: ModeRepr) -> Self {
        match repr {
            ModeRepr::Required => StepMode::Required,
            ModeRepr::Optional(skip) => StepMode::Optional { skip },
        }
    }
}

impl From<StepMode> for ModeRepr {
    fn from(mode: StepMode) -> Self {
        match mode {
            StepMode::Required => ModeRepr::Required,
            StepMode::Optional { skip } => ModeRepr::Optional(skip),
        }
    }
}

/// The skip policy of an optional step.
///
/// After a skip the step is asked again once every configured interval has passed (both, when
/// both `reask_after_logins` and `reask_after` are set; at the next sign-in when neither is).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipPolicy {
    /// How many skips are allowed; unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_skips: Option<u32>,
    /// Ask again once the user has signed in this many more times (credentialed sign-ins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reask_after_logins: Option<u64>,
    /// Ask again once this much time has passed since the last skip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reask_after: Option<HumanDuration>,
    /// What happens once `max_skips` is reached.
    #[serde(default, skip_serializing_if = "AfterLastSkip::is_default")]
    pub after_last_skip: AfterLastSkip,
}

/// What happens once an optional step has been skipped `max_skips` times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterLastSkip {
    /// Never ask again.
    #[default]
    Stop,
    /// Ask again (after the re-ask interval) as a required step.
    Require,
}

impl AfterLastSkip {
    fn is_default(&self) -> bool {
        *self == AfterLastSkip::Stop
    }
}

/// When a step applies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// The moments at which the step may be asked.
    pub moments: Vec<TriggerMoment>,
    /// For the `event` moment: the event names that trigger the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
    /// An extra condition on the user and the moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
}

/// A kind of moment a trigger listens to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerMoment {
    /// Sign-up.
    Signup,
    /// Sign-in (credentialed or single sign-on).
    Login,
    /// A named in-app event.
    Event,
}

impl TriggerMoment {
    /// The name used in documents.
    pub fn name(self) -> &'static str {
        match self {
            TriggerMoment::Signup => "signup",
            TriggerMoment::Login => "login",
            TriggerMoment::Event => "event",
        }
    }
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}
