//! The hybrid post-quantum handshake: the stored-key chain, recovery from a
//! lost reply, and an attacker who holds every X25519 secret of a recorded
//! handshake but not the ML-KEM one.

use snow::Builder;
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

use crate::handshake::{initiate_inner, params, MSG1_LEN};
use crate::hybrid::{self, KemPair, PskChain, KEM_CIPHERTEXT_LEN};
use crate::*;

const PIPE: usize = 1 << 16;

fn pinned(psk: &PskChain) -> impl FnOnce(&[u8; 32]) -> PeerDecision {
    let psk = psk.clone();
    move |_| PeerDecision::Pinned {
        last_timestamp: 0,
        min_epoch: 0,
        psk,
    }
}

/// One handshake with the chains given; (initiator's result, responder's).
async fn handshake(
    a: &StaticSecret,
    b: &StaticSecret,
    out: &PskChain,
    inn: &PskChain,
    use_prev: bool,
) -> (
    Result<Initiated<DuplexStream>, LinkError>,
    Result<Responded<DuplexStream>, LinkError>,
) {
    let (ia, rb) = duplex(PIPE);
    let offer = Offer {
        timestamp_ns: 1,
        epoch: 0,
        psk: out,
        use_prev,
    };
    let b_pub = public_key(b);
    tokio::join!(
        initiate_with(ia, a, &b_pub, offer),
        respond_with(rb, b, 0, 1, pinned(inn))
    )
}

#[tokio::test]
async fn every_handshake_moves_both_chains_on_to_the_same_next_key() {
    let (a, _) = generate_keypair();
    let (b, _) = generate_keypair();
    let (mut out, mut inn) = (PskChain::initial(None), PskChain::initial(None));
    let mut seen = vec![out.key];
    for gen in 1..=3 {
        let (i, r) = handshake(&a, &b, &out, &inn, false).await;
        let (i, r) = (i.unwrap(), r.unwrap());
        assert_eq!(i.psk, r.psk);
        assert_eq!(i.psk.gen, gen);
        assert_eq!(i.psk.prev, Some(out.key), "the generation before is kept");
        assert!(!seen.contains(&i.psk.key), "a new key every generation");
        seen.push(i.psk.key);
        out = i.psk.clone();
        inn = r.psk.clone();
    }
}

#[tokio::test]
async fn a_lost_reply_or_a_lost_store_does_not_lock_the_pair_out() {
    let (a, _) = generate_keypair();
    let (b, _) = generate_keypair();
    let start = PskChain::initial(Some([7; 32]));
    // The responder moved on; the initiator never saw the reply.
    let (_, r) = handshake(&a, &b, &start, &start, false).await;
    let ahead = r.unwrap().psk;
    let (i, r) = handshake(&a, &b, &start, &ahead, false).await;
    let (i, r) = (i.unwrap(), r.unwrap());
    assert_eq!((i.psk.gen, r.psk.gen), (1, 1));
    assert_eq!(i.psk, r.psk);

    // The initiator moved on; the responder lost its store before keeping
    // the new generation: the newest is refused, the one before works.
    let (i, r) = handshake(&a, &b, &start, &start, false).await;
    let (moved, _) = (i.unwrap().psk, r.unwrap());
    let (i, r) = handshake(&a, &b, &moved, &start, false).await;
    assert_eq!(r.err(), Some(LinkError::PskGeneration { held: 0, got: 1 }));
    assert_eq!(i.err(), Some(LinkError::Closed));
    let (i, r) = handshake(&a, &b, &moved, &start, true).await;
    assert_eq!(i.unwrap().psk, r.unwrap().psk);
}

#[tokio::test]
async fn different_out_of_band_keys_fail_the_handshake() {
    let (a, _) = generate_keypair();
    let (b, _) = generate_keypair();
    let (i, _) = handshake(
        &a,
        &b,
        &PskChain::initial(Some([1; 32])),
        &PskChain::initial(Some([2; 32])),
        false,
    )
    .await;
    assert_eq!(i.err(), Some(LinkError::Crypto));
}

/// Reads one length-prefixed message and returns it with its prefix.
async fn relay_one(from: &mut DuplexStream, to: &mut DuplexStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    from.read_exact(&mut len).await.unwrap();
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    from.read_exact(&mut msg).await.unwrap();
    to.write_all(&len).await.unwrap();
    to.write_all(&msg).await.unwrap();
    msg
}

/// An attacker records a handshake and the first message after it (the
/// responder's, which the initiator's keys open), and
/// later holds both stations' static X25519 secrets and the initiator's
/// ephemeral one (what breaking X25519 gives). It can read message 1 and
/// rebuild the initiator's state exactly, but without the ML-KEM secret it
/// cannot set the psk2 key, so message 2 and the traffic stay closed. With
/// the ML-KEM secret the same steps open them: that secret is all that
/// stands in the way.
#[tokio::test]
async fn a_recorded_handshake_stays_closed_to_every_x25519_secret_without_the_kem_one() {
    let (a, a_pub) = generate_keypair();
    let (b, b_pub) = generate_keypair();
    let (e, _) = generate_keypair();
    let kem_seed = [0x42u8; 64];
    let chain = PskChain::initial(None);

    // The real handshake through a recording relay.
    let (ia, mut relay_a) = duplex(PIPE);
    let (mut relay_b, rb) = duplex(PIPE);
    let hs = Builder::new(params())
        .prologue(PROLOGUE)
        .unwrap()
        .local_private_key(a.as_bytes())
        .unwrap()
        .remote_public_key(&b_pub)
        .unwrap()
        .fixed_ephemeral_key_for_testing_only(e.as_bytes())
        .build_initiator()
        .unwrap();
    let offer = Offer {
        timestamp_ns: 99,
        epoch: 0,
        psk: &chain,
        use_prev: false,
    };
    let initiator = async {
        let i = initiate_inner(ia, hs, offer, KemPair::from_seed(kem_seed))
            .await
            .unwrap();
        let (mut rx, tx) = i.session.split();
        (rx.recv(1024).await.unwrap(), tx)
    };
    let responder = async {
        let r = respond_with(rb, &b, 0, 1, pinned(&chain)).await.unwrap();
        let (rx, mut tx) = r.session.split();
        tx.send(b"the ceasefire holds").await.unwrap();
        rx
    };
    let relay = async {
        let m1 = relay_one(&mut relay_a, &mut relay_b).await;
        let m2 = relay_one(&mut relay_b, &mut relay_a).await;
        let t = relay_one(&mut relay_b, &mut relay_a).await;
        (m1, m2, t)
    };
    let ((heard, _tx), _rx, (m1, m2, t)) = tokio::join!(initiator, responder, relay);
    assert_eq!(heard, b"the ceasefire holds");
    assert_eq!(m1.len(), MSG1_LEN);

    // Message 1 opens to the responder's static secret alone.
    let mut reader = Builder::new(params())
        .prologue(PROLOGUE)
        .unwrap()
        .local_private_key(b.as_bytes())
        .unwrap()
        .build_responder()
        .unwrap();
    let mut hello = vec![0u8; MSG1_LEN];
    let n = reader.read_message(&m1[1..], &mut hello).unwrap();
    hello.truncate(n);

    let (ct, noise2) = m2[1..].split_at(KEM_CIPHERTEXT_LEN);
    let ct: [u8; KEM_CIPHERTEXT_LEN] = ct.try_into().unwrap();
    // The attacker's try: the initiator rebuilt from its X25519 secrets,
    // with a given KEM shared secret.
    let attempt = |kem_ss: [u8; 32]| {
        let mut hs = Builder::new(params())
            .prologue(PROLOGUE)
            .unwrap()
            .local_private_key(a.as_bytes())
            .unwrap()
            .remote_public_key(&b_pub)
            .unwrap()
            .fixed_ephemeral_key_for_testing_only(e.as_bytes())
            .build_initiator()
            .unwrap();
        let mut again = vec![0u8; MSG1_LEN];
        let n = hs.write_message(&hello, &mut again).unwrap();
        assert_eq!(
            &again[..n],
            &m1[1..],
            "the attacker's state is the initiator's"
        );
        let h1 = hs.get_handshake_hash().to_vec();
        let psk = hybrid::psk2(&chain.key, &kem_ss, &h1, &ct);
        hs.set_psk(2, &psk).unwrap();
        let mut epoch = [0u8; 64];
        hs.read_message(noise2, &mut epoch).ok()?;
        let transport = hs.into_stateless_transport_mode().ok()?;
        let mut plain = vec![0u8; t.len()];
        let n = transport.read_message(0, &t, &mut plain).ok()?;
        Some(plain[1..n].to_vec())
    };
    for guess in [
        [0u8; 32],
        [0xff; 32],
        hybrid::ratchet(&chain.key, &[0; 32], &[]),
    ] {
        assert_eq!(attempt(guess), None, "opened without the ML-KEM secret");
    }
    let kem_ss = KemPair::from_seed(kem_seed).decapsulate(&ct);
    assert_eq!(
        attempt(kem_ss).as_deref(),
        Some(&b"the ceasefire holds"[..]),
        "the control: with the ML-KEM secret the same steps open it"
    );
    let _ = a_pub;
}

/// Test vectors for docs/PROTOCOL.md: the two HKDF derivations on fixed inputs.
#[test]
fn derivations_match_the_documented_vectors() {
    let stored = [0u8; 32];
    let ss = [1u8; 32];
    let h1 = [2u8; 32];
    let ct = [3u8; KEM_CIPHERTEXT_LEN];
    let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        hex(hybrid::psk2(&stored, &ss, &h1, &ct)),
        "2eec3b05e6a77940e8e29a9089dd80b8ea1794fd30118a780038d36b860afe8d"
    );
    assert_eq!(
        hex(hybrid::ratchet(&stored, &ss, &h1)),
        "dc3903399137d144608ebbe8ccc9f2445ca7a22c744e6fdb7a26db21384e3763"
    );
}
