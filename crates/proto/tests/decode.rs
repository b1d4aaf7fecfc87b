//! Decoding is strict: one canonical encoding per value, bounded, no trailing bytes.

use hotline_proto::{Body, Entry, Envelope, LinkMsg, Precedence, ProtoError, SecretKeys};
use proptest::prelude::*;

fn entry(text: &str) -> Entry {
    Entry {
        channel: [1; 32],
        author: 1,
        seq: 7,
        prev: [2; 32],
        seen: (3, [4; 32]),
        lamport: 9,
        time: 1000,
        by: "ops".into(),
        body: Body::Message {
            precedence: Precedence::Priority,
            subject: "s".into(),
            text: text.into(),
            labels: vec![],
            reply_to: Some([5; 32]),
        },
    }
}

#[test]
fn trailing_bytes_and_non_canonical_forms_are_rejected() {
    let mut b = entry("x").to_bytes();
    b.push(0);
    assert_eq!(Entry::from_bytes(&b), Err(ProtoError::Cbor));
    // An integer in a longer form than needed (seq 7 as a one-byte-argument 0x18 0x07).
    let good = entry("x").to_bytes();
    let pos = good
        .windows(2)
        .position(|w| w == [0x02, 0x07])
        .expect("key 2 then seq 7");
    let mut long = good[..pos + 1].to_vec();
    long.extend_from_slice(&[0x18, 0x07]);
    long.extend_from_slice(&good[pos + 2..]);
    assert_eq!(Entry::from_bytes(&long), Err(ProtoError::NotCanonical));
}

#[test]
fn envelope_size_is_checked_first_and_signatures_strictly() {
    let k = SecretKeys::generate([9; 32], [9; 32]);
    let env = Envelope::sign(&entry("hello"), &k);
    assert!(matches!(
        Envelope::decode(env.bytes(), 10),
        Err(ProtoError::TooLarge { .. })
    ));
    let other = SecretKeys::generate([8; 32], [8; 32]);
    let d = Envelope::decode(env.bytes(), 1 << 20).unwrap();
    assert_eq!(
        d.open(&other.identity().verifying_key().unwrap()),
        Err(ProtoError::BadSignature)
    );
    let mut sig = *env.sig();
    sig[3] ^= 1;
    let forged = Envelope::assemble(env.entry_bytes().to_vec(), sig);
    assert_eq!(
        forged.open(&k.identity().verifying_key().unwrap()),
        Err(ProtoError::BadSignature)
    );
}

proptest! {
    #[test]
    fn any_bytes_never_panic_and_accepted_bytes_reencode_identically(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(e) = Entry::from_bytes(&bytes) {
            prop_assert_eq!(e.to_bytes(), bytes.clone());
        }
        let _ = Envelope::decode(&bytes, 1 << 20);
        if let Ok(m) = LinkMsg::from_bytes(&bytes) {
            let _ = m.to_bytes();
        }
    }

    #[test]
    fn entries_round_trip(text in ".{0,200}", seq in 1u64..u64::MAX, lamport in 1u64..u64::MAX) {
        let mut e = entry(&text);
        e.seq = seq;
        e.lamport = lamport;
        prop_assert_eq!(Entry::from_bytes(&e.to_bytes()).unwrap(), e);
    }
}

#[test]
fn terms_are_checked_against_their_bounds_at_both_edges() {
    use hotline_proto::entry::{ACK_WINDOW_MS_RANGE, CONTACT_EVERY_MS_RANGE};
    use hotline_proto::{ContactSchedule, Terms};
    assert_eq!(Terms::default().check(), Ok(()));
    let term = |t: Terms| match t.check() {
        Err(ProtoError::TermOutOfRange { term, .. }) => term,
        other => panic!("expected a term out of range, got {other:?}"),
    };
    let with = |f: &dyn Fn(&mut Terms)| {
        let mut t = Terms::default();
        f(&mut t);
        t
    };
    let every = |ms| with(&|t| t.contact = ContactSchedule::Every(ms));
    assert_eq!(every(*CONTACT_EVERY_MS_RANGE.start()).check(), Ok(()));
    assert_eq!(every(*CONTACT_EVERY_MS_RANGE.end()).check(), Ok(()));
    assert_eq!(
        term(every(CONTACT_EVERY_MS_RANGE.end() + 1)),
        "contact_every_ms"
    );
    assert_eq!(term(every(u64::MAX)), "contact_every_ms");
    assert_eq!(term(every(99)), "contact_every_ms");
    let flash = |ms| with(&|t| t.ack_windows_ms[0] = ms);
    assert_eq!(flash(*ACK_WINDOW_MS_RANGE.end()).check(), Ok(()));
    assert_eq!(term(flash(u64::MAX)), "ack_window_ms.flash");
    assert_eq!(
        term(with(&|t| t.ack_windows_ms[3] = 0)),
        "ack_window_ms.routine"
    );
    assert_eq!(
        term(with(&|t| t.contact_grace_permille = u32::MAX)),
        "contact_grace_permille"
    );
    assert_eq!(term(with(&|t| t.max_entry_bytes = 1023)), "max_entry_bytes");
    assert_eq!(
        term(with(&|t| t.languages = vec!["en".into(); 33])),
        "languages"
    );
    assert_eq!(
        term(with(&|t| t.languages = vec!["x".repeat(36)])),
        "language_tag_bytes"
    );
    assert_eq!(
        term(with(&|t| t.languages = vec![String::new()])),
        "language_tag_bytes"
    );
    // Fixed times of day are bounded by their decoding (ascending minutes of one day).
    assert_eq!(
        with(&|t| t.contact = ContactSchedule::At(vec![0, 1439])).check(),
        Ok(())
    );
}
