//! Signing keys as both SQL backends keep them, and the rule of retiring
//! one, which each backend applies inside the retirement's transaction to
//! the keys as they are then.

use latchkey_core::model::{SealedSeed, StoredKey, StoredSeed};
use latchkey_core::time::Millis;
use latchkey_core::token::{signing_index, KEY_PROPAGATION};

/// Schema of key rotation, the same on both backends: when each key may
/// start signing (existing keys: always could), and when it was retired.
pub const KEY_ROTATION_SCHEMA: &str = "
ALTER TABLE signing_keys ADD COLUMN signs_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN retired_at BIGINT;
";

/// Schema of keys encrypted at rest, the same on both backends: how `seed`
/// is encrypted ([`SEALED`]), or NULL when it is the seed in clear.
pub const SEED_CIPHER_SCHEMA: &str = "
ALTER TABLE signing_keys ADD COLUMN seed_cipher TEXT;
";

/// `seed_cipher` of a sealed seed: `seed` is a [`latchkey_core::master_key`] seal.
pub const SEALED: &str = "xchacha20poly1305";

/// Every key, oldest first, in the column order the backends read.
pub const SELECT_KEYS: &str =
    "SELECT kid, seed, created_at, signs_from, retired_at, seed_cipher FROM signing_keys ORDER BY created_at, kid";

/// The `seed` and `seed_cipher` columns of a stored seed.
pub fn seed_columns(seed: &StoredSeed) -> (&[u8], Option<&'static str>) {
    match seed {
        StoredSeed::Clear(seed) => (seed.as_slice(), None),
        StoredSeed::Sealed(sealed) => (&sealed.0, Some(SEALED)),
    }
}

/// The stored seed the `seed` and `seed_cipher` columns hold; `None` when
/// they hold nothing this program writes.
pub fn stored_seed(seed: &[u8], cipher: Option<&str>) -> Option<StoredSeed> {
    match cipher {
        None => Some(StoredSeed::Clear(zeroize::Zeroizing::new(seed.try_into().ok()?))),
        Some(SEALED) => Some(StoredSeed::Sealed(SealedSeed(seed.to_vec()))),
        Some(_) => None,
    }
}

/// What a request to retire a key found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRetirement {
    Retired,
    NotFound,
    AlreadyRetired,
    /// Refused: no key would be left that has signed for
    /// [`KEY_PROPAGATION`] (long enough for every instance to sign with it).
    LastSigner,
}

/// Whether `kid` may be retired at `now`, given every key: only while
/// another key has been signing for [`KEY_PROPAGATION`], so that no instance
/// still signs with the one retired.
pub fn retirement<S: Clone>(keys: &[StoredKey<S>], kid: &str, now: Millis) -> KeyRetirement {
    let Some(key) = keys.iter().find(|key| key.kid == kid) else {
        return KeyRetirement::NotFound;
    };
    if key.retired_at.is_some() {
        return KeyRetirement::AlreadyRetired;
    }
    let remaining: Vec<StoredKey<S>> = keys.iter().filter(|key| key.kid != kid).cloned().collect();
    match signing_index(&remaining, now - KEY_PROPAGATION) {
        Some(_) => KeyRetirement::Retired,
        None => KeyRetirement::LastSigner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::token::generate_key;

    #[test]
    fn the_last_key_that_can_sign_stays() {
        let old = generate_key(0, 0);
        let new = generate_key(10_000, 15_000);
        let keys = [old.clone(), new.clone()];
        // The new key cannot sign yet, then has not signed long enough:
        // the old one is the last signer until then.
        assert_eq!(retirement(&keys, &old.kid, 11_000), KeyRetirement::LastSigner);
        assert_eq!(
            retirement(&keys, &old.kid, 15_000 + KEY_PROPAGATION - 1),
            KeyRetirement::LastSigner
        );
        assert_eq!(retirement(&keys, &new.kid, 11_000), KeyRetirement::Retired);
        assert_eq!(
            retirement(&keys, &old.kid, 15_000 + KEY_PROPAGATION),
            KeyRetirement::Retired
        );
        assert_eq!(retirement(&keys, "nope", 20_000), KeyRetirement::NotFound);
        let retired = [
            StoredKey {
                retired_at: Some(1),
                ..old.clone()
            },
            new,
        ];
        assert_eq!(retirement(&retired, &old.kid, 20_000), KeyRetirement::AlreadyRetired);
        assert_eq!(
            retirement(std::slice::from_ref(&old), &old.kid, 20_000),
            KeyRetirement::LastSigner
        );
    }
}
