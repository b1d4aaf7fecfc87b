//! Every validity rule, through the station's real receive path: the entry is
//! rejected, a `bad-input` (or `equivocation`) alert is raised, and nothing
//! is stored.

use hotline_core::ChannelBook;
use hotline_proto::{Body, Entry, Envelope, Precedence, Terms};
use hotline_station::db::Db;
use hotline_station::engine::Engine;

mod common;
use common::receive::*;

fn msg(p: Precedence, t: &str) -> Body {
    Body::Message {
        precedence: p,
        subject: String::new(),
        text: t.into(),
        labels: vec![],
        reply_to: None,
    }
}

#[tokio::test]
async fn every_validity_rule_is_enforced_on_the_receive_path() {
    let mut f = fixture(
        true,
        Terms {
            max_entry_bytes: 4096,
            ..Terms::default()
        },
    )
    .await;
    assert_eq!(f.stored().await, 1);

    // Body forbidden by the state: a message while the channel is only proposed.
    f.refused(
        f.sign(&f.next_unchecked(msg(Precedence::Routine, "early"))),
        "forbidden by state",
    )
    .await;
    f.accept().await;
    let good = f.next(msg(Precedence::Routine, "hello"));

    f.refused(
        f.sign(&Entry {
            body: msg(Precedence::Routine, &"x".repeat(5000)),
            ..good.clone()
        }),
        "over max_entry_bytes",
    )
    .await;
    f.refused(
        b"\xa2\x65entry\x41\x00\x63sig\x41\x00".to_vec(),
        "undecodable envelope",
    )
    .await;
    f.refused(
        Envelope::sign(&good, &keys()).bytes().to_vec(),
        "forged signature",
    )
    .await;
    f.refused(
        f.sign(&Entry {
            channel: [9; 32],
            ..good.clone()
        }),
        "wrong channel",
    )
    .await;
    f.refused(
        f.sign(&Entry {
            author: 1,
            ..good.clone()
        }),
        "wrong author",
    )
    .await;
    f.refused(
        f.sign(&Entry {
            seq: good.seq + 1,
            ..good.clone()
        }),
        "seq gap",
    )
    .await;
    f.refused(
        f.sign(&Entry {
            prev: [3; 32],
            ..good.clone()
        }),
        "wrong prev",
    )
    .await;
    f.refused(
        f.sign(&Entry {
            seen: (7, [1; 32]),
            ..good.clone()
        }),
        "seen pointing nowhere",
    )
    .await;
    f.refused(
        f.sign(&Entry {
            lamport: good.lamport + 1,
            ..good.clone()
        }),
        "wrong lamport",
    )
    .await;
    f.refused(
        f.sign(&Entry {
            body: Body::Ack { of: [4; 32] },
            ..good.clone()
        }),
        "reference outside the causal past",
    )
    .await;
    f.refused(
        f.sign(&Entry {
            body: Body::Accept {
                terms_hash: [0; 32],
            },
            ..good.clone()
        }),
        "accept by the proposer",
    )
    .await;

    // The good one still goes in after all that.
    let n = f.stored().await;
    f.engine
        .receive(&f.peer, f.book.id(), vec![f.sign(&good)])
        .await
        .unwrap()
        .fault
        .map_or(Ok(()), Err)
        .unwrap();
    assert_eq!(f.stored().await, n + 1);
    // Replaying it is harmless: ignored, nothing stored twice.
    f.engine
        .receive(&f.peer, f.book.id(), vec![f.sign(&good)])
        .await
        .unwrap()
        .fault
        .map_or(Ok(()), Err)
        .unwrap();
    assert_eq!(f.stored().await, n + 1);
}

/// A FLASH from a peer this station has not verified yet (it may have
/// verified us already) is stored and held: no acknowledgement clock, an
/// `unverified-peer-traffic` alert rather than a hostile `bad-input`, and the
/// peer's chain goes on behind it instead of stalling. Held across a
/// restart; verifying the peer starts its clock and clears the alert.
#[tokio::test]
async fn flash_from_an_unverified_peer_is_held_and_its_chain_goes_on() {
    let mut f = fixture(false, Terms::default()).await;
    f.accept().await;
    let flash = f.sign(&f.next(msg(Precedence::Flash, "urgent")));
    match f.book.check(0, &flash).unwrap() {
        hotline_core::Outcome::New(v) => f.book.apply(&v, 3),
        o => panic!("{o:?}"),
    }
    let routine = f.sign(&f.next(msg(Precedence::Routine, "behind it")));
    let n = f.stored().await;
    let r = f
        .engine
        .receive(&f.peer, f.book.id(), vec![flash, routine])
        .await
        .unwrap();
    assert_eq!(r.fault, None);
    assert_eq!(
        f.stored().await,
        n + 2,
        "the chain goes on behind the FLASH"
    );
    assert_eq!(f.open_alerts("unverified-peer-traffic").await, 1);
    assert_eq!(f.open_alerts("bad-input").await, 0);
    let later = |engine: &Engine| {
        let arc = engine.channel(&f.book.id()).unwrap();
        async move {
            let ch = arc.lock().await;
            let flash = ch.book().unacked()[0]
                .values()
                .find(|u| u.precedence == Precedence::Flash)
                .cloned()
                .unwrap();
            // An hour on, no acknowledgement clock has run for it.
            let actions = hotline_core::policy::evaluate(
                ch.book(),
                &Default::default(),
                flash.stored_at + 3_600_000,
            );
            let overdue = actions.iter().any(|a| {
                matches!(a, hotline_core::policy::Action::Raise { key, .. }
                    if key.starts_with("ack-overdue:"))
            });
            (flash, overdue)
        }
    };
    let (held, overdue) = later(&f.engine).await;
    assert!(held.held && !overdue, "{held:?}, overdue {overdue}");
    // A restart with the peer still unverified holds it again.
    let d = hotline_station::DataDir(f._dir.path().join("bravo"));
    let restarted = Engine::load(
        "bravo".into(),
        d.load_keys().unwrap(),
        Db::open(&d.db(), 1).unwrap(),
        None,
    )
    .unwrap();
    let (held, overdue) = later(&restarted).await;
    assert!(held.held && !overdue, "after a restart: {held:?}");
    // Verified: the clock starts now and the alert's cause is gone.
    assert!(f
        .engine
        .verify_peer("alpha", &f.a.identity().fingerprint().to_string())
        .await
        .unwrap());
    assert_eq!(f.open_alerts("unverified-peer-traffic").await, 0);
    let (released, overdue) = later(&f.engine).await;
    assert!(!released.held && overdue, "{released:?}");
    assert!(released.stored_at >= held.stored_at);
}

#[tokio::test]
async fn equivocation_is_alerted_with_evidence_and_refuses_the_chain() {
    let mut f = fixture(true, Terms::default()).await;
    f.accept().await;
    let one = f.next(msg(Precedence::Routine, "one"));
    f.engine
        .receive(&f.peer, f.book.id(), vec![f.sign(&one)])
        .await
        .unwrap()
        .fault
        .map_or(Ok(()), Err)
        .unwrap();
    let n = f.stored().await;
    let two = Entry {
        body: msg(Precedence::Routine, "two"),
        ..one.clone()
    };
    assert!(f
        .engine
        .receive(&f.peer, f.book.id(), vec![f.sign(&two)])
        .await
        .unwrap()
        .fault
        .is_some());
    assert_eq!(f.stored().await, n);
    assert_eq!(f.open_alerts("equivocation").await, 1);
    // The rest of that chain is refused, however valid it looks.
    let mut book = f.book.clone();
    let v = match book.check(0, &f.sign(&one)).unwrap() {
        hotline_core::Outcome::New(v) => v,
        o => panic!("{o:?}"),
    };
    book.apply(&v, 11);
    let three = book
        .author(&f.a, msg(Precedence::Routine, "three"), "a", 12, true)
        .unwrap();
    assert!(f
        .engine
        .receive(
            &f.peer,
            f.book.id(),
            vec![three.envelope().bytes().to_vec()]
        )
        .await
        .unwrap()
        .fault
        .is_some());
    assert_eq!(f.stored().await, n);
    // The forked entry sent again, as a peer does on every reconnect: refused,
    // and no second piece of evidence.
    for _ in 0..3 {
        assert!(f
            .engine
            .receive(&f.peer, f.book.id(), vec![f.sign(&two)])
            .await
            .unwrap()
            .fault
            .is_some());
    }
    let evidence = f.engine.db().read(|s| s.evidence(None)).await.unwrap();
    assert_eq!(evidence.len(), 1, "one piece of evidence per (author, seq)");
    assert_eq!((evidence[0].author, evidence[0].seq), (0, one.seq));
    assert_eq!(evidence[0].stored, f.sign(&one));
    assert_eq!(evidence[0].conflicting, f.sign(&two));

    // A restart from storage remembers the refusal.
    let d = hotline_station::DataDir(f._dir.path().join("bravo"));
    let restarted = Engine::load(
        "bravo".into(),
        d.load_keys().unwrap(),
        Db::open(&d.db(), 1).unwrap(),
        None,
    )
    .unwrap();
    let peer = restarted.peer_by_name("alpha").unwrap();
    let again = restarted
        .receive(&peer, f.book.id(), vec![three.envelope().bytes().to_vec()])
        .await
        .unwrap();
    assert!(
        matches!(
            again.fault,
            Some(hotline_core::machine::Fault::Entry {
                reject: hotline_core::book::Reject::ChainRefused,
                ..
            })
        ),
        "{:?}",
        again.fault
    );
}

#[tokio::test]
async fn a_proposal_naming_other_stations_is_refused() {
    let f = fixture(true, Terms::default()).await;
    let stranger = keys();
    let (book, open) = ChannelBook::open(&f.a, stranger.identity(), Terms::default(), None, "a", 1);
    assert!(f
        .engine
        .receive(&f.peer, book.id(), vec![open.envelope().bytes().to_vec()])
        .await
        .unwrap()
        .fault
        .is_some());
    assert!(f.engine.channel(&book.id()).is_err());
}

/// The same `Open` on two connections at once (finding: "channel exists?"
/// and its insert were two steps, so the second insert broke the primary
/// key, poisoned the writer and restarted the station): one creates the
/// channel, the other is a duplicate; storage stays healthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_open_on_two_connections_at_once_creates_one_channel() {
    let f = fixture(true, Terms::default()).await;
    for i in 0..20 {
        let (book, open) = ChannelBook::open(
            &f.a,
            f.engine.identity(),
            Terms::default(),
            None,
            &format!("race {i}"),
            1,
        );
        let bytes = vec![open.envelope().bytes().to_vec()];
        let (x, y) = tokio::join!(
            f.engine.receive(&f.peer, book.id(), bytes.clone()),
            f.engine.receive(&f.peer, book.id(), bytes)
        );
        assert_eq!(x.unwrap().fault, None);
        assert_eq!(y.unwrap().fault, None);
        assert!(f.engine.channel(&book.id()).is_ok());
        assert!(!f.engine.storage_failed(), "round {i}: storage failed");
        if i + 1 == hotline_core::machine::PENDING_PROPOSALS - 1 {
            break; // the fixture's own proposal is pending too
        }
    }
    let id = f.book.id();
    let channels = f.engine.db().read(|s| s.channels()).await.unwrap();
    assert_eq!(channels.len(), hotline_core::machine::PENDING_PROPOSALS);
    assert!(channels.iter().any(|c| c.id == id));
}

/// A peer may have at most `PENDING_PROPOSALS` proposals waiting for this
/// station's acceptance: the next is refused whole, alerted, nothing stored;
/// accepting one makes room.
#[tokio::test]
async fn proposals_waiting_for_acceptance_are_capped() {
    let mut f = fixture(true, Terms::default()).await;
    let propose = |i: usize| {
        let (book, open) = ChannelBook::open(
            &f.a,
            f.engine.identity(),
            Terms::default(),
            None,
            &format!("p{i}"),
            1,
        );
        (book.id(), vec![open.envelope().bytes().to_vec()])
    };
    let waiting: Vec<_> = (1..hotline_core::machine::PENDING_PROPOSALS)
        .map(propose)
        .collect();
    for (id, bytes) in &waiting {
        let r = f.engine.receive(&f.peer, *id, bytes.clone()).await.unwrap();
        assert_eq!(r.fault, None);
    }
    let (extra, bytes) = propose(999);
    let r = f
        .engine
        .receive(&f.peer, extra, bytes.clone())
        .await
        .unwrap();
    assert_eq!(
        r.fault,
        Some(hotline_core::machine::Fault::TooManyProposals {
            limit: hotline_core::machine::PENDING_PROPOSALS
        })
    );
    assert!(f.engine.channel(&extra).is_err());
    assert_eq!(f.open_alerts("bad-input").await, 1);
    // Accepting the fixture's own proposal makes room for one more.
    f.accept().await;
    let r = f.engine.receive(&f.peer, extra, bytes).await.unwrap();
    assert_eq!(r.fault, None);
    assert!(f.engine.channel(&extra).is_ok());
}

/// The link's reassembly bound counts only terms in force: a proposal with
/// the largest entry size, waiting for acceptance or refused, leaves it at
/// the default; accepting it raises it; a restart rebuilds the same bound.
#[tokio::test]
async fn the_link_limit_ignores_proposals_not_accepted() {
    use hotline_proto::entry::DEFAULT_MAX_ENTRY_BYTES;
    use hotline_proto::MAX_ENTRY_BYTES_CAP;
    use hotline_station::net::link_limit;
    let big = Terms {
        max_entry_bytes: MAX_ENTRY_BYTES_CAP,
        ..Terms::default()
    };
    let mut f = fixture(true, big.clone()).await;
    let peer = f.peer.row.id;
    let default_limit = link_limit(&f.engine, peer);
    assert_eq!(f.engine.max_entry_bytes_with(peer), DEFAULT_MAX_ENTRY_BYTES);
    assert!(
        default_limit < 2 << 20,
        "a waiting proposal raised the link limit to {default_limit}"
    );

    // A second proposal with the same terms, refused by terminating: still the default.
    let (refused, open) = ChannelBook::open(&f.a, f.engine.identity(), big, None, "p2", 1);
    let r = f
        .engine
        .receive(
            &f.peer,
            refused.id(),
            vec![open.envelope().bytes().to_vec()],
        )
        .await
        .unwrap();
    assert_eq!(r.fault, None);
    f.engine
        .author(
            &refused.id(),
            Body::Terminate {
                reason: "no".into(),
            },
            "b",
        )
        .await
        .unwrap();
    assert_eq!(link_limit(&f.engine, peer), default_limit);

    // Accepting the first puts its terms in force.
    f.accept().await;
    assert_eq!(f.engine.max_entry_bytes_with(peer), MAX_ENTRY_BYTES_CAP);
    assert!(link_limit(&f.engine, peer) > MAX_ENTRY_BYTES_CAP as usize);

    // What a restart rebuilds from storage: the same bound.
    let data = hotline_station::DataDir(f._dir.path().join("bravo"));
    let again = Engine::load(
        "bravo".into(),
        data.load_keys().unwrap(),
        Db::open(&data.db(), 1).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(again.max_entry_bytes_with(peer), MAX_ENTRY_BYTES_CAP);
}

/// Restored from storage, a proposal still waiting keeps the default bound.
#[tokio::test]
async fn a_restored_waiting_proposal_keeps_the_default_link_limit() {
    let big = Terms {
        max_entry_bytes: hotline_proto::MAX_ENTRY_BYTES_CAP,
        ..Terms::default()
    };
    let f = fixture(true, big).await;
    let data = hotline_station::DataDir(f._dir.path().join("bravo"));
    let again = Engine::load(
        "bravo".into(),
        data.load_keys().unwrap(),
        Db::open(&data.db(), 1).unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(
        again.max_entry_bytes_with(f.peer.row.id),
        hotline_proto::entry::DEFAULT_MAX_ENTRY_BYTES
    );
}

/// SPEC §4 v2: the counterpart's pin moves only through its signed
/// `KeyRotation`, durably; after it, an entry signed by the old key is
/// refused with an alert and nothing is stored.
#[tokio::test]
async fn a_rotation_moves_the_pin_and_the_old_key_signs_nothing_after_it() {
    let mut f = fixture(true, Terms::default()).await;
    f.accept().await;
    let old = f.a.identity();
    use hotline_proto::Signers;
    let ring = hotline_proto::Keyring::from_bytes(&f.a.to_bytes())
        .unwrap()
        .with(keys())
        .unwrap();
    let new = ring.identity();
    let rotation = f.book.rotate(&ring, "a", 11).unwrap().expect("a rotation");
    let r = f
        .engine
        .receive(
            &f.peer,
            f.book.id(),
            vec![rotation.envelope().bytes().to_vec()],
        )
        .await
        .unwrap();
    assert_eq!(r.fault, None);
    f.book.apply(&rotation, 11);
    let pinned = f.engine.peer_by_name("alpha").unwrap();
    assert_eq!(pinned.identity, new);
    assert_eq!(pinned.retired.len(), 1);
    assert_eq!(pinned.retired[0].token, old.token());

    // A checkpoint alpha signs with its new key, taken on the session that
    // began before the rotation (`f.peer` is the pin as it was then).
    let new_keys = ring.signer(&new).unwrap();
    let ckpt = hotline_proto::Checkpoint {
        channel: f.book.id(),
        signer: 0,
        heads: [f.book.head(0), f.book.head(1)],
        time: 11,
        peer_checkpoint: None,
    }
    .sign(new_keys);
    let r = f
        .engine
        .receive_checkpoint(&f.peer, ckpt.bytes())
        .await
        .unwrap();
    assert_eq!(r.fault, None);
    assert_eq!(f.open_alerts("bad-input").await, 0);

    // Alpha's next entry, re-signed by the key it retired.
    let next = f
        .book
        .author(&ring, Body::ContactCheck, "a", 12, true)
        .unwrap();
    let forged = f.sign(next.entry());
    f.refused(forged, "an entry signed by the retired key")
        .await;
    // As alpha signed it, it goes through.
    let r = f
        .engine
        .receive(&f.peer, f.book.id(), vec![next.envelope().bytes().to_vec()])
        .await
        .unwrap();
    assert_eq!(r.fault, None);

    // The new pin and the retired key survive a restart.
    let d = hotline_station::DataDir(f._dir.path().join("bravo"));
    let restarted = Engine::load(
        "bravo".into(),
        d.load_keys().unwrap(),
        Db::open(&d.db(), 1).unwrap(),
        None,
    )
    .unwrap();
    let again = restarted.peer_by_name("alpha").unwrap();
    assert_eq!(again.identity, new);
    assert_eq!(again.retired[0].token, old.token());
}

/// A checkpoint a session takes off the link rides with the next commit
/// (docs/DECISIONS.md, "Log notes ride with the next commit"): its
/// state moves at once, but its delivery is reported only once storage
/// holds it, whichever commit carried it.
#[tokio::test]
async fn a_checkpoint_taken_off_the_link_reports_its_delivery_only_once_committed() {
    use hotline_station::engine::CheckpointTaken;
    let mut f = fixture(true, Terms::default()).await;
    f.accept().await;
    let mut events = f.engine.subscribe();
    let id = f.book.id();
    let ckpt = hotline_proto::Checkpoint {
        channel: id,
        signer: 0,
        heads: [f.book.head(0), f.book.head(1)],
        time: 12,
        peer_checkpoint: None,
    }
    .sign(&f.a);
    let held = move |s: &dyn hotline_store::Store| s.checkpoint(&id, 0);
    let CheckpointTaken::Riding(riding) = f
        .engine
        .take_checkpoint(&f.peer, ckpt.bytes())
        .await
        .unwrap()
    else {
        panic!("a new checkpoint is kept");
    };
    let delivery = |v: &serde_json::Value| v["type"] == "delivery";
    let mut seen = Vec::new();
    while let Ok(v) = events.try_recv() {
        seen.push(v);
    }
    assert!(
        !seen.iter().any(delivery),
        "delivery reported before the commit: {seen:?}"
    );
    let a = f.engine.finish_riding(riding).await.unwrap();
    assert_eq!(a.fault, None);
    assert_eq!(
        f.engine.db().read(held).await.unwrap().as_deref(),
        Some(ckpt.bytes()),
        "storage holds it once reported"
    );
    let mut seen = Vec::new();
    while let Ok(v) = events.try_recv() {
        seen.push(v);
    }
    let d = seen.iter().find(|v| delivery(v)).expect("its delivery");
    assert_eq!(d["delivered_upto"], f.book.head(1).0);
}
