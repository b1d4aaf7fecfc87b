//! The policy clocks through the station machine: when they start, what they
//! trust of the peer's input, and what they say (SPEC §6). Two machines talk
//! by handing each other the bytes of their steps, as the daemon's link does.

#[path = "common/line.rs"]
mod line;

use hotline_core::machine::{self, Channel, Durable, Fault, OpenRefusal, Peer, Step};
use hotline_core::policy::AlertKind;
use hotline_core::{ChannelBook, Reject};
use hotline_proto::{Body, ContactSchedule, LinkMsg, Precedence, ProtoError, SecretKeys, Terms};
use line::{envelopes, keys, peer, raised, MIN, T0};

const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;

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
    let (pa, pb) = (peer(1, "alpha", &ka, true), peer(2, "bravo", &kb, true));
    // Alpha's Open claims a time a year ahead of bravo's clock, then alpha falls silent.
    let (a, open) = Channel::open(&ka, &pb, Terms::default(), None, "a", T0 + 365 * DAY).unwrap();
    let (b, proposal) = machine::receive_proposal(&kb, &pa, a.id(), envelopes(&open), 0, T0);
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
    let (pa, pb) = (peer(1, "alpha", &ka, true), peer(2, "bravo", &kb, true));
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
        let (ch, step) = machine::receive_proposal(&kb, &pa, id, vec![bytes], 0, T0);
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
    let (pa, pb) = (peer(1, "alpha", &ka, true), peer(2, "bravo", &kb, true));
    let terms = Terms {
        ack_windows_ms: [*hotline_proto::entry::ACK_WINDOW_MS_RANGE.end(); 4],
        ..Terms::default()
    };
    let (mut a, open) = Channel::open(&ka, &pb, terms, None, "a", T0).unwrap();
    let (b, _) = machine::receive_proposal(&kb, &pa, a.id(), envelopes(&open), 0, T0);
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

fn cleared(step: &Step) -> Vec<String> {
    step.writes
        .iter()
        .filter_map(|w| match w {
            Durable::ClearAlert { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

fn cause(step: &Step, key: &str) -> String {
    step.writes
        .iter()
        .find_map(|w| match w {
            Durable::RaiseAlert { key: k, cause, .. } if k == key => Some(cause.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {key} raised: {:?}", raised(step)))
}

fn checkpoint_reply(step: &Step) -> Vec<u8> {
    step.after
        .iter()
        .find_map(|e| match e {
            machine::Effect::Reply(LinkMsg::Checkpoint { envelope }) => Some(envelope.clone()),
            _ => None,
        })
        .expect("a checkpoint reply")
}

fn flash(text: &str) -> Body {
    Body::Message {
        precedence: Precedence::Flash,
        subject: String::new(),
        text: text.into(),
        labels: vec![],
        reply_to: None,
    }
}

/// Alpha (author 0) and bravo (author 1): alpha opened at `t`, bravo accepted
/// at `t`, and alpha stored the acceptance at `t`.
struct Line {
    ka: SecretKeys,
    kb: SecretKeys,
    /// Alpha as pinned at bravo.
    pa: Peer,
    /// Bravo as pinned at alpha.
    pb: Peer,
    a: Channel,
    b: Channel,
    /// Every step alpha took, for its stored rows.
    a_steps: Vec<Step>,
}

fn line(terms: Terms, t: u64) -> Line {
    let (ka, kb) = (keys(1), keys(2));
    let (pa, pb) = (peer(1, "alpha", &ka, true), peer(2, "bravo", &kb, true));
    let (a, open) = Channel::open(&ka, &pb, terms, None, "a", t).unwrap();
    let (b, _) = machine::receive_proposal(&kb, &pa, a.id(), envelopes(&open), 0, t);
    let mut l = Line {
        ka,
        kb,
        pa,
        pb,
        a,
        b: b.unwrap(),
        a_steps: vec![open],
    };
    let th = l.b.book().terms().hash();
    let (_, acc) =
        l.b.author(&l.kb, &l.pa, Body::Accept { terms_hash: th }, "b", t)
            .unwrap();
    l.deliver_to_a(&envelopes(&acc), t);
    l
}

impl Line {
    /// Alpha takes bravo's entries at `t`; bravo takes alpha's checkpoint.
    fn deliver_to_a(&mut self, envs: &[Vec<u8>], t: u64) {
        let got = self.a.receive(&self.ka, &self.pb, envs.to_vec(), t);
        assert_eq!(got.fault, None);
        let _ = self
            .b
            .receive_checkpoint(&self.pa, &checkpoint_reply(&got), t);
        self.a_steps.push(got);
    }
    /// Bravo takes alpha's entries at `t`; alpha takes bravo's checkpoint.
    fn deliver_to_b(&mut self, envs: &[Vec<u8>], t: u64) {
        let got = self.b.receive(&self.kb, &self.pa, envs.to_vec(), t);
        assert_eq!(got.fault, None);
        let proof = self
            .a
            .receive_checkpoint(&self.pb, &checkpoint_reply(&got), t);
        self.a_steps.push(proof);
    }
    /// Alpha writes at `t`: the entry's hash (hex) and its envelopes, not yet sent.
    fn a_says(&mut self, body: Body, t: u64) -> (String, Vec<Vec<u8>>) {
        let (v, s) = self.a.author(&self.ka, &self.pb, body, "a", t).unwrap();
        self.a_steps.push(s);
        (
            hotline_proto::hex(&v.hash()),
            vec![v.envelope().bytes().to_vec()],
        )
    }
    /// Bravo writes at `t`: its envelopes, not yet sent.
    fn b_says(&mut self, body: Body, t: u64) -> Vec<Vec<u8>> {
        let (v, _) = self.b.author(&self.kb, &self.pa, body, "b", t).unwrap();
        vec![v.envelope().bytes().to_vec()]
    }
    fn a_tick(&mut self, t: u64) -> Step {
        self.a.tick(&self.ka, &self.pb, t)
    }
    /// Alpha as restored from its rows, with bravo's checkpoint if given.
    fn a_restored(&self, checkpoint: Option<Vec<u8>>) -> Channel {
        let steps: Vec<&Step> = self.a_steps.iter().collect();
        Channel::restore(0, 2, rows(&steps), [None, checkpoint], Vec::<String>::new()).unwrap()
    }
}

#[test]
fn a_missed_fixed_time_check_is_reported_at_its_time_plus_grace() {
    let terms = Terms {
        contact: ContactSchedule::At(vec![9 * 60, 17 * 60]),
        ..Terms::default()
    };
    let day = T0 - T0 % DAY + DAY;
    // Bravo's last word is at 17:00; its 09:00 check next morning never comes.
    let mut l = line(terms.clone(), day + 17 * HOUR);
    let next = day + DAY;
    // Grace 1.5 × the shortest gap of 8 h: the 09:00 check is missed from 13:00.
    let s = l.a_tick(next + 13 * HOUR);
    assert!(!contact_missed(&s), "{:?}", raised(&s));
    let s = l.a_tick(next + 13 * HOUR + 1);
    assert!(
        contact_missed(&s),
        "a missed 09:00 check is reported at 13:00, not 24 h after the last contact"
    );
    assert!(
        cause(&s, "contact-missed").contains("09:00 UTC"),
        "{}",
        cause(&s, "contact-missed")
    );

    // Bravo's clock runs two minutes ahead: its 09:00 check arrives at 08:58
    // and counts for 09:00; the 17:00 one it then misses is reported at 21:00.
    let mut l = line(terms, day + 17 * HOUR);
    let check = l.b_says(Body::ContactCheck, next + 9 * HOUR);
    l.deliver_to_a(&check, next + 9 * HOUR - 2 * MIN);
    assert!(!contact_missed(&l.a_tick(next + 13 * HOUR + 1)));
    assert!(!contact_missed(&l.a_tick(next + 21 * HOUR)));
    let s = l.a_tick(next + 21 * HOUR + 1);
    assert!(cause(&s, "contact-missed").contains("17:00 UTC"));
}

#[test]
fn an_undelivered_message_is_told_from_an_unacknowledged_one() {
    let mut l = line(Terms::default(), T0);
    let (h, sent) = l.a_says(flash("now"), T0 + 1);
    let (undelivered, overdue) = (format!("undelivered:{h}"), format!("peer-ack-overdue:{h}"));
    // Nothing reaches bravo: when the FLASH window runs out, the line is blamed, not bravo's people.
    assert!(raised(&l.a_tick(T0 + 1 + 10 * MIN - 1)).is_empty());
    let s = l.a_tick(T0 + 1 + 10 * MIN);
    assert_eq!(
        raised(&s),
        vec![(AlertKind::Undelivered, undelivered.clone())]
    );
    assert!(cause(&s, &undelivered).contains("has not reached the counterpart's station"));
    // Delivered at 30 min: that alert's cause is gone, and bravo's people get a full window from then.
    l.deliver_to_b(&sent, T0 + 30 * MIN);
    let s = l.a_tick(T0 + 30 * MIN);
    assert_eq!(cleared(&s), vec![undelivered.clone()]);
    assert!(raised(&l.a_tick(T0 + 40 * MIN - 1)).is_empty());
    let s = l.a_tick(T0 + 40 * MIN);
    assert_eq!(
        raised(&s),
        vec![(AlertKind::PeerAckOverdue, overdue.clone())]
    );
    assert!(cause(&s, &overdue).contains("reached the counterpart's station but no one there"));
    // After a restart the delivery is still known (from bravo's stored checkpoint):
    // never "undelivered" again, and the acknowledgement clock is not silenced.
    let proof = l.a.peer_checkpoint().unwrap().bytes().to_vec();
    let mut r = l.a_restored(Some(proof));
    assert_eq!(
        raised(&r.tick(&l.ka, &l.pb, T0 + 40 * MIN)),
        vec![(AlertKind::PeerAckOverdue, overdue.clone())]
    );
    // An entry of bravo's that had seen the FLASH proves delivery too, with no checkpoint at all.
    let check = l.b_says(Body::ContactCheck, T0 + 41 * MIN);
    l.deliver_to_a(&check, T0 + 41 * MIN);
    let s = l.a_restored(None).tick(&l.ka, &l.pb, T0 + 41 * MIN);
    assert!(
        !raised(&s).iter().any(|(k, _)| *k == AlertKind::Undelivered),
        "{:?}",
        raised(&s)
    );
    // Bravo acknowledges: the alert clears.
    let of = hotline_proto::parse_hash(&h).unwrap();
    let ack = l.b_says(Body::Ack { of }, T0 + 42 * MIN);
    l.deliver_to_a(&ack, T0 + 42 * MIN);
    assert_eq!(cleared(&l.a_tick(T0 + 42 * MIN)), vec![overdue]);
}

#[test]
fn terminating_keeps_what_was_never_acknowledged_on_record() {
    let mut l = line(Terms::default(), T0);
    let (h1, first) = l.a_says(flash("first"), T0 + 1);
    l.deliver_to_b(&first, T0 + 1);
    let s = l.a_tick(T0 + 11 * MIN);
    assert!(raised(&s).contains(&(AlertKind::PeerAckOverdue, format!("peer-ack-overdue:{h1}"))));
    let (h2, second) = l.a_says(flash("second"), T0 + 11 * MIN);
    l.deliver_to_b(&second, T0 + 11 * MIN);
    // Bravo ends the channel without acknowledging either FLASH.
    let end = l.b_says(
        Body::Terminate {
            reason: "done".into(),
        },
        T0 + 12 * MIN,
    );
    l.deliver_to_a(&end, T0 + 12 * MIN);
    assert_eq!(l.a.book().state().word(), "terminated");
    let s = l.a_tick(T0 + 12 * MIN);
    assert!(
        cleared(&s).is_empty(),
        "termination clears no record: {:?}",
        cleared(&s)
    );
    assert!(l
        .a
        .open_alerts()
        .contains(&format!("peer-ack-overdue:{h1}")));
    // The second FLASH's window runs out after the end: it goes on record too,
    // saying why it never will be acknowledged.
    let s = l.a_tick(T0 + 21 * MIN);
    assert!(cause(&s, &format!("peer-ack-overdue:{h2}")).contains("the channel has ended"));
    assert!(
        s.entries().next().is_none(),
        "an ended channel writes nothing"
    );
    // Bravo's side keeps its own record of the FLASHes it never acknowledged.
    let s = l.b.tick(&l.kb, &l.pa, T0 + 21 * MIN);
    assert!(raised(&s).contains(&(AlertKind::AckOverdue, format!("ack-overdue:{h1}:100"))));
    assert!(raised(&s).contains(&(AlertKind::AckOverdue, format!("ack-overdue:{h2}:100"))));
    assert!(cleared(&l.b.tick(&l.kb, &l.pa, T0 + DAY)).is_empty());
}
