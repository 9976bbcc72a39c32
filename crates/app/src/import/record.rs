//! One user as read from an import file, in Accrete's terms but before any rule of the policy
//! is applied; and a problem of one line. The readers of each format (`formats`) make these;
//! the import use-case (`crate::import`) checks them against the policy and stores them.

use accrete_store::SignIns;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

/// One user of an import file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportRecord {
    /// Where the user is in the file, for the report: the line (JSONL, NDJSON, CSV: 1 is the
    /// first line of the file), or the user's position in a Keycloak file's `users` (1-based).
    pub line: u64,
    /// The id the source system gave the user (Auth0 `user_id`, Keycloak `id`, Accrete's own
    /// `id` in JSONL): a second import of the same file finds the user by it.
    pub external_id: Option<String>,
    /// Accrete's id of the user (JSONL written by `accrete users export` only): kept when no
    /// other user has it, so that an export read back is the same users.
    pub id: Option<Uuid>,
    /// The email address as given (not yet checked).
    pub email: String,
    pub email_verified: bool,
    /// The password hash as the source system stores it, in the form
    /// `accrete_oidc::password::verify_password` reads: a PHC string (`$argon2id$...`,
    /// `$pbkdf2-sha256$...`) or a bcrypt string (`$2b$...`). Never a password.
    pub password_hash: Option<String>,
    /// When the source system created the user.
    pub created_at: Option<OffsetDateTime>,
    /// Whether the source system blocked the user (Auth0 `blocked`, Keycloak `enabled: false`).
    pub disabled: bool,
    /// When it was disabled (JSONL written by `accrete users export` only).
    pub disabled_at: Option<OffsetDateTime>,
    /// When the user's values last changed (JSONL written by `accrete users export` only).
    pub updated_at: Option<OffsetDateTime>,
    /// The user's sign-ins (JSONL written by `accrete users export` only).
    pub sign_ins: SignIns,
    /// How each step of the policy went with the user, as `accrete users export` writes it
    /// (`prompts`): read by the use-case.
    pub prompts: Vec<Value>,
    /// Standard claims (`given_name`, `phone_number`...).
    pub profile: Map<String, Value>,
    pub user_metadata: Map<String, Value>,
    pub app_metadata: Map<String, Value>,
    /// Values named by a field key of the policy, or by `<location>.<key>`, as a flat file
    /// gives them (CSV cells are strings): the use-case places each with the policy and reads
    /// a string as the field's type.
    pub fields: Vec<(String, Value)>,
    /// Where each value came from, `"<location>.<key>"` → `{"source": ..., "at": ...}` or the
    /// source alone (JSONL written by `accrete users export` only); absent values are
    /// `import:<format>`, at the import's time.
    pub sources: Map<String, Value>,
    /// The history entries of the user (JSONL written with `--with-history` only), oldest
    /// first, as `accrete users export` writes them.
    pub history: Vec<Value>,
    /// Sign-in methods of other providers the source linked to the user (reported, not linked:
    /// a link needs a connection of this server and the provider's proof).
    pub identities: Vec<ExternalIdentity>,
    /// Things of the record that were left out, said in the report (an attribute with several
    /// values of which the first is kept, an `otp` credential...).
    pub notes: Vec<String>,
    /// Why the source's password hash was not kept (an unsupported algorithm, costs past
    /// Accrete's bounds): reported as `password_hash`, a value left out (the user will have to
    /// reset the password), which makes the import incomplete.
    pub password_left_out: Option<String>,
    /// Members of the source that cannot be read and are left out, the rest of the user kept
    /// (an unreadable creation date: the import's is used; an unreadable `email_verified`:
    /// not confirmed), each with where it was and why: reported as values left out.
    pub left_out: Vec<(String, String)>,
}

impl ImportRecord {
    /// Leaves out the member `what` that cannot be read, for `why` ([`ImportRecord::left_out`]).
    pub fn leave_out(&mut self, what: impl Into<String>, why: impl Into<String>) {
        self.left_out.push((what.into(), why.into()));
    }
}

/// A sign-in method of another provider linked to the user in the source system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The provider or connection name (`google-oauth2`, a Keycloak identity provider alias).
    pub provider: String,
    /// The user's id at that provider.
    pub subject: String,
}

/// A line (or user) that cannot be imported, or a value of it that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// As [`ImportRecord::line`].
    pub line: u64,
    /// What is wrong, where: `email`, `profile.birthdate`, a CSV column name, or `""` for
    /// the whole line.
    pub path: String,
    /// A sentence for the person who runs the import.
    pub message: String,
}

impl ImportProblem {
    pub fn new(line: u64, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line,
            path: path.into(),
            message: message.into(),
        }
    }
}
