//! Hashing and randomness: Argon2id for PINs and passwords, SHA-256 for
//! session tokens, HMAC-SHA256 for the audit chain.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Turns at Argon2: each hash takes 19 MiB and tens of milliseconds of a
/// core, so however many threads ask at once (a flood of sign-ins), at
/// most as many hash as there are cores, and memory stays bounded. The
/// server also queues sign-ins before they reach here, and refuses them
/// when its queue is full (`carrel_server::api::PasswordChecks`).
struct ArgonTurns {
    free: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

fn with_argon_turn<T>(work: impl FnOnce() -> T) -> T {
    static TURNS: std::sync::OnceLock<ArgonTurns> = std::sync::OnceLock::new();
    let turns = TURNS.get_or_init(|| ArgonTurns {
        free: std::sync::Mutex::new(std::thread::available_parallelism().map_or(1, |n| n.get())),
        freed: std::sync::Condvar::new(),
    });
    {
        let free = turns.free.lock().unwrap_or_else(|p| p.into_inner());
        let mut free = turns
            .freed
            .wait_while(free, |free| *free == 0)
            .unwrap_or_else(|p| p.into_inner());
        *free -= 1;
    }
    // Given back even if the work panics.
    struct Release<'a>(&'a ArgonTurns);
    impl Drop for Release<'_> {
        fn drop(&mut self) {
            *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            self.0.freed.notify_one();
        }
    }
    let _release = Release(turns);
    work()
}

/// Hashes a PIN or password with Argon2id and a random salt (PHC string).
pub(crate) fn hash_secret(secret: &str) -> Result<String, Error> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::internal(e.to_string()))?;
    with_argon_turn(|| {
        Argon2::default()
            .hash_password(secret.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(format!("hashing failed: {e}")))
    })
}

/// Checks a secret against a stored hash. A malformed hash never verifies.
pub(crate) fn verify_secret(secret: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            with_argon_turn(|| {
                Argon2::default()
                    .verify_password(secret.as_bytes(), &h)
                    .is_ok()
            })
        })
        .unwrap_or(false)
}

/// Spends the same time as a real check, so a missing account cannot be
/// told from a wrong password by timing.
pub(crate) fn verify_against_nothing(secret: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_secret("carrel-dummy-secret").unwrap_or_default());
    let _ = verify_secret(secret, dummy);
}

pub(crate) fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(hex(&bytes))
}

/// A random whole number in `range`: for identifiers that must not count
/// (a sequence would tell whoever gets the next one how many were made
/// in between, L6).
pub(crate) fn random_in(range: std::ops::Range<i64>) -> Result<i64, Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    let span = (range.end - range.start) as u64;
    Ok(range.start + (u64::from_le_bytes(bytes) % span) as i64)
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The secret key of the audit chain. Kept outside the database, so someone
/// who can edit the database cannot recompute valid hashes.
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl AuditKey {
    /// Makes a new random key (32 bytes from the system's random source), for a
    /// new library's audit log.
    pub fn generate() -> Result<AuditKey, Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
        Ok(AuditKey(bytes))
    }

    /// Reads a key written by [`AuditKey::to_hex`].
    pub fn from_hex(text: &str) -> Result<AuditKey, Error> {
        let text = text.trim();
        let bad = || {
            Error::config("the audit key file must hold 64 hexadecimal characters (32 bytes); restore it from backup, or point --audit-key-file at the right file")
        };
        if text.len() != 64 {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(chunk).map_err(|_| bad())?;
            bytes[i] = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(AuditKey(bytes))
    }

    /// The key as 64 hexadecimal characters, as the audit key file holds it: as
    /// secret as the key.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    pub(crate) fn mac(&self, message: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(message);
        hex(&mac.finalize().into_bytes())
    }

    /// A keyed pseudonym of a name no account has (an unknown card number
    /// or username), under which its failed sign-ins are counted: the
    /// database never holds the name itself, and without the key (kept
    /// outside the database) a pseudonym cannot be matched to names by
    /// trying them. The key used is derived from the audit key for this
    /// use alone, so a pseudonym is never an audit hash. 63 bits: two names
    /// share a count once in billions of pairs, and only unknown names
    /// share it, which no sign-in can succeed with anyway.
    pub(crate) fn pseudonym(&self, kind: &str, name: &str) -> i64 {
        let mut derive =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        derive.update(b"carrel: pseudonyms of unknown sign-in names");
        let derived = derive.finalize().into_bytes();
        let mut mac = Hmac::<Sha256>::new_from_slice(&derived).expect("HMAC takes any key length");
        mac.update(kind.as_bytes());
        mac.update(b"\0");
        mac.update(name.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) >> 1) as i64
    }

    /// [`AuditKey::mac`] for many messages: the key is set up once, since
    /// setting it up costs as much as the MAC of a short message, and a
    /// purge step tags some 30,000 erased entries.
    pub(crate) fn macs(&self) -> impl Fn(&[u8]) -> String {
        let keyed = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        move |message| {
            let mut mac = keyed.clone();
            mac.update(message);
            hex(&mac.finalize().into_bytes())
        }
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_verify_only_themselves() {
        let h = hash_secret("1234").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_secret("1234", &h));
        assert!(!verify_secret("1235", &h));
        assert!(!verify_secret("1234", "not a hash"));
    }

    #[test]
    fn audit_key_round_trips_and_rejects_garbage() {
        let k = AuditKey::generate().unwrap();
        assert_eq!(
            AuditKey::from_hex(&k.to_hex()).unwrap().to_hex(),
            k.to_hex()
        );
        assert!(AuditKey::from_hex("zz").is_err());
        assert!(AuditKey::from_hex(&"g".repeat(64)).is_err());
    }
}
