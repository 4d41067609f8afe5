//! Member ids and an agency's secret keys.
//!
//! A [`MemberId`] names one participant of a federation (`mx-se`, `un1540`):
//! 2 to 32 bytes, a lowercase ASCII letter or digit followed by lowercase
//! letters, digits or `-`. It is the last path segment of the member's log
//! origin, `<federation>.concord/<id>`.
//!
//! An [`AgencyIdentity`] holds two independent Ed25519 secrets:
//!
//! - the **log key**, which signs the member's entries, checkpoints, roster
//!   approvals and (as a cosignature/v1 key over the same public key) its
//!   witness cosignatures, and
//! - the **transport seed**, from which the node derives its libp2p identity.
//!
//! They are kept separate so that a compromised transport key cannot sign log
//! entries, and so that the log key can be rotated without changing the
//! node's peer id (or the other way round). Their on-disk form is
//! [`crate::keyfile`].

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroize as _;

/// Shortest member id.
pub const MIN_MEMBER_ID: usize = 2;
/// Longest member id.
pub const MAX_MEMBER_ID: usize = 32;

/// Why a string is not a member id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid member id {0:?}: must be {MIN_MEMBER_ID} to {MAX_MEMBER_ID} bytes of [a-z0-9-], starting with a letter or digit"
)]
pub struct MemberIdError(pub String);

/// A validated member id, `[a-z0-9][a-z0-9-]{1,31}`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct MemberId(String);

impl MemberId {
    /// # Errors
    /// [`MemberIdError`] when `s` breaks the rule above.
    pub fn new(s: &str) -> Result<Self, MemberIdError> {
        let bytes = s.as_bytes();
        let valid = (MIN_MEMBER_ID..=MAX_MEMBER_ID).contains(&bytes.len())
            && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
            && bytes
                .iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(MemberIdError(s.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for MemberId {
    type Err = MemberIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for MemberId {
    type Error = MemberIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<MemberId> for String {
    fn from(id: MemberId) -> Self {
        id.0
    }
}

/// Why an identity could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("operating system randomness unavailable: {0}")]
    Randomness(String),
    #[error("transport seed equals the log key seed; they must be independent secrets")]
    SharedSeed,
}

/// An agency's secrets: its member id, its log signing key and its transport
/// seed. `Debug` prints the id and the public log key only, and the transport
/// seed is wiped on drop (the signing key wipes itself).
pub struct AgencyIdentity {
    /// Whose secrets these are.
    pub id: MemberId,
    /// Signs entries, checkpoints, roster approvals and cosignatures.
    pub log_key: SigningKey,
    /// Ed25519 seed of the node's libp2p identity, independent of `log_key`.
    pub transport_seed: [u8; 32],
}

impl AgencyIdentity {
    /// Fresh secrets for `id`, drawn from the operating system.
    ///
    /// # Errors
    /// [`IdentityError::Randomness`] when the OS has no randomness to give.
    pub fn generate(id: MemberId) -> Result<Self, IdentityError> {
        let mut log_seed = [0u8; 32];
        let mut transport_seed = [0u8; 32];
        let drawn =
            getrandom::fill(&mut log_seed).and_then(|()| getrandom::fill(&mut transport_seed));
        let identity = drawn
            .map_err(|e| IdentityError::Randomness(e.to_string()))
            .and_then(|()| Self::from_secrets(id, &log_seed, &transport_seed));
        log_seed.zeroize();
        transport_seed.zeroize();
        identity
    }

    /// The identity with these secrets (for key files and test fixtures).
    ///
    /// # Errors
    /// [`IdentityError::SharedSeed`] when both seeds are equal.
    pub fn from_secrets(
        id: MemberId,
        log_seed: &[u8; 32],
        transport_seed: &[u8; 32],
    ) -> Result<Self, IdentityError> {
        if log_seed == transport_seed {
            return Err(IdentityError::SharedSeed);
        }
        Ok(Self {
            id,
            log_key: SigningKey::from_bytes(log_seed),
            transport_seed: *transport_seed,
        })
    }

    /// The public half of the log key.
    pub fn log_public_key(&self) -> VerifyingKey {
        self.log_key.verifying_key()
    }
}

impl Drop for AgencyIdentity {
    fn drop(&mut self) {
        self.transport_seed.zeroize();
    }
}

impl fmt::Debug for AgencyIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgencyIdentity")
            .field("id", &self.id)
            .field("log_public_key", &self.log_public_key())
            .field("log_key", &"<secret>")
            .field("transport_seed", &"<secret>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, valid: bool) {
        assert_eq!(MemberId::new(input).is_ok(), valid, "{input:?}");
    }

    #[test]
    fn member_ids() {
        for (input, valid) in [
            ("mx-se", true),
            ("un1540", true),
            ("1x", true),
            ("a-", true),
            ("abcdefghijklmnopqrstuvwxyz012345", true),
            ("abcdefghijklmnopqrstuvwxyz0123456", false),
            ("a", false),
            ("", false),
            ("-mx", false),
            ("Mx-se", false),
            ("mx_se", false),
            ("mx.se", false),
            ("mx se", false),
            ("mx/se", false),
            ("mé", false),
        ] {
            check(input, valid);
        }
    }

    #[test]
    fn member_id_serde_is_a_string() {
        let id: MemberId = serde_json::from_str("\"mx-se\"").expect("valid id");
        assert_eq!(serde_json::to_string(&id).expect("serialises"), "\"mx-se\"");
        assert!(serde_json::from_str::<MemberId>("\"MX\"").is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let identity = AgencyIdentity::from_secrets(
            MemberId::new("mx-se").expect("valid"),
            &[7; 32],
            &[9; 32],
        )
        .expect("distinct seeds");
        let debug = format!("{identity:?}");
        assert!(debug.contains("mx-se"));
        assert!(debug.contains("<secret>"));
        assert!(!debug.contains("SigningKey"), "{debug}");
        assert!(!debug.contains("7, 7"), "{debug}");
        assert!(!debug.contains("9, 9"), "{debug}");
    }

    #[test]
    fn generated_identities_differ_and_seeds_are_separate() {
        let id = MemberId::new("pe-mincetur").expect("valid");
        let a = AgencyIdentity::generate(id.clone()).expect("os randomness");
        let b = AgencyIdentity::generate(id).expect("os randomness");
        assert_ne!(a.log_key.to_bytes(), b.log_key.to_bytes());
        assert_ne!(a.log_key.to_bytes(), a.transport_seed);
    }

    #[test]
    fn shared_seed_refused() {
        let id = MemberId::new("cl-sag").expect("valid");
        assert_eq!(
            AgencyIdentity::from_secrets(id, &[1; 32], &[1; 32]).err(),
            Some(IdentityError::SharedSeed)
        );
    }
}
