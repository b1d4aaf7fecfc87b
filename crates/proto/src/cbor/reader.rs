//! A strict reader over untrusted CBOR, one item header at a time.
//!
//! `ciborium::from_reader` builds a whole `Value` tree (about 32 bytes per
//! one-byte item) before its caller can look at a single count. This reader
//! pulls one header with `ciborium-ll` and hands its count or length to the
//! caller, which checks it before anything is allocated for the items; byte
//! and text strings are borrowed from the input, never copied here.
//!
//! It accepts only the forms hotline's encoder writes: definite lengths, and
//! every integer and length in its shortest form. So whatever it accepts
//! re-encodes to the same bytes.

use crate::error::ProtoError;
use ciborium_ll::{Decoder, Header};

/// Reads items from the front of `rest`.
pub(crate) struct Reader<'a> {
    /// The bytes not read yet.
    rest: &'a [u8],
    /// Names the structure in `ProtoError::Shape`.
    what: &'static str,
}

/// The length of the shortest header carrying the argument `n`: one byte
/// below 24, then 1, 2, 4 or 8 bytes after the first (RFC 8949 §4.2.1).
fn shortest(n: u64) -> usize {
    match n {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

impl<'a> Reader<'a> {
    /// Starts reading `bytes`, a value of type `what`.
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { rest: bytes, what }
    }

    fn shape(&self) -> ProtoError {
        ProtoError::Shape(self.what)
    }

    /// Reads one header, refusing a longer form than needed and indefinite lengths.
    fn header(&mut self) -> Result<Header, ProtoError> {
        let before = self.rest.len();
        // A decoder over `&mut self.rest` reads exactly the header's bytes, so
        // `rest` is left at the item's body (or the next item).
        let header = Decoder::from(&mut self.rest)
            .pull()
            .map_err(|_| ProtoError::Cbor)?;
        let used = before - self.rest.len();
        let argument = match header {
            Header::Positive(n) | Header::Negative(n) | Header::Tag(n) => n,
            Header::Bytes(Some(n))
            | Header::Text(Some(n))
            | Header::Array(Some(n))
            | Header::Map(Some(n)) => n as u64,
            // Segmented strings and indefinite containers: never written by hotline.
            Header::Bytes(None) | Header::Text(None) | Header::Array(None) | Header::Map(None) => {
                return Err(ProtoError::NotCanonical)
            }
            // Floats, simple values and breaks carry no count; no hotline field has them.
            Header::Float(_) | Header::Simple(_) | Header::Break => return Err(self.shape()),
        };
        if used != shortest(argument) {
            return Err(ProtoError::NotCanonical);
        }
        Ok(header)
    }

    /// An unsigned integer.
    pub(crate) fn uint(&mut self) -> Result<u64, ProtoError> {
        match self.header()? {
            Header::Positive(n) => Ok(n),
            _ => Err(self.shape()),
        }
    }

    /// A map key, which must be `expected` (keys come in ascending order, each once).
    pub(crate) fn key(&mut self, expected: u64) -> Result<(), ProtoError> {
        if self.uint()? == expected {
            Ok(())
        } else {
            Err(self.shape())
        }
    }

    /// A map header; returns its number of pairs, for the caller to check.
    pub(crate) fn map(&mut self) -> Result<usize, ProtoError> {
        match self.header()? {
            Header::Map(Some(n)) => Ok(n),
            _ => Err(self.shape()),
        }
    }

    /// An array header of exactly `len` items.
    pub(crate) fn tuple(&mut self, len: usize) -> Result<(), ProtoError> {
        match self.header()? {
            Header::Array(Some(n)) if n == len => Ok(()),
            _ => Err(self.shape()),
        }
    }

    /// An array header of at most `limit` items, each at least `min_item`
    /// bytes long; returns the count, checked against both before the caller
    /// reads (or allocates for) a single item.
    pub(crate) fn array(
        &mut self,
        what: &'static str,
        limit: usize,
        min_item: usize,
    ) -> Result<usize, ProtoError> {
        let n = match self.header()? {
            Header::Array(Some(n)) => n,
            _ => return Err(self.shape()),
        };
        if n > limit {
            return Err(ProtoError::TooMany {
                what,
                count: n as u64,
                limit: limit as u64,
            });
        }
        // More items than the input can hold: truncated, whatever they are.
        if n.saturating_mul(min_item) > self.rest.len() {
            return Err(ProtoError::Cbor);
        }
        Ok(n)
    }

    /// A byte string of at most `limit` bytes, borrowed from the input.
    pub(crate) fn bytes(&mut self, limit: usize) -> Result<&'a [u8], ProtoError> {
        let n = match self.header()? {
            Header::Bytes(Some(n)) => n,
            _ => return Err(self.shape()),
        };
        if n > limit {
            return Err(ProtoError::TooLarge { size: n, limit });
        }
        self.take(n)
    }

    /// A byte string of exactly 32 bytes.
    pub(crate) fn hash(&mut self) -> Result<crate::Hash, ProtoError> {
        let b = self.bytes(32)?;
        b.try_into().map_err(|_| self.shape())
    }

    /// A text string, borrowed from the input; it must be UTF-8.
    pub(crate) fn text(&mut self) -> Result<&'a str, ProtoError> {
        let n = match self.header()? {
            Header::Text(Some(n)) => n,
            _ => return Err(self.shape()),
        };
        std::str::from_utf8(self.take(n)?).map_err(|_| ProtoError::Cbor)
    }

    /// The next `n` bytes of the input; a length beyond it is truncation.
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        if n > self.rest.len() {
            return Err(ProtoError::Cbor);
        }
        let (body, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(body)
    }

    /// `false` or `true`, each in its one-byte form.
    pub(crate) fn bool(&mut self) -> Result<bool, ProtoError> {
        let b = match self.rest.first() {
            Some(0xf4) => false,
            Some(0xf5) => true,
            _ => return Err(self.shape()),
        };
        self.rest = &self.rest[1..];
        Ok(b)
    }

    /// Whether `null` comes next; it is taken if so.
    pub(crate) fn null(&mut self) -> bool {
        let null = self.rest.first() == Some(&0xf6);
        if null {
            self.rest = &self.rest[1..];
        }
        null
    }

    /// How many bytes are not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Ends reading here, handing back the bytes not read yet (a last item
    /// the caller reads with a reader of its own, checked whole there).
    pub(crate) fn into_rest(self) -> &'a [u8] {
        self.rest
    }

    /// Ends reading: nothing may trail the value.
    pub(crate) fn finish(self) -> Result<(), ProtoError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(ProtoError::Cbor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_forms_are_required_at_every_width() {
        for (n, canonical) in [
            (0u64, vec![0x00]),
            (23, vec![0x17]),
            (24, vec![0x18, 24]),
            (255, vec![0x18, 0xff]),
            (256, vec![0x19, 0x01, 0x00]),
            (65_536, vec![0x1a, 0x00, 0x01, 0x00, 0x00]),
            (1 << 32, vec![0x1b, 0, 0, 0, 1, 0, 0, 0, 0]),
        ] {
            assert_eq!(Reader::new(&canonical, "t").uint(), Ok(n));
            // The same number one width longer.
            let longer = match canonical.len() {
                1 => vec![0x18, n as u8],
                2 => vec![0x19, 0, n as u8],
                3 => vec![0x1a, 0, 0, canonical[1], canonical[2]],
                5 => [&[0x1b, 0, 0, 0, 0][..], &canonical[1..]].concat(),
                _ => continue,
            };
            assert_eq!(
                Reader::new(&longer, "t").uint(),
                Err(ProtoError::NotCanonical),
                "{n} in {} bytes",
                longer.len()
            );
        }
    }

    #[test]
    fn indefinite_lengths_and_other_types_are_refused() {
        // Indefinite byte string, text, array and map.
        for b in [[0x5f, 0xff], [0x7f, 0xff], [0x9f, 0xff], [0xbf, 0xff]] {
            let mut r = Reader::new(&b, "t");
            assert_eq!(r.header(), Err(ProtoError::NotCanonical), "{b:02x?}");
        }
        // A negative integer, a tag, a float, `null`, a break where a uint belongs.
        for b in [&[0x20][..], &[0xc0, 0x00], &[0xf9, 0, 0], &[0xf6], &[0xff]] {
            assert_eq!(
                Reader::new(b, "t").uint(),
                Err(ProtoError::Shape("t")),
                "{b:02x?}"
            );
        }
        // Reserved additional information (28..=30) is malformed.
        assert_eq!(Reader::new(&[0x1c], "t").uint(), Err(ProtoError::Cbor));
    }

    #[test]
    fn lengths_are_checked_before_the_body_is_touched() {
        // A byte string claiming 2^40 bytes in a 9-byte input.
        let claim = [0x5b, 0, 0, 0x01, 0, 0, 0, 0, 0];
        assert_eq!(
            Reader::new(&claim, "t").bytes(1 << 20),
            Err(ProtoError::TooLarge {
                size: 1 << 40,
                limit: 1 << 20
            })
        );
        assert_eq!(
            Reader::new(&claim, "t").bytes(usize::MAX),
            Err(ProtoError::Cbor)
        );
        // An array claiming more items than the input has bytes.
        let mut r = Reader::new(&[0x83, 0x00, 0x00], "t");
        assert_eq!(r.array("items", 10, 1), Err(ProtoError::Cbor));
        // Text must be UTF-8.
        assert_eq!(
            Reader::new(&[0x61, 0xff], "t").text(),
            Err(ProtoError::Cbor)
        );
        // Trailing bytes.
        let mut r = Reader::new(&[0x01, 0x02], "t");
        assert_eq!(r.uint(), Ok(1));
        assert_eq!(r.finish(), Err(ProtoError::Cbor));
    }
}
