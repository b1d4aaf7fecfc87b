//! Log checkpoint notes from the counterpart through a station's real path
//! (SPEC §5 v2): one whose root is the tree of the counterpart's entries
//! held here is kept with this station's cosignature; one with another root
//! is a split view (`equivocation`); one not signed by the author, of a
//! channel not with that peer, or not a note at all is `bad-input`; none of
//! those keeps anything. One beyond the entries held waits for them.

use hotline_core::tlog::{self, Log, WitnessVerifier};
use hotline_proto::{Body, Terms};

mod common;
use common::receive::*;

/// The notes bravo keeps of the channel.
async fn kept(f: &Fixture) -> Vec<(u8, Vec<u8>)> {
    let id = f.book.id();
    f.engine
        .db()
        .read(move |s| hotline_store::log_notes(s, &id))
        .await
        .unwrap()
}

/// Alpha's chain as bravo stores it, as a log.
async fn alpha_log(f: &Fixture) -> Log {
    let id = f.book.id();
    let rows = f
        .engine
        .db()
        .read(move |s| s.chain_from(&id, 0, 1, 1000))
        .await
        .unwrap();
    let mut log = Log::new();
    for r in rows {
        log.push(&r.envelope);
    }
    log
}

#[tokio::test]
async fn a_counterparts_log_note_is_cosigned_only_when_its_root_is_its_entries() {
    let mut f = fixture(true, Terms::default()).await;
    f.accept().await;
    for i in 0..3 {
        let e = f.next(Body::Message {
            precedence: hotline_proto::Precedence::Routine,
            subject: String::new(),
            text: format!("message {i}"),
            labels: vec![],
            reply_to: None,
        });
        let bytes = f.sign(&e);
        match f.book.check(0, &bytes).unwrap() {
            hotline_core::Outcome::New(v) => f.book.apply(&v, 3),
            o => panic!("{o:?}"),
        }
        let r = f.engine.receive(&f.peer, f.book.id(), vec![bytes]).await;
        assert_eq!(r.unwrap().fault, None);
    }
    let log = alpha_log(&f).await;
    let n = log.size();
    assert_eq!(n, 4, "the Open and three messages");
    let id = f.book.id();
    let origin = tlog::origin(&id, &f.a.identity());
    let peer = f.peer.row.id;

    // Refused whole: an alert each, nothing kept.
    let stranger = keys();
    let mut other = Log::new();
    for i in 0..n {
        other.push(format!("another history {i}").as_bytes());
    }
    let cases: [(&str, hotline_proto::Hash, Vec<u8>, &str); 4] = [
        (
            "signed by another key",
            id,
            tlog::sign_checkpoint(&origin, n, log.root(n).unwrap(), &stranger),
            "bad-input",
        ),
        (
            "of a channel not with this peer",
            [7; 32],
            tlog::sign_checkpoint(
                &tlog::origin(&[7; 32], &f.a.identity()),
                n,
                log.root(n).unwrap(),
                &f.a,
            ),
            "bad-input",
        ),
        ("not a note", id, b"hello\n".to_vec(), "bad-input"),
        (
            "another root at a size held here",
            id,
            tlog::sign_checkpoint(&origin, n, other.root(n).unwrap(), &f.a),
            "equivocation",
        ),
    ];
    for (what, channel, note, kind) in cases {
        f.engine.receive_log_note(peer, channel, note).await;
        assert_eq!(f.open_alerts(kind).await, 1, "{what}: no {kind} alert");
        assert!(kept(&f).await.is_empty(), "{what}: kept");
        f.engine
            .clear_alert(None, &format!("log-note:{peer}"))
            .await;
        assert_eq!(f.open_alerts(kind).await, 0, "{what}");
    }

    // Beyond the entries held: nothing kept, no alert (the entries come first).
    let mut longer = log.clone();
    longer.push(b"not yet here");
    f.engine
        .receive_log_note(
            peer,
            id,
            tlog::sign_checkpoint(&origin, n + 1, longer.root(n + 1).unwrap(), &f.a),
        )
        .await;
    assert!(kept(&f).await.is_empty());

    // The true one: kept, with bravo's cosignature added.
    let note = tlog::sign_checkpoint(&origin, n, log.root(n).unwrap(), &f.a);
    f.engine.receive_log_note(peer, id, note.clone()).await;
    let k = kept(&f).await;
    assert_eq!(k.len(), 1);
    assert_eq!(k[0].0, 0, "alpha's log");
    let bravo = WitnessVerifier::of_station(&f.engine.identity()).unwrap();
    assert!(bravo.cosigned(&k[0].1).is_some(), "bravo cosigned it");
    assert!(tlog::open_checkpoint(&k[0].1, &f.a.identity()).is_ok());
    // It goes back to alpha once: the one log that changed, paced by the
    // caller (none now when there is no room, and the cursor stays).
    assert_eq!(f.engine.log_notes_since(peer, 0, 0), (vec![], 0, true));
    let (out, cursor, more) = f.engine.log_notes_since(peer, 0, 10);
    assert_eq!(out, vec![(id, k[0].1.clone())]);
    assert!(!more);
    assert_eq!(
        f.engine.log_notes_since(peer, cursor, 10),
        (vec![], cursor, false)
    );
    // Again: nothing changes, and nothing more to send.
    f.engine.receive_log_note(peer, id, note).await;
    assert_eq!(kept(&f).await, k);
    assert_eq!(
        f.engine.log_notes_since(peer, cursor, 10),
        (vec![], cursor, false)
    );
    // The note as bravo sent it, coming back: nothing changes either.
    f.engine.receive_log_note(peer, id, k[0].1.clone()).await;
    assert_eq!(kept(&f).await, k);
    assert_eq!(
        f.engine.log_notes_since(peer, cursor, 10),
        (vec![], cursor, false)
    );
    assert_eq!(f.open_alerts("bad-input").await, 0);
    assert_eq!(f.open_alerts("equivocation").await, 0);
}
