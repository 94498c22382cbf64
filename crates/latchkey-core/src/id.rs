//! 24-hex-character ids, ObjectId-like: 4 bytes of creation time (seconds),
//! 5 random bytes fixed per process, and a 3-byte counter. They sort roughly by
//! creation and never repeat within a process; the random middle keeps
//! processes sharing one database apart.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::LazyLock;

use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id([u8; 12]);

static PROCESS_RANDOM: LazyLock<[u8; 5]> = LazyLock::new(|| {
    let mut bytes = [0u8; 5];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
});

static COUNTER: LazyLock<AtomicU32> = LazyLock::new(|| AtomicU32::new(rand::random()));

impl Id {
    /// A fresh id stamped with `unix_seconds`.
    pub fn generate(unix_seconds: i64) -> Id {
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&(unix_seconds as u32).to_be_bytes());
        bytes[4..9].copy_from_slice(&*PROCESS_RANDOM);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        Id(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }

    pub fn from_bytes(bytes: [u8; 12]) -> Id {
        Id(bytes)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an id is 24 hexadecimal characters")]
pub struct InvalidId;

impl FromStr for Id {
    type Err = InvalidId;

    /// Accepts either case; anything but exactly 24 hex digits is invalid.
    fn from_str(text: &str) -> Result<Id, InvalidId> {
        if text.len() != 24 {
            return Err(InvalidId);
        }
        let mut bytes = [0u8; 12];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| InvalidId)?;
        Ok(Id(bytes))
    }
}

impl Id {
    /// The 24 hex digits, on the stack: ids are written into every answer.
    fn hex(&self) -> [u8; 24] {
        let mut text = [0u8; 24];
        hex::encode_to_slice(self.0, &mut text).expect("24 digits for 12 bytes");
        text
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.hex()).expect("hex digits are ASCII"))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({self})")
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(std::str::from_utf8(&self.hex()).expect("hex digits are ASCII"))
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_lowercase_and_accepts_uppercase() {
        let id = Id::generate(1_700_000_000);
        let text = id.to_string();
        assert_eq!(text.len(), 24);
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.parse::<Id>().unwrap(), id);
        assert_eq!(text.to_uppercase().parse::<Id>().unwrap(), id);
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "abc",
            "575ec8687ae143cd83dc4a9",
            "575ec8687ae143cd83dc4a977",
            "575ec8687ae143cd83dc4a9g",
            "575ec8687ae143cd83dc4a9é",
        ] {
            assert_eq!(bad.parse::<Id>(), Err(InvalidId), "{bad}");
        }
    }

    #[test]
    fn ids_are_unique_and_ordered_by_time() {
        let earlier = Id::generate(1_000);
        let later = Id::generate(2_000);
        assert!(earlier < later);
        let many: std::collections::HashSet<Id> = (0..10_000).map(|_| Id::generate(5)).collect();
        assert_eq!(many.len(), 10_000);
    }
}

/// Properties of id parsing (spec 1: `^[A-Fa-f0-9]{24}$`, lowercase out), and
/// of [`crate::validate::path_id`], which parses ids from paths.
#[cfg(test)]
mod properties {
    use super::*;
    use crate::validate::path_id;
    use proptest::prelude::*;

    fn is_an_id(text: &str) -> bool {
        text.chars().count() == 24 && text.chars().all(|c| c.is_ascii_hexdigit())
    }

    /// Texts near an id: hex of about the right length, with odd characters
    /// (multi-byte ones too) mixed in, and anything at all.
    fn near_an_id() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[0-9a-fA-F]{22,26}",
            3 => "[0-9a-fA-FgG é\u{0660}+-]{23,25}",
            1 => any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn parses_exactly_24_hex_digits_and_prints_them_lowercase(text in near_an_id()) {
            match text.parse::<Id>() {
                Ok(id) => {
                    prop_assert!(is_an_id(&text), "accepted {:?}", text);
                    prop_assert_eq!(id.to_string(), text.to_ascii_lowercase());
                }
                Err(InvalidId) => prop_assert!(!is_an_id(&text), "refused {:?}", text),
            }
        }

        #[test]
        fn every_id_round_trips(bytes in any::<[u8; 12]>()) {
            let id = Id(bytes);
            prop_assert_eq!(id.to_string().parse::<Id>(), Ok(id));
            prop_assert_eq!(id.to_string().to_uppercase().parse::<Id>(), Ok(id));
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<Id>(&json).unwrap(), id);
        }

        #[test]
        fn a_path_id_is_refused_naming_the_parameter(text in near_an_id()) {
            match path_id("apiTokenId", &text) {
                Ok(id) => prop_assert_eq!(id.to_string(), text.to_ascii_lowercase()),
                Err(refusal) => {
                    prop_assert!(!is_an_id(&text));
                    prop_assert!(refusal.message().starts_with("apiTokenId "), "{}", refusal.message());
                }
            }
        }
    }
}
