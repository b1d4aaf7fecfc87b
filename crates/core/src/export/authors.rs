//! Binding a verified export to the stations the verifier knows (SPEC §9, v2).
//!
//! An export names its own authors: the `Open` carries both identity tokens
//! and is signed by one of them. So any two fresh key pairs can write a
//! consistent "Ministry A ↔ Ministry B" transcript that verifies. Only keys
//! the verifier learned elsewhere (a token or fingerprint read out of band,
//! as when the peers were pinned) say whose record it is.

use hotline_proto::Identity;
use std::fmt;
use std::str::FromStr;

/// Digits in a fingerprint (SPEC §2: 12 groups of 5).
const FINGERPRINT_DIGITS: usize = 60;

/// A station the verifier knows, as it was given: an identity token, or the
/// fingerprint two operators read to each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownKey {
    /// A full identity token (`hotline1…`).
    Token(Identity),
    /// A fingerprint: exactly 60 decimal digits, spacing removed.
    Fingerprint(String),
}

/// Why a key or a set of keys cannot be checked against the authors.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorsError {
    /// Text that is neither a token nor a fingerprint.
    #[error("{0:?} is neither an identity token (hotline1…, as `hotline id` prints it) nor a fingerprint (12 groups of 5 digits, as `hotline id --fingerprint` prints it)")]
    Malformed(String),
    /// Text that starts like a token but is not a valid one.
    #[error("{0:?} is not a valid identity token: copy it whole, as `hotline id` prints it")]
    BadToken(String),
    /// Digits, but not as many as a fingerprint has.
    #[error("a fingerprint has {FINGERPRINT_DIGITS} digits; {0:?} has {1}")]
    FingerprintLength(String, usize),
    /// More keys than a transcript has authors.
    #[error("{0} keys given, but a transcript has two authors: give at most two")]
    TooMany(usize),
    /// Two keys that name the same station.
    #[error("both keys name the same station, author {0}: give one key for each end")]
    SameStation(u8),
    /// A key that is neither author.
    #[error("{key} is not an author of this transcript (author 0 has fingerprint {first}, author 1 {second})")]
    NotAnAuthor {
        /// The key as given.
        key: String,
        /// Author 0's fingerprint.
        first: String,
        /// Author 1's fingerprint.
        second: String,
    },
}

impl FromStr for KnownKey {
    type Err = AuthorsError;

    fn from_str(s: &str) -> Result<KnownKey, AuthorsError> {
        let t = s.trim();
        if t.starts_with(hotline_proto::identity::TOKEN_PREFIX) {
            return Identity::parse(t)
                .map(KnownKey::Token)
                .map_err(|_| AuthorsError::BadToken(t.to_owned()));
        }
        // Spacing as printed, or none; a telephone is not fussy about it.
        if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit() || c.is_whitespace()) {
            return Err(AuthorsError::Malformed(t.to_owned()));
        }
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        if digits.len() != FINGERPRINT_DIGITS {
            return Err(AuthorsError::FingerprintLength(t.to_owned(), digits.len()));
        }
        Ok(KnownKey::Fingerprint(digits))
    }
}

impl KnownKey {
    /// Whether `id` is the station this key names.
    pub fn is(&self, id: &Identity) -> bool {
        match self {
            KnownKey::Token(t) => t == id,
            KnownKey::Fingerprint(d) => id.fingerprint().matches(d),
        }
    }
}

impl fmt::Display for KnownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KnownKey::Token(t) => write!(f, "key {}", t.token()),
            KnownKey::Fingerprint(d) => {
                f.write_str("fingerprint")?;
                for group in d.as_bytes().chunks(5) {
                    write!(f, " {}", String::from_utf8_lossy(group))?;
                }
                Ok(())
            }
        }
    }
}

/// How a transcript's two authors stand against the keys given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authors {
    /// No key given: the transcript is consistent, but whose it is was not checked.
    Unchecked,
    /// One key given, and it is this author; the other author was not checked.
    One(u8),
    /// Two keys given, and they are exactly the two authors.
    Both,
}

/// Checks the authors `ids` (author 0, author 1) against `keys`, in any order:
/// every key must be an author, and two keys must be the two different authors.
pub fn check_authors(ids: &[Identity; 2], keys: &[KnownKey]) -> Result<Authors, AuthorsError> {
    check_rotated_authors([&ids[..1], &ids[1..]], keys)
}

/// [`check_authors`] for authors that rotated their keys: `ids[a]` holds
/// every key author `a` signed with, oldest first, each vouched for by the
/// one before in a `KeyRotation`. A key given matches an author if it is
/// any of them.
pub fn check_rotated_authors(
    ids: [&[Identity]; 2],
    keys: &[KnownKey],
) -> Result<Authors, AuthorsError> {
    if keys.len() > 2 {
        return Err(AuthorsError::TooMany(keys.len()));
    }
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let author = (0..2u8)
            .find(|&a| ids[a as usize].iter().any(|id| key.is(id)))
            .ok_or_else(|| AuthorsError::NotAnAuthor {
                key: key.to_string(),
                first: ids[0][0].fingerprint().to_string(),
                second: ids[1][0].fingerprint().to_string(),
            })?;
        if found.contains(&author) {
            return Err(AuthorsError::SameStation(author));
        }
        found.push(author);
    }
    Ok(match found[..] {
        [] => Authors::Unchecked,
        [a] => Authors::One(a),
        _ => Authors::Both,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotline_proto::SecretKeys;

    fn ids() -> [Identity; 2] {
        [
            SecretKeys::generate([1; 32], [1; 32]).identity(),
            SecretKeys::generate([2; 32], [2; 32]).identity(),
        ]
    }

    #[test]
    fn tokens_and_fingerprints_are_read_and_malformed_keys_named() {
        let [a, _] = ids();
        assert_eq!(a.token().parse(), Ok(KnownKey::Token(a)));
        let printed = a.fingerprint().to_string();
        let k: KnownKey = printed.parse().unwrap();
        assert!(k.is(&a));
        let packed: KnownKey = printed.replace(' ', "").parse().unwrap();
        assert_eq!(packed, k);
        assert!(matches!(
            "hotline1abc".parse::<KnownKey>(),
            Err(AuthorsError::BadToken(_))
        ));
        assert!(matches!(
            printed[..70].parse::<KnownKey>(),
            Err(AuthorsError::FingerprintLength(_, 59))
        ));
        assert!(matches!(
            "alpha".parse::<KnownKey>(),
            Err(AuthorsError::Malformed(_))
        ));
        assert!(matches!(
            "".parse::<KnownKey>(),
            Err(AuthorsError::Malformed(_))
        ));
    }

    #[test]
    fn two_keys_must_be_exactly_the_two_authors_in_any_order() {
        let ids = ids();
        let other = SecretKeys::generate([3; 32], [3; 32]).identity();
        let t = |i: &Identity| KnownKey::Token(*i);
        let fp = |i: &Identity| i.fingerprint().to_string().parse::<KnownKey>().unwrap();
        assert_eq!(check_authors(&ids, &[]), Ok(Authors::Unchecked));
        assert_eq!(
            check_authors(&ids, &[t(&ids[0]), fp(&ids[1])]),
            Ok(Authors::Both)
        );
        assert_eq!(
            check_authors(&ids, &[fp(&ids[1]), t(&ids[0])]),
            Ok(Authors::Both)
        );
        assert_eq!(check_authors(&ids, &[t(&ids[1])]), Ok(Authors::One(1)));
        assert!(matches!(
            check_authors(&ids, &[t(&ids[0]), t(&other)]),
            Err(AuthorsError::NotAnAuthor { .. })
        ));
        assert!(matches!(
            check_authors(&ids, &[t(&other)]),
            Err(AuthorsError::NotAnAuthor { .. })
        ));
        assert_eq!(
            check_authors(&ids, &[t(&ids[0]), fp(&ids[0])]),
            Err(AuthorsError::SameStation(0))
        );
        assert_eq!(
            check_authors(&ids, &[t(&ids[0]), t(&ids[1]), t(&other)]),
            Err(AuthorsError::TooMany(3))
        );
    }
}
