//! Every validity rule of SPEC §4, each with an entry that breaks it.
//!
//! The station's receive path calls exactly `ChannelBook::check`; the station's
//! own tests drive the same cases through a running engine and check the alert
//! and that nothing was stored.

use hotline_core::book::{Outcome, Reject};
use hotline_core::ChannelBook;
use hotline_proto::{Body, Entry, Envelope, Hash, Precedence, SecretKeys, Terms, ZERO_HASH};

struct Line {
    a: SecretKeys,
    b: SecretKeys,
    /// B's view: B is author 1.
    book: ChannelBook,
}

fn keys(n: u8) -> SecretKeys {
    SecretKeys::generate([n; 32], [n; 32])
}

fn msg(p: Precedence, text: &str) -> Body {
    Body::Message {
        precedence: p,
        subject: String::new(),
        text: text.into(),
        labels: vec![],
        reply_to: None,
    }
}

/// A proposes (terms given), B stores the proposal; optionally B accepts.
fn line(terms: Terms, accept: bool) -> Line {
    let a = keys(1);
    let b = keys(2);
    let (_, open) = ChannelBook::open(&a, b.identity(), terms, None, "a", 1);
    let (mut book, _) = ChannelBook::genesis(open.envelope().bytes(), 1).unwrap();
    if accept {
        let v = book
            .author(
                &b,
                Body::Accept {
                    terms_hash: book.terms().hash(),
                },
                "b",
                2,
                true,
            )
            .unwrap();
        book.apply(&v, 2);
    }
    Line { a, b, book }
}

impl Line {
    /// The entry A would write next, correctly, with this body.
    fn next_a(&self, body: Body) -> Entry {
        let (seq, prev) = self.book.head(0);
        let seen = self.book.head(1);
        let lamport = self
            .book
            .meta(0, seq)
            .map(|m| m.lamport)
            .unwrap_or(0)
            .max(self.book.meta(1, seen.0).map(|m| m.lamport).unwrap_or(0))
            + 1;
        Entry {
            channel: self.book.id(),
            author: 0,
            seq: seq + 1,
            prev,
            seen,
            lamport,
            time: 10,
            by: "a".into(),
            body,
        }
    }
    fn sign(&self, e: &Entry) -> Vec<u8> {
        Envelope::sign(e, &self.a).bytes().to_vec()
    }
    fn check(&self, e: &Entry) -> Result<Outcome, Reject> {
        self.book.check(0, &self.sign(e))
    }
    fn accept_a(&mut self, body: Body) -> Hash {
        let e = self.next_a(body);
        match self.check(&e).unwrap() {
            Outcome::New(v) => {
                self.book.apply(&v, 10);
                v.hash()
            }
            o => panic!("expected a new entry, got {o:?}"),
        }
    }
}

#[test]
fn a_correct_entry_is_accepted() {
    let l = line(Terms::default(), true);
    assert!(matches!(
        l.check(&l.next_a(msg(Precedence::Routine, "hi"))),
        Ok(Outcome::New(_))
    ));
}

#[test]
fn size_bound_comes_first() {
    let t = Terms {
        max_entry_bytes: 1024,
        ..Terms::default()
    };
    let l = line(t, true);
    let e = l.next_a(msg(Precedence::Routine, &"x".repeat(2000)));
    assert!(matches!(
        l.check(&e),
        Err(Reject::TooLarge { limit: 1024, .. })
    ));
    // Even garbage of that size is refused by size, before any decoding.
    assert!(matches!(
        l.book.check(0, &vec![0xff; 5000]),
        Err(Reject::TooLarge { .. })
    ));
}

#[test]
fn an_undecodable_envelope_is_rejected() {
    let l = line(Terms::default(), true);
    assert!(matches!(
        l.book.check(0, b"\xa1\x61x\x01"),
        Err(Reject::Envelope(_))
    ));
}

#[test]
fn a_forged_signature_is_rejected() {
    let l = line(Terms::default(), true);
    let e = l.next_a(msg(Precedence::Routine, "forged"));
    let by_c = Envelope::sign(&e, &keys(3));
    assert_eq!(l.book.check(0, by_c.bytes()), Err(Reject::BadSignature));
    // The counterpart's key cannot sign for our chain either.
    let by_b = Envelope::sign(&e, &l.b);
    assert_eq!(l.book.check(0, by_b.bytes()), Err(Reject::BadSignature));
}

#[test]
fn signed_garbage_inside_the_envelope_is_rejected() {
    let l = line(Terms::default(), true);
    let e = l.next_a(msg(Precedence::Routine, "x"));
    let good = Envelope::sign(&e, &l.a);
    // Re-sign a truncated entry body with the right key: signature fine, entry not.
    let cut = good.entry_bytes()[..good.entry_bytes().len() - 3].to_vec();
    let mut msg = hotline_proto::ENTRY_DOMAIN.to_vec();
    msg.extend_from_slice(&cut);
    let sig = sign_raw(&l.a, &msg);
    let env = Envelope::assemble(cut, sig);
    assert!(matches!(
        l.book.check(0, env.bytes()),
        Err(Reject::Entry(_))
    ));
}

fn sign_raw(k: &SecretKeys, msg: &[u8]) -> [u8; 64] {
    // Sign arbitrary bytes with the station key by way of a checkpoint-free path:
    // the key file form gives the Ed25519 secret.
    let sk: [u8; 32] = k.to_bytes()[..32].try_into().unwrap();
    use ed25519_dalek::Signer;
    ed25519_dalek::SigningKey::from_bytes(&sk)
        .sign(msg)
        .to_bytes()
}

#[test]
fn wrong_channel_and_wrong_author_are_rejected() {
    let l = line(Terms::default(), true);
    let mut e = l.next_a(msg(Precedence::Routine, "x"));
    e.channel = [9; 32];
    assert_eq!(l.check(&e), Err(Reject::WrongChannel));
    let mut e = l.next_a(msg(Precedence::Routine, "x"));
    e.author = 1;
    assert_eq!(l.check(&e), Err(Reject::WrongAuthor));
}

#[test]
fn seq_gap_wrong_prev_and_refused_chain() {
    let mut l = line(Terms::default(), true);
    let mut e = l.next_a(msg(Precedence::Routine, "x"));
    e.seq += 1;
    assert_eq!(
        l.check(&e),
        Err(Reject::SeqGap {
            expected: 2,
            got: 3
        })
    );
    let mut e = l.next_a(msg(Precedence::Routine, "x"));
    e.prev = [7; 32];
    assert_eq!(l.check(&e), Err(Reject::WrongPrev));
    l.book.refuse(0);
    assert_eq!(
        l.check(&l.next_a(msg(Precedence::Routine, "x"))),
        Err(Reject::ChainRefused)
    );
}

#[test]
fn seen_must_name_a_stored_entry_and_never_go_back() {
    let mut l = line(Terms::default(), true);
    let mut e = l.next_a(msg(Precedence::Routine, "x"));
    e.seen = (5, [1; 32]);
    assert_eq!(l.check(&e), Err(Reject::SeenUnknown));
    let mut e = l.next_a(msg(Precedence::Routine, "x"));
    e.seen = (1, [1; 32]);
    assert_eq!(
        l.check(&e),
        Err(Reject::SeenUnknown),
        "right seq, wrong hash"
    );
    l.accept_a(msg(Precedence::Routine, "saw the accept"));
    let mut e = l.next_a(msg(Precedence::Routine, "x"));
    e.seen = (0, ZERO_HASH);
    e.lamport = l.book.meta(0, 2).unwrap().lamport + 1;
    assert_eq!(l.check(&e), Err(Reject::SeenBackwards));
}

#[test]
fn lamport_must_follow_the_rule() {
    let l = line(Terms::default(), true);
    let mut e = l.next_a(msg(Precedence::Routine, "x"));
    e.lamport += 5;
    assert!(matches!(l.check(&e), Err(Reject::WrongLamport { .. })));
}

#[test]
fn bodies_the_state_forbids_are_rejected() {
    let l = line(Terms::default(), false);
    // A message before the channel is accepted.
    let e = l.next_a(msg(Precedence::Routine, "too early"));
    assert!(matches!(l.check(&e), Err(Reject::Forbidden(_))));
    // A second Open, or author 0 accepting its own proposal.
    let e = l.next_a(Body::Accept {
        terms_hash: l.book.terms().hash(),
    });
    assert!(matches!(l.check(&e), Err(Reject::Forbidden(_))));
}

#[test]
fn accept_must_name_the_proposed_terms() {
    // Seen from A: B accepts different terms.
    let a = keys(1);
    let b = keys(2);
    let (book_a, open) = ChannelBook::open(&a, b.identity(), Terms::default(), None, "a", 1);
    let (book_b, _) = ChannelBook::genesis(open.envelope().bytes(), 1).unwrap();
    let mut e = book_b
        .author(
            &b,
            Body::Accept {
                terms_hash: Terms::default().hash(),
            },
            "b",
            2,
            true,
        )
        .unwrap()
        .entry()
        .clone();
    e.body = Body::Accept {
        terms_hash: [0xaa; 32],
    };
    let env = Envelope::sign(&e, &b);
    assert_eq!(book_a.check(1, env.bytes()), Err(Reject::TermsMismatch));
}

#[test]
fn references_must_be_in_the_authors_causal_past() {
    let l = line(Terms::default(), true);
    let e = l.next_a(Body::Ack { of: [5; 32] });
    assert!(matches!(l.check(&e), Err(Reject::Reference(_))));
    // A Decision must answer a Request, not a Message.
    let mut l = line(Terms::default(), true);
    let v = l
        .book
        .author(&l.b, msg(Precedence::Routine, "q?"), "b", 3, true)
        .unwrap();
    l.book.apply(&v, 3);
    let e = l.next_a(Body::Decision {
        request: v.hash(),
        choice: "x".into(),
        text: String::new(),
    });
    assert!(matches!(l.check(&e), Err(Reject::Reference(_))));
    // An Ack of one's own entry is not an acknowledgement.
    let own = l.accept_a(msg(Precedence::Routine, "mine"));
    let e = l.next_a(Body::Ack { of: own });
    assert!(matches!(l.check(&e), Err(Reject::Reference(_))));
}

/// Whether the author is verified does not make an entry valid or invalid:
/// the station holds traffic above ROUTINE from an unverified peer rather
/// than stall its chain (crates/station/tests/receive.rs).
#[test]
fn traffic_above_routine_from_an_unverified_author_is_valid() {
    let l = line(Terms::default(), true);
    let e = l.next_a(msg(Precedence::Flash, "urgent"));
    assert!(matches!(l.book.check(0, &l.sign(&e)), Ok(Outcome::New(_))));
    let e = l.next_a(msg(Precedence::Routine, "fine"));
    assert!(matches!(l.book.check(0, &l.sign(&e)), Ok(Outcome::New(_))));
}

#[test]
fn duplicates_are_ignored_and_equivocation_is_reported() {
    let mut l = line(Terms::default(), true);
    let e = l.next_a(msg(Precedence::Routine, "one"));
    let bytes = l.sign(&e);
    let Outcome::New(v) = l.book.check(0, &bytes).unwrap() else {
        panic!()
    };
    l.book.apply(&v, 10);
    assert_eq!(l.book.check(0, &bytes), Ok(Outcome::Duplicate));
    let mut other = e.clone();
    other.body = msg(Precedence::Routine, "two");
    match l.check(&other) {
        Ok(Outcome::Equivocation {
            author: 0, seq: 2, ..
        }) => {}
        o => panic!("expected equivocation, got {o:?}"),
    }
}

#[test]
fn a_message_crossing_a_terminate_is_valid_one_written_after_it_is_not() {
    let mut l = line(Terms::default(), true);
    // B terminates; A, not having seen it, sends a message: valid.
    let t = l
        .book
        .author(
            &l.b,
            Body::Terminate {
                reason: "end".into(),
            },
            "b",
            5,
            true,
        )
        .unwrap();
    let crossing = l.next_a(msg(Precedence::Routine, "crossing"));
    l.book.apply(&t, 5);
    let crossing = Entry {
        seen: (1, l.book.meta(1, 1).unwrap().hash),
        lamport: crossing.lamport,
        ..crossing
    };
    let Outcome::New(v) = l.check(&crossing).unwrap() else {
        panic!("the crossing message is valid")
    };
    l.book.apply(&v, 11);
    assert_eq!(l.book.state().word(), "terminated");
    // Now A writes having seen the Terminate: rejected.
    let after = l.next_a(msg(Precedence::Routine, "after"));
    assert_eq!(after.seen.0, 2);
    assert!(matches!(l.check(&after), Err(Reject::Forbidden(_))));
}
