//! The one error type of the proto crate.

/// Why bytes or text could not be turned into a hotline value.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The input is larger than the bound that applies to it.
    #[error("input of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The bound it broke.
        limit: usize,
    },
    /// A count read from a header is above the bound for it; refused before
    /// anything is allocated for the items.
    #[error("{count} {what} exceed the limit of {limit}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The count the input announced.
        count: u64,
        /// The bound it broke.
        limit: u64,
    },
    /// The bytes are not well-formed CBOR, or trail after the value.
    #[error("malformed CBOR")]
    Cbor,
    /// The CBOR is well-formed but does not have the shape this type requires.
    #[error("unexpected structure: {0}")]
    Shape(&'static str),
    /// The value decodes but its bytes are not the canonical encoding of that value.
    #[error("non-canonical encoding")]
    NotCanonical,
    /// The signature does not verify under the expected key.
    #[error("bad signature")]
    BadSignature,
    /// A hash or key given as hex is not 64 hex digits.
    #[error("expected 64 hexadecimal digits")]
    BadHex,
    /// An identity token is not `hotline1` followed by base32 of 64 bytes.
    #[error("not a hotline identity token (expected hotline1… as printed by `hotline id`)")]
    BadToken,
    /// A public key is not a valid Ed25519 point.
    #[error("invalid public key")]
    BadKey,
    /// An identity token holds a key no station generates: an X25519 key of
    /// low order or not below the field prime (a Diffie-Hellman with it gives
    /// no secret, or it has a second spelling), or an Ed25519 key of small
    /// order or in non-canonical encoding.
    #[error(
        "the token holds a weak or non-canonical key that no hotline station generates; ask the counterpart for the token `hotline id` prints"
    )]
    WeakKey,
    /// A channel term lies outside the bounds a station accepts (`Terms::check`).
    #[error("the term {term} is {value}, outside the accepted {min}..={max}")]
    TermOutOfRange {
        /// Which term.
        term: &'static str,
        /// What was proposed.
        value: u64,
        /// The smallest accepted.
        min: u64,
        /// The largest accepted.
        max: u64,
    },
    /// A name given for an enumerated value (precedence, marking, …) is unknown.
    #[error("unknown {what} {value:?}")]
    UnknownName {
        /// Which enumeration.
        what: &'static str,
        /// The text given.
        value: String,
    },
}
