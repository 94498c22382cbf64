//! Signing keys encrypted at rest. A master key, kept outside the database,
//! seals each signing key's seed with XChaCha20-Poly1305: a random 192-bit
//! nonce per seal (random nonces that long never repeat in practice), and
//! the key's `kid` as associated data, so a sealed seed opens only in its
//! own key's row. With its keys sealed, the database alone cannot sign a
//! token.
//!
//! The rule for the stored keys: given a master key, every key must be
//! sealed with it; given none, every key must be in clear. Anything else is
//! an error saying what to do, never a new key.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::model::{SealedSeed, Seed, StoredKey, StoredSeed};

/// A sealed seed is this nonce, then the encrypted seed and its 16-byte tag.
const NONCE_LEN: usize = 24;

/// 32 random bytes that seal and open the signing keys' seeds; wiped from
/// memory when dropped, and never shown by `Debug`.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// A master key file's text is not a master key. Quotes none of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("it does not hold a master key: expected 64 hexadecimal digits (32 bytes) and nothing else")]
pub struct MalformedMasterKey;

impl MasterKey {
    pub fn generate() -> MasterKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut *bytes);
        MasterKey(bytes)
    }

    /// The text of a master key file: 64 lowercase hexadecimal digits.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(*self.0))
    }

    /// Reads the text of a master key file: 64 hexadecimal digits, with
    /// white space around them (a final newline) ignored.
    pub fn from_hex(text: &str) -> Result<MasterKey, MalformedMasterKey> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), &mut *bytes).map_err(|_| MalformedMasterKey)?;
        Ok(MasterKey(bytes))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.0).into())
    }

    /// `seed`, encrypted for the key `kid` alone.
    pub fn seal(&self, kid: &str, seed: &Seed) -> SealedSeed {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: seed.as_slice(),
            aad: kid.as_bytes(),
        };
        let encrypted = self
            .cipher()
            .encrypt(&XNonce::from(nonce), payload)
            .expect("a 32-byte seed is far below XChaCha20-Poly1305's message limit");
        SealedSeed([nonce.as_slice(), &encrypted].concat())
    }

    /// The seed `sealed` holds; `None` when it was not sealed with this
    /// master key for the key `kid` (or was altered since).
    pub fn open(&self, kid: &str, sealed: &SealedSeed) -> Option<Seed> {
        let (nonce, encrypted) = sealed.0.split_at_checked(NONCE_LEN)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let payload = Payload {
            msg: encrypted,
            aad: kid.as_bytes(),
        };
        let opened = Zeroizing::new(self.cipher().decrypt(&XNonce::from(nonce), payload).ok()?);
        Some(Zeroizing::new(opened.as_slice().try_into().ok()?))
    }
}

/// Why the stored keys cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the signing keys are encrypted at rest, and no master key was given")]
    MasterKeyMissing,
    #[error(
        "signing key {kid} is stored in clear, yet a master key was given: encrypt the stored keys first (`latchkey admin keys encrypt`)"
    )]
    StoredInClear { kid: String },
    #[error(
        "the master key given does not decrypt signing key {kid}: it is not the master key the keys were encrypted with"
    )]
    WrongMasterKey { kid: String },
}

/// A new key as the database is to keep it: sealed when there is a master key.
pub fn to_stored(key: StoredKey, master: Option<&MasterKey>) -> StoredKey<StoredSeed> {
    let seed = match master {
        Some(master) => StoredSeed::Sealed(master.seal(&key.kid, &key.seed)),
        None => StoredSeed::Clear(key.seed.clone()),
    };
    key.with_seed(seed)
}

/// The stored keys in clear, by the rule in this module's documentation.
pub fn open_keys(keys: Vec<StoredKey<StoredSeed>>, master: Option<&MasterKey>) -> Result<Vec<StoredKey>, KeyError> {
    keys.into_iter()
        .map(|key| {
            let seed = match (&key.seed, master) {
                (StoredSeed::Clear(seed), None) => seed.clone(),
                (StoredSeed::Clear(_), Some(_)) => return Err(KeyError::StoredInClear { kid: key.kid }),
                (StoredSeed::Sealed(_), None) => return Err(KeyError::MasterKeyMissing),
                (StoredSeed::Sealed(sealed), Some(master)) => master
                    .open(&key.kid, sealed)
                    .ok_or_else(|| KeyError::WrongMasterKey { kid: key.kid.clone() })?,
            };
            Ok(key.with_seed(seed))
        })
        .collect()
}

/// What encrypting the stored keys changes: each key in clear, sealed with
/// `master`. Keys sealed already stay as they are, but must open with
/// `master`, so that every key ends sealed with the same one.
pub fn seal_clear_keys(
    keys: &[StoredKey<StoredSeed>],
    master: &MasterKey,
) -> Result<Vec<StoredKey<StoredSeed>>, KeyError> {
    let mut sealed = Vec::new();
    for key in keys {
        match &key.seed {
            StoredSeed::Clear(seed) => {
                sealed.push(key.clone().with_seed(StoredSeed::Sealed(master.seal(&key.kid, seed))))
            }
            StoredSeed::Sealed(already) if master.open(&key.kid, already).is_none() => {
                return Err(KeyError::WrongMasterKey { kid: key.kid.clone() })
            }
            StoredSeed::Sealed(_) => {}
        }
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::generate_key;

    fn stored(key: &StoredKey) -> StoredKey<StoredSeed> {
        key.clone().with_seed(StoredSeed::Clear(key.seed.clone()))
    }

    fn sealed_bytes(key: &StoredKey<StoredSeed>) -> &[u8] {
        match &key.seed {
            StoredSeed::Sealed(sealed) => &sealed.0,
            StoredSeed::Clear(_) => panic!("{key:?} is in clear"),
        }
    }

    #[test]
    fn a_sealed_seed_opens_only_with_its_master_key_and_kid() {
        let master = MasterKey::generate();
        let key = generate_key(0, 0);
        let sealed = master.seal(&key.kid, &key.seed);
        assert_eq!(sealed.0.len(), NONCE_LEN + 32 + 16);
        assert!(!sealed.0.windows(32).any(|window| window == key.seed.as_slice()));
        assert_eq!(master.open(&key.kid, &sealed), Some(key.seed.clone()));
        assert!(master.seal(&key.kid, &key.seed) != sealed, "a fresh nonce each time");

        let other = generate_key(0, 0);
        assert_eq!(master.open(&other.kid, &sealed), None, "moved to another key's row");
        assert_eq!(
            MasterKey::generate().open(&key.kid, &sealed),
            None,
            "another master key"
        );
        let mut altered = sealed.clone();
        altered.0[NONCE_LEN] ^= 1;
        assert_eq!(master.open(&key.kid, &altered), None);
        assert_eq!(
            master.open(&key.kid, &SealedSeed(sealed.0[..NONCE_LEN - 1].to_vec())),
            None
        );
    }

    #[test]
    fn a_master_key_file_holds_64_hex_digits() {
        let master = MasterKey::generate();
        let text = format!("{}\n", *master.to_hex());
        let read = MasterKey::from_hex(&text).unwrap();
        assert_eq!(*read.0, *master.0);
        assert!(MasterKey::from_hex(&text.to_uppercase()).is_ok());
        let short = &text[..62];
        for bad in [
            "",
            short,
            &format!("{text}00"),
            &text.replace(&text[..1], "g"),
            "hunter2",
        ] {
            let error = MasterKey::from_hex(bad).expect_err(bad).to_string();
            assert!(!error.contains("hunter2") && !error.contains(short), "{error}");
        }
        assert_eq!(format!("{master:?}"), "MasterKey(..)");
    }

    #[test]
    fn keys_open_only_as_the_master_key_given_says() {
        let master = MasterKey::generate();
        let (first, second) = (generate_key(0, 0), generate_key(1, 1));
        let clear = vec![stored(&first), stored(&second)];
        assert_eq!(open_keys(clear.clone(), None).unwrap(), [first.clone(), second.clone()]);
        assert_eq!(
            open_keys(clear.clone(), Some(&master)),
            Err(KeyError::StoredInClear { kid: first.kid.clone() })
        );

        let sealed = vec![
            to_stored(first.clone(), Some(&master)),
            to_stored(second.clone(), Some(&master)),
        ];
        assert_ne!(sealed_bytes(&sealed[0]), first.seed.as_slice());
        assert_eq!(
            open_keys(sealed.clone(), Some(&master)).unwrap(),
            [first.clone(), second.clone()]
        );
        assert_eq!(open_keys(sealed.clone(), None), Err(KeyError::MasterKeyMissing));
        assert_eq!(
            open_keys(sealed.clone(), Some(&MasterKey::generate())),
            Err(KeyError::WrongMasterKey { kid: first.kid.clone() })
        );
        let mixed = vec![sealed[0].clone(), clear[1].clone()];
        assert_eq!(open_keys(mixed.clone(), None), Err(KeyError::MasterKeyMissing));
        assert_eq!(
            open_keys(mixed, Some(&master)),
            Err(KeyError::StoredInClear {
                kid: second.kid.clone()
            })
        );
    }

    #[test]
    fn sealing_leaves_sealed_keys_alone_and_refuses_another_master_key() {
        let master = MasterKey::generate();
        let (first, second) = (generate_key(0, 0), generate_key(1, 1));
        let mixed = vec![to_stored(first.clone(), Some(&master)), stored(&second)];
        let changed = seal_clear_keys(&mixed, &master).unwrap();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].kid, second.kid);
        let all_sealed = vec![mixed[0].clone(), changed[0].clone()];
        assert_eq!(
            open_keys(all_sealed.clone(), Some(&master)).unwrap(),
            [first.clone(), second]
        );
        assert_eq!(
            seal_clear_keys(&all_sealed, &master).unwrap(),
            [],
            "nothing left to seal"
        );
        assert_eq!(
            seal_clear_keys(&mixed, &MasterKey::generate()),
            Err(KeyError::WrongMasterKey { kid: first.kid })
        );
    }
}
