//! The policy engine, driven with an injected clock: every rule and its edges.

use hotline_core::book::{deadline_reason, Outcome};
use hotline_core::policy::{evaluate, next_due, Action, AlertKind};
use hotline_core::{ChannelBook, VerifiedEntry};
use hotline_proto::{Body, ContactSchedule, OnMiss, Precedence, SecretKeys, Terms};
use proptest::prelude::*;
use std::collections::BTreeSet;

const T0: u64 = 1_800_000_000_000;

struct Pair {
    a: SecretKeys,
    b: SecretKeys,
    /// Alpha's view (author 0).
    ba: ChannelBook,
    /// Bravo's view (author 1).
    bb: ChannelBook,
}

fn deliver(to: &mut ChannelBook, v: &VerifiedEntry, at: u64) {
    match to.check(v.entry().author, v.envelope().bytes()).unwrap() {
        Outcome::New(x) => to.apply(&x, at),
        o => panic!("{o:?}"),
    }
}

fn pair(terms: Terms) -> Pair {
    let a = SecretKeys::generate([1; 32], [1; 32]);
    let b = SecretKeys::generate([2; 32], [2; 32]);
    let (mut ba, open) = ChannelBook::open(&a, b.identity(), terms.clone(), None, "a", T0);
    let (mut bb, _) = ChannelBook::genesis(open.envelope().bytes(), 1).unwrap();
    let acc = bb
        .author(
            &b,
            Body::Accept {
                terms_hash: terms.hash(),
            },
            "b",
            T0,
            true,
        )
        .unwrap();
    bb.apply(&acc, T0);
    deliver(&mut ba, &acc, T0);
    Pair { a, b, ba, bb }
}

impl Pair {
    /// Alpha writes `body` at `t`; bravo stores it at `t` too, and its
    /// checkpoint proves the delivery to alpha at `t`.
    fn a_says(&mut self, body: Body, t: u64) -> VerifiedEntry {
        let v = self.ba.author(&self.a, body, "a", t, true).unwrap();
        self.ba.apply(&v, t);
        deliver(&mut self.bb, &v, t);
        self.ba.mark_delivered(v.entry().seq, t);
        v
    }
    fn b_says(&mut self, body: Body, t: u64) -> VerifiedEntry {
        let v = self.bb.author(&self.b, body, "b", t, true).unwrap();
        self.bb.apply(&v, t);
        deliver(&mut self.ba, &v, t);
        self.bb.mark_delivered(v.entry().seq, t);
        v
    }
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

fn raised(actions: &[Action], kind: AlertKind) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Raise { kind: k, key, .. } if *k == kind => Some(key.clone()),
            _ => None,
        })
        .collect()
}

fn authored(actions: &[Action]) -> Vec<Body> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Author(b) => Some(b.clone()),
            _ => None,
        })
        .collect()
}

/// Carries out raise/clear on an open-alert set, as the station does.
fn settle(open: &mut BTreeSet<String>, actions: &[Action]) {
    for a in actions {
        match a {
            Action::Raise { key, .. } => {
                open.insert(key.clone());
            }
            Action::Clear { key } => {
                open.remove(key);
            }
            Action::Author(_) => {}
        }
    }
}

fn every(ms: u64) -> Terms {
    Terms {
        contact: ContactSchedule::Every(ms),
        ..Terms::default()
    }
}

#[test]
fn a_contact_check_falls_due_exactly_at_the_interval() {
    let p = pair(every(2000));
    let none = BTreeSet::new();
    assert!(authored(&evaluate(&p.ba, &none, T0 + 1999)).is_empty());
    assert_eq!(
        authored(&evaluate(&p.ba, &none, T0 + 2000)),
        vec![Body::ContactCheck]
    );
}

#[test]
fn contact_missed_is_raised_past_the_grace_and_cleared_by_new_contact() {
    let mut p = pair(every(2000));
    let mut open = BTreeSet::new();
    // Grace 1.5 × 2 s = 3 s after bravo's last entry (its Accept at T0).
    let at = evaluate(&p.ba, &open, T0 + 3000);
    assert!(raised(&at, AlertKind::ContactMissed).is_empty());
    let at = evaluate(&p.ba, &open, T0 + 3001);
    assert_eq!(
        raised(&at, AlertKind::ContactMissed),
        vec!["contact-missed".to_string()]
    );
    settle(&mut open, &at);
    assert!(
        raised(&evaluate(&p.ba, &open, T0 + 3002), AlertKind::ContactMissed).is_empty(),
        "raised once"
    );
    p.b_says(Body::ContactCheck, T0 + 4000);
    let at = evaluate(&p.ba, &open, T0 + 4001);
    assert!(at.contains(&Action::Clear {
        key: "contact-missed".into()
    }));
}

#[test]
fn fixed_times_of_day_fall_due_once_per_time() {
    let t = Terms {
        contact: ContactSchedule::At(vec![9 * 60, 17 * 60]),
        ..Terms::default()
    };
    let day = T0 - T0 % 86_400_000;
    let nine = day + 9 * 3_600_000;
    let mut p = pair(t);
    // Alpha last wrote before 09:00: due at 09:00, not a millisecond before.
    let v =
        p.ba.author(&p.a, flash("x"), "a", nine - 60_000, true)
            .unwrap();
    p.ba.apply(&v, nine - 60_000);
    let none = BTreeSet::new();
    assert!(authored(&evaluate(&p.ba, &none, nine - 1)).is_empty());
    assert_eq!(
        authored(&evaluate(&p.ba, &none, nine)),
        vec![Body::ContactCheck]
    );
    let v =
        p.ba.author(&p.a, Body::ContactCheck, "station", nine, true)
            .unwrap();
    p.ba.apply(&v, nine);
    assert!(
        authored(&evaluate(&p.ba, &none, nine + 3_600_000)).is_empty(),
        "not again before 17:00"
    );
}

#[test]
fn ack_clocks_alert_at_half_and_full_window_on_both_sides_and_clear_on_ack() {
    let t = Terms {
        ack_windows_ms: [10_000, 30_000, 60_000, 120_000],
        contact: ContactSchedule::Every(3_600_000),
        ..Terms::default()
    };
    let mut p = pair(t);
    let m = p.a_says(flash("launch"), T0 + 100);
    let h = hotline_proto::hex(&m.hash());
    let mut open_b = BTreeSet::new();
    let mut open_a = BTreeSet::new();
    assert!(raised(
        &evaluate(&p.bb, &open_b, T0 + 100 + 4_999),
        AlertKind::AckOverdue
    )
    .is_empty());
    let at = evaluate(&p.bb, &open_b, T0 + 100 + 5_000);
    assert_eq!(
        raised(&at, AlertKind::AckOverdue),
        vec![format!("ack-overdue:{h}:50")]
    );
    settle(&mut open_b, &at);
    let at = evaluate(&p.bb, &open_b, T0 + 100 + 10_000);
    assert_eq!(
        raised(&at, AlertKind::AckOverdue),
        vec![format!("ack-overdue:{h}:100")]
    );
    settle(&mut open_b, &at);
    assert!(raised(
        &evaluate(&p.ba, &open_a, T0 + 100 + 9_999),
        AlertKind::PeerAckOverdue
    )
    .is_empty());
    let at = evaluate(&p.ba, &open_a, T0 + 100 + 10_000);
    assert_eq!(
        raised(&at, AlertKind::PeerAckOverdue),
        vec![format!("peer-ack-overdue:{h}")]
    );
    settle(&mut open_a, &at);
    p.b_says(Body::Ack { of: m.hash() }, T0 + 20_000);
    let at = evaluate(&p.bb, &open_b, T0 + 20_001);
    settle(&mut open_b, &at);
    assert!(
        open_b.is_empty(),
        "both ack-overdue alerts cleared: {open_b:?}"
    );
    let at = evaluate(&p.ba, &open_a, T0 + 20_001);
    settle(&mut open_a, &at);
    assert!(open_a.is_empty());
}

fn request(deadline: u64, on_miss: OnMiss) -> Body {
    Body::Request {
        question: "?".into(),
        options: vec![],
        deadline,
        on_miss,
    }
}

#[test]
fn a_missed_deadline_terminates_once() {
    let mut p = pair(Terms::default());
    let d = T0 + 3000;
    let r = p.a_says(request(d, OnMiss::Terminate), T0 + 1);
    let open = BTreeSet::new();
    assert!(authored(&evaluate(&p.ba, &open, d - 1)).is_empty());
    let at = evaluate(&p.ba, &open, d);
    assert_eq!(
        authored(&at),
        vec![Body::Terminate {
            reason: deadline_reason(&r.hash())
        }]
    );
    assert_eq!(raised(&at, AlertKind::DeadlineMissed).len(), 1);
    // The counterpart never acts on our deadline.
    assert!(authored(&evaluate(&p.bb, &open, d + 1))
        .iter()
        .all(|b| *b == Body::ContactCheck));
    p.a_says(authored(&at).remove(0), d);
    assert_eq!(p.ba.state().word(), "terminated");
    assert!(authored(&evaluate(&p.ba, &open, d + 10)).is_empty());
}

#[test]
fn a_decision_stored_one_millisecond_before_the_deadline_prevents_the_action() {
    let mut p = pair(Terms::default());
    let d = T0 + 3000;
    let r = p.a_says(request(d, OnMiss::Terminate), T0 + 1);
    p.b_says(
        Body::Decision {
            request: r.hash(),
            choice: "yes".into(),
            text: String::new(),
        },
        d - 1,
    );
    let at = evaluate(&p.ba, &BTreeSet::new(), d);
    assert!(authored(&at).is_empty());
    assert!(raised(&at, AlertKind::DeadlineMissed).is_empty());
    assert_eq!(p.ba.state().word(), "active");
}

#[test]
fn on_miss_survives_a_crash_during_the_deadline_tick_and_still_happens_once() {
    let mut p = pair(Terms::default());
    let d = T0 + 3000;
    p.a_says(request(d, OnMiss::Suspend), T0 + 1);
    let before_crash = p.ba.clone();
    let first = authored(&evaluate(&p.ba, &BTreeSet::new(), d));
    assert_eq!(first.len(), 1);
    // Crash before the Suspend was committed: the rebuilt book is as before, so it is produced again…
    let rebuilt = before_crash;
    let again = authored(&evaluate(&rebuilt, &BTreeSet::new(), d + 50));
    assert_eq!(again, first);
    // …and once committed, never again, even after the channel is resumed.
    p.a_says(again[0].clone(), d + 50);
    assert_eq!(p.ba.state().word(), "suspended");
    p.a_says(Body::Resume, d + 60);
    assert!(authored(&evaluate(&p.ba, &BTreeSet::new(), d + 100)).is_empty());
}

#[test]
fn on_miss_alert_only_raises_an_alert() {
    let mut p = pair(Terms::default());
    let d = T0 + 3000;
    p.a_says(request(d, OnMiss::Alert), T0 + 1);
    let at = evaluate(&p.ba, &BTreeSet::new(), d);
    assert!(authored(&at).is_empty());
    assert_eq!(raised(&at, AlertKind::DeadlineMissed).len(), 1);
}

#[test]
fn both_sides_suspending_at_once_needs_both_resumes() {
    let mut p = pair(Terms::default());
    let sa =
        p.ba.author(
            &p.a,
            Body::Suspend { reason: "a".into() },
            "a",
            T0 + 5,
            true,
        )
        .unwrap();
    let sb =
        p.bb.author(
            &p.b,
            Body::Suspend { reason: "b".into() },
            "b",
            T0 + 5,
            true,
        )
        .unwrap();
    p.ba.apply(&sa, T0 + 5);
    p.bb.apply(&sb, T0 + 5);
    deliver(&mut p.ba, &sb, T0 + 6);
    deliver(&mut p.bb, &sa, T0 + 6);
    assert_eq!(p.ba.state(), p.bb.state());
    assert_eq!(p.ba.state().suspended, [true, true]);
    p.a_says(Body::Resume, T0 + 7);
    assert_eq!(p.bb.state().word(), "suspended");
    p.b_says(Body::Resume, T0 + 8);
    assert_eq!(p.ba.state().word(), "active");
    assert_eq!(p.bb.state().word(), "active");
}

// ---- properties ------------------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    Say { author: u8, what: u8 },
    Deliver { to: u8, n: u8 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..2, 0u8..8).prop_map(|(author, what)| Step::Say { author, what }),
        (0u8..2, 1u8..4).prop_map(|(to, n)| Step::Deliver { to, n }),
    ]
}

fn body_for(book: &ChannelBook, what: u8, t: u64) -> Body {
    let peer = book.peer();
    let last_peer = book.head(peer).1;
    match what {
        0 | 1 => flash("m"),
        2 if book.len(peer) > 0 => Body::Ack { of: last_peer },
        3 => Body::Suspend { reason: "s".into() },
        4 => Body::Resume,
        5 => request(t + 50, OnMiss::Suspend),
        6 if book.len(peer) > 0 => Body::Decision {
            request: last_peer,
            choice: "c".into(),
            text: String::new(),
        },
        7 => Body::Terminate { reason: "t".into() },
        _ => Body::ContactCheck,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Both ends, fed the same entries in whatever causal order the network
    /// gives them, compute the same state — and the same as any other causal
    /// interleaving, including the merged order a verifier uses.
    #[test]
    fn both_ends_agree_on_the_state_in_every_causal_interleaving(steps in proptest::collection::vec(step(), 1..60)) {
        let mut p = pair(Terms::default());
        let mut outbox: [Vec<VerifiedEntry>; 2] = [vec![], vec![]];
        let mut all: Vec<VerifiedEntry> = vec![];
        let mut t = T0;
        for s in steps {
            t += 7;
            match s {
                Step::Say { author, what } => {
                    let (book, keys) = if author == 0 { (&mut p.ba, &p.a) } else { (&mut p.bb, &p.b) };
                    let body = body_for(book, what, t);
                    if let Ok(v) = book.author(keys, body, "x", t, true) {
                        book.apply(&v, t);
                        outbox[author as usize].push(v.clone());
                        all.push(v);
                    }
                }
                Step::Deliver { to, n } => {
                    let from = 1 - to as usize;
                    let k = (n as usize).min(outbox[from].len());
                    let batch: Vec<VerifiedEntry> = outbox[from].drain(..k).collect();
                    let book = if to == 0 { &mut p.ba } else { &mut p.bb };
                    for v in batch {
                        match book.check(from as u8, v.envelope().bytes()) {
                            Ok(Outcome::New(x)) => book.apply(&x, t),
                            other => prop_assert!(false, "a causally delivered entry was refused: {other:?}"),
                        }
                    }
                }
            }
        }
        // Drain both ways.
        for to in 0..2u8 {
            let from = 1 - to as usize;
            let batch: Vec<VerifiedEntry> = outbox[from].drain(..).collect();
            let book = if to == 0 { &mut p.ba } else { &mut p.bb };
            for v in batch {
                match book.check(from as u8, v.envelope().bytes()) {
                    Ok(Outcome::New(x)) => book.apply(&x, t),
                    other => prop_assert!(false, "refused on drain: {other:?}"),
                }
            }
        }
        prop_assert_eq!(p.ba.state(), p.bb.state());
        prop_assert_eq!(p.ba.head(0), p.bb.head(0));
        prop_assert_eq!(p.ba.head(1), p.bb.head(1));
        // A verifier replaying in merged order agrees too.
        all.sort_by_key(|v| (v.entry().lamport, v.entry().author));
        let open_bytes = {
            let (_, open) = ChannelBook::open(&p.a, p.b.identity(), Terms::default(), None, "a", T0);
            open.envelope().bytes().to_vec()
        };
        let (mut ver, _) = ChannelBook::genesis(&open_bytes, 0).unwrap();
        // The Accept (deterministic signature, so the same bytes both ends hold) precedes everything generated.
        let acc_v = {
            let b = ChannelBook::genesis(&open_bytes, 1).unwrap().0;
            b.author(&p.b, Body::Accept { terms_hash: Terms::default().hash() }, "b", T0, true).unwrap()
        };
        match ver.check(1, acc_v.envelope().bytes()).unwrap() {
            Outcome::New(x) => ver.apply(&x, T0),
            o => prop_assert!(false, "{o:?}"),
        }
        for v in all {
            match ver.check(v.entry().author, v.envelope().bytes()) {
                Ok(Outcome::New(x)) => ver.apply(&x, t),
                other => prop_assert!(false, "merged-order replay refused an entry: {other:?}"),
            }
        }
        prop_assert_eq!(ver.state(), p.ba.state());
    }

    /// Carrying out the policy's actions and evaluating again at any later
    /// time never produces the same action twice.
    #[test]
    fn no_policy_action_is_produced_twice(deadlines in proptest::collection::vec((1u64..5000, 0u8..3), 1..5), times in proptest::collection::vec(1u64..2000, 1..40)) {
        let t = Terms { contact: ContactSchedule::Every(1000), ack_windows_ms: [2000, 3000, 4000, 5000], ..Terms::default() };
        let mut p = pair(t);
        for (i, (d, m)) in deadlines.iter().enumerate() {
            let on_miss = [OnMiss::Alert, OnMiss::Suspend, OnMiss::Terminate][*m as usize];
            p.a_says(request(T0 + 10 + d, on_miss), T0 + 1 + i as u64);
        }
        p.b_says(flash("unacked"), T0 + 5);
        let mut open = BTreeSet::new();
        let mut raised_keys: Vec<String> = vec![];
        let mut deadline_actions: Vec<Body> = vec![];
        let mut checks_at: Vec<u64> = vec![];
        let mut now = T0 + 10;
        for dt in times {
            now += dt;
            let actions = evaluate(&p.ba, &open, now);
            for a in &actions {
                match a {
                    Action::Raise { key, .. } => {
                        prop_assert!(!open.contains(key), "raised an alert that is open: {key}");
                        raised_keys.push(key.clone());
                    }
                    Action::Author(Body::ContactCheck) => checks_at.push(now),
                    Action::Author(b) => deadline_actions.push(b.clone()),
                    Action::Clear { key } => prop_assert!(open.contains(key), "cleared an alert that is not open"),
                }
            }
            settle(&mut open, &actions);
            for b in authored(&actions) {
                if p.ba.state().check(0, b.kind()).is_ok() {
                    p.a_says(b, now);
                }
            }
            // Immediately again at the same instant: never the same entry again, never an open alert again.
            let again = evaluate(&p.ba, &open, now);
            for a in &again {
                match a {
                    Action::Raise { key, .. } => prop_assert!(!open.contains(key), "raised an open alert again: {key}"),
                    Action::Author(b) => prop_assert!(!authored(&actions).contains(b), "authored {b:?} twice at one instant"),
                    Action::Clear { .. } => {}
                }
            }
        }
        let mut seen = BTreeSet::new();
        for b in &deadline_actions {
            prop_assert!(seen.insert(format!("{b:?}")), "deadline action twice: {b:?}");
        }
        for w in checks_at.windows(2) {
            prop_assert!(w[1] - w[0] >= 1000, "contact checks closer than the interval");
        }
    }
}

#[test]
fn the_counterpart_cannot_cancel_our_deadline_by_citing_it() {
    let mut p = pair(Terms::default());
    let d = T0 + 3000;
    let r = p.a_says(request(d, OnMiss::Terminate), T0 + 1);
    // Bravo suspends with a reason that looks like our deadline action, then resumes.
    p.b_says(
        Body::Suspend {
            reason: deadline_reason(&r.hash()),
        },
        T0 + 2,
    );
    p.b_says(Body::Resume, T0 + 3);
    let at = evaluate(&p.ba, &BTreeSet::new(), d);
    assert_eq!(
        authored(&at),
        vec![Body::Terminate {
            reason: deadline_reason(&r.hash())
        }]
    );
}

/// Brings the policy to quiet at `now`: raises and clears applied to the
/// open set, entries it asks for written by alpha.
fn quiet(p: &mut Pair, open: &mut BTreeSet<String>, now: u64) {
    for _ in 0..hotline_core::machine::POLICY_ROUNDS {
        let actions = evaluate(&p.ba, open, now);
        if actions.is_empty() {
            return;
        }
        settle(open, &actions);
        for body in authored(&actions) {
            if let Ok(v) = p.ba.author(&p.a, body, "station", now, true) {
                p.ba.apply(&v, now);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `next_due` names the first instant the policy could act again: a
    /// channel quiet at `now` stays quiet until then, whatever its history
    /// (so evaluating it only when due misses nothing), and that instant is
    /// always in the future.
    #[test]
    fn a_quiet_channel_stays_quiet_until_it_is_due(
        steps in proptest::collection::vec(step(), 1..40),
        later in 0u64..(3 * 3_600_000),
        fixed in any::<bool>(),
    ) {
        let terms = if fixed {
            Terms { contact: ContactSchedule::At(vec![9 * 60, 17 * 60 + 30]), ..Terms::default() }
        } else {
            every(10 * 60_000)
        };
        let mut p = pair(terms);
        let mut t = T0;
        let mut outbox: [Vec<VerifiedEntry>; 2] = [vec![], vec![]];
        for s in steps {
            t += 60_000;
            match s {
                Step::Say { author, what } => {
                    let (book, keys) = if author == 0 { (&mut p.ba, &p.a) } else { (&mut p.bb, &p.b) };
                    let body = body_for(book, what, t);
                    if let Ok(v) = book.author(keys, body, "x", t, true) {
                        book.apply(&v, t);
                        outbox[author as usize].push(v);
                    }
                }
                Step::Deliver { to, n } => {
                    let from = 1 - to as usize;
                    let k = (n as usize).min(outbox[from].len());
                    let batch: Vec<VerifiedEntry> = outbox[from].drain(..k).collect();
                    for v in batch {
                        let book = if to == 0 { &mut p.ba } else { &mut p.bb };
                        deliver(book, &v, t);
                        if to == 1 {
                            p.ba.mark_delivered(v.entry().seq, t);
                        }
                    }
                }
            }
        }
        let now = t + later;
        let mut open = BTreeSet::new();
        quiet(&mut p, &mut open, now);
        let due = next_due(&p.ba, now);
        if let Some(d) = due {
            prop_assert!(d > now, "due {d} is not after now {now}");
        }
        let until = due.unwrap_or(now + 30 * 86_400_000);
        for at in [now + 1, now + (until - now) / 2, until - 1] {
            if at > now && at < until {
                let acts = evaluate(&p.ba, &open, at);
                prop_assert!(acts.is_empty(), "quiet at {now}, due {due:?}, but at {at}: {acts:?}");
            }
        }
    }
}

#[test]
fn an_idle_channel_is_due_at_its_next_contact_check_not_before() {
    let mut p = pair(every(10 * 60_000));
    let mut open = BTreeSet::new();
    quiet(&mut p, &mut open, T0 + 1);
    let last_own = p.ba.last_stored_at(0).unwrap();
    assert_eq!(next_due(&p.ba, T0 + 1), Some(last_own + 10 * 60_000));
}
