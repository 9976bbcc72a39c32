//! The sandboxed expression language of trigger conditions (CEL), behind our own type.
//!
//! This is the only file that knows about the `cel` crate, so that its API churn stays here.
//! An expression is compiled once, when the policy is compiled, and evaluated against two
//! variables:
//!
//! - `user`: `{ logins, sso_logins, days_since_signup, values: { <field key>: <value> },
//!   facts: { <name>: <value> } }` (`facts`: what post-sign-in hooks said, see docs/hooks.md)
//! - `moment`: `{ kind: "signup" | "login" | "event", event, client, scopes: [..] }`
//!   (`event` and `client` are empty strings when absent).

mod check;

use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::facts::{Moment, MomentKind, UserFacts};
use crate::field::Field;

/// Longest expression source accepted, in bytes.
pub const MAX_EXPRESSION_LEN: usize = 2048;

/// A compiled CEL expression that evaluates to a boolean.
pub struct Expression {
    source: String,
    program: cel::Program,
    env: Arc<cel::Env>,
    /// Whether the source can reach `user.values` (converting every value costs time).
    reads_values: bool,
    /// Whether the source can reach `user.facts`.
    reads_facts: bool,
}

/// Why an expression could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    /// The source does not parse.
    #[error("expression does not compile: {0}")]
    Compile(String),
    /// The source is longer than [`MAX_EXPRESSION_LEN`].
    #[error("expression is longer than {MAX_EXPRESSION_LEN} bytes")]
    TooLong,
    /// Evaluation failed (unknown variable, type mismatch, ...).
    #[error("expression failed: {0}")]
    Evaluate(String),
    /// The expression gave something other than true or false.
    #[error("expression gave {0}, not a boolean")]
    NotBoolean(String),
}

impl Expression {
    /// Compiles `source`.
    pub fn compile(source: &str) -> Result<Self, ExpressionError> {
        if source.len() > MAX_EXPRESSION_LEN {
            return Err(ExpressionError::TooLong);
        }
        let env = Arc::new(cel::Env::stdlib());
        // The parser is third-party code fed with administrator input: a panic in it must not
        // take the server down, so it is contained and reported as a compile error.
        let compiled = catch_unwind(AssertUnwindSafe(|| env.compile(source)));
        match compiled {
            Ok(Ok(program)) => Ok(Self {
                source: source.to_owned(),
                program,
                env,
                // Any access to the map (`user.values`, `user["values"]`) spells its name.
                reads_values: source.contains("values"),
                reads_facts: source.contains("facts"),
            }),
            Ok(Err(errors)) => Err(ExpressionError::Compile(errors.to_string())),
            Err(_) => Err(ExpressionError::Compile("the parser gave up".to_owned())),
        }
    }

    /// Problems with the names and comparisons of the expression, given the policy's `fields`
    /// (the keys of `user.values`): unknown variables, unknown members of `user`, `moment` and
    /// `user.values` (with a suggestion when one is close), and comparisons of a known value
    /// with a literal of another type. Empty when the expression can work.
    pub fn check(&self, fields: &[Field]) -> Vec<String> {
        let checker = check::Checker::new(fields, self.program.source_info(), &self.env);
        // The walk only reads the tree; a panic in it is contained like the parser's.
        catch_unwind(AssertUnwindSafe(|| checker.run(self.program.expression())))
            .unwrap_or_default()
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression for a user at a moment.
    pub fn evaluate(
        &self,
        facts: &UserFacts,
        moment: &Moment,
        now: OffsetDateTime,
    ) -> Result<bool, ExpressionError> {
        let mut context = cel::Context::with_env(Arc::clone(&self.env));
        context.add_variable_from_value(
            "user",
            user_variable(facts, now, (self.reads_values, self.reads_facts))?,
        );
        context.add_variable_from_value("moment", moment_variable(moment));
        let result = catch_unwind(AssertUnwindSafe(|| self.program.execute(&context)));
        match result {
            Ok(Ok(cel::Value::Bool(value))) => Ok(value),
            Ok(Ok(other)) => Err(ExpressionError::NotBoolean(format!("{other:?}"))),
            Ok(Err(error)) => Err(ExpressionError::Evaluate(error.to_string())),
            Err(_) => Err(ExpressionError::Evaluate(
                "the evaluator gave up".to_owned(),
            )),
        }
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expression").field(&self.source).finish()
    }
}

fn user_variable(
    facts: &UserFacts,
    now: OffsetDateTime,
    (with_values, with_facts): (bool, bool),
) -> Result<cel::Value, ExpressionError> {
    let mut values: HashMap<String, cel::Value> = HashMap::new();
    if with_values {
        values.reserve(facts.values.len());
        for (key, known) in &facts.values {
            let value = cel::to_value(&known.value)
                .map_err(|e| ExpressionError::Evaluate(e.to_string()))?;
            values.insert(key.clone(), value);
        }
    }
    let mut user: HashMap<&str, cel::Value> = HashMap::from([
        ("logins", cel::Value::UInt(facts.credentialed_logins)),
        ("sso_logins", cel::Value::UInt(facts.sso_logins)),
        (
            "days_since_signup",
            cel::Value::Int((now - facts.created_at).whole_days()),
        ),
        ("values", cel::Value::from(values)),
    ]);
    // Only an expression that names `facts` pays for them.
    if with_facts {
        let mut external: HashMap<String, cel::Value> = HashMap::with_capacity(facts.facts.len());
        for (name, value) in &facts.facts {
            let value =
                cel::to_value(value).map_err(|e| ExpressionError::Evaluate(e.to_string()))?;
            external.insert(name.clone(), value);
        }
        user.insert("facts", cel::Value::from(external));
    }
    Ok(cel::Value::from(user))
}

fn moment_variable(moment: &Moment) -> cel::Value {
    let (kind, event) = match &moment.kind {
        MomentKind::Signup => ("signup", ""),
        MomentKind::Login => ("login", ""),
        MomentKind::Event { name } => ("event", name.as_str()),
    };
    let scopes: Vec<cel::Value> = moment
        .scopes
        .iter()
        .map(|scope| cel::Value::from(scope.as_str()))
        .collect();
    let fields: HashMap<&str, cel::Value> = HashMap::from([
        ("kind", cel::Value::from(kind)),
        ("event", cel::Value::from(event)),
        (
            "client",
            cel::Value::from(moment.client_id.as_deref().unwrap_or("")),
        ),
        ("scopes", cel::Value::from(scopes)),
    ]);
    cel::Value::from(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn compiled_expressions_can_be_shared_between_threads() {
        assert_send_sync::<Expression>();
    }
}
