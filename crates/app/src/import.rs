//! Bringing users in from another system (docs/import-export.md): a file is read user by user
//! on a thread of its own (`formats`), where each user's values are also checked with the
//! published policy (refused values are reported and left out, never stored as known); the
//! users are stored a batch at a time with provenance `import:<format>` while the next batch is
//! read (`UserTransfers::import_stream`: found by the id they had in the source system, then by
//! email; one database transaction per batch, or one for the whole file with
//! [`ImportScope::Whole`]). Memory stays bounded by a few batches whatever the size of the file.

pub mod formats;
mod record;
mod seen;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::ops::ControlFlow;

use accrete_core::CompiledPolicy;
use accrete_oidc::credentials;
use accrete_store::{
    HistoryEntry, ImportBatch, ImportOutcome, ImportStep, ImportUser, ImportedSource, Location,
    PHONE_NUMBER, PHONE_NUMBER_VERIFIED, ProfileChange, PromptState, Spent, StoreError,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::app::App;
use crate::facts::location_of;
use crate::policy_admin::published_or_empty;
use crate::problems::Problem;
use crate::values;
pub use accrete_store::ImportScope;
pub use formats::{Format, Mapping, ReadError};
pub use record::{ExternalIdentity, ImportProblem, ImportRecord};
use seen::Seen;

/// Users per database transaction.
pub const BATCH: usize = 500;

/// Users created or changed by an import above which it refreshes the database's statistics.
const ANALYZE_AFTER: u64 = 10_000;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be read as the format (nothing after the users stored so far).
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Users (lines, records) of the file, whether they could be read or not: `created +
    /// updated + unchanged + refused` once the import ends.
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Users not imported (unreadable line, invalid email, ...): each is in the report.
    pub refused: u64,
    /// Values left out of users that were imported: each is in the report.
    pub values_refused: u64,
    /// Users whose password hash from the file was stored, to verify at their first sign-in
    /// (created with one, or found without a password): not those that had a password already.
    pub with_password: u64,
    /// Sign-in methods of other providers that were not linked (each user signs in with a
    /// connection of this server, which links them when the provider proves the address).
    pub identities_not_linked: u64,
}

/// What the caller is told while an import runs.
pub trait Observer: Send {
    /// A line, a user or a value that was not imported, or a note about one.
    fn problem(&mut self, problem: &ImportProblem);
    /// After each batch: the figures so far.
    fn progress(&mut self, summary: &Summary);
}

/// Imports `input` read as `format`, within the transactions of `scope`. With `dry_run`,
/// everything is checked and written, then rolled back (the summary says what an import would
/// do). A later line of a user an earlier line is (its address or id) is refused ([`Seen`]).
///
/// Two stages run at once: the file is read, its users checked and made into a batch
/// ([`ImportBatch::new`], which does the work that needs no database) on a thread of its own,
/// while the store writes the previous batch (its outcomes come back in order, for the
/// report).
pub async fn run(
    app: &App,
    input: impl Read + Send + 'static,
    format: Format,
    mapping: Option<Mapping>,
    (scope, dry_run): (ImportScope, bool),
    observer: &mut dyn Observer,
) -> Result<Summary, ImportError> {
    let policy = published_or_empty(app).await?;
    // A batch at a time: handing over each user alone cost two thread switches a user.
    let (sender, mut checked) = mpsc::channel::<Sealed>(2);
    // The written batches come back to be freed by the thread that allocated them.
    let (spent_out, spent) = std::sync::mpsc::channel::<Spent>();
    let reader = tokio::task::spawn_blocking(move || {
        let mut chunk = Checked::default();
        let mut seen = Seen::default();
        let read = formats::read(format, input, mapping.as_ref(), &mut |record| {
            chunk.add(&policy, record, &mut seen);
            if chunk.users.len() < BATCH {
                return ControlFlow::Continue(());
            }
            let sealed = std::mem::take(&mut chunk).sealed(&spent_out);
            spent.try_iter().for_each(drop);
            match sender.blocking_send(sealed) {
                Ok(()) => ControlFlow::Continue(()),
                // The importer stopped (a store error): stop reading.
                Err(_) => ControlFlow::Break(()),
            }
        });
        // What was read before the end (or before a line that cannot be read) is stored; with
        // a single transaction, a file that cannot be read to its end is not committed.
        chunk.unreadable = read.is_err();
        let _ = sender.blocking_send(chunk.sealed(&spent_out));
        read
    });
    let (steps, steps_in) = mpsc::channel::<ImportStep>(1);
    let (outcomes_out, mut outcomes) = mpsc::unbounded_channel::<Vec<ImportOutcome>>();
    let storing =
        app.store()
            .import_stream(format.as_str(), scope, dry_run, steps_in, outcomes_out);
    let mut summary = Summary::default();
    let checking = async {
        // The users of the batches sent and not yet answered, in order.
        let mut pending: VecDeque<Vec<Line>> = VecDeque::new();
        let mut unreadable = false;
        while let Some(chunk) = checked.recv().await {
            unreadable |= chunk.unreadable;
            for problem in &chunk.problems {
                observer.problem(problem);
            }
            summary.add(&chunk.counts);
            if let Some((lines, batch)) = chunk.batch {
                pending.push_back(lines);
                if steps.send(ImportStep::Batch(batch)).await.is_err() {
                    // The store stopped (its error is told below).
                    return;
                }
            }
            while let Ok(answered) = outcomes.try_recv() {
                tally(pending.pop_front(), answered, &mut summary, observer);
            }
        }
        if !unreadable {
            // The store may have stopped already (its error is told below).
            let _ = steps.send(ImportStep::Commit).await;
        }
        drop(steps);
        while let Some(answered) = outcomes.recv().await {
            tally(pending.pop_front(), answered, &mut summary, observer);
        }
    };
    let (stored, ()) = tokio::join!(storing, checking);
    // Dropping the receiver ends the reader at its next batch.
    drop(checked);
    let read = reader
        .await
        .map_err(|e| StoreError::Unexpected(format!("the file reader stopped: {e}").into()))?;
    stored.map_err(|error| match error {
        // The batch looked its users up, then another writer (another import of the same
        // users, a sign-up) created one of them before the batch was stored (PostgreSQL).
        StoreError::Conflict { what } => StoreError::Conflict {
            what: format!(
                "{what}: another writer created a user of this batch while it was stored \
                 (another import of the same users?); run the import again: the users stored \
                 so far are found"
            ),
        },
        other => other,
    })?;
    read?;
    // A database that received many users at once is planned right from the next statement.
    // The users are stored either way: a refresh that fails is told, not the import's failure.
    if !dry_run
        && summary.created + summary.updated >= ANALYZE_AFTER
        && let Err(error) = app.store().analyze_users().await
    {
        tracing::warn!(%error, "the database's statistics were not refreshed after the import");
    }
    Ok(summary)
}

/// The `path` of a note of the report: something of the file left out or read in a way worth
/// saying, without making the import incomplete. A reader that hands one instead of a record
/// skips something that is not a user (a Keycloak service account).
pub const NOTE: &str = "note";

/// Where a user of a batch was read, for the report, and whether it came with a password hash.
#[derive(Debug, Clone, Copy)]
struct Line {
    number: u64,
    password_hash: bool,
}

/// Users read and checked on the reader's thread, up to a batch of them.
#[derive(Default)]
struct Checked {
    /// What to store, with where each user was read.
    users: Vec<(Line, ImportUser)>,
    /// What was left out, and notes.
    problems: Vec<ImportProblem>,
    /// The figures of these users, before they are stored.
    counts: Summary,
    /// The last batch of a file that could not be read to its end.
    unreadable: bool,
}

/// [`Checked`] users made into a batch, on the reader's thread.
struct Sealed {
    /// Where each user was read, and the batch (none when every user was left out).
    batch: Option<(Vec<Line>, ImportBatch)>,
    problems: Vec<ImportProblem>,
    counts: Summary,
    unreadable: bool,
}

impl Checked {
    /// The batch of these users, stored at the time it is made, sent back to `spent` once
    /// written.
    fn sealed(self, spent: &std::sync::mpsc::Sender<Spent>) -> Sealed {
        let batch = (!self.users.is_empty()).then(|| {
            let (lines, users): (Vec<Line>, Vec<ImportUser>) = self.users.into_iter().unzip();
            let batch = ImportBatch::new(users, OffsetDateTime::now_utc());
            (lines, batch.freed_by(spent.clone()))
        });
        Sealed {
            batch,
            problems: self.problems,
            counts: self.counts,
            unreadable: self.unreadable,
        }
    }

    fn add(
        &mut self,
        policy: &CompiledPolicy,
        record: Result<ImportRecord, ImportProblem>,
        seen: &mut Seen,
    ) {
        let record = match record {
            // Not a user of the file (a Keycloak service account): said, not counted.
            Err(problem) if problem.path == NOTE => {
                self.problems.push(problem);
                return;
            }
            other => other,
        };
        self.counts.read += 1;
        match record {
            Err(problem) => {
                self.counts.refused += 1;
                self.problems.push(refusal(problem));
            }
            Ok(record) => {
                match prepare(policy, record, seen, &mut self.counts, &mut self.problems) {
                    Some(user) => self.users.push(user),
                    None => self.counts.refused += 1,
                }
            }
        }
    }
}

impl Summary {
    fn add(&mut self, other: &Summary) {
        let Summary {
            read,
            created,
            updated,
            unchanged,
            refused,
            values_refused,
            with_password,
            identities_not_linked,
        } = other;
        self.read += read;
        self.created += created;
        self.updated += updated;
        self.unchanged += unchanged;
        self.refused += refused;
        self.values_refused += values_refused;
        self.with_password += with_password;
        self.identities_not_linked += identities_not_linked;
    }
}

/// The problem of a user that is not imported at all, said so in the report (a value left out
/// of a user that is imported is reported as it is).
fn refusal(mut problem: ImportProblem) -> ImportProblem {
    problem.message = format!("the user is not imported: {}", problem.message);
    problem
}

/// Counts the outcomes of a batch whose users were on `lines`, and reports the refused.
fn tally(
    lines: Option<Vec<Line>>,
    outcomes: Vec<ImportOutcome>,
    summary: &mut Summary,
    observer: &mut dyn Observer,
) {
    for (line, outcome) in lines.unwrap_or_default().into_iter().zip(outcomes) {
        match outcome {
            ImportOutcome::Created(_) => {
                summary.created += 1;
                summary.with_password += u64::from(line.password_hash);
            }
            ImportOutcome::Updated {
                password_hash_stored,
                ..
            } => {
                summary.updated += 1;
                summary.with_password += u64::from(password_hash_stored);
            }
            ImportOutcome::Unchanged(_) => summary.unchanged += 1,
            ImportOutcome::Refused(reason) => {
                summary.refused += 1;
                observer.problem(&refusal(ImportProblem::new(line.number, "", reason)));
            }
        }
    }
    observer.progress(summary);
}

/// A record checked with the policy: what to store, or `None` when the user cannot be imported
/// (an invalid address, or a user an earlier line of the file is: `seen`); `problems` says what
/// was left out and why.
fn prepare(
    policy: &CompiledPolicy,
    record: ImportRecord,
    seen: &mut Seen,
    summary: &mut Summary,
    problems: &mut Vec<ImportProblem>,
) -> Option<(Line, ImportUser)> {
    let ImportRecord {
        line,
        external_id,
        id,
        email,
        email_verified,
        password_hash,
        created_at,
        disabled,
        disabled_at,
        updated_at,
        sign_ins,
        prompts,
        mut profile,
        mut user_metadata,
        mut app_metadata,
        fields,
        sources,
        history,
        identities,
        notes,
        password_left_out,
        left_out,
    } = record;
    let email = email.trim().to_owned();
    if let Err(problem) = credentials::check_email(&email) {
        problems.push(refusal(ImportProblem::new(
            line,
            "email",
            problem.to_string(),
        )));
        return None;
    }
    if let Err(repeated) = seen.first(&email, external_id.as_deref()) {
        problems.push(refusal(ImportProblem::new(
            line,
            repeated.path(),
            repeated.message(),
        )));
        return None;
    }
    for note in notes {
        problems.push(ImportProblem::new(line, NOTE, note));
    }
    if let Some(why) = password_left_out {
        summary.values_refused += 1;
        problems.push(ImportProblem::new(line, "password_hash", why));
    }
    for (what, why) in left_out {
        summary.values_refused += 1;
        problems.push(ImportProblem::new(line, what, why));
    }
    // `password_hash` was vetted as it was read (`formats::read`): one that Accrete cannot
    // verify is in `password_left_out` instead.
    summary.identities_not_linked += identities.len() as u64;

    for (name, value) in fields {
        let Some((location, key)) = place(policy, &name) else {
            summary.values_refused += 1;
            problems.push(ImportProblem::new(
                line,
                name.clone(),
                format!(
                    "{name:?} is not a field of the policy: add the field to the policy, or \
                     send it to profile.{name}, user_metadata.{name} or app_metadata.{name} (a \
                     CSV header, or the command line's --mapping)"
                ),
            ));
            continue;
        };
        let bag = match location {
            Location::Profile => &mut profile,
            Location::UserMetadata => &mut user_metadata,
            Location::AppMetadata => &mut app_metadata,
        };
        // Two columns for one value (`given_name` and `profile.given_name`): the one that
        // names the place is kept, the other said, unless both say the same.
        if let Some(kept) = bag.get(&key)
            && *kept != value
        {
            summary.values_refused += 1;
            problems.push(ImportProblem::new(
                line,
                name.clone(),
                format!(
                    "{name:?} is the field kept at {}.{key}, which the user has another value \
                     for: that value is kept, this one is left out (keep one of the two \
                     columns)",
                    location.as_str()
                ),
            ));
            continue;
        }
        bag.insert(key, value);
    }
    // The source's word on a phone number's verification is kept with the number it verified.
    let phone_verified = profile
        .remove(PHONE_NUMBER_VERIFIED)
        .filter(|v| v.as_bool() == Some(true) && profile.contains_key(PHONE_NUMBER));

    for (location, bag) in [
        (Location::Profile, &mut profile),
        (Location::UserMetadata, &mut user_metadata),
        (Location::AppMetadata, &mut app_metadata),
    ] {
        several_choices(policy, location, bag);
    }
    let mut refused = Vec::new();
    // The line's time: the day its dates are checked against, and when a consent given by its
    // choice alone was given.
    let now = OffsetDateTime::now_utc();
    checked(Location::Profile, &mut profile, &mut refused, |bag, p| {
        values::check_profile(policy, bag, now, p);
    });
    for (location, bag) in [
        (Location::UserMetadata, &mut user_metadata),
        (Location::AppMetadata, &mut app_metadata),
    ] {
        checked(location, bag, &mut refused, |bag, p| {
            values::check_metadata(policy, location, bag, None, now, p);
        });
    }
    for problem in refused {
        summary.values_refused += 1;
        problems.push(ImportProblem::new(line, problem.path, problem.message));
    }

    let mut changes: Vec<ProfileChange> = profile
        .into_iter()
        .map(|(key, value)| ProfileChange {
            location: Location::Profile,
            key,
            value: Some(value).filter(|v| !v.is_null()),
        })
        .collect();
    if let Some(verified) = phone_verified
        && changes
            .iter()
            .any(|c| c.key == PHONE_NUMBER && c.value.is_some())
    {
        changes.push(ProfileChange::set(
            Location::Profile,
            PHONE_NUMBER_VERIFIED,
            verified,
        ));
    }
    let patches = [
        (Location::UserMetadata, user_metadata),
        (Location::AppMetadata, app_metadata),
    ]
    .into_iter()
    .filter(|(_, bag)| !bag.is_empty())
    .map(|(location, bag)| (location, Value::Object(bag)))
    .collect();

    let sources = match given_sources(sources) {
        Ok(sources) => sources,
        Err(message) => {
            problems.push(ImportProblem::new(line, "sources", message));
            BTreeMap::new()
        }
    };
    let history = match history_entries(history) {
        Ok(history) => history,
        Err(message) => {
            problems.push(ImportProblem::new(line, "history", message));
            Vec::new()
        }
    };
    let prompts = match prompt_states(prompts) {
        Ok(prompts) => prompts,
        Err(message) => {
            problems.push(ImportProblem::new(line, "prompts", message));
            Vec::new()
        }
    };
    let read = Line {
        number: line,
        password_hash: password_hash.is_some(),
    };
    Some((
        read,
        ImportUser {
            external_id,
            id,
            email,
            email_verified,
            password_hash,
            created_at,
            disabled,
            disabled_at,
            updated_at,
            sign_ins,
            prompts,
            changes,
            patches,
            sources,
            history,
        },
    ))
}

/// A multiselect field given as text (a CSV cell, or a source that joined the choices): the
/// text is one choice, or else several separated by commas, each trimmed (`security, devops`).
/// A list is left as it is; the field's rules check the choices either way.
fn several_choices(policy: &CompiledPolicy, location: Location, bag: &mut Map<String, Value>) {
    for field in policy.fields() {
        let (at, key) = crate::facts::location_of(field);
        if at != location || field.kind != accrete_core::FieldType::Multiselect {
            continue;
        }
        if let Some(Value::String(text)) = bag.get(key)
            && !field.has_option(text)
            && text.contains(',')
        {
            let choices = text
                .split(',')
                .map(str::trim)
                .filter(|choice| !choice.is_empty())
                .map(|choice| Value::String(choice.to_owned()))
                .collect();
            bag.insert(key.to_owned(), Value::Array(choices));
        }
    }
}

/// Runs a check of one bag; values it refuses are taken out of the bag (so that the rest is
/// stored) and the check runs again, so that the values left are normalised by it.
fn checked(
    location: Location,
    bag: &mut Map<String, Value>,
    refused: &mut Vec<Problem>,
    check: impl Fn(&mut Map<String, Value>, &mut Vec<Problem>),
) {
    let prefix = format!("{}.", location.as_str());
    // Each round removes at least one value, or the whole bag: a few rounds at most.
    while !bag.is_empty() {
        let mut problems = Vec::new();
        check(bag, &mut problems);
        if problems.is_empty() {
            return;
        }
        let before = bag.len();
        // The values refused first: a problem of the bag as a whole (too large) may be theirs
        // (a value far over its own limit), and is checked again without them.
        let (of_values, of_bag): (Vec<Problem>, Vec<Problem>) = problems
            .into_iter()
            .partition(|problem| problem.path.starts_with(&prefix));
        if of_values.is_empty() {
            // A problem of the bag as a whole: nothing of it is stored.
            bag.clear();
            refused.extend(of_bag);
            return;
        }
        for problem in of_values {
            if let Some(rest) = problem.path.strip_prefix(&prefix) {
                bag.remove(rest.split('.').next().unwrap_or(rest));
            }
            refused.push(problem);
        }
        if bag.len() == before {
            // A problem that names no value of the bag: nothing of it is stored.
            bag.clear();
        }
    }
}

/// Where a value named in a flat file goes: `<location>.<key>`, or a field key of the policy.
fn place(policy: &CompiledPolicy, name: &str) -> Option<(Location, String)> {
    if let Some((location, key)) = name.split_once('.')
        && let Some(location) = Location::parse(location)
        && !key.is_empty()
    {
        return Some((location, key.to_owned()));
    }
    let field = policy.fields().iter().find(|f| f.key.as_str() == name)?;
    let (location, key) = location_of(field);
    Some((location, key.to_owned()))
}

/// The sources of a JSONL line's values, as `accrete users export` writes them: by
/// `<location>.<key>`, `{"source": ..., "at": "<RFC 3339>"}`, or the source alone (files of
/// earlier versions); the values they name are not checked here (a source of no value is
/// unused).
fn given_sources(
    sources: Map<String, Value>,
) -> Result<BTreeMap<(Location, String), ImportedSource>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Timed {
        source: String,
        #[serde(default, with = "time::serde::rfc3339::option")]
        at: Option<OffsetDateTime>,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Given {
        Alone(String),
        Timed(Timed),
    }
    sources
        .into_iter()
        .map(|(path, given)| {
            let place = path
                .split_once('.')
                .and_then(|(location, key)| Some((Location::parse(location)?, key.to_owned())))
                .ok_or_else(|| {
                    format!(
                        "{path:?} is not <location>.<key>; the sources are not imported (the \
                         values are, from this import)"
                    )
                })?;
            let given = match serde_json::from_value(given) {
                Ok(Given::Alone(source)) => ImportedSource { source, at: None },
                Ok(Given::Timed(Timed { source, at })) => ImportedSource { source, at },
                Err(_) => {
                    return Err(format!(
                        "the source of {path:?} is neither a string nor {{\"source\", \"at\"}}; \
                         the sources are not imported (the values are, from this import)"
                    ));
                }
            };
            Ok((place, given))
        })
        .collect()
}

/// The prompt state of a JSONL line, as `accrete users export` writes it: one entry per step,
/// counts of 0 or more.
fn prompt_states(states: Vec<Value>) -> Result<Vec<PromptState>, String> {
    let mut steps = std::collections::BTreeSet::new();
    states
        .into_iter()
        .enumerate()
        .map(|(i, state)| {
            let state: PromptState = serde_json::from_value(state)
                .map_err(|e| format!("prompt state {i}: {e}; the prompt state is not imported"))?;
            if !steps.insert(state.step.clone()) {
                return Err(format!(
                    "prompt state {i}: the step {:?} is there twice; the prompt state is not \
                     imported",
                    state.step
                ));
            }
            let counts = [state.shown, state.skipped, state.answered];
            if counts
                .into_iter()
                .chain(state.logins_at_last_skip)
                .any(|n| n < 0)
            {
                return Err(format!(
                    "prompt state {i}: a count below 0; the prompt state is not imported"
                ));
            }
            Ok(state)
        })
        .collect()
}

/// The history entries of a JSONL line, as `accrete users export --with-history` writes them.
fn history_entries(entries: Vec<Value>) -> Result<Vec<HistoryEntry>, String> {
    entries
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            #[derive(serde::Deserialize)]
            struct Entry {
                location: String,
                key: String,
                old_value: Option<Value>,
                new_value: Option<Value>,
                source: String,
                #[serde(with = "time::serde::rfc3339")]
                changed_at: OffsetDateTime,
            }
            let entry: Entry = serde_json::from_value(entry)
                .map_err(|e| format!("history entry {i}: {e}; the history is not imported"))?;
            let location = Location::parse(&entry.location).ok_or_else(|| {
                format!("history entry {i}: unknown location {:?}", entry.location)
            })?;
            Ok(HistoryEntry {
                seq: 0,
                user_id: uuid::Uuid::nil(),
                location,
                key: entry.key,
                old_value: entry.old_value,
                new_value: entry.new_value,
                source: entry.source,
                changed_at: entry.changed_at,
            })
        })
        .collect()
}
