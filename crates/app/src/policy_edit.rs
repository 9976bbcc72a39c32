//! Editing the policy a piece at a time (the console's field and step forms, its source view):
//! each edit starts from the working document — the draft, else the published version, else an
//! empty policy —, replaces or removes one field or step, and is saved as the draft only when
//! the whole document compiles. The problems of an edit are told apart: those of the piece
//! edited (paths relative to it) and those elsewhere in the document. Also the difference
//! between the draft and the published version, line by line and piece by piece.

use accrete_core::{Field, Policy, Step};
use accrete_store::PolicyDraft;
use serde_json::{Value, json};
use similar::{ChangeTag, TextDiff};
use time::OffsetDateTime;

use crate::app::App;
use crate::policy_admin::{self, PolicyError};
use crate::problems::Problem;

/// Where the document being edited comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The saved draft.
    Draft,
    /// The version in force (no draft yet: the first edit makes one).
    Published(i64),
    /// Nothing was ever published and there is no draft.
    Empty,
}

/// The document edits start from, and where it comes from.
pub async fn working_document(app: &App) -> Result<(Value, Origin), PolicyError> {
    if let Some(draft) = app.store().get_draft().await? {
        return Ok((draft.document, Origin::Draft));
    }
    if let Some(version) = app.store().published_policy().await? {
        return Ok((version.document, Origin::Published(version.version)));
    }
    Ok((json!({ "version": 1 }), Origin::Empty))
}

/// The working document read as a policy (its fields and steps as the forms show them).
pub async fn working_policy(app: &App) -> Result<(Policy, Origin), PolicyError> {
    let (document, origin) = working_document(app).await?;
    Ok((read(&document)?, origin))
}

fn read(document: &Value) -> Result<Policy, PolicyError> {
    serde_json::from_value(document.clone()).map_err(|error| {
        PolicyError::Unreadable(Problem::new(
            "$",
            "invalid_document",
            format!("not a policy document: {error}"),
        ))
    })
}

/// Which piece of the document an edit is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    Field,
    Step,
}

impl Piece {
    fn list(self) -> &'static str {
        match self {
            Piece::Field => "fields",
            Piece::Step => "steps",
        }
    }
}

/// What an edit would make of the document.
#[derive(Debug)]
pub struct Edited {
    /// The document after the edit.
    pub document: Value,
    /// Problems of the piece edited, with paths relative to it (`key`, `validation.min`,
    /// `trigger.condition.all[1]`, ...; empty: the piece itself).
    pub own: Vec<Problem>,
    /// Problems elsewhere in the document (full paths).
    pub elsewhere: Vec<Problem>,
}

impl Edited {
    /// Whether the edited document can be saved.
    pub fn is_valid(&self) -> bool {
        self.own.is_empty() && self.elsewhere.is_empty()
    }
}

/// Replaces the field `original` (or adds `field` when `original` is `None`) in `policy`; a
/// renamed field is renamed in the steps that ask it.
fn with_field(policy: &mut Policy, original: Option<&str>, field: Field) -> usize {
    if let Some(original) = original
        && original != field.key.as_str()
    {
        for step in &mut policy.steps {
            for key in &mut step.fields {
                if key.as_str() == original {
                    *key = field.key.clone();
                }
            }
        }
    }
    let at = original.and_then(|o| policy.fields.iter().position(|f| f.key.as_str() == o));
    match at {
        Some(i) => {
            policy.fields[i] = field;
            i
        }
        None => {
            policy.fields.push(field);
            policy.fields.len() - 1
        }
    }
}

/// Replaces the step `original` (or adds `step`) in `policy`.
fn with_step(policy: &mut Policy, original: Option<&str>, step: Step) -> usize {
    let at = original.and_then(|o| policy.steps.iter().position(|s| s.id.as_str() == o));
    match at {
        Some(i) => {
            policy.steps[i] = step;
            i
        }
        None => {
            policy.steps.push(step);
            policy.steps.len() - 1
        }
    }
}

/// Splits the problems of `document` into those of `piece` number `index` and the others.
fn edited(document: Value, piece: Piece, index: usize) -> Result<Edited, PolicyError> {
    let prefix = format!("{}[{index}]", piece.list());
    let mut own = Vec::new();
    let mut elsewhere = Vec::new();
    for problem in policy_admin::validate(&document)? {
        match problem.path.strip_prefix(&prefix) {
            Some(rest) if rest.is_empty() || rest.starts_with('.') => own.push(Problem {
                path: rest.trim_start_matches('.').to_owned(),
                ..problem
            }),
            _ => elsewhere.push(problem),
        }
    }
    Ok(Edited {
        document,
        own,
        elsewhere,
    })
}

fn document_of(policy: &Policy) -> Result<Value, PolicyError> {
    serde_json::to_value(policy).map_err(|error| {
        PolicyError::Unreadable(Problem::new("$", "invalid_document", error.to_string()))
    })
}

/// What replacing (or adding) a field would make of the working document, without saving.
pub async fn check_field(
    app: &App,
    original: Option<&str>,
    field: Field,
) -> Result<Edited, PolicyError> {
    let (mut policy, _) = working_policy(app).await?;
    let index = with_field(&mut policy, original, field);
    edited(document_of(&policy)?, Piece::Field, index)
}

/// What replacing (or adding) a step would make of the working document, without saving.
pub async fn check_step(
    app: &App,
    original: Option<&str>,
    step: Step,
) -> Result<Edited, PolicyError> {
    let (mut policy, _) = working_policy(app).await?;
    let index = with_step(&mut policy, original, step);
    edited(document_of(&policy)?, Piece::Step, index)
}

/// Saves an edit as the draft when the whole document is valid; the edit with its problems
/// otherwise (nothing saved).
pub async fn save(
    app: &App,
    edit: Edited,
    now: OffsetDateTime,
) -> Result<Result<PolicyDraft, Edited>, PolicyError> {
    if !edit.is_valid() {
        return Ok(Err(edit));
    }
    Ok(Ok(policy_admin::save_draft(app, &edit.document, now).await?))
}

/// Removes a field or a step from the working document and saves the draft (refused with the
/// problems it would cause, e.g. a step still asking the field).
pub async fn remove(
    app: &App,
    piece: Piece,
    id: &str,
    now: OffsetDateTime,
) -> Result<PolicyDraft, PolicyError> {
    let (mut policy, _) = working_policy(app).await?;
    let before = (policy.fields.len(), policy.steps.len());
    match piece {
        Piece::Field => policy.fields.retain(|f| f.key.as_str() != id),
        Piece::Step => policy.steps.retain(|s| s.id.as_str() != id),
    }
    if before == (policy.fields.len(), policy.steps.len()) {
        return Err(PolicyError::Refused(Problem::new(
            piece.list(),
            "not_found",
            format!(
                "the policy has no {} `{id}`",
                piece.list().trim_end_matches('s')
            ),
        )));
    }
    policy_admin::save_draft(app, &document_of(&policy)?, now).await
}

/// The working document as text, TOML or JSON.
pub fn source_text(document: &Value, toml: bool) -> Result<String, PolicyError> {
    let policy = read(document)?;
    let text = if toml {
        policy.to_toml_string()
    } else {
        policy.to_json_string()
    };
    text.map_err(|error| {
        PolicyError::Unreadable(Problem::new("$", "invalid_document", error.to_string()))
    })
}

/// Reads a document written as TOML or JSON (the source view): the document, or where it
/// cannot be read (TOML and JSON name the line and column).
pub fn parse_source(text: &str, toml: bool) -> Result<Value, PolicyError> {
    let policy = if toml {
        Policy::from_toml_str(text)
    } else {
        Policy::from_json_str(text)
    }
    .map_err(|error| {
        PolicyError::Unreadable(Problem::new("$", "invalid_document", error.to_string()))
    })?;
    document_of(&policy)
}

/// One line of a difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    /// `-` removed, `+` added, ` ` the same.
    pub tag: char,
    pub text: String,
}

/// What changed between two versions of the policy.
#[derive(Debug, Clone, Default)]
pub struct Difference {
    /// Field keys and step ids added, removed and changed.
    pub fields: Changes,
    pub steps: Changes,
    /// The TOML texts line by line, unchanged runs shortened to three lines of context.
    pub lines: Vec<DiffLine>,
}

#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

fn changes<T: PartialEq>(old: &[T], new: &[T], id: impl Fn(&T) -> &str) -> Changes {
    let mut out = Changes::default();
    for item in new {
        match old.iter().find(|o| id(o) == id(item)) {
            None => out.added.push(id(item).to_owned()),
            Some(o) if o != item => out.changed.push(id(item).to_owned()),
            Some(_) => {}
        }
    }
    for item in old {
        if !new.iter().any(|n| id(n) == id(item)) {
            out.removed.push(id(item).to_owned());
        }
    }
    out
}

/// The difference from `old` (`None`: nothing published) to `new`.
pub fn difference(old: Option<&Value>, new: &Value) -> Result<Difference, PolicyError> {
    let empty = json!({ "version": 1 });
    let published = old.is_some();
    let old = read(old.unwrap_or(&empty))?;
    let new = read(new)?;
    let text = |p: &Policy| {
        p.to_toml_string().map_err(|error| {
            PolicyError::Unreadable(Problem::new("$", "invalid_document", error.to_string()))
        })
    };
    // Nothing published: every line is new.
    let old_text = if published {
        text(&old)?
    } else {
        String::new()
    };
    let new_text = text(&new)?;
    let diff = TextDiff::from_lines(&old_text, &new_text);
    let mut lines = Vec::new();
    for group in diff.grouped_ops(3) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let tag = match change.tag() {
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                    ChangeTag::Equal => ' ',
                };
                let text = change.value().trim_end_matches('\n').to_owned();
                lines.push(DiffLine { tag, text });
            }
        }
        lines.push(DiffLine {
            tag: '…',
            text: String::new(),
        });
    }
    lines.pop();
    Ok(Difference {
        fields: changes(&old.fields, &new.fields, |f| f.key.as_str()),
        steps: changes(&old.steps, &new.steps, |s| s.id.as_str()),
        lines,
    })
}

/// The difference between the published version and the draft (or the working document).
pub async fn draft_difference(app: &App) -> Result<Difference, PolicyError> {
    let published = app.store().published_policy().await?.map(|v| v.document);
    let (working, _) = working_document(app).await?;
    difference(published.as_ref(), &working)
}

#[cfg(test)]
mod tests {
    use accrete_core::FieldType;

    use super::*;

    fn policy() -> Policy {
        Policy::from_toml_str(
            r#"
            version = 1
            [[fields]]
            key = "company"
            kind = "text"
            labels = { en = "Company" }
            [[steps]]
            id = "work"
            title = { en = "Work" }
            fields = ["company"]
            mode = "required"
            trigger = { moments = ["login"] }
            "#,
        )
        .unwrap()
    }

    #[test]
    fn a_renamed_field_is_renamed_in_the_steps_that_ask_it() {
        let mut p = policy();
        let mut field = p.fields[0].clone();
        field.key = accrete_core::FieldKey::new("employer");
        let at = with_field(&mut p, Some("company"), field);
        assert_eq!(at, 0);
        assert_eq!(p.steps[0].fields[0].as_str(), "employer");
        let edit = edited(document_of(&p).unwrap(), Piece::Field, at).unwrap();
        assert!(edit.is_valid(), "{edit:?}");
    }

    #[test]
    fn problems_of_the_piece_are_relative_to_it_and_the_others_are_told_apart() {
        let mut p = policy();
        let mut field = Field::new("size", FieldType::Integer);
        field.validation.min_length = Some(3);
        let at = with_field(&mut p, None, field);
        assert_eq!(at, 1);
        // A step elsewhere asks a field that does not exist.
        p.steps[0].fields.push(accrete_core::FieldKey::new("nope"));
        let edit = edited(document_of(&p).unwrap(), Piece::Field, at).unwrap();
        assert!(
            edit.own.iter().any(|p| p.path.starts_with("validation")),
            "{:?}",
            edit.own
        );
        assert!(
            edit.elsewhere
                .iter()
                .any(|p| p.path.starts_with("steps[0]")),
            "{:?}",
            edit.elsewhere
        );
        assert!(!edit.is_valid());
    }

    #[test]
    fn the_difference_names_what_changed_and_shows_the_lines() {
        let old = document_of(&policy()).unwrap();
        let mut p = policy();
        p.fields[0].labels.insert("fr".into(), "Entreprise".into());
        with_field(&mut p, None, Field::new("phone", FieldType::Phone));
        p.steps.clear();
        let diff = difference(Some(&old), &document_of(&p).unwrap()).unwrap();
        assert_eq!(diff.fields.added, ["phone"]);
        assert_eq!(diff.fields.changed, ["company"]);
        assert_eq!(diff.steps.removed, ["work"]);
        assert!(
            diff.lines
                .iter()
                .any(|l| l.tag == '+' && l.text.contains("Entreprise"))
        );
        assert!(
            diff.lines
                .iter()
                .any(|l| l.tag == '-' && l.text.contains("[[steps]]"))
        );
        // Against nothing published, everything is added.
        let first = difference(None, &old).unwrap();
        assert_eq!(first.fields.added, ["company"]);
        assert!(first.lines.iter().all(|l| l.tag != '-'));
    }

    #[test]
    fn the_source_reads_back_what_it_writes_and_locates_what_it_cannot_read() {
        let document = document_of(&policy()).unwrap();
        for toml in [true, false] {
            let text = source_text(&document, toml).unwrap();
            assert_eq!(parse_source(&text, toml).unwrap(), document);
        }
        let Err(PolicyError::Unreadable(problem)) = parse_source("version = 1\n[[fields]\n", true)
        else {
            panic!("read a broken document");
        };
        assert!(problem.message.contains("line 2"), "{}", problem.message);
    }
}
