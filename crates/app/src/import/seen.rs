//! The users of one import file seen so far, so that a second line of the same user (the same
//! email address, or the same id in the source system) is refused instead of overwriting the
//! first one's values in silence.
//!
//! Each address or id is kept as a 64-bit hash, in a sorted list (8 bytes each: about 8 MiB
//! for a million addresses) and a small table of the newest ones, merged into the list every
//! 65,536. A hash table of them all took 19 MiB for a million, which pushed the import of a
//! million users past its memory bound (docs/scaling.md). Two different ones share a hash with
//! a probability of about 3 in 100 million for a million users; the user that would refuse is
//! reported, so even that loses nothing in silence.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use accrete_store::normalize_email;

/// How many of the newest hashes are kept in a table before they are merged into the list.
const RECENT: usize = 1 << 16;

/// What a line repeats of an earlier line of the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeated {
    Email,
    ExternalId,
}

#[derive(Debug, Default)]
pub(super) struct Seen {
    /// Sorted, each once.
    sorted: Vec<u64>,
    /// The newest, fewer than [`RECENT`].
    recent: HashSet<u64>,
}

impl Seen {
    /// Records the user's address (as users are found by it: trimmed, lower-case) and id in
    /// the source; says what an earlier user of the file had already (nothing is recorded
    /// then).
    pub(super) fn first(&mut self, email: &str, external_id: Option<&str>) -> Result<(), Repeated> {
        let email = hash(b'e', &normalize_email(email));
        let external_id = external_id.map(|id| hash(b'x', id));
        if self.contains(email) {
            return Err(Repeated::Email);
        }
        if external_id.is_some_and(|id| self.contains(id)) {
            return Err(Repeated::ExternalId);
        }
        for hash in std::iter::once(email).chain(external_id) {
            self.recent.insert(hash);
        }
        if self.recent.len() >= RECENT {
            self.merge();
        }
        Ok(())
    }

    fn contains(&self, hash: u64) -> bool {
        self.recent.contains(&hash) || self.sorted.binary_search(&hash).is_ok()
    }

    /// Moves the newest hashes into the sorted list, merged from its end in place (the list
    /// grows by what it takes, without a second copy).
    fn merge(&mut self) {
        let mut newest: Vec<u64> = self.recent.drain().collect();
        newest.sort_unstable();
        let (mut old, mut new) = (self.sorted.len(), newest.len());
        self.sorted.reserve_exact(new);
        self.sorted.resize(old + new, 0);
        for at in (0..self.sorted.len()).rev() {
            if new == 0 {
                break;
            }
            if old > 0 && self.sorted[old - 1] > newest[new - 1] {
                self.sorted[at] = self.sorted[old - 1];
                old -= 1;
            } else {
                self.sorted[at] = newest[new - 1];
                new -= 1;
            }
        }
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

    #[test]
    fn addresses_merged_into_the_sorted_list_are_still_found() {
        let mut seen = Seen::default();
        let total = 3 * RECENT + 17;
        for i in 0..total {
            assert_eq!(
                seen.first(&format!("u{i}@example.com"), None),
                Ok(()),
                "{i}"
            );
        }
        assert!(seen.sorted.len() >= 3 * RECENT, "merged");
        assert!(
            seen.sorted.windows(2).all(|w| w[0] < w[1]),
            "sorted, each once"
        );
        for i in [0, 1, RECENT - 1, RECENT, 2 * RECENT + 5, total - 1] {
            assert_eq!(
                seen.first(&format!("U{i}@example.com"), None),
                Err(Repeated::Email),
                "{i}"
            );
        }
        assert_eq!(seen.sorted.len() + seen.recent.len(), total);
    }
}
