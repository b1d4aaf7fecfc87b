//! A peer removed, or its key replaced outside rotation (`peer repin`), on a
//! live line: what is refused, what the record keeps, and how the line
//! goes on under the new key.

use hotline_proto::{Body, Hash, Kind, Precedence, Terms};
use hotline_station::engine::Engine;
use std::time::Duration;

mod common;
use common::pair::*;

/// Open alerts of a kind at a station, with the channel each is on.
async fn open_alerts(e: &Engine, kind: &str) -> Vec<Option<Hash>> {
    let k = kind.to_owned();
    e.db()
        .read(move |s| s.alerts(true, 1000))
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == k)
        .map(|a| a.channel)
        .collect()
}

async fn until_alert(e: &Engine, kind: &str, secs: u64) {
    for _ in 0..secs * 20 {
        if !open_alerts(e, kind).await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no open {kind} alert within {secs} s");
}

fn terminate() -> Body {
    Body::Terminate {
        reason: "closed in the record".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_a_live_channel_goes_only_by_force_and_nothing_more_is_taken_from_it() {
    let root = tempfile::tempdir().unwrap();
    let mut a = side(root.path(), "a", None).await;
    let mut b = side(root.path(), "b", None).await;
    let ch = line(&a, &b, Terms::default()).await;
    let (ea, eb) = (a.engine(), b.engine());
    eb.author(&ch, msg(Precedence::Routine, "before"), "b")
        .await
        .unwrap();
    let mut arrived = false;
    for _ in 0..200 {
        if count(&ea, &ch, Kind::Message).await == 1 {
            arrived = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(arrived, "the first message did not arrive");

    // Refused while the channel is live, and nothing changes.
    let err = ea.remove_peer("b", false).await.unwrap_err().to_string();
    assert!(err.contains(&hotline_proto::hex(&ch)), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(ea.peers().len(), 1);

    let left = ea.remove_peer("b", true).await.unwrap();
    assert_eq!(left, vec![ch]);
    assert!(ea.peers().is_empty());
    assert!(ea.peer_by_name("b").is_err());
    // The channel keeps its record and says why it is silent.
    let v = ea.channel_json(&ch, false).await.unwrap();
    assert_eq!(v["peer"], "b");
    assert_eq!(v["peer_removed"], true);
    let err = ea
        .author(&ch, msg(Precedence::Routine, "anyone?"), "a")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("removed"), "{err}");

    // The peer's key is a stranger now: its sessions were cut, and its next
    // handshake is refused and counted; what it writes is not taken.
    eb.author(&ch, msg(Precedence::Routine, "after"), "b")
        .await
        .unwrap();
    until_alert(&ea, "unpinned-key", 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&ea, &ch, Kind::Message).await, 1);

    // Closed in the record by this station alone, and it stays so across a restart.
    ea.author(&ch, terminate(), "a").await.unwrap();
    assert_eq!(state_now(&ea, &ch).await, "terminated");
    drop(ea);
    a.stop().await;
    a.start().await;
    let ea = a.engine();
    assert!(ea.peers().is_empty());
    assert_eq!(state_now(&ea, &ch).await, "terminated");
    assert_eq!(
        ea.channel_json(&ch, false).await.unwrap()["peer_removed"],
        true
    );
    hotline_core::export::verify(&ea.export(&ch).await.unwrap()).unwrap();

    // The name can be pinned again.
    let addr = b.st.as_ref().unwrap().link_addr().to_string();
    ea.add_peer("b", &b.id.token, vec![addr], None)
        .await
        .unwrap();
    assert_eq!(ea.peers().len(), 1);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_repin_old_channels_stay_bound_to_the_old_key_and_a_new_one_reopens_them() {
    let root = tempfile::tempdir().unwrap();
    let mut a = side(root.path(), "a", None).await;
    let mut b = side(root.path(), "b", None).await;
    let ch = line(&a, &b, Terms::default()).await;
    // The counterpart loses its key: a new installation with a new identity.
    b.stop().await;
    let mut b2 = side(root.path(), "b2", None).await;
    let (ea, eb2) = (a.engine(), b2.engine());

    // Refusals change nothing.
    let same = ea.repin_peer("b", &b.id.token).await.unwrap_err();
    assert!(same.to_string().contains("already pinned"), "{same}");
    assert!(ea.repin_peer("b", "hotline1nonsense").await.is_err());
    assert!(ea.repin_peer("b", &a.id.token).await.is_err());
    assert!(ea.repin_peer("nobody", &b2.id.token).await.is_err());
    assert_eq!(ea.peer_by_name("b").unwrap().row.token, b.id.token);

    let row = ea.repin_peer("b", &b2.id.token).await.unwrap();
    assert_eq!(row.token, b2.id.token);
    assert!(!row.verified, "verification starts again");
    let b2_addr = b2.st.as_ref().unwrap().link_addr().to_string();
    ea.set_peer("b", Some(vec![b2_addr]), None).await.unwrap();
    // The old channel notes the change, and carries nothing more.
    assert_eq!(open_alerts(&ea, "peer-key-replaced").await, vec![Some(ch)]);
    assert_eq!(
        ea.channel_json(&ch, false).await.unwrap()["peer_removed"],
        true
    );
    let err = ea
        .author(&ch, msg(Precedence::Routine, "still you?"), "a")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("replaced"), "{err}");

    // Verify the new key, close the old channel in the record, reopen it.
    let a_addr = a.st.as_ref().unwrap().link_addr().to_string();
    eb2.add_peer("a", &a.id.token, vec![a_addr], None)
        .await
        .unwrap();
    assert!(eb2.verify_peer("a", &a.id.fingerprint).await.unwrap());
    assert!(ea.verify_peer("b", &b2.id.fingerprint).await.unwrap());
    let terms = Terms::default();
    let not_ended = ea
        .open_channel("b", terms.clone(), Some(ch), "a")
        .await
        .unwrap_err();
    assert!(
        not_ended.to_string().contains("only an ended channel"),
        "{not_ended}"
    );
    ea.author(&ch, terminate(), "a").await.unwrap();
    let new = ea
        .open_channel("b", terms.clone(), Some(ch), "a")
        .await
        .unwrap();
    until("the proposal at b2", 10, || eb2.channel(&new).is_ok()).await;
    eb2.author(
        &new,
        Body::Accept {
            terms_hash: terms.hash(),
        },
        "b",
    )
    .await
    .unwrap();
    until("active at a", 10, || state(&ea, &new) == "active").await;
    eb2.author(&new, msg(Precedence::Flash, "new key here"), "b")
        .await
        .unwrap();
    let mut arrived = false;
    for _ in 0..200 {
        if count(&ea, &new, Kind::Message).await == 1 {
            arrived = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(arrived, "a message under the new key did not arrive");

    // After a restart: the old pin is on record, the new one is pinned.
    drop(ea);
    a.stop().await;
    a.start().await;
    let ea = a.engine();
    assert_eq!(ea.peers().len(), 1);
    assert_eq!(ea.peer_by_name("b").unwrap().row.token, b2.id.token);
    assert_eq!(
        ea.channel_json(&ch, false).await.unwrap()["peer_removed"],
        true
    );
    assert_ne!(
        ea.channel_json(&new, false).await.unwrap()["peer_removed"],
        true
    );
    a.stop().await;
    b2.stop().await;
}
