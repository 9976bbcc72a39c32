//! Profile values with provenance: the change types, the history and provenance records, user
//! listing, and the pure logic that applies changes to the JSON bags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{StoreError, User};

/// Which JSON bag of the user a value lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// Standard OpenID Connect claims.
    Profile,
    /// User-editable metadata.
    UserMetadata,
    /// Metadata written only by administrators and back ends.
    AppMetadata,
}

impl Location {
    /// Every location, in storage order.
    pub const ALL: [Location; 3] = [
        Location::Profile,
        Location::UserMetadata,
        Location::AppMetadata,
    ];

    /// The stored name (`profile`, `user_metadata`, `app_metadata`).
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Profile => "profile",
            Location::UserMetadata => "user_metadata",
            Location::AppMetadata => "app_metadata",
        }
    }

    /// Back from the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|location| location.as_str() == name)
    }
}

/// The profile claim of the phone number.
pub const PHONE_NUMBER: &str = "phone_number";
/// The profile claim saying the phone number was proven by a code sent to it (`true`, or
/// absent).
pub const PHONE_NUMBER_VERIFIED: &str = "phone_number_verified";

/// The change that makes the profile's number unverified when `applied` changed it and the
/// update did not itself set the flag (only proving the number with a code does): the one rule
/// that keeps `phone_number_verified` true only for the number that was proven, whichever
/// surface writes the number (account page, prompt, API, administrators, providers).
pub(crate) fn unverified_phone(
    applied: &[AppliedChange],
    changes: &[ProfileChange],
) -> Option<ProfileChange> {
    let number_changed = applied
        .iter()
        .any(|c| c.location == Location::Profile && c.key == PHONE_NUMBER);
    let verified_by_this_update = changes.iter().any(|c| {
        c.location == Location::Profile
            && c.key == PHONE_NUMBER_VERIFIED
            && c.value == Some(Value::Bool(true))
    });
    (number_changed && !verified_by_this_update)
        .then(|| ProfileChange::delete(Location::Profile, PHONE_NUMBER_VERIFIED))
}

/// One key to set or delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileChange {
    /// The bag.
    pub location: Location,
    /// The top-level key in that bag.
    pub key: String,
    /// The new value; `None` deletes the key.
    pub value: Option<Value>,
}

impl ProfileChange {
    /// Sets `key` in `location` to `value`.
    pub fn set(location: Location, key: impl Into<String>, value: Value) -> Self {
        Self {
            location,
            key: key.into(),
            value: Some(value),
        }
    }

    /// Deletes `key` from `location`.
    pub fn delete(location: Location, key: impl Into<String>) -> Self {
        Self {
            location,
            key: key.into(),
            value: None,
        }
    }
}

/// A change of a user made as one unit: everything lands, or nothing does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUpdate {
    /// A new email and whether it is verified.
    pub email: Option<EmailChange>,
    /// Keys to set or delete, applied first.
    pub changes: Vec<ProfileChange>,
    /// RFC 7396 merge patches of whole bags, applied after `changes` against the values current
    /// inside the transaction.
    pub patches: Vec<(Location, Value)>,
}

/// A new email for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChange {
    /// The email as typed (trimmed when stored).
    pub email: String,
    /// Whether the user proved they own it.
    pub verified: bool,
}

/// One recorded change of one value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// Increasing sequence number; later changes have larger numbers. 0 for the entries that
    /// an imported user's row holds (`users.import_history_at`), which come first.
    pub seq: i64,
    /// Whose value.
    pub user_id: Uuid,
    /// Which bag.
    pub location: Location,
    /// Which key.
    pub key: String,
    /// The value replaced (`None` when the key was absent).
    pub old_value: Option<Value>,
    /// The value stored (`None` when the key was deleted).
    pub new_value: Option<Value>,
    /// Where it came from: `signup`, `prompt:<step>`, `account`, `admin`, `api:<client>`, ...
    pub source: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

/// The current source of one stored value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// Which bag.
    pub location: Location,
    /// Which key.
    pub key: String,
    /// Where the current value came from.
    pub source: String,
    /// When it was written.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The source of each stored value of a user, kept in the user's own row (`users.sources`,
/// migration 0031), so that writing values and their sources is one row: by location, then
/// key, `[source, updated_at]` (unix milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Sources(BTreeMap<String, BTreeMap<String, (String, i64)>>);

impl Sources {
    /// Records `change`, written from `source` at `at`: a value set takes that source, a value
    /// removed loses its entry.
    pub fn record(&mut self, change: &AppliedChange, source: &str, at: i64) {
        let location = change.location.as_str();
        if change.new_value.is_some() {
            self.0
                .entry(location.to_owned())
                .or_default()
                .insert(change.key.clone(), (source.to_owned(), at));
        } else if let Some(keys) = self.0.get_mut(location) {
            keys.remove(&change.key);
            if keys.is_empty() {
                self.0.remove(location);
            }
        }
    }

    /// The history of an imported user whose values have not changed since the import
    /// (`users.import_history_at`, migration 0032): each value's one entry, set from nothing by
    /// its source at its time, as the rows of `profile_history` would say it. An import writes
    /// no row for them, since the user's bags and sources already hold all they say; the first
    /// write of the user's values turns them into rows. In the order of the locations, then
    /// keys; `seq` 0 (before any row).
    pub fn history(&self, user: &User) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut entries = Vec::new();
        for location in Location::ALL {
            let bag = match location {
                Location::Profile => &user.profile,
                Location::UserMetadata => &user.user_metadata,
                Location::AppMetadata => &user.app_metadata,
            };
            for (key, (source, at)) in self.0.get(location.as_str()).into_iter().flatten() {
                entries.push(HistoryEntry {
                    seq: 0,
                    user_id: user.id,
                    location,
                    key: key.clone(),
                    old_value: None,
                    new_value: bag.get(key).cloned(),
                    source: source.clone(),
                    changed_at: crate::model::from_millis(*at)?,
                });
            }
        }
        Ok(entries)
    }

    /// Each value's source, by location then key.
    pub fn provenance(&self) -> Result<Vec<Provenance>, StoreError> {
        let mut provenance = Vec::new();
        for (location, keys) in &self.0 {
            let location = Location::parse(location).ok_or_else(|| {
                StoreError::unexpected(format!("unknown profile location {location:?} in sources"))
            })?;
            for (key, (source, updated_at)) in keys {
                provenance.push(Provenance {
                    location,
                    key: key.clone(),
                    source: source.clone(),
                    updated_at: crate::model::from_millis(*updated_at)?,
                });
            }
        }
        Ok(provenance)
    }
}

/// A filter on one profile value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldFilter {
    /// Which bag.
    pub location: Location,
    /// Which top-level key.
    pub key: String,
    /// `Some(v)`: the value equals `v`. `None`: the key is missing (absent or `null`).
    pub equals: Option<Value>,
}

/// Which users to list; every filter is optional. Results are ordered by id: the order users came to
/// this server (signed up, created or imported).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserQuery {
    /// Exact email, compared case-insensitively.
    pub email: Option<String>,
    /// Created at or after.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_after: Option<OffsetDateTime>,
    /// Created strictly before.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_before: Option<OffsetDateTime>,
    /// A profile value's presence or value.
    pub field: Option<FieldFilter>,
    /// Page size; defaults to 50, at most 1000.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

impl UserQuery {
    /// Default page size.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// Largest page size.
    pub const MAX_LIMIT: u32 = 1000;

    /// The effective page size.
    pub fn page_size(&self) -> u32 {
        self.limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<Uuid>,
}

impl<T> Page<T> {
    /// A page of at most `limit` of `items`, read with one more, which says whether a next page
    /// exists: its cursor is then the id (`id_of`) of the page's last item.
    pub fn of(mut items: Vec<T>, limit: u32, id_of: impl Fn(&T) -> Uuid) -> Page<T> {
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(id_of)
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

/// `user` as `changes` would leave its bags, by the rule a write applies them (`null` deletes,
/// an unchanged value is no change), without writing: for deciding before a write. Changes
/// with an empty key (which a write refuses) leave the bags as they were.
pub fn apply_in_memory(user: &mut User, changes: &[ProfileChange]) {
    let mut bags = Bags::of(user);
    if bags.apply(changes).is_ok() {
        user.profile = Value::Object(bags.profile);
        user.user_metadata = Value::Object(bags.user_metadata);
        user.app_metadata = Value::Object(bags.app_metadata);
    }
}

/// A change as actually applied: the value before and after.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AppliedChange {
    pub location: Location,
    pub key: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
}

/// The three bags of a user, edited in memory inside the write transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bags {
    pub profile: Map<String, Value>,
    pub user_metadata: Map<String, Value>,
    pub app_metadata: Map<String, Value>,
}

impl Bags {
    /// The bags of a stored user (a non-object bag is read as empty).
    pub fn of(user: &User) -> Self {
        let object = |value: &Value| value.as_object().cloned().unwrap_or_default();
        Self {
            profile: object(&user.profile),
            user_metadata: object(&user.user_metadata),
            app_metadata: object(&user.app_metadata),
        }
    }

    fn bag(&mut self, location: Location) -> &mut Map<String, Value> {
        match location {
            Location::Profile => &mut self.profile,
            Location::UserMetadata => &mut self.user_metadata,
            Location::AppMetadata => &mut self.app_metadata,
        }
    }

    /// Applies key changes; returns those that changed something, in order.
    pub fn apply(&mut self, changes: &[ProfileChange]) -> Result<Vec<AppliedChange>, StoreError> {
        let mut applied = Vec::new();
        for change in changes {
            if change.key.is_empty() {
                return Err(StoreError::Invalid {
                    message: "a profile key is empty".into(),
                });
            }
            let bag = self.bag(change.location);
            let old_value = bag.get(&change.key).cloned();
            // Storing JSON null is the same as deleting: "missing" means absent or null.
            let new_value = change.value.clone().filter(|value| !value.is_null());
            if old_value == new_value {
                continue;
            }
            match &new_value {
                Some(value) => bag.insert(change.key.clone(), value.clone()),
                None => bag.remove(&change.key),
            };
            applied.push(AppliedChange {
                location: change.location,
                key: change.key.clone(),
                old_value,
                new_value,
            });
        }
        Ok(applied)
    }

    /// Turns an RFC 7396 merge patch of one bag into key changes against the current values:
    /// nested objects merge deeply, `null` deletes.
    pub fn merge_patch_changes(
        &mut self,
        location: Location,
        patch: &Value,
    ) -> Result<Vec<ProfileChange>, StoreError> {
        let Value::Object(patch) = patch else {
            return Err(StoreError::Invalid {
                message: "a merge patch must be a JSON object".into(),
            });
        };
        let bag = self.bag(location);
        Ok(patch
            .iter()
            .map(|(key, value)| {
                let merged = merge(bag.get(key).cloned(), value);
                ProfileChange {
                    location,
                    key: key.clone(),
                    value: merged,
                }
            })
            .collect())
    }

    /// The bags as JSON values, for writing.
    pub fn into_values(self) -> (Value, Value, Value) {
        (
            Value::Object(self.profile),
            Value::Object(self.user_metadata),
            Value::Object(self.app_metadata),
        )
    }
}

/// RFC 7396 applied to one value: `None` means absent.
fn merge(target: Option<Value>, patch: &Value) -> Option<Value> {
    match patch {
        Value::Null => None,
        Value::Object(fields) => {
            let mut object = match target {
                Some(Value::Object(object)) => object,
                _ => Map::new(),
            };
            for (key, value) in fields {
                match merge(object.get(key).cloned(), value) {
                    Some(merged) => object.insert(key.clone(), merged),
                    None => object.remove(key),
                };
            }
            Some(Value::Object(object))
        }
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_merges_nested_objects_and_null_deletes() {
        let target = json!({ "a": { "b": 1, "c": 2 }, "d": 3 });
        let patch = json!({ "a": { "b": null, "e": [1] }, "d": null, "f": "x" });
        let merged = merge(Some(target), &patch);
        assert_eq!(merged, Some(json!({ "a": { "c": 2, "e": [1] }, "f": "x" })));
    }

    #[test]
    fn merge_patch_replaces_non_objects_and_strips_nulls_from_new_objects() {
        assert_eq!(
            merge(Some(json!([1])), &json!({ "k": null, "j": 1 })),
            Some(json!({ "j": 1 }))
        );
        assert_eq!(
            merge(Some(json!({ "k": 1 })), &json!("s")),
            Some(json!("s"))
        );
    }

    #[test]
    fn setting_the_same_value_is_not_a_change() {
        let mut bags = Bags {
            profile: Map::new(),
            user_metadata: json!({ "k": 1 }).as_object().cloned().unwrap(),
            app_metadata: Map::new(),
        };
        let changes = [
            ProfileChange::set(Location::UserMetadata, "k", json!(1)),
            ProfileChange::set(Location::Profile, "given_name", Value::Null),
        ];
        assert!(bags.apply(&changes).unwrap().is_empty());
    }
}
