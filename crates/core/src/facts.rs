//! What the engine knows about a user and about the moment it is asked to decide for.
//!
//! Both types are the JSON formats of `accrete policy simulate --user USER.json --moment
//! MOMENT.json` (see `docs/decision.md`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Everything `decide` needs to know about a user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserFacts {
    /// When the account was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Sign-ins with credentials (password, passkey, upstream IdP), including the current one
    /// when the moment is such a login. The sign-up counts as the first (it is 1 from the
    /// sign-up on). Re-use of a single sign-on session is not counted.
    #[serde(default)]
    pub credentialed_logins: u64,
    /// Sign-ins that re-used a single sign-on session.
    #[serde(default)]
    pub sso_logins: u64,
    /// Known values by field key. A field is known when any source supplied a value.
    #[serde(default)]
    pub values: BTreeMap<String, KnownValue>,
    /// Values a source offered (e.g. an upstream identity provider) without making the field
    /// known: used to pre-fill the prompt.
    #[serde(default)]
    pub suggestions: BTreeMap<String, serde_json::Value>,
    /// Prompt history by step id.
    #[serde(default)]
    pub prompts: BTreeMap<String, PromptState>,
    /// Whether the user has a second factor (what a `second_factor` step asks them to set up).
    #[serde(default)]
    pub second_factor: bool,
    /// Facts from outside the profile, by name (a post-sign-in hook's CRM segment, ...): read
    /// by expressions as `user.facts.<name>`, never stored as values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, serde_json::Value>,
}

impl UserFacts {
    /// A user created at `created_at`, with no values, no prompt history and no sign-ins yet.
    pub fn new(created_at: OffsetDateTime) -> Self {
        Self {
            created_at,
            credentialed_logins: 0,
            sso_logins: 0,
            values: BTreeMap::new(),
            suggestions: BTreeMap::new(),
            prompts: BTreeMap::new(),
            second_factor: false,
            facts: BTreeMap::new(),
        }
    }

    /// A user signing up at `created_at`: the sign-up counts as their first credentialed
    /// sign-in (`credentialed_logins = 1`), as the server counts it.
    pub fn signing_up(created_at: OffsetDateTime) -> Self {
        let mut facts = Self::new(created_at);
        facts.credentialed_logins = 1;
        facts
    }
}

/// A stored value with where and when it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownValue {
    /// The typed value.
    pub value: serde_json::Value,
    /// When it was last set or confirmed (used by `reconfirm_after`).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_at: Option<OffsetDateTime>,
    /// Provenance: `signup`, `prompt:<step>`, `account`, `admin`, `api:<client>`,
    /// `idp:<connection>`, `enrichment:<hook>`.
    #[serde(default)]
    pub source: String,
}

impl KnownValue {
    /// A value from `source` with no date.
    pub fn new(value: serde_json::Value, source: &str) -> Self {
        Self {
            value,
            updated_at: None,
            source: source.to_owned(),
        }
    }
}

/// Per user and step: how often it was shown, skipped and answered, and when last.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptState {
    /// Times shown.
    #[serde(default)]
    pub shown: u32,
    /// Times skipped.
    #[serde(default)]
    pub skipped: u32,
    /// Times answered.
    #[serde(default)]
    pub answered: u32,
    /// Last time shown.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_shown_at: Option<OffsetDateTime>,
    /// Last time skipped.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_skipped_at: Option<OffsetDateTime>,
    /// Last time answered.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_answered_at: Option<OffsetDateTime>,
    /// The user's `credentialed_logins` when they last skipped (for "re-ask after N sign-ins").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logins_at_last_skip: Option<u64>,
    /// Keys of the optional fields the user left blank when answering the step: the step does
    /// not ask them again (until they become required or their `reconfirm_after` passes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declined: Vec<String>,
}

/// What is happening now.
///
/// In JSON the kind is flat: `{"kind": "event", "event": "cta:pricing", "client_id": "shop"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "MomentRepr", into = "MomentRepr")]
pub struct Moment {
    /// Sign-up, sign-in, or an in-app event.
    pub kind: MomentKind,
    /// The client (application, "property") being entered, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scopes requested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Optional prompts already shown during this sign-in (so that the per-sign-in limit holds
    /// across repeated `decide` calls in one transaction).
    #[serde(default)]
    pub optional_steps_asked: u32,
    /// Steps skipped during this sign-in: never asked again within it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_this_signin: Vec<String>,
}

impl Moment {
    /// A moment of the given kind with no client, no scopes and nothing asked yet.
    pub fn new(kind: MomentKind) -> Self {
        Self {
            kind,
            client_id: None,
            scopes: Vec::new(),
            optional_steps_asked: 0,
            skipped_this_signin: Vec::new(),
        }
    }

    /// A sign-up.
    pub fn signup() -> Self {
        Self::new(MomentKind::Signup)
    }

    /// A sign-in.
    pub fn login() -> Self {
        Self::new(MomentKind::Login)
    }

    /// A named in-app event such as `cta:pricing`.
    pub fn event(name: &str) -> Self {
        Self::new(MomentKind::Event {
            name: name.to_owned(),
        })
    }

    /// The same moment entering `client_id`.
    #[must_use]
    pub fn with_client(mut self, client_id: &str) -> Self {
        self.client_id = Some(client_id.to_owned());
        self
    }

    /// The same moment requesting `scopes`.
    #[must_use]
    pub fn with_scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }
}

/// The kind of moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MomentKind {
    /// The user is signing up.
    Signup,
    /// An interactive sign-in to a client, including single sign-on into another client.
    Login,
    /// A named in-app event reported by an application.
    Event {
        /// The event's name, e.g. `cta:pricing`.
        name: String,
    },
}

impl MomentKind {
    /// `signup`, `login` or `event`.
    pub fn name(&self) -> &'static str {
        match self {
            MomentKind::Signup => "signup",
            MomentKind::Login => "login",
            MomentKind::Event { .. } => "event",
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum MomentKindName {
    Signup,
    Login,
    Event,
}

/// The JSON shape of a moment.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MomentRepr {
    kind: MomentKindName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    scopes: Vec<String>,
    #[serde(default)]
    optional_steps_asked: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    skipped_this_signin: Vec<String>,
}

impl TryFrom<MomentRepr> for Moment {
    type Error = String;

    fn try_from(repr: MomentRepr) -> Result<Self, Self::Error> {
        let kind = match (repr.kind, repr.event) {
            (MomentKindName::Signup, None) => MomentKind::Signup,
            (MomentKindName::Login, None) => MomentKind::Login,
            (MomentKindName::Event, Some(name)) => MomentKind::Event { name },
            (MomentKindName::Event, None) => {
                return Err("a moment of kind \"event\" needs an \"event\" name".to_owned());
            }
            (_, Some(_)) => {
                return Err("only a moment of kind \"event\" has an \"event\" name".to_owned());
            }
        };
        Ok(Self {
            kind,
            client_id: repr.client_id,
            scopes: repr.scopes,
            optional_steps_asked: repr.optional_steps_asked,
            skipped_this_signin: repr.skipped_this_signin,
        })
    }
}

impl From<Moment> for MomentRepr {
    fn from(moment: Moment) -> Self {
        let (kind, event) = match moment.kind {
            MomentKind::Signup => (MomentKindName::Signup, None),
            MomentKind::Login => (MomentKindName::Login, None),
            MomentKind::Event { name } => (MomentKindName::Event, Some(name)),
        };
        Self {
            kind,
            event,
            client_id: moment.client_id,
            scopes: moment.scopes,
            optional_steps_asked: moment.optional_steps_asked,
            skipped_this_signin: moment.skipped_this_signin,
        }
    }
}
