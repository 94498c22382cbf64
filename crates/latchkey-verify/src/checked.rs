//! The key ring, with the tokens already checked against it: an Ed25519
//! signature check costs tens of microseconds, a lookup by the token's
//! digest well under one, so each token's signature and claims are checked
//! once. A new ring (a key added or retired) starts with none: a retired
//! key's tokens are checked again, and refused. Revocation is not kept here;
//! it is looked up on every request.

use std::sync::Arc;

use latchkey_core::time::Millis;
use latchkey_core::token::{digest, KeyRing, Rejected, TokenClaims};
use quick_cache::sync::Cache;

/// How many checked tokens are kept (least recently used go first).
const CHECKED_CAPACITY: usize = 100_000;

pub(crate) struct CheckedKeys {
    ring: KeyRing,
    /// By SHA-256 digest: the map holds no token.
    checked: Cache<[u8; 32], Arc<TokenClaims>>,
}

impl CheckedKeys {
    pub fn new(ring: KeyRing) -> CheckedKeys {
        CheckedKeys {
            ring,
            checked: Cache::new(CHECKED_CAPACITY),
        }
    }

    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// The token's claims if a key of the ring signed it and it has not
    /// expired `now` (see [`KeyRing::verify_claims`]; the clock is read
    /// only when needed).
    pub fn verify(&self, token: &str, now: impl Fn() -> Millis) -> Result<Arc<TokenClaims>, Rejected> {
        let digest = digest(token);
        if let Some(claims) = self.checked.get(&digest) {
            let expired = claims.expires_at.is_some() && claims.expired_at(now());
            return match expired {
                true => Err(Rejected::Expired),
                false => Ok(claims),
            };
        }
        let claims = Arc::new(self.ring.verify_claims(token, now())?);
        self.checked.insert(digest, Arc::clone(&claims));
        Ok(claims)
    }
}
