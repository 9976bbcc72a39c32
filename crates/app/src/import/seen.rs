//! The users of one import file seen so far, so that a second line of the same user (the same
//! email address, or the same id in the source system) is refused instead of overwriting the
//! first one's values in silence.
//!
//! Memory stays bounded by 8 bytes an address or id, in a hash table (about 19 MiB for a
//! million addresses, 38 MiB with their ids in the source): each is kept as a 64-bit hash. Two different ones share a hash with a probability of about
//! 3 in 100 million for a million users; the user that would refuse is reported, so even that
//! loses nothing in silence.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use accrete_store::normalize_email;

/// What a line repeats of an earlier line of the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeated {
    Email,
    ExternalId,
}

#[derive(Debug, Default)]
pub(super) struct Seen {
    hashes: HashSet<u64>,
}

impl Seen {
    /// Records the user's address (as users are found by it: trimmed, lower-case) and id in
    /// the source; says what an earlier user of the file had already (nothing is recorded
    /// then).
    pub(super) fn first(&mut self, email: &str, external_id: Option<&str>) -> Result<(), Repeated> {
        let email = hash(b'e', &normalize_email(email));
        let external_id = external_id.map(|id| hash(b'x', id));
        if self.hashes.contains(&email) {
            return Err(Repeated::Email);
        }
        if external_id.is_some_and(|id| self.hashes.contains(&id)) {
            return Err(Repeated::ExternalId);
        }
        self.hashes.insert(email);
        self.hashes.extend(external_id);
        Ok(())
    }
}

impl Repeated {
    /// Why the later user is not imported, for the report.
    pub(super) fn message(self) -> &'static str {
        match self {
            Repeated::Email => {
                "an earlier user of the file has the same email address, and one address is one \
                 user: merge the two in the file, or give this one its own address"
            }
            Repeated::ExternalId => {
                "an earlier user of the file has the same id in the source system: keep one of \
                 the two in the file"
            }
        }
    }

    /// The value of the line that is repeated.
    pub(super) fn path(self) -> &'static str {
        match self {
            Repeated::Email => "email",
            Repeated::ExternalId => "external_id",
        }
    }
}

/// The hash of a value of one kind (`kind` keeps an address and an id apart).
fn hash(kind: u8, value: &str) -> u64 {
    // SipHash with fixed keys: the same value has the same hash for the whole file.
    let mut hasher = DefaultHasher::new();
    kind.hash(&mut hasher);
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_user_with_the_same_address_or_id_is_told_and_not_recorded() {
        let mut seen = Seen::default();
        assert_eq!(seen.first("Ada@Example.com", Some("auth0|1")), Ok(()));
        assert_eq!(seen.first(" ada@example.COM ", None), Err(Repeated::Email));
        assert_eq!(
            seen.first("grace@example.com", Some("auth0|1")),
            Err(Repeated::ExternalId)
        );
        // The refused line recorded nothing: its address is still free.
        assert_eq!(seen.first("grace@example.com", Some("auth0|2")), Ok(()));
        // An id and an address that are the same text are different things.
        assert_eq!(seen.first("x@example.com", None), Ok(()));
        assert_eq!(seen.first("y@example.com", Some("x@example.com")), Ok(()));
    }
}
