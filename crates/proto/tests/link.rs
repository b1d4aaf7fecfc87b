//! The link-message decoder: typed, bounded before allocating, and accepting
//! exactly the bytes `LinkMsg::to_bytes` writes.

use hotline_proto::link::{ChannelHeads, MAX_ENVELOPES};
use hotline_proto::{LinkMsg, ProtoError};
use proptest::prelude::*;

fn hash() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn link_msg() -> impl Strategy<Value = LinkMsg> {
    let heads = (hash(), any::<u64>(), hash(), any::<u64>(), hash()).prop_map(
        |(channel, s0, h0, s1, h1)| ChannelHeads {
            channel,
            heads: [(s0, h0), (s1, h1)],
        },
    );
    prop_oneof![
        (any::<u64>(), prop::collection::vec(heads, 0..6))
            .prop_map(|(version, heads)| LinkMsg::Hello { version, heads }),
        (
            hash(),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..12)
        )
            .prop_map(|(channel, envelopes)| LinkMsg::Entries { channel, envelopes }),
        prop::collection::vec(any::<u8>(), 0..400)
            .prop_map(|envelope| LinkMsg::Checkpoint { envelope }),
        any::<u64>().prop_map(|n| LinkMsg::Ping { n }),
        any::<u64>().prop_map(|n| LinkMsg::Pong { n }),
        (any::<u64>(), any::<String>()).prop_map(|(code, text)| LinkMsg::Error { code, text }),
        (hash(), prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(channel, note)| LinkMsg::LogNote { channel, note }),
    ]
}

/// One of each variant, with values at the edges of each integer width.
fn every_variant() -> Vec<LinkMsg> {
    vec![
        LinkMsg::Hello {
            version: 1,
            heads: vec![],
        },
        LinkMsg::Hello {
            version: u64::MAX,
            heads: vec![
                ChannelHeads {
                    channel: [7; 32],
                    heads: [(0, [0; 32]), (23, [1; 32])],
                },
                ChannelHeads {
                    channel: [8; 32],
                    heads: [(24, [2; 32]), (u64::MAX, [3; 32])],
                },
            ],
        },
        LinkMsg::Entries {
            channel: [0; 32],
            envelopes: vec![],
        },
        LinkMsg::Entries {
            channel: [9; 32],
            envelopes: vec![
                vec![],
                vec![1; 23],
                vec![2; 24],
                vec![3; 256],
                vec![4; 70_000],
            ],
        },
        LinkMsg::Checkpoint {
            envelope: vec![5; 100],
        },
        LinkMsg::Ping { n: 0 },
        LinkMsg::Ping { n: 1 << 32 },
        LinkMsg::Pong { n: 65_535 },
        LinkMsg::Error {
            code: 2,
            text: "undecodable — ünïcode".into(),
        },
        LinkMsg::Error {
            code: 0,
            text: String::new(),
        },
        LinkMsg::LogNote {
            channel: [6; 32],
            note: b"hotline/00/1\n1\nAA==\n\n".to_vec(),
        },
        LinkMsg::LogNote {
            channel: [6; 32],
            note: vec![b'x'; hotline_proto::link::MAX_LOG_NOTE],
        },
    ]
}

#[test]
fn a_log_note_is_bounded() {
    let m = LinkMsg::LogNote {
        channel: [1; 32],
        note: vec![b'x'; hotline_proto::link::MAX_LOG_NOTE + 1],
    };
    assert!(LinkMsg::from_bytes(&m.to_bytes()).is_err());
}

#[test]
fn every_variant_round_trips_exactly() {
    for m in every_variant() {
        let b = m.to_bytes();
        let back = LinkMsg::from_bytes(&b).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        assert_eq!(back, m);
        assert_eq!(back.to_bytes(), b);
    }
}

/// Bytes pinned by hand from the wire format (docs/PROTOCOL.md): a change to
/// the encoding or the decoder that moves them breaks every peer.
#[test]
fn pinned_bytes_decode() {
    let cases: [(&[u8], LinkMsg); 3] = [
        (&[0xa2, 0x00, 0x03, 0x01, 0x07], LinkMsg::Ping { n: 7 }),
        (
            &[0xa2, 0x00, 0x04, 0x01, 0x19, 0x01, 0x00],
            LinkMsg::Pong { n: 256 },
        ),
        (
            &[0xa3, 0x00, 0x05, 0x01, 0x02, 0x02, 0x62, b'n', b'o'],
            LinkMsg::Error {
                code: 2,
                text: "no".into(),
            },
        ),
    ];
    for (b, m) in cases {
        assert_eq!(LinkMsg::from_bytes(b), Ok(m.clone()));
        assert_eq!(m.to_bytes(), b);
    }
}

#[test]
fn a_batch_is_bounded_by_count() {
    let batch = |n: usize| LinkMsg::Entries {
        channel: [1; 32],
        envelopes: vec![vec![0]; n],
    };
    let full = batch(MAX_ENVELOPES);
    assert_eq!(LinkMsg::from_bytes(&full.to_bytes()), Ok(full));
    for n in [MAX_ENVELOPES + 1, 2_000] {
        assert_eq!(
            LinkMsg::from_bytes(&batch(n).to_bytes()),
            Err(ProtoError::TooMany {
                what: "envelopes",
                count: n as u64,
                limit: MAX_ENVELOPES as u64,
            })
        );
    }
}

/// `{0: 1, 1: channel, 2:` followed by nothing, then an array header
/// announcing `n` items, in its shortest form.
fn entries_key() -> Vec<u8> {
    let mut b = vec![0xa3, 0x00, 0x01, 0x01, 0x58, 0x20];
    b.extend_from_slice(&[1; 32]);
    b.push(0x02);
    b
}

fn entries_head(n: u32) -> Vec<u8> {
    let mut b = entries_key();
    match n {
        0..=23 => b.push(0x80 | n as u8),
        24..=0xff => b.extend_from_slice(&[0x98, n as u8]),
        0x100..=0xffff => b.extend_from_slice(&[&[0x99][..], &(n as u16).to_be_bytes()].concat()),
        _ => b.extend_from_slice(&[&[0x9a][..], &n.to_be_bytes()].concat()),
    }
    b
}

/// 100,000 one-byte items behind one array header: refused on the header's
/// count, before any item is read. The last item is not even a byte string,
/// so a decoder that read the items first would fail on it instead; and one
/// that built a `Value` tree would allocate about 3 MiB first.
#[test]
fn a_huge_array_of_tiny_items_is_refused_before_they_are_read() {
    let mut b = entries_head(100_000);
    b.extend(std::iter::repeat_n(0x40, 99_999)); // empty byte strings
    b.push(0x00); // an integer where an envelope belongs
    let refused = Err(ProtoError::TooMany {
        what: "envelopes",
        count: 100_000,
        limit: MAX_ENVELOPES as u64,
    });
    assert_eq!(LinkMsg::from_bytes(&b), refused);
    // The header alone, with no items behind it, is refused the same way.
    assert_eq!(LinkMsg::from_bytes(&entries_head(100_000)), refused);
    // A count within the limit but beyond what the input holds is truncation.
    assert_eq!(
        LinkMsg::from_bytes(&entries_head(1_000)),
        Err(ProtoError::Cbor)
    );
}

#[test]
fn hello_heads_beyond_the_input_are_refused_before_allocating() {
    let one = LinkMsg::Hello {
        version: 1,
        heads: vec![ChannelHeads {
            channel: [1; 32],
            heads: [(1, [2; 32]), (2, [3; 32])],
        }],
    }
    .to_bytes();
    // Announce 2^32 - 1 heads, keeping the one that is there.
    let at = one.iter().position(|&x| x == 0x81).unwrap();
    let mut b = one[..at].to_vec();
    b.extend_from_slice(&[0x9a, 0xff, 0xff, 0xff, 0xff]);
    b.extend_from_slice(&one[at + 1..]);
    assert_eq!(LinkMsg::from_bytes(&b), Err(ProtoError::Cbor));
}

#[test]
fn byte_strings_are_bounded_by_the_entry_cap_before_allocating() {
    // A checkpoint envelope announcing 2^40 bytes in a 13-byte message.
    let b = [
        0xa2, 0x00, 0x02, 0x01, 0x5b, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(
        LinkMsg::from_bytes(&b),
        Err(ProtoError::TooLarge {
            size: 1 << 40,
            limit: hotline_proto::MAX_ENTRY_BYTES_CAP as usize,
        })
    );
    // Within the cap but beyond the input: truncated.
    let b = [0xa2, 0x00, 0x02, 0x01, 0x59, 0x01, 0x00, 0xaa];
    assert_eq!(LinkMsg::from_bytes(&b), Err(ProtoError::Cbor));
}

#[test]
fn duplicate_unknown_and_missing_keys_are_refused() {
    let shape = Err(ProtoError::Shape("link message"));
    // Ping with key 1 twice (map of 3).
    assert_eq!(
        LinkMsg::from_bytes(&[0xa3, 0x00, 0x03, 0x01, 0x07, 0x01, 0x07]),
        shape
    );
    // Key 0 twice.
    assert_eq!(LinkMsg::from_bytes(&[0xa2, 0x00, 0x03, 0x00, 0x03]), shape);
    // An unknown key 2 on a Ping, and an unknown key 3 on an Error.
    assert_eq!(
        LinkMsg::from_bytes(&[0xa3, 0x00, 0x03, 0x01, 0x07, 0x02, 0x00]),
        shape
    );
    assert_eq!(
        LinkMsg::from_bytes(&[0xa4, 0x00, 0x05, 0x01, 0x02, 0x02, 0x60, 0x03, 0x00]),
        shape
    );
    // Keys out of order, a text key, a missing field.
    assert_eq!(
        LinkMsg::from_bytes(&[0xa3, 0x00, 0x05, 0x02, 0x60, 0x01, 0x02]),
        shape
    );
    assert_eq!(
        LinkMsg::from_bytes(&[0xa2, 0x61, b'0', 0x03, 0x01, 0x07]),
        shape
    );
    assert_eq!(LinkMsg::from_bytes(&[0xa1, 0x00, 0x03]), shape);
    // An unknown message type.
    assert_eq!(
        LinkMsg::from_bytes(&[0xa2, 0x00, 0x07, 0x01, 0x07]),
        Err(ProtoError::Shape("unknown link message type"))
    );
}

#[test]
fn trailing_bytes_indefinite_lengths_and_long_forms_are_refused() {
    let ping = LinkMsg::Ping { n: 7 }.to_bytes();
    let mut trailing = ping.clone();
    trailing.push(0x00);
    assert_eq!(LinkMsg::from_bytes(&trailing), Err(ProtoError::Cbor));
    // The same Ping as an indefinite-length map.
    assert_eq!(
        LinkMsg::from_bytes(&[0xbf, 0x00, 0x03, 0x01, 0x07, 0xff]),
        Err(ProtoError::NotCanonical)
    );
    // An Entries whose array is indefinite, and whose envelope is segmented.
    let b = entries_key();
    let mut arr = b.clone();
    arr.extend_from_slice(&[0x9f, 0x41, 0x00, 0xff]);
    assert_eq!(LinkMsg::from_bytes(&arr), Err(ProtoError::NotCanonical));
    let mut seg = b.clone();
    seg.extend_from_slice(&[0x81, 0x5f, 0x41, 0x00, 0xff]);
    assert_eq!(LinkMsg::from_bytes(&seg), Err(ProtoError::NotCanonical));
    // n = 7 written in two bytes; a map header written in two bytes.
    assert_eq!(
        LinkMsg::from_bytes(&[0xa2, 0x00, 0x03, 0x01, 0x18, 0x07]),
        Err(ProtoError::NotCanonical)
    );
    assert_eq!(
        LinkMsg::from_bytes(&[0xb8, 0x02, 0x00, 0x03, 0x01, 0x07]),
        Err(ProtoError::NotCanonical)
    );
}

#[test]
fn wrong_types_are_refused_whole() {
    let shape = Err(ProtoError::Shape("link message"));
    // Ping{n} as a negative integer, a text, a tagged integer.
    for n in [&[0x20][..], &[0x61, b'7'], &[0xc1, 0x07]] {
        let b = [&[0xa2, 0x00, 0x03, 0x01][..], n].concat();
        assert_eq!(LinkMsg::from_bytes(&b), shape, "{n:02x?}");
    }
    // A channel of 31 bytes; an envelope as text; an Error text as bytes.
    let mut short = vec![0xa3, 0x00, 0x01, 0x01, 0x58, 0x1f];
    short.extend_from_slice(&[1; 31]);
    short.extend_from_slice(&[0x02, 0x80]);
    assert_eq!(LinkMsg::from_bytes(&short), shape);
    let mut text_env = entries_key();
    text_env.extend_from_slice(&[0x81, 0x61, b'x']);
    assert_eq!(LinkMsg::from_bytes(&text_env), shape);
    assert_eq!(
        LinkMsg::from_bytes(&[0xa3, 0x00, 0x05, 0x01, 0x02, 0x02, 0x41, b'x']),
        shape
    );
    // A Hello head with three elements instead of two.
    let hello = LinkMsg::Hello {
        version: 1,
        heads: vec![ChannelHeads {
            channel: [1; 32],
            heads: [(1, [2; 32]), (2, [3; 32])],
        }],
    }
    .to_bytes();
    let at = hello.iter().rposition(|&x| x == 0x82).unwrap();
    let mut wide = hello[..at].to_vec();
    wide.push(0x83);
    wide.extend_from_slice(&hello[at + 1..]);
    wide.push(0x00);
    assert_eq!(LinkMsg::from_bytes(&wide), shape);
    // Invalid UTF-8 in an Error text.
    assert_eq!(
        LinkMsg::from_bytes(&[0xa3, 0x00, 0x05, 0x01, 0x02, 0x02, 0x61, 0xff]),
        Err(ProtoError::Cbor)
    );
}

proptest! {
    #[test]
    fn what_to_bytes_writes_decodes_to_the_same_message(m in link_msg()) {
        let b = m.to_bytes();
        prop_assert_eq!(LinkMsg::from_bytes(&b), Ok(m));
    }

    /// Any change to a valid encoding either fails to decode or decodes to a
    /// message whose encoding is the changed bytes: one encoding per message.
    #[test]
    fn mutated_encodings_decode_only_to_their_own_bytes(
        m in link_msg(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<bool>(),
    ) {
        let mut b = m.to_bytes();
        let i = at.index(b.len());
        if cut {
            b.truncate(i);
        } else {
            b[i] = byte;
        }
        if let Ok(d) = LinkMsg::from_bytes(&b) {
            prop_assert_eq!(d.to_bytes(), b);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_reencode_identically(
        b in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        if let Ok(m) = LinkMsg::from_bytes(&b) {
            prop_assert_eq!(m.to_bytes(), b);
        }
    }
}
