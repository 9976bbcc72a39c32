//! Trigger conditions: a typed tree (all / any / not / leaves) that a UI can build, that is
//! validated when the policy is compiled, and whose failing part explains a decision.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::duration::HumanDuration;
use crate::expr::{Expression, ExpressionError};
use crate::facts::{Moment, UserFacts};
use crate::field::Field;
use crate::problems::Problems;

/// Deepest nesting of `all` / `any` / `not` accepted.
pub const MAX_CONDITION_DEPTH: usize = 16;

/// A condition on the user and the moment.
///
/// In TOML: `condition = { login_count = { exactly = 3 } }`,
/// `condition = { all = [ { client = { ids = ["shop"] } }, { not = { scopes = { any_of = ["admin"] } } } ] }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Every condition holds.
    All(Vec<Condition>),
    /// At least one condition holds.
    Any(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
    /// The client being entered is one of these.
    Client {
        /// Client ids.
        ids: Vec<String>,
    },
    /// The number of credentialed sign-ins (including the current one).
    LoginCount(LoginCount),
    /// The requested scopes.
    Scopes {
        /// At least one of these is requested.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        any_of: Vec<String>,
        /// All of these are requested.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        all_of: Vec<String>,
    },
    /// Time since the account was created.
    SinceSignup {
        /// At least this long ago.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_least: Option<HumanDuration>,
        /// At most this long ago.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_most: Option<HumanDuration>,
    },
    /// A CEL expression over `user` and `moment` (see `expr`).
    Expression {
        /// The CEL source.
        cel: String,
    },
}

/// A test on the credentialed sign-in count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LoginCount {
    /// The count is exactly n (`exactly = 3`: the third sign-in, the sign-up being the first).
    Exactly(u64),
    /// The count is n or more.
    AtLeast(u64),
    /// The count is a multiple of n.
    Every(u64),
}

impl LoginCount {
    /// Whether `count` passes the test.
    pub fn matches(self, count: u64) -> bool {
        match self {
            LoginCount::Exactly(n) => count == n,
            LoginCount::AtLeast(n) => count >= n,
            LoginCount::Every(n) => n != 0 && count != 0 && count.is_multiple_of(n),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::All(items) => write_list(f, "all of", items),
            Condition::Any(items) => write_list(f, "any of", items),
            Condition::Not(inner) => write!(f, "not ({inner})"),
            Condition::Client { ids } => write!(f, "client is one of [{}]", ids.join(", ")),
            // Says how sign-ins are counted, so that a simulation reads unambiguously.
            Condition::LoginCount(LoginCount::Exactly(n)) => {
                write!(f, "this is sign-in {n} (the sign-up is sign-in 1)")
            }
            Condition::LoginCount(LoginCount::AtLeast(n)) => {
                write!(f, "this is sign-in {n} or later (the sign-up is sign-in 1)")
            }
            Condition::LoginCount(LoginCount::Every(n)) => write!(
                f,
                "this is sign-in {n}, {}, {}... (the sign-up is sign-in 1)",
                n.saturating_mul(2),
                n.saturating_mul(3)
            ),
            Condition::Scopes { any_of, all_of } => {
                let mut parts = Vec::new();
                if !any_of.is_empty() {
                    parts.push(format!("any of [{}]", any_of.join(", ")));
                }
                if !all_of.is_empty() {
                    parts.push(format!("all of [{}]", all_of.join(", ")));
                }
                write!(f, "requested scopes include {}", parts.join(" and "))
            }
            Condition::SinceSignup { at_least, at_most } => {
                f.write_str("signed up")?;
                if let Some(d) = at_least {
                    write!(f, " at least {d} ago")?;
                }
                if let (Some(_), Some(_)) = (at_least, at_most) {
                    f.write_str(" and")?;
                }
                if let Some(d) = at_most {
                    write!(f, " at most {d} ago")?;
                }
                Ok(())
            }
            Condition::Expression { cel } => write!(f, "expression `{cel}`"),
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, label: &str, items: &[Condition]) -> fmt::Result {
    write!(f, "{label} (")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str("; ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(")")
}

/// A condition ready to evaluate: expressions compiled, descriptions precomputed (in the
/// policy's table of descriptions, so that a decision refers to them by number).
#[derive(Debug)]
pub(crate) struct CompiledCondition {
    test: Test,
    description: u32,
}

#[derive(Debug)]
enum Test {
    All(Vec<CompiledCondition>),
    Any(Vec<CompiledCondition>),
    Not(Box<CompiledCondition>),
    Client(Vec<String>),
    LoginCount(LoginCount),
    Scopes {
        any_of: Vec<String>,
        all_of: Vec<String>,
    },
    SinceSignup {
        at_least: Option<HumanDuration>,
        at_most: Option<HumanDuration>,
    },
    Expression(Expression),
}

/// The part of a condition that did not hold.
#[derive(Debug)]
pub(crate) struct Failure {
    /// Index of its description in the policy's table.
    pub(crate) condition: u32,
    pub(crate) error: Option<ExpressionError>,
}

/// What a condition is evaluated against.
pub(crate) struct Input<'a> {
    pub(crate) facts: &'a UserFacts,
    pub(crate) moment: &'a Moment,
    pub(crate) now: OffsetDateTime,
}

impl CompiledCondition {
    /// Compiles `condition`, recording every problem under `path`; `None` when there were any.
    /// Expressions are checked against the policy's `fields`.
    pub(crate) fn compile(
        condition: &Condition,
        path: &str,
        fields: &[Field],
        problems: &mut Problems,
        descriptions: &mut Vec<Arc<str>>,
    ) -> Option<Self> {
        compile_at(condition, path, 0, fields, problems, descriptions)
    }

    /// `Ok` when the condition holds, else the part that did not.
    pub(crate) fn evaluate(&self, input: &Input<'_>) -> Result<(), Failure> {
        let holds = match &self.test {
            Test::All(items) => {
                for item in items {
                    item.evaluate(input)?;
                }
                true
            }
            Test::Any(items) => items.iter().any(|item| item.evaluate(input).is_ok()),
            Test::Not(inner) => inner.evaluate(input).is_err(),
            Test::Client(ids) => input
                .moment
                .client_id
                .as_deref()
                .is_some_and(|client| ids.iter().any(|id| id == client)),
            Test::LoginCount(test) => test.matches(input.facts.credentialed_logins),
            Test::Scopes { any_of, all_of } => {
                let requested = |scope: &String| input.moment.scopes.contains(scope);
                (any_of.is_empty() || any_of.iter().any(requested)) && all_of.iter().all(requested)
            }
            Test::SinceSignup { at_least, at_most } => {
                let created = input.facts.created_at;
                let old_enough =
                    at_least.is_none_or(|d| d.after(created).is_some_and(|t| input.now >= t));
                let young_enough =
                    at_most.is_none_or(|d| d.after(created).is_none_or(|t| input.now <= t));
                old_enough && young_enough
            }
            Test::Expression(expression) => {
                match expression.evaluate(input.facts, input.moment, input.now) {
                    Ok(value) => value,
                    Err(error) => {
                        return Err(Failure {
                            condition: self.description,
                            error: Some(error),
                        });
                    }
                }
            }
        };
        if holds {
            Ok(())
        } else {
            Err(Failure {
                condition: self.description,
                error: None,
            })
        }
    }
}

impl CompiledCondition {
    /// Whether a required step shown at an earlier sign-in and not answered since still meets
    /// this condition now. The parts that only say *when* a step becomes due (the sign-in count,
    /// the time since sign-up) are left open, since they held when the step was shown; the parts
    /// that say *where* (the client, the scopes, an expression) must hold now, so a step asked for
    /// one application does not follow the user into another. Open parts are three-valued: the
    /// condition fails only when it is false whatever the open parts are.
    pub(crate) fn holds_once_due(&self, input: &Input<'_>) -> bool {
        self.open_truth(input) != Some(false)
    }

    /// The condition's truth with the sign-in count and time since sign-up unknown (`None`).
    fn open_truth(&self, input: &Input<'_>) -> Option<bool> {
        match &self.test {
            Test::LoginCount(_) | Test::SinceSignup { .. } => None,
            Test::All(items) => items
                .iter()
                .try_fold(Some(true), |acc, item| match item.open_truth(input) {
                    Some(false) => Err(()),
                    Some(true) => Ok(acc),
                    None => Ok(None),
                })
                .unwrap_or(Some(false)),
            Test::Any(items) => items
                .iter()
                .try_fold(Some(false), |acc, item| match item.open_truth(input) {
                    Some(true) => Err(()),
                    Some(false) => Ok(acc),
                    None => Ok(None),
                })
                .map_or(Some(true), |truth| truth),
            Test::Not(inner) => inner.open_truth(input).map(|truth| !truth),
            _ => Some(self.evaluate(input).is_ok()),
        }
    }
}

fn compile_at(
    condition: &Condition,
    path: &str,
    depth: usize,
    fields: &[Field],
    problems: &mut Problems,
    descriptions: &mut Vec<Arc<str>>,
) -> Option<CompiledCondition> {
    if depth > MAX_CONDITION_DEPTH {
        problems.push(
            path,
            format!("conditions are nested deeper than {MAX_CONDITION_DEPTH} levels"),
        );
        return None;
    }
    let before = problems.0.len();
    let list = |items: &[Condition],
                name: &str,
                problems: &mut Problems,
                descriptions: &mut Vec<Arc<str>>| {
        let mut compiled = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{path}.{name}[{i}]");
            compiled.push(compile_at(
                item,
                &item_path,
                depth + 1,
                fields,
                problems,
                descriptions,
            ));
        }
        compiled.into_iter().collect::<Option<Vec<_>>>()
    };
    let test = match condition {
        Condition::All(items) => {
            if items.is_empty() {
                problems.push(path, "`all` needs at least one condition");
            }
            list(items, "all", problems, descriptions).map(Test::All)
        }
        Condition::Any(items) => {
            if items.is_empty() {
                problems.push(path, "`any` with no condition never matches");
            }
            list(items, "any", problems, descriptions).map(Test::Any)
        }
        Condition::Not(inner) => compile_at(
            inner,
            &format!("{path}.not"),
            depth + 1,
            fields,
            problems,
            descriptions,
        )
        .map(|inner| Test::Not(Box::new(inner))),
        Condition::Client { ids } => {
            if ids.is_empty() {
                problems.push(
                    format!("{path}.client.ids"),
                    "no client listed: the condition never matches",
                );
            }
            Some(Test::Client(ids.clone()))
        }
        Condition::LoginCount(test) => {
            if let LoginCount::Every(0) = test {
                problems.push(
                    format!("{path}.login_count.every"),
                    "`every = 0` never matches; use 1 for every sign-in",
                );
            }
            Some(Test::LoginCount(*test))
        }
        Condition::Scopes { any_of, all_of } => {
            if any_of.is_empty() && all_of.is_empty() {
                problems.push(
                    format!("{path}.scopes"),
                    "give `any_of` or `all_of` (or both)",
                );
            }
            Some(Test::Scopes {
                any_of: any_of.clone(),
                all_of: all_of.clone(),
            })
        }
        Condition::SinceSignup { at_least, at_most } => {
            match (at_least, at_most) {
                (None, None) => problems.push(
                    format!("{path}.since_signup"),
                    "give `at_least` or `at_most` (or both)",
                ),
                (Some(low), Some(high)) if low > high => problems.push(
                    format!("{path}.since_signup"),
                    format!("impossible: at least {low} but at most {high}"),
                ),
                _ => {}
            }
            for (name, bound) in [("at_least", at_least), ("at_most", at_most)] {
                if let Some(problem) = bound.and_then(|d| d.too_long()) {
                    problems.push(format!("{path}.since_signup.{name}"), problem);
                }
            }
            Some(Test::SinceSignup {
                at_least: *at_least,
                at_most: *at_most,
            })
        }
        Condition::Expression { cel } => match Expression::compile(cel) {
            Ok(expression) => {
                for problem in expression.check(fields) {
                    problems.push(format!("{path}.expression.cel"), problem);
                }
                Some(Test::Expression(expression))
            }
            Err(error) => {
                problems.push(format!("{path}.expression.cel"), error.to_string());
                None
            }
        },
    };
    if problems.0.len() > before {
        return None;
    }
    let description = u32::try_from(descriptions.len()).ok()?;
    descriptions.push(Arc::from(condition.to_string()));
    test.map(|test| CompiledCondition { test, description })
}
