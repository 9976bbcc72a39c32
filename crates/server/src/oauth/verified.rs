//! The access tokens whose signature this node verified (see [`VerifiedTokens`]); what
//! [`verify_access_token`](super::verify_access_token) asks before verifying a signature.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use accrete_oidc::jwt::AccessTokenClaims;
use accrete_oidc::keys::KeySet;
use sha2::{Digest, Sha256};

/// The most tokens [`VerifiedTokens`] remembers (it starts again empty when full).
const MAX_VERIFIED_TOKENS: usize = 4096;

/// Access tokens whose signature this node verified, by the SHA-256 of their exact bytes, for
/// the key set that verified them. A back end presents the same client-credentials token at
/// every call (an identity provider's check call of companion mode at every sign-in, every
/// management API call), and verifying its ES256 signature was about half of such a call's CPU.
/// Only the signature is remembered: the issuer and the times are checked at every use, and
/// the client and the grant too ([`verify_access_token`](super::verify_access_token)); another key set (a reload, a
/// rotation) forgets every token.
#[derive(Default)]
pub struct VerifiedTokens {
    memo: Mutex<Memo>,
}

#[derive(Default)]
struct Memo {
    keys: Option<Arc<KeySet>>,
    tokens: HashMap<[u8; 32], AccessTokenClaims>,
}

impl VerifiedTokens {
    fn digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The claims of `token` if `keys` verified its signature before.
    pub(crate) fn get(&self, keys: &Arc<KeySet>, token: &str) -> Option<AccessTokenClaims> {
        let memo = self.memo.lock().unwrap_or_else(PoisonError::into_inner);
        match &memo.keys {
            Some(known) if Arc::ptr_eq(known, keys) => {
                memo.tokens.get(&Self::digest(token)).cloned()
            }
            _ => None,
        }
    }

    /// Remembers that `keys` verified `token`'s signature.
    pub(crate) fn put(&self, keys: &Arc<KeySet>, token: &str, claims: &AccessTokenClaims) {
        let mut memo = self.memo.lock().unwrap_or_else(PoisonError::into_inner);
        let same = memo.keys.as_ref().is_some_and(|k| Arc::ptr_eq(k, keys));
        if !same || memo.tokens.len() >= MAX_VERIFIED_TOKENS {
            memo.tokens.clear();
            memo.keys = Some(keys.clone());
        }
        memo.tokens.insert(Self::digest(token), claims.clone());
    }
}

#[cfg(test)]
mod tests {
    use accrete_oidc::jwt;
    use accrete_oidc::keys::SigningKey;
    use time::OffsetDateTime;

    use super::*;

    fn key_set() -> Arc<KeySet> {
        use accrete_oidc::keys::KeySchedule;
        let now = OffsetDateTime::now_utc();
        let key = SigningKey::generate(
            accrete_oidc::keys::Alg::ES256,
            KeySchedule::immediately(now),
        )
        .unwrap();
        Arc::new(KeySet::new(vec![key]))
    }

    fn claims(client: &str) -> AccessTokenClaims {
        AccessTokenClaims::new(
            "https://id.example",
            client,
            client,
            jwt::Audience::from_list(vec!["https://id.example".into()]),
            &["companion:check".to_owned()],
            OffsetDateTime::now_utc(),
            time::Duration::minutes(5),
        )
    }

    #[test]
    fn a_signature_is_remembered_for_the_same_bytes_and_the_same_key_set_only() {
        let verified = VerifiedTokens::default();
        let (keys, other_keys) = (key_set(), key_set());
        let claims = claims("backend");
        verified.put(&keys, "header.payload.signature", &claims);
        assert_eq!(
            verified.get(&keys, "header.payload.signature"),
            Some(claims.clone())
        );
        assert_eq!(verified.get(&keys, "header.payload.signaturE"), None);
        assert_eq!(
            verified.get(&other_keys, "header.payload.signature"),
            None,
            "another key set verified nothing"
        );
        // A token verified with the new set forgets those of the old one.
        verified.put(&other_keys, "another.token.here", &claims);
        assert_eq!(verified.get(&keys, "header.payload.signature"), None);
        assert_eq!(
            verified.get(&other_keys, "another.token.here"),
            Some(claims)
        );
    }

    #[test]
    fn the_memo_of_signatures_is_bounded() {
        let verified = VerifiedTokens::default();
        let keys = key_set();
        let claims = claims("backend");
        for n in 0..=MAX_VERIFIED_TOKENS {
            verified.put(&keys, &format!("token-{n}"), &claims);
        }
        let memo = verified.memo.lock().unwrap();
        assert!(
            memo.tokens.len() <= MAX_VERIFIED_TOKENS,
            "{}",
            memo.tokens.len()
        );
    }
}
