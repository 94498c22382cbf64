//! Tokens on the wire: EdDSA (Ed25519) JWTs. The server keeps only a SHA-256
//! digest of each; a signature check lets forged or garbled tokens be refused
//! without asking the database.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::id::Id;
use crate::model::{Creator, Digest, Seed, Status, StoredKey, TokenOwnerType, TokenRecord};
use crate::time::Millis;

pub const ISSUER: &str = "latchkey";

/// Longest bearer token worth looking at; issued tokens are far shorter.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

pub fn digest(token: &str) -> Digest {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random signing key, made at `now`, that may sign from `signs_from`.
pub fn generate_key(now: Millis, signs_from: Millis) -> StoredKey {
    let mut seed = Seed::default();
    rand::rngs::OsRng.fill_bytes(&mut *seed);
    let verifying = SigningKey::from_bytes(&seed).verifying_key();
    StoredKey {
        kid: thumbprint(&verifying),
        seed,
        created_at: now,
        signs_from,
        retired_at: None,
    }
}

/// How long after a rotation the new key starts signing: every instance
/// re-reads the key ring at least once a second, so by then each can verify
/// what it signs (an instance that is behind re-reads the ring when it meets
/// the new `kid`).
pub const KEY_PROPAGATION: Millis = 2_000;

/// What a key does at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new tokens, and verifies: the newest key allowed to sign.
    Signing,
    /// Verifies the tokens it signed (an older key, or a new one not yet signing).
    Verifying,
    /// Verifies nothing: its tokens are refused and it is not published.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Signing => "signing",
            KeyState::Verifying => "verifying",
            KeyState::Retired => "retired",
        }
    }
}

/// The index of the key that signs at `now`: of the keys not retired and
/// allowed to sign by then, the one allowed last (ties: the newest).
pub fn signing_index<S>(keys: &[StoredKey<S>], now: Millis) -> Option<usize> {
    keys.iter()
        .enumerate()
        .filter(|(_, key)| key.retired_at.is_none() && key.signs_from <= now)
        .max_by_key(|(_, key)| (key.signs_from, key.created_at, key.kid.clone()))
        .map(|(index, _)| index)
}

/// Each key's state at `now`, in the order given.
pub fn key_states<S>(keys: &[StoredKey<S>], now: Millis) -> Vec<KeyState> {
    let signing = signing_index(keys, now);
    keys.iter()
        .enumerate()
        .map(|(index, key)| match key.retired_at {
            Some(_) => KeyState::Retired,
            None if Some(index) == signing => KeyState::Signing,
            None => KeyState::Verifying,
        })
        .collect()
}

/// The signer and the key ring the stored keys make at `now`; `None` when
/// no key may sign.
pub fn keys_at(keys: &[StoredKey], now: Millis) -> Option<(Signer, KeyRing)> {
    let signer = Signer::new(&keys[signing_index(keys, now)?]);
    Some((signer, KeyRing::new(keys)))
}

fn public_jwk_x(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// The RFC 7638 thumbprint of the public key, used as its `kid`.
fn thumbprint(key: &VerifyingKey) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, public_jwk_x(key));
    B64.encode(Sha256::digest(canonical.as_bytes()))
}

/// What a token says about itself (spec section 6).
#[derive(Debug, Clone, Serialize)]
pub struct Claims<'a> {
    pub iss: &'a str,
    pub sub: Id,
    pub jti: Id,
    pub iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    pub scope: &'a [String],
    #[serde(rename = "ownerType")]
    pub owner_type: &'a str,
    #[serde(rename = "ownerId")]
    pub owner_id: Id,
    /// 128 random bits that exist only in the token: with them, even someone
    /// holding the database and its signing key cannot rebuild a token from
    /// its record and digest.
    pub nonce: String,
}

impl<'a> Claims<'a> {
    pub fn new(
        id: Id,
        owner_type: TokenOwnerType,
        owner_id: Id,
        scope: &'a [String],
        issued_at: Millis,
        expires_at: Option<Millis>,
    ) -> Claims<'a> {
        let mut nonce = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        Claims {
            iss: ISSUER,
            sub: id,
            jti: id,
            iat: issued_at.div_euclid(1000),
            exp: expires_at.map(|at| at.div_euclid(1000)),
            scope,
            owner_type: owner_type.as_str(),
            owner_id,
            nonce: B64.encode(nonce),
        }
    }
}

/// Signs new tokens with the current key.
#[derive(Clone)]
pub struct Signer {
    kid: String,
    key: SigningKey,
}

impl Signer {
    pub fn new(stored: &StoredKey) -> Signer {
        Signer {
            kid: stored.kid.clone(),
            key: SigningKey::from_bytes(&stored.seed),
        }
    }

    /// The `kid` of the key it signs with.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn mint(&self, claims: &Claims<'_>) -> String {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        let signing_input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(payload));
        let signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(signature.to_bytes()))
    }
}

/// What a new token is to be: everything but the id, dates and secret.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub owner_type: TokenOwnerType,
    pub owner_id: Id,
    pub creator: Creator,
    pub name: String,
    pub description: String,
    pub scope: Vec<String>,
    pub status: Status,
    pub expiration_date: Option<Millis>,
}

impl Signer {
    /// Mints a token: its record (holding only the digest) and the secret,
    /// which the caller shows once and forgets.
    pub fn issue(&self, new: NewToken, now: Millis) -> (TokenRecord, String) {
        let id = Id::generate(now.div_euclid(1000));
        let secret = self.mint(&Claims::new(
            id,
            new.owner_type,
            new.owner_id,
            &new.scope,
            now,
            new.expiration_date,
        ));
        let record = TokenRecord {
            id,
            owner_type: new.owner_type,
            owner_id: new.owner_id,
            creator: new.creator,
            name: new.name,
            description: new.description,
            scope: new.scope,
            status: new.status,
            creation_date: now,
            last_updated: now,
            expiration_date: new.expiration_date,
            digest: digest(&secret),
            last_used: None,
        };
        (record, secret)
    }
}

/// Why a bearer token was refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token is not signed with EdDSA by a key of this service")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    /// Only from [`KeyRing::verify_claims`]: well signed, but not claims a
    /// Latchkey token carries.
    #[error("the token's claims are not those of a Latchkey token")]
    BadClaims,
    /// Only from [`KeyRing::verify_claims`].
    #[error("the token has expired")]
    Expired,
}

/// What a token whose signature checked says about itself, owned: all a
/// verifier without the database decides with (`latchkey-verify`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub id: Id,
    pub owner_type: TokenOwnerType,
    pub owner_id: Id,
    pub scope: Vec<String>,
    /// Seconds since the Unix epoch.
    pub issued_at: i64,
    /// Seconds since the Unix epoch; `None` when the token never expires.
    pub expires_at: Option<i64>,
}

impl TokenClaims {
    /// Whether the token has expired at `now` (milliseconds).
    pub fn expired_at(&self, now: Millis) -> bool {
        self.expires_at.is_some_and(|exp| exp.saturating_mul(1000) <= now)
    }
}

/// The claims as [`Claims`] writes them; the nonce is not needed to decide.
#[derive(Deserialize)]
struct WireClaims<'a> {
    iss: &'a str,
    sub: Id,
    jti: Id,
    iat: i64,
    exp: Option<i64>,
    scope: Vec<String>,
    #[serde(rename = "ownerType")]
    owner_type: &'a str,
    #[serde(rename = "ownerId")]
    owner_id: Id,
}

/// Why a JSON Web Key Set could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a JSON Web Key Set of Ed25519 keys: {0}")]
pub struct InvalidJwks(&'static str);

/// The token of an `Authorization` header's value `Bearer <token>`: the
/// scheme in any case, the words separated by any ASCII whitespace, nothing
/// else (spec section 3).
pub fn bearer_token(value: &str) -> Option<&str> {
    // Byte by byte rather than word by word: it runs on every request.
    let (scheme, rest) = value.trim_ascii().split_once(|c: char| c.is_ascii_whitespace())?;
    let token = rest.trim_ascii_start();
    // Counted, not searched: a loop with no early exit is vectorized.
    let one_word = token.bytes().filter(u8::is_ascii_whitespace).count() == 0;
    (scheme.eq_ignore_ascii_case("bearer") && one_word).then_some(token)
}

/// The public keys tokens are verified with, by `kid`.
#[derive(Default, Clone)]
pub struct KeyRing {
    keys: HashMap<String, VerifyingKey>,
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

impl KeyRing {
    /// The ring of every key not retired.
    pub fn new(stored: &[StoredKey]) -> KeyRing {
        let keys = stored
            .iter()
            .filter(|key| key.retired_at.is_none())
            .map(|key| (key.kid.clone(), SigningKey::from_bytes(&key.seed).verifying_key()))
            .collect();
        KeyRing { keys }
    }

    /// The ring a published JWKS (`/.well-known/jwks.json`, [`KeyRing::jwks`])
    /// describes. Keys of other kinds are skipped: they verify no token of
    /// Latchkey's.
    pub fn from_jwks(jwks: &Value) -> Result<KeyRing, InvalidJwks> {
        let published = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(InvalidJwks("no \"keys\" array"))?;
        let mut keys = HashMap::new();
        for key in published {
            let field = |name: &str| key.get(name).and_then(Value::as_str);
            let alg_fits = field("alg").is_none_or(|alg| alg == "EdDSA");
            if field("kty") != Some("OKP") || field("crv") != Some("Ed25519") || !alg_fits {
                continue;
            }
            let kid = field("kid").ok_or(InvalidJwks("an Ed25519 key without a kid"))?;
            let x: [u8; 32] = field("x")
                .and_then(|x| B64.decode(x).ok())
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or(InvalidJwks("an Ed25519 key whose x is not 32 bytes of base64url"))?;
            let public = VerifyingKey::from_bytes(&x).map_err(|_| InvalidJwks("an Ed25519 key off the curve"))?;
            keys.insert(kid.to_string(), public);
        }
        Ok(KeyRing { keys })
    }

    /// The `kid`s in the ring, sorted: two rings with the same are the same.
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        kids
    }

    /// Whether the key that signed `token` (by its header's `kid`) is in the
    /// ring: for a token whose signature was checked before, whether it
    /// still may be trusted.
    pub fn holds_key_of(&self, token: &str) -> bool {
        header_of(token).is_some_and(|header| header.kid.is_some_and(|kid| self.keys.contains_key(&kid)))
    }

    /// Checks shape, algorithm, key and signature; says nothing of whether
    /// the token still exists.
    pub fn verify(&self, token: &str) -> Result<(), Rejected> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejected::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header), Some(_payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Rejected::Malformed);
        };
        let header = header_of(header).ok_or(Rejected::Malformed)?;
        if header.alg != "EdDSA" {
            return Err(Rejected::UnknownKey);
        }
        let key = header
            .kid
            .and_then(|kid| self.keys.get(&kid))
            .ok_or(Rejected::UnknownKey)?;
        let signature: [u8; 64] = B64
            .decode(signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(Rejected::Malformed)?;
        let signed = &token[..token.len() - signature_len(token)];
        key.verify_strict(signed.as_bytes(), &Signature::from_bytes(&signature))
            .map_err(|_| Rejected::BadSignature)
    }

    /// Checks the token as [`KeyRing::verify`] does, then its claims: issued
    /// by Latchkey (`iss`), `sub` the same as `jti`, and not expired at `now`
    /// (`exp` is in whole seconds, so this refuses up to a second before the
    /// token's record expires, never after). Says nothing of whether the
    /// token was revoked.
    pub fn verify_claims(&self, token: &str, now: Millis) -> Result<TokenClaims, Rejected> {
        self.verify(token)?;
        let payload = token.split('.').nth(1).ok_or(Rejected::Malformed)?;
        let payload = B64.decode(payload).map_err(|_| Rejected::Malformed)?;
        let claims: WireClaims = serde_json::from_slice(&payload).map_err(|_| Rejected::BadClaims)?;
        let owner_type = TokenOwnerType::parse(claims.owner_type).ok_or(Rejected::BadClaims)?;
        if claims.iss != ISSUER || claims.sub != claims.jti {
            return Err(Rejected::BadClaims);
        }
        let claims = TokenClaims {
            id: claims.jti,
            owner_type,
            owner_id: claims.owner_id,
            scope: claims.scope,
            issued_at: claims.iat,
            expires_at: claims.exp,
        };
        match claims.expired_at(now) {
            true => Err(Rejected::Expired),
            false => Ok(claims),
        }
    }

    /// The JSON Web Key Set of `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        let mut keys: Vec<(&String, &VerifyingKey)> = self.keys.iter().collect();
        keys.sort_by_key(|(kid, _)| kid.as_str());
        let keys: Vec<Value> = keys
            .into_iter()
            .map(|(kid, key)| {
                json!({"kty": "OKP", "crv": "Ed25519", "x": public_jwk_x(key), "kid": kid, "alg": "EdDSA", "use": "sig"})
            })
            .collect();
        json!({ "keys": keys })
    }
}

/// The header of a compact JWT (or of its first part alone).
fn header_of(token: &str) -> Option<Header> {
    let encoded = token.split('.').next()?;
    B64.decode(encoded)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

/// Length of the `.signature` tail of a compact JWT.
fn signature_len(token: &str) -> usize {
    token.len() - token.rfind('.').unwrap_or(token.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mint(signer: &Signer) -> String {
        let scope = vec!["all.Application".to_string()];
        let id = Id::generate(1);
        signer.mint(&Claims::new(
            id,
            TokenOwnerType::Application,
            id,
            &scope,
            1_000,
            Some(9_000_000),
        ))
    }

    #[test]
    fn minted_tokens_verify_and_carry_their_claims() {
        let key = generate_key(0, 0);
        let token = mint(&Signer::new(&key));
        let ring = KeyRing::new(&[key]);
        assert_eq!(ring.verify(&token), Ok(()));
        let payload: Value = serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
        assert_eq!(payload["iss"], "latchkey");
        assert_eq!(payload["sub"], payload["jti"]);
        assert_eq!(payload["iat"], 1);
        assert_eq!(payload["exp"], 9_000);
        assert_eq!(payload["ownerType"], "application");
        let header: Value = serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
        assert_eq!(header["alg"], "EdDSA");
    }

    #[test]
    fn two_tokens_for_the_same_record_differ() {
        let signer = Signer::new(&generate_key(0, 0));
        let scope: Vec<String> = vec![];
        let id = Id::generate(1);
        let claims = |_| Claims::new(id, TokenOwnerType::User, id, &scope, 0, None);
        assert_ne!(signer.mint(&claims(1)), signer.mint(&claims(2)));
    }

    #[test]
    fn forgeries_are_rejected() {
        let key = generate_key(0, 0);
        let other = generate_key(0, 0);
        let ring = KeyRing::new(std::slice::from_ref(&key));
        let token = mint(&Signer::new(&key));
        let parts: Vec<&str> = token.split('.').collect();

        assert_eq!(ring.verify(&mint(&Signer::new(&other))), Err(Rejected::UnknownKey));
        let none_header = B64.encode(format!(r#"{{"alg":"none","kid":"{}"}}"#, key.kid));
        assert_eq!(
            ring.verify(&format!("{none_header}.{}.", parts[1])),
            Err(Rejected::UnknownKey)
        );
        let tampered = B64.encode(r#"{"sub":"x","scope":["all.User"]}"#);
        assert_eq!(
            ring.verify(&format!("{}.{tampered}.{}", parts[0], parts[2])),
            Err(Rejected::BadSignature)
        );
        // The other key's signature over our header and payload, with our kid.
        let other_signer = Signer::new(&StoredKey {
            kid: key.kid.clone(),
            ..other
        });
        assert_eq!(ring.verify(&mint(&other_signer)), Err(Rejected::BadSignature));
        for garbage in ["", "a", "a.b", "a.b.c.d", "!!.!!.!!", &format!("{token}x")] {
            assert!(ring.verify(garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn jwks_publishes_the_public_key_under_its_thumbprint() {
        let key = generate_key(0, 0);
        let jwks = KeyRing::new(std::slice::from_ref(&key)).jwks();
        assert_eq!(jwks["keys"][0]["kid"], key.kid.as_str());
        assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
        assert!(jwks.to_string().find(&B64.encode(*key.seed)).is_none());
    }

    #[test]
    fn a_rotated_in_key_signs_only_from_its_time_and_a_retired_one_never_verifies() {
        let old = generate_key(0, 0);
        let new = generate_key(1_000, 1_000 + KEY_PROPAGATION);
        let keys = [old.clone(), new.clone()];
        let states = |at| key_states(&keys, at);
        assert_eq!(states(1_500), [KeyState::Signing, KeyState::Verifying]);
        assert_eq!(states(3_000), [KeyState::Verifying, KeyState::Signing]);
        let (signer, ring) = keys_at(&keys, 1_500).unwrap();
        let by_old = mint(&signer);
        assert!(ring.verify(&by_old).is_ok() && ring.holds_key_of(&by_old));
        let (signer, ring) = keys_at(&keys, 3_000).unwrap();
        let by_new = mint(&signer);
        assert_eq!(header_of(&by_new).unwrap().kid.as_deref(), Some(new.kid.as_str()));
        assert!(ring.verify(&by_old).is_ok() && ring.verify(&by_new).is_ok());

        let retired = [
            StoredKey {
                retired_at: Some(3_500),
                ..old
            },
            new,
        ];
        assert_eq!(key_states(&retired, 4_000), [KeyState::Retired, KeyState::Signing]);
        let (_, ring) = keys_at(&retired, 4_000).unwrap();
        assert_eq!(ring.verify(&by_old), Err(Rejected::UnknownKey));
        assert!(!ring.holds_key_of(&by_old) && ring.holds_key_of(&by_new));
        assert_eq!(ring.kids(), [retired[1].kid.as_str()]);
        assert!(!ring.jwks().to_string().contains(&retired[0].kid));
    }

    #[test]
    fn a_ring_read_from_the_published_jwks_verifies_what_the_key_signed() {
        let key = generate_key(0, 0);
        let token = mint(&Signer::new(&key));
        let mut jwks = KeyRing::new(std::slice::from_ref(&key)).jwks();
        // Keys of other kinds may share the set; they are skipped.
        jwks["keys"]
            .as_array_mut()
            .unwrap()
            .push(json!({"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"}));
        let ring = KeyRing::from_jwks(&jwks).unwrap();
        assert_eq!(ring.kids(), [key.kid.as_str()]);
        assert_eq!(ring.verify(&token), Ok(()));
        assert_eq!(
            KeyRing::from_jwks(&json!({"keys": []})).unwrap().verify(&token),
            Err(Rejected::UnknownKey)
        );

        let x = B64.encode(SigningKey::from_bytes(&key.seed).verifying_key().as_bytes());
        for invalid in [
            json!({}),
            json!({"keys": {}}),
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x}]}),
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": "short"}]}),
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k"}]}),
        ] {
            assert!(KeyRing::from_jwks(&invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn verified_claims_are_the_tokens_own_and_expired_or_foreign_ones_are_refused() {
        let key = generate_key(0, 0);
        let signer = Signer::new(&key);
        let ring = KeyRing::new(std::slice::from_ref(&key));
        let scope = vec!["device.get".to_string()];
        let (id, owner) = (Id::generate(1), Id::generate(2));
        let claims = Claims::new(id, TokenOwnerType::Application, owner, &scope, 1_000, Some(9_000_500));
        let token = signer.mint(&claims);

        let verified = ring.verify_claims(&token, 8_999_999).unwrap();
        assert_eq!(
            verified,
            TokenClaims {
                id,
                owner_type: TokenOwnerType::Application,
                owner_id: owner,
                scope: scope.clone(),
                issued_at: 1,
                expires_at: Some(9_000),
            }
        );
        // `exp` is whole seconds: refused from that second on.
        assert_eq!(ring.verify_claims(&token, 9_000_000), Err(Rejected::Expired));
        let forever = signer.mint(&Claims::new(id, TokenOwnerType::User, owner, &scope, 0, None));
        assert_eq!(ring.verify_claims(&forever, i64::MAX).unwrap().expires_at, None);

        let foreign = signer.mint(&Claims {
            iss: "someone-else",
            ..claims.clone()
        });
        assert_eq!(ring.verify_claims(&foreign, 0), Err(Rejected::BadClaims));
        let mismatched = signer.mint(&Claims {
            sub: owner,
            ..claims.clone()
        });
        assert_eq!(ring.verify_claims(&mismatched, 0), Err(Rejected::BadClaims));
        let unowned = signer.mint(&Claims {
            owner_type: "organization",
            ..claims
        });
        assert_eq!(ring.verify_claims(&unowned, 0), Err(Rejected::BadClaims));
        let by_other_key = mint(&Signer::new(&generate_key(0, 0)));
        assert_eq!(ring.verify_claims(&by_other_key, 0), Err(Rejected::UnknownKey));
    }

    #[test]
    fn a_bearer_header_holds_one_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token(" bEaReR\tabc "), Some("abc"));
        for refused in ["", "Bearer", "Basic abc", "Bearer a b", "abc"] {
            assert_eq!(bearer_token(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn without_a_key_allowed_to_sign_there_is_no_signer() {
        let future = generate_key(0, 10_000);
        assert!(keys_at(std::slice::from_ref(&future), 5_000).is_none());
        let retired = StoredKey {
            retired_at: Some(1),
            ..generate_key(0, 0)
        };
        assert!(keys_at(&[retired], 5_000).is_none());
    }
}
