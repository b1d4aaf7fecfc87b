#![no_main]
//! The bounded link-message decoder, both ways. Raw bytes: decoding never
//! panics, and whatever decodes re-encodes to exactly the same bytes (one
//! encoding per message) with no batch above the limit. Built messages: what
//! `to_bytes` writes decodes to the same message, unless its batch is over
//! the limit, which is refused by count.
use hotline_proto::link::{ChannelHeads, MAX_ENVELOPES};
use hotline_proto::{LinkMsg, ProtoError};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn build(u: &mut Unstructured) -> Result<LinkMsg> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => {
            let n = u.int_in_range(0..=8usize)?;
            let mut heads = Vec::with_capacity(n);
            for _ in 0..n {
                heads.push(ChannelHeads {
                    channel: u.arbitrary()?,
                    heads: [
                        (u.arbitrary()?, u.arbitrary()?),
                        (u.arbitrary()?, u.arbitrary()?),
                    ],
                });
            }
            LinkMsg::Hello {
                version: u.arbitrary()?,
                heads,
            }
        }
        1 => {
            // Up to a little over the limit, so both sides of it are reached.
            let n = u.int_in_range(0..=MAX_ENVELOPES + 8)?;
            let mut envelopes = Vec::with_capacity(n);
            for _ in 0..n {
                envelopes.push(u.arbitrary::<Vec<u8>>()?);
            }
            LinkMsg::Entries {
                channel: u.arbitrary()?,
                envelopes,
            }
        }
        2 => LinkMsg::Checkpoint {
            envelope: u.arbitrary()?,
        },
        3 => LinkMsg::Ping { n: u.arbitrary()? },
        4 => LinkMsg::Pong { n: u.arbitrary()? },
        _ => LinkMsg::Error {
            code: u.arbitrary()?,
            text: u.arbitrary()?,
        },
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(m) = LinkMsg::from_bytes(rest) {
            assert_eq!(
                m.to_bytes(),
                rest,
                "accepted bytes that are not the encoding of {m:?}"
            );
            if let LinkMsg::Entries { envelopes, .. } = &m {
                assert!(envelopes.len() <= MAX_ENVELOPES);
            }
        }
    } else if let Ok(m) = build(&mut Unstructured::new(rest)) {
        let got = LinkMsg::from_bytes(&m.to_bytes());
        match &m {
            LinkMsg::Entries { envelopes, .. } if envelopes.len() > MAX_ENVELOPES => assert_eq!(
                got,
                Err(ProtoError::TooMany {
                    what: "envelopes",
                    count: envelopes.len() as u64,
                    limit: MAX_ENVELOPES as u64,
                })
            ),
            _ => assert_eq!(got, Ok(m)),
        }
    }
});
