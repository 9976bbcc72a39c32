//! Checks a parsed expression against the variables the engine provides, so that a misspelt
//! name or a comparison that can never hold is a problem when the policy is validated instead
//! of a step that silently never fires.
//!
//! The check is exact in one direction: it only refuses what cannot work when evaluated
//! (an unknown variable, an unknown member of `user` / `moment` / `user.values`, a comparison of
//! a known value with a literal of another type). Anything it cannot see through is accepted.

use std::sync::Arc;

use cel::common::ast::{CallExpr, Expr, IdedExpr, LiteralValue, operators};

use crate::field::{Field, FieldType};
use crate::problems::did_you_mean;

/// The members of the `user` variable (see the module documentation of `expr`).
const USER_MEMBERS: [&str; 5] = [
    "logins",
    "sso_logins",
    "days_since_signup",
    "values",
    "facts",
];
/// The members of the `moment` variable.
const MOMENT_MEMBERS: [&str; 4] = ["kind", "event", "client", "scopes"];
/// The variables an expression may name.
const VARIABLES: [&str; 2] = ["user", "moment"];

/// The type of a value, as far as a comparison is concerned (CEL compares int, uint and double
/// with each other).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    String,
    Bool,
    Bytes,
    List,
    Map,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::Bool => "a boolean",
            Kind::Bytes => "bytes",
            Kind::List => "a list",
            Kind::Map => "a map",
        }
    }

    fn of_field(kind: FieldType) -> Kind {
        match kind {
            FieldType::Integer | FieldType::Number => Kind::Number,
            FieldType::Boolean => Kind::Bool,
            FieldType::Multiselect => Kind::List,
            FieldType::Consent => Kind::Map,
            FieldType::Text
            | FieldType::Textarea
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Url
            | FieldType::Date
            | FieldType::Select
            | FieldType::Country => Kind::String,
        }
    }

    fn of_literal(literal: &LiteralValue) -> Option<Kind> {
        match literal {
            LiteralValue::Boolean(_) => Some(Kind::Bool),
            LiteralValue::Bytes(_) => Some(Kind::Bytes),
            LiteralValue::Double(_) | LiteralValue::Int(_) | LiteralValue::UInt(_) => {
                Some(Kind::Number)
            }
            LiteralValue::String(_) => Some(Kind::String),
            LiteralValue::Null => None,
        }
    }
}

/// What a name (a variable and the members selected on it) refers to.
#[derive(Clone, Copy)]
enum Target {
    User,
    Moment,
    Values,
    Value(Kind),
    /// Something the check does not follow (a member of a consent value, a function's result).
    Opaque,
}

impl Target {
    fn kind(self) -> Option<Kind> {
        match self {
            Target::User | Target::Moment | Target::Values => Some(Kind::Map),
            Target::Value(kind) => Some(kind),
            Target::Opaque => None,
        }
    }
}

pub(super) struct Checker<'a> {
    fields: &'a [Field],
    offsets: &'a cel::common::ast::SourceInfo,
    env: &'a Arc<cel::Env>,
    /// Variables bound by comprehensions (`exists(s, ...)`) around the node being checked.
    bound: Vec<String>,
    problems: Vec<String>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(
        fields: &'a [Field],
        offsets: &'a cel::common::ast::SourceInfo,
        env: &'a Arc<cel::Env>,
    ) -> Self {
        Self {
            fields,
            offsets,
            env,
            bound: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Where node `id` was written, for messages: ` (at character 5)`; `shift` moves past a
    /// leading `.` or quote.
    fn at(&self, id: u64, shift: u32) -> String {
        self.offsets
            .offset_for(id)
            .map(|(start, _)| format!(" (at character {})", start + 1 + shift))
            .unwrap_or_default()
    }

    fn push(&mut self, id: u64, shift: u32, message: String) {
        let at = self.at(id, shift);
        self.problems.push(format!("{message}{at}"));
    }

    /// Checks the whole expression; returns the problems found.
    pub(super) fn run(mut self, root: &IdedExpr) -> Vec<String> {
        self.visit(root);
        self.problems
    }

    /// Checks `node` and everything under it; returns what it refers to, when known.
    fn visit(&mut self, node: &IdedExpr) -> Target {
        match &node.expr {
            Expr::Ident(name) => self.ident(node.id, name),
            Expr::Select(select) => {
                if !select.test && self.names_a_type(node) {
                    return Target::Opaque;
                }
                let operand = self.visit(&select.operand);
                let target = self.member(node.id, operand, &select.field);
                if select.test {
                    Target::Value(Kind::Bool)
                } else {
                    target
                }
            }
            Expr::Call(call) => self.call(node.id, call),
            Expr::Comprehension(comprehension) => {
                self.visit(&comprehension.iter_range);
                self.visit(&comprehension.accu_init);
                let before = self.bound.len();
                self.bound.push(comprehension.iter_var.clone());
                if let Some(second) = &comprehension.iter_var2 {
                    self.bound.push(second.clone());
                }
                self.bound.push(comprehension.accu_var.clone());
                self.visit(&comprehension.loop_cond);
                self.visit(&comprehension.loop_step);
                self.visit(&comprehension.result);
                self.bound.truncate(before);
                Target::Opaque
            }
            Expr::List(list) => {
                for element in &list.elements {
                    self.visit(element);
                }
                Target::Value(Kind::List)
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(entry) = &entry.expr {
                        self.visit(&entry.key);
                        self.visit(&entry.value);
                    }
                }
                Target::Value(Kind::Map)
            }
            Expr::Struct(structure) => {
                for entry in &structure.entries {
                    if let cel::common::ast::EntryExpr::StructField(field) = &entry.expr {
                        self.visit(&field.value);
                    }
                }
                Target::Opaque
            }
            Expr::Literal(literal) => {
                Kind::of_literal(literal).map_or(Target::Opaque, Target::Value)
            }
            Expr::Unspecified => Target::Opaque,
        }
    }

    fn ident(&mut self, id: u64, name: &str) -> Target {
        if self.bound.iter().any(|bound| bound == name) {
            return Target::Opaque;
        }
        match name {
            "user" => Target::User,
            "moment" => Target::Moment,
            // A type name (`int`, `string`, ...) resolves without a variable: ask the
            // evaluator itself, so that the check never refuses what evaluates today.
            _ if self.resolves_without_variables(name) => Target::Opaque,
            _ => {
                let hint = did_you_mean(name, VARIABLES.into_iter());
                self.push(
                    id,
                    0,
                    format!(
                        "unknown variable \"{name}\"{hint} (an expression may use `user` and \
                         `moment`)"
                    ),
                );
                Target::Opaque
            }
        }
    }

    /// Whether `node` spells a qualified name (`google.protobuf.Duration`) rooted in no
    /// variable that resolves without variables: a type, not a mistake.
    fn names_a_type(&self, node: &IdedExpr) -> bool {
        let mut segments = Vec::new();
        let mut expr = &node.expr;
        let root = loop {
            match expr {
                Expr::Ident(name) => break name,
                Expr::Select(select) if !select.test => {
                    segments.push(select.field.as_str());
                    expr = &select.operand.expr;
                }
                _ => return false,
            }
        };
        if VARIABLES.contains(&root.as_str()) || self.bound.iter().any(|bound| bound == root) {
            return false;
        }
        segments.push(root);
        segments.reverse();
        (1..=segments.len()).any(|len| self.resolves_without_variables(&segments[..len].join(".")))
    }

    fn resolves_without_variables(&self, name: &str) -> bool {
        let Ok(program) = self.env.compile(name) else {
            return false;
        };
        let context = cel::Context::with_env(Arc::clone(self.env));
        program.execute(&context).is_ok()
    }

    /// Checks `member` of `operand` (written at node `id`).
    fn member(&mut self, id: u64, operand: Target, member: &str) -> Target {
        match operand {
            Target::User => match member {
                "logins" | "sso_logins" | "days_since_signup" => Target::Value(Kind::Number),
                "values" => Target::Values,
                // Named by the hooks at run time: any name may be there.
                "facts" => Target::Opaque,
                _ => {
                    let hint = did_you_mean(member, USER_MEMBERS.into_iter());
                    self.push(
                        id,
                        1,
                        format!(
                            "`user` has no member \"{member}\"{hint} (it has {})",
                            USER_MEMBERS.join(", ")
                        ),
                    );
                    Target::Opaque
                }
            },
            Target::Moment => match member {
                "kind" | "event" | "client" => Target::Value(Kind::String),
                "scopes" => Target::Value(Kind::List),
                _ => {
                    let hint = did_you_mean(member, MOMENT_MEMBERS.into_iter());
                    self.push(
                        id,
                        1,
                        format!(
                            "`moment` has no member \"{member}\"{hint} (it has {})",
                            MOMENT_MEMBERS.join(", ")
                        ),
                    );
                    Target::Opaque
                }
            },
            Target::Values => match self.fields.iter().find(|f| f.key.as_str() == member) {
                Some(field) => Target::Value(Kind::of_field(field.kind)),
                None => {
                    let hint = did_you_mean(member, self.fields.iter().map(|f| f.key.as_str()));
                    self.push(
                        id,
                        1,
                        format!(
                            "`user.values` has no field \"{member}\"{hint} (it holds the \
                             policy's fields)"
                        ),
                    );
                    Target::Opaque
                }
            },
            Target::Value(_) | Target::Opaque => Target::Opaque,
        }
    }

    fn call(&mut self, id: u64, call: &CallExpr) -> Target {
        let target = call.target.as_deref().map(|target| self.visit(target));
        let args: Vec<Target> = call.args.iter().map(|arg| self.visit(arg)).collect();
        match (
            call.func_name.as_str(),
            call.args.as_slice(),
            args.as_slice(),
        ) {
            // `user["logins"]` is `user.logins`.
            (operators::INDEX, [_, key], [operand, _]) if target.is_none() => match &key.expr {
                Expr::Literal(LiteralValue::String(name)) => {
                    self.member(key.id, *operand, name.inner())
                }
                _ => Target::Opaque,
            },
            (
                operators::EQUALS
                | operators::NOT_EQUALS
                | operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                [left, right],
                [left_target, right_target],
            ) if target.is_none() => {
                self.compare(id, (left, *left_target), (right, *right_target));
                Target::Value(Kind::Bool)
            }
            _ => Target::Opaque,
        }
    }

    /// A known value compared with a literal of another type never holds (or fails).
    fn compare(&mut self, id: u64, left: (&IdedExpr, Target), right: (&IdedExpr, Target)) {
        let literal_kind = |node: &IdedExpr| match &node.expr {
            Expr::Literal(literal) => Kind::of_literal(literal),
            _ => None,
        };
        for ((named, named_target), (literal, _)) in [(left, right), (right, left)] {
            if matches!(named.expr, Expr::Literal(_)) {
                continue;
            }
            let (Some(known), Some(other)) = (named_target.kind(), literal_kind(literal)) else {
                continue;
            };
            if known != other {
                let name = describe(named);
                let value = literal_text(literal);
                self.push(
                    id,
                    0,
                    format!(
                        "compares {name} ({}) with {value} ({}): this is never true",
                        known.name(),
                        other.name()
                    ),
                );
                return;
            }
        }
    }
}

/// A literal as written in CEL, for messages.
fn literal_text(node: &IdedExpr) -> String {
    let text = match &node.expr {
        Expr::Literal(LiteralValue::String(text)) => format!("{:?}", text.inner()),
        Expr::Literal(LiteralValue::Int(n)) => n.inner().to_string(),
        Expr::Literal(LiteralValue::UInt(n)) => format!("{}u", n.inner()),
        Expr::Literal(LiteralValue::Double(n)) => n.inner().to_string(),
        Expr::Literal(LiteralValue::Boolean(b)) => b.inner().to_string(),
        _ => return "a literal".to_owned(),
    };
    format!("`{}`", text.chars().take(64).collect::<String>())
}

/// `user.values.size` for the name a node spells, else "a value".
fn describe(node: &IdedExpr) -> String {
    fn path(expr: &Expr) -> Option<String> {
        match expr {
            Expr::Ident(name) => Some(name.clone()),
            Expr::Select(select) if !select.test => {
                Some(format!("{}.{}", path(&select.operand.expr)?, select.field))
            }
            Expr::Call(call) if call.func_name == operators::INDEX && call.target.is_none() => {
                match call.args.as_slice() {
                    [operand, key] => match &key.expr {
                        Expr::Literal(LiteralValue::String(name)) => {
                            Some(format!("{}.{}", path(&operand.expr)?, name.inner()))
                        }
                        _ => None,
                    },
                    _ => None,
                }
            }
            _ => None,
        }
    }
    path(&node.expr).map_or_else(|| "a value".to_owned(), |name| format!("`{name}`"))
}
