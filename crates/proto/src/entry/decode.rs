//! Decoding entries. The strict reader reads them in place: every entry a
//! station receives and every line `transcript verify` reads. The `Value`
//! tree and its re-encoding, the way they were read before, stays for an
//! `Open`'s terms and as the reference the tests hold the reader to
//! (`envelope.rs`), which is why the two decoders of a body have one shape.

use super::{Body, Entry, Kind, Marking, OnMiss, Precedence, Terms};
use crate::cbor::{self, reader::Reader, Fields};
use crate::error::ProtoError;
use crate::Hash;
use ciborium::Value;

impl Body {
    /// How many fields a body of `kind` has after its kind.
    fn fields(kind: Kind) -> usize {
        match kind {
            Kind::ContactCheck | Kind::Resume => 0,
            Kind::Accept
            | Kind::Ack
            | Kind::Suspend
            | Kind::Terminate
            | Kind::SharingPause
            | Kind::SharingResume => 1,
            Kind::KeyRotation | Kind::Notice => 2,
            Kind::Translation | Kind::Decision => 3,
            Kind::Open | Kind::Request => 4,
            Kind::Message | Kind::Report => 5,
        }
    }

    /// Decodes a body's canonical bytes (exactly one item) in place with
    /// the strict reader, as [`Body::from_value`] does from a `Value` tree
    /// and its re-encoding. An `Open`, rare, whose terms are a structure of
    /// their own, still goes that way.
    fn read(bytes: &[u8]) -> Result<Self, ProtoError> {
        const W: &str = "body";
        let mut r = Reader::new(bytes, W);
        let len = r.map()?;
        r.key(0)?;
        let kind = Kind::ALL
            .get(r.uint()? as usize)
            .copied()
            .ok_or(ProtoError::Shape("unknown entry kind"))?;
        if kind == Kind::Open {
            return Body::from_value(cbor::from_canonical(bytes)?);
        }
        if len != Self::fields(kind) + 1 {
            return Err(ProtoError::Shape(W));
        }
        let mut f = Keyed { r, next: 1 };
        let body = match kind {
            Kind::Open => unreachable!("read the Value way above"),
            Kind::Accept => Body::Accept {
                terms_hash: f.hash()?,
            },
            Kind::Message => Body::Message {
                precedence: Precedence::from_wire(f.uint()?)?,
                subject: f.text()?,
                text: f.text()?,
                labels: f.texts()?,
                reply_to: f.opt_hash()?,
            },
            Kind::Ack => Body::Ack { of: f.hash()? },
            Kind::Translation => Body::Translation {
                of: f.hash()?,
                lang: f.text()?,
                text: f.text()?,
            },
            Kind::ContactCheck => Body::ContactCheck,
            Kind::Request => Body::Request {
                question: f.text()?,
                options: f.texts()?,
                deadline: f.uint()?,
                on_miss: OnMiss::from_wire(f.uint()?)?,
            },
            Kind::Decision => Body::Decision {
                request: f.hash()?,
                choice: f.text()?,
                text: f.text()?,
            },
            Kind::Suspend => Body::Suspend { reason: f.text()? },
            Kind::Resume => Body::Resume,
            Kind::Terminate => Body::Terminate { reason: f.text()? },
            Kind::Report => Body::Report {
                title: f.text()?,
                marking: Marking::from_wire(f.uint()?)?,
                rel_to: f.texts()?,
                content_type: f.text()?,
                content: f.bytes()?.to_vec(),
            },
            Kind::SharingPause => Body::SharingPause { reason: f.text()? },
            Kind::SharingResume => Body::SharingResume {
                backfill: f.bool()?,
            },
            Kind::KeyRotation => Body::KeyRotation {
                new_token: f.text()?,
                new_sig: f
                    .bytes()?
                    .try_into()
                    .map_err(|_| ProtoError::Shape("new_sig must be 64 bytes"))?,
            },
            Kind::Notice => Body::Notice {
                notice_type: f.text()?,
                notice: f.text()?,
            },
        };
        f.r.finish()?;
        Ok(body)
    }

    fn from_value(v: Value) -> Result<Self, ProtoError> {
        const W: &str = "body";
        let (mut f, len) = Fields::open_any(v, W)?;
        let kind = Kind::ALL
            .get(f.uint()? as usize)
            .copied()
            .ok_or(ProtoError::Shape("unknown entry kind"))?;
        if len != Self::fields(kind) + 1 {
            return Err(ProtoError::Shape(W));
        }
        let body = match kind {
            Kind::Open => Body::Open {
                terms: Terms::from_value(f.next()?)?,
                initiator: f.text()?,
                responder: f.text()?,
                reopens: f.opt_hash()?,
            },
            Kind::Accept => Body::Accept {
                terms_hash: f.hash()?,
            },
            Kind::Message => Body::Message {
                precedence: Precedence::from_wire(f.uint()?)?,
                subject: f.text()?,
                text: f.text()?,
                labels: f.texts()?,
                reply_to: f.opt_hash()?,
            },
            Kind::Ack => Body::Ack { of: f.hash()? },
            Kind::Translation => Body::Translation {
                of: f.hash()?,
                lang: f.text()?,
                text: f.text()?,
            },
            Kind::ContactCheck => Body::ContactCheck,
            Kind::Request => Body::Request {
                question: f.text()?,
                options: f.texts()?,
                deadline: f.uint()?,
                on_miss: OnMiss::from_wire(f.uint()?)?,
            },
            Kind::Decision => Body::Decision {
                request: f.hash()?,
                choice: f.text()?,
                text: f.text()?,
            },
            Kind::Suspend => Body::Suspend { reason: f.text()? },
            Kind::Resume => Body::Resume,
            Kind::Terminate => Body::Terminate { reason: f.text()? },
            Kind::Report => Body::Report {
                title: f.text()?,
                marking: Marking::from_wire(f.uint()?)?,
                rel_to: f.texts()?,
                content_type: f.text()?,
                content: f.bytes()?,
            },
            Kind::SharingPause => Body::SharingPause { reason: f.text()? },
            Kind::SharingResume => Body::SharingResume {
                backfill: f.bool()?,
            },
            Kind::KeyRotation => Body::KeyRotation {
                new_token: f.text()?,
                new_sig: f
                    .bytes()?
                    .try_into()
                    .map_err(|_| ProtoError::Shape("new_sig must be 64 bytes"))?,
            },
            Kind::Notice => Body::Notice {
                notice_type: f.text()?,
                notice: f.text()?,
            },
        };
        f.done()?;
        Ok(body)
    }
}

/// A body's fields read in place, each after its key (1, 2, … in order).
struct Keyed<'a> {
    r: Reader<'a>,
    next: u64,
}

impl<'a> Keyed<'a> {
    const W: &'static str = "body";

    fn key(&mut self) -> Result<(), ProtoError> {
        self.r.key(self.next)?;
        self.next += 1;
        Ok(())
    }

    fn uint(&mut self) -> Result<u64, ProtoError> {
        self.key()?;
        self.r.uint()
    }

    fn text(&mut self) -> Result<String, ProtoError> {
        self.key()?;
        Ok(self.r.text()?.to_owned())
    }

    fn bytes(&mut self) -> Result<&'a [u8], ProtoError> {
        self.key()?;
        self.r.bytes(usize::MAX)
    }

    fn hash(&mut self) -> Result<Hash, ProtoError> {
        self.bytes()?
            .try_into()
            .map_err(|_| ProtoError::Shape(Self::W))
    }

    fn opt_hash(&mut self) -> Result<Option<Hash>, ProtoError> {
        self.key()?;
        if self.r.null() {
            return Ok(None);
        }
        self.r
            .bytes(usize::MAX)?
            .try_into()
            .map(Some)
            .map_err(|_| ProtoError::Shape(Self::W))
    }

    fn bool(&mut self) -> Result<bool, ProtoError> {
        self.key()?;
        self.r.bool()
    }

    fn texts(&mut self) -> Result<Vec<String>, ProtoError> {
        self.key()?;
        let n = self.r.array(Self::W, usize::MAX, 1)?;
        (0..n).map(|_| Ok(self.r.text()?.to_owned())).collect()
    }
}

impl Entry {
    /// Decodes canonical entry bytes; anything else is rejected.
    ///
    /// Read in place by the strict reader, which takes only the shortest
    /// forms and definite lengths, so what it accepts re-encodes to the same
    /// bytes (the body by `Body::read`). The same entries are accepted as
    /// when the whole went through the `Value` tree and its re-encoding
    /// (`from_bytes_via_value`, kept as the tests' reference), at a fifth of
    /// the work: this runs for every entry a station receives and every line
    /// `transcript verify` reads.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProtoError> {
        const W: &str = "entry";
        let mut r = Reader::new(bytes, W);
        if r.map()? != 9 {
            return Err(ProtoError::Shape(W));
        }
        let hash = |r: &mut Reader| -> Result<Hash, ProtoError> {
            r.bytes(usize::MAX)?
                .try_into()
                .map_err(|_| ProtoError::Shape(W))
        };
        r.key(0)?;
        let channel = hash(&mut r)?;
        r.key(1)?;
        let author = match r.uint()? {
            0 => 0u8,
            1 => 1u8,
            _ => return Err(ProtoError::Shape("author must be 0 or 1")),
        };
        r.key(2)?;
        let seq = r.uint()?;
        r.key(3)?;
        let prev = hash(&mut r)?;
        r.key(4)?;
        r.tuple(2)?;
        let seen = (r.uint()?, hash(&mut r)?);
        r.key(5)?;
        let lamport = r.uint()?;
        r.key(6)?;
        let time = r.uint()?;
        r.key(7)?;
        let by = r.text()?.to_owned();
        r.key(8)?;
        // Exactly one item left, canonical on its own.
        let body = Body::read(r.into_rest())?;
        Ok(Entry {
            channel,
            author,
            seq,
            prev,
            seen,
            lamport,
            time,
            by,
            body,
        })
    }

    /// [`Entry::from_bytes`] the slower way, the whole entry through the
    /// `Value` tree: the reference the tests hold the fast way to.
    #[cfg(test)]
    pub(crate) fn from_bytes_via_value(bytes: &[u8]) -> Result<Self, ProtoError> {
        const W: &str = "entry";
        let v = cbor::from_canonical(bytes)?;
        let mut f = Fields::open(v, 9, W)?;
        let channel = f.hash()?;
        let author = match f.uint()? {
            0 => 0u8,
            1 => 1u8,
            _ => return Err(ProtoError::Shape("author must be 0 or 1")),
        };
        let seq = f.uint()?;
        let prev = f.hash()?;
        let seen = cbor::as_head(f.next()?, W)?;
        let lamport = f.uint()?;
        let time = f.uint()?;
        let by = f.text()?;
        let body = Body::from_value(f.next()?)?;
        f.done()?;
        Ok(Entry {
            channel,
            author,
            seq,
            prev,
            seen,
            lamport,
            time,
            by,
            body,
        })
    }
}
