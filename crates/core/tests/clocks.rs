//! The policy clocks through the station machine: when they start, what they
//! trust of the peer's input, and what they say (SPEC §6). Two machines talk
//! by handing each other the bytes of their steps, as the daemon's link does.

use hotline_core::machine::{self, Channel, Durable, Fault, OpenRefusal, Peer, Step};
use hotline_core::policy::AlertKind;
use hotline_core::{ChannelBook, Reject};
use hotline_proto::{Body, ContactSchedule, LinkMsg, Precedence, ProtoError, SecretKeys, Terms};

const T0: u64 = 1_800_000_000_000;
const MIN: u64 = 60_000;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

fn keys(n: u8) -> SecretKeys {
    SecretKeys::from_bytes(&[n; 96]).unwrap()
}

fn peer(id: i64, name: &str, k: &SecretKeys) -> Peer {
    Peer {
        id,
        name: name.into(),
        identity: k.identity(),
        verified: true,
    }
}

fn envelopes(step: &Step) -> Vec<Vec<u8>> {
    step.entries()
        .map(|v| v.envelope().bytes().to_vec())
        .collect()
}

fn raised(step: &Step) -> Vec<(AlertKind, String)> {
    step.writes
        .iter()
        .filter_map(|w| match w {
            Durable::RaiseAlert { kind, key, .. } => Some((*kind, key.clone())),
            _ => None,
        })
        .collect()
}

/// Stored rows `(author, seq, envelope, stored_at)` of a station's steps, in commit order.
fn rows(steps: &[&Step]) -> Vec<(u8, u64, Vec<u8>, u64)> {
    steps
        .iter()
        .flat_map(|s| &s.writes)
        .filter_map(|w| match w {
            Durable::Entry { entry, stored_at } => Some((
                entry.entry().author,
                entry.entry().seq,
                entry.envelope().bytes().to_vec(),
                *stored_at,
            )),
            _ => None,
        })
        .collect()
}

fn contact_missed(step: &Step) -> bool {
    raised(step).contains(&(AlertKind::ContactMissed, "contact-missed".into()))
}

#[test]
fn a_future_dated_open_still_raises_contact_missed_on_time() {
    let (ka, kb) = (keys(1), keys(2));
    let (pa, pb) = (peer(1, "alpha", &ka), peer(2, "bravo", &kb));
    // Alpha's Open claims a time a year ahead of bravo's clock, then alpha falls silent.
    let (a, open) = Channel::open(&ka, &pb, Terms::default(), None, "a", T0 + 365 * DAY).unwrap();
    let (b, proposal) = machine::receive_proposal(&kb, &pa, a.id(), envelopes(&open), T0);
    let mut b = b.unwrap();
    let th = b.book().terms().hash();
    let (_, accept) = b
        .author(&kb, &pa, Body::Accept { terms_hash: th }, "b", T0)
        .unwrap();
    // Contact every hour, grace 1.5: alpha has been silent too long from T0 + 90 min.
    let quiet = b.tick(&kb, &pa, T0 + 90 * MIN);
    assert!(!contact_missed(&quiet), "not before the grace has run out");
    let late = b.tick(&kb, &pa, T0 + 90 * MIN + 1);
    assert!(
        contact_missed(&late),
        "the contact clock runs from when bravo stored the Open, not from the time it claims: {:?}",
        raised(&late)
    );
    // The same after a restart: the stored row's time is bravo's, not alpha's.
    let rows = rows(&[&proposal, &accept, &quiet]);
    let mut r = Channel::restore(1, 1, rows, [None, None], Vec::<String>::new()).unwrap();
    assert!(contact_missed(&r.tick(&kb, &pa, T0 + 90 * MIN + 1)));
}

/// Signs an `Open` with whatever terms, as a peer that does not check them would.
fn open_with(terms: Terms) -> Vec<u8> {
    let (_, open) = ChannelBook::open(&keys(1), keys(2).identity(), terms, None, "a", T0);
    open.envelope().bytes().to_vec()
}

#[test]
fn terms_out_of_range_are_refused_whole_and_nothing_is_stored() {
    let (ka, kb) = (keys(1), keys(2));
    let (pa, pb) = (peer(1, "alpha", &ka), peer(2, "bravo", &kb));
    type Spoil = fn(&mut Terms);
    let bad: [(&str, Spoil); 4] = [
        ("ack_window_ms.flash", |t| t.ack_windows_ms[0] = u64::MAX),
        ("ack_window_ms.routine", |t| t.ack_windows_ms[3] = u64::MAX),
        ("contact_every_ms", |t| {
            t.contact = ContactSchedule::Every(u64::MAX)
        }),
        ("contact_grace_permille", |t| {
            t.contact_grace_permille = u32::MAX
        }),
    ];
    for (name, spoil) in bad {
        let mut terms = Terms::default();
        spoil(&mut terms);
        let bytes = open_with(terms.clone());
        let id = hotline_proto::sha256(&bytes);
        let (ch, step) = machine::receive_proposal(&kb, &pa, id, vec![bytes], T0);
        assert!(ch.is_none(), "{name}: no channel");
        assert!(
            matches!(
                &step.fault,
                Some(Fault::Proposal(Reject::Terms(ProtoError::TermOutOfRange { term, .. }))) if *term == name
            ),
            "{name}: {:?}",
            step.fault
        );
        assert!(
            step.writes
                .iter()
                .all(|w| matches!(w, Durable::RaiseAlert { .. })),
            "{name}: nothing stored but the bad-input alert: {:?}",
            step.writes
        );
        assert_eq!(raised(&step).len(), 1);
        assert_eq!(raised(&step)[0].0, AlertKind::BadInput);
        assert!(step
            .after
            .iter()
            .any(|e| matches!(e, machine::Effect::Reply(LinkMsg::Error { .. }))));
        // This station will not propose such terms either.
        assert!(matches!(
            Channel::open(&ka, &pb, terms, None, "a", T0),
            Err(OpenRefusal::Terms(ProtoError::TermOutOfRange { .. }))
        ));
    }
}

#[test]
fn ack_windows_at_their_bound_do_not_overflow_the_clocks() {
    let (ka, kb) = (keys(1), keys(2));
    let (pa, pb) = (peer(1, "alpha", &ka), peer(2, "bravo", &kb));
    let terms = Terms {
        ack_windows_ms: [*hotline_proto::entry::ACK_WINDOW_MS_RANGE.end(); 4],
        ..Terms::default()
    };
    let (mut a, open) = Channel::open(&ka, &pb, terms, None, "a", T0).unwrap();
    let (b, _) = machine::receive_proposal(&kb, &pa, a.id(), envelopes(&open), T0);
    let mut b = b.unwrap();
    let th = b.book().terms().hash();
    let (_, acc) = b
        .author(&kb, &pa, Body::Accept { terms_hash: th }, "b", T0)
        .unwrap();
    assert_eq!(a.receive(&ka, &pb, envelopes(&acc), T0).fault, None);
    let m = Body::Message {
        precedence: Precedence::Flash,
        subject: String::new(),
        text: "x".into(),
        labels: vec![],
        reply_to: None,
    };
    let (_, sent) = a.author(&ka, &pb, m, "a", u64::MAX - 10).unwrap();
    assert_eq!(
        b.receive(&kb, &pa, envelopes(&sent), u64::MAX - 5).fault,
        None
    );
    // Clocks near the end of time saturate rather than wrap or panic.
    let _ = a.tick(&ka, &pb, u64::MAX);
    let _ = b.tick(&kb, &pa, u64::MAX);
}
