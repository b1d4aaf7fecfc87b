//! The hybrid handshake's stored keys between two real stations: each
//! handshake moves both directions' chains on, both ends keep the same
//! chain, and a restart of both sides carries on from the stored one.

use hotline_link::PskChain;
use hotline_proto::{Precedence, Terms};
use hotline_station::engine::Engine;
use hotline_store::PskDir;

mod common;
use common::pair::*;

/// `(a's out, b's in, a's in, b's out)` for the pair.
fn chains(a: &Engine, b: &Engine) -> [PskChain; 4] {
    let pa = a.peer_by_name("b").unwrap().row.id;
    let pb = b.peer_by_name("a").unwrap().row.id;
    [
        a.psk(pa, PskDir::Out),
        b.psk(pb, PskDir::In),
        a.psk(pa, PskDir::In),
        b.psk(pb, PskDir::Out),
    ]
}

/// Each direction's chain held the same at both ends, and the two
/// together moved past `above` handshakes (each handshake moves the chain
/// of the side that dialled).
fn agreed_past(a: &Engine, b: &Engine, above: u64) -> bool {
    let [ao, bi, ai, bo] = chains(a, b);
    ao == bi && ai == bo && ao.gen + ai.gen > above
}

/// A station's own two chains with its peer, `[out, in]`.
fn own(e: &Engine, peer: &str) -> [PskChain; 2] {
    let p = e.peer_by_name(peer).unwrap().row.id;
    [e.psk(p, PskDir::Out), e.psk(p, PskDir::In)]
}

/// `now` is the chain `was`, or one handshake on from it: it still holds
/// `was`'s newest key. A handshake can move one end while its peer is
/// stopping (the dialler stores before it sends; the peer, stopping, never
/// reads the first frame), and the next handshake in that direction heals
/// it; a chain lost on restart holds none of it.
fn kept(now: &PskChain, was: &PskChain) -> bool {
    now.gen >= was.gen && now.key_of(was.gen) == Some(&was.key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_key_moves_on_with_every_handshake_and_survives_restarts_on_both_sides() {
    // The stations' log, shown if the test fails: which side dialled, ties, refusals.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("hotline_station::net=debug")
        .with_test_writer()
        .try_init();
    let root = tempfile::tempdir().unwrap();
    let mut a = side(root.path(), "a", None).await;
    let mut b = side(root.path(), "b", None).await;
    let ch = line(&a, &b, Terms::default()).await;
    until("a handshake kept at both ends", 20, || {
        agreed_past(&a.engine(), &b.engine(), 0)
    })
    .await;
    let [out, _, inn, _] = chains(&a.engine(), &b.engine());
    let moved = if out.gen > 0 { &out } else { &inn };
    assert_ne!(moved.key, [0; 32], "the chain moved off the initial key");
    assert!(moved.prev.is_some(), "the generation before is kept");
    let held = [own(&a.engine(), "b"), own(&b.engine(), "a")];

    a.stop().await;
    b.stop().await;
    // Each side started alone, its peer down so no handshake can move
    // anything: its chains as it stored them.
    a.start().await;
    let ra = own(&a.engine(), "b");
    a.stop().await;
    b.start().await;
    let rb = own(&b.engine(), "a");
    b.stop().await;
    for (now, was) in ra.iter().chain(&rb).zip(held.iter().flatten()) {
        assert!(kept(now, was), "reloaded {now:?}, stored {was:?}");
    }
    // Both at once, so both may dial at the same moment: the connection
    // the tie closes unused moved its dialler's chain and not the peer's,
    // and that direction heals on its next handshake (the newest is
    // refused, the one before offered, and the chain moved on from it).
    // The session kept moves its direction on at both ends, past what the
    // receiving end (which only ever holds what both confirmed) reloaded.
    let past = [rb[1].gen, ra[1].gen];
    tokio::join!(a.start(), b.start());
    until(
        "a direction's chain moved on past the reloaded one",
        20,
        || {
            let [ao, bi, ai, bo] = chains(&a.engine(), &b.engine());
            (ao == bi && ao.gen > past[0]) || (ai == bo && ai.gen > past[1])
        },
    )
    .await;

    // And the line carries traffic.
    a.engine()
        .author(&ch, msg(Precedence::Routine, "after the restart"), "a")
        .await
        .unwrap();
    let eb = b.engine();
    until("the message at b", 10, || {
        eb.channel(&ch)
            .ok()
            .and_then(|c| c.try_lock().ok().map(|c| c.book().len(0) >= 2))
            .unwrap_or(false)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_band_key_entered_on_both_sides_starts_both_chains() {
    let root = tempfile::tempdir().unwrap();
    let a = side(root.path(), "a", None).await;
    let b = side(root.path(), "b", None).await;
    let (ea, eb) = (a.engine(), b.engine());
    let addr = |s: &Side| vec![s.st.as_ref().unwrap().link_addr().to_string()];
    let pa = ea.add_peer("b", &b.id.token, addr(&b), None).await.unwrap();
    let pb = eb.add_peer("a", &a.id.token, addr(&a), None).await.unwrap();
    ea.set_out_of_band_psk(pa.id, [9; 32]).await.unwrap();
    eb.set_out_of_band_psk(pb.id, [9; 32]).await.unwrap();
    assert_eq!(ea.psk(pa.id, PskDir::Out), PskChain::initial(Some([9; 32])));
    let ch = ea
        .open_channel("b", Terms::default(), None, "a")
        .await
        .unwrap();
    until("the proposal over the keyed link", 20, || {
        eb.channel(&ch).is_ok()
    })
    .await;
    // b had no channel to dial for, so a dialled: a's chain moved.
    until("a's chain moved on", 20, || {
        let c = ea.psk(pa.id, PskDir::Out);
        c.gen >= 1 && c == eb.psk(pb.id, PskDir::In)
    })
    .await;
    // A chain that moved on from the key keeps it as the generation before.
    let c = ea.psk(pa.id, PskDir::Out);
    if c.gen == 1 {
        assert_eq!(c.prev, Some([9; 32]));
    }
}
