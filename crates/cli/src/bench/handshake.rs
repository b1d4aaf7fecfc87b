//! What a link handshake costs: hotline's hybrid handshake (Noise IKpsk2 +
//! ML-KEM-768, both ends in one thread, in memory) beside the bare parts it
//! is made of, measured the way the bare libraries are used: snow's plain
//! IK handshake (what link version 2 did) and libcrux's ML-KEM-768 key
//! generation + encapsulation + decapsulation.

use hotline_link::{
    generate_keypair, public_key, Initiated, LinkError, Offer, PeerDecision, PskChain, Responded,
    StaticSecret,
};
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio::io::DuplexStream;

/// Median milliseconds per handshake, both ends on one core.
#[derive(Debug, Clone, Serialize)]
pub struct Handshakes {
    /// hotline's hybrid handshake, both ends, with the two HKDF derivations.
    pub hybrid_ms: f64,
    /// snow's `Noise_IK_25519_AESGCM_SHA256`, both ends (link version 2).
    pub ik_ms: f64,
    /// libcrux ML-KEM-768: key pair + encapsulate + decapsulate.
    pub mlkem_ms: f64,
}

/// The median of `f`'s durations over about `budget`.
fn median(budget: Duration, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    let mut times = Vec::new();
    while t.elapsed() < budget || times.len() < 5 {
        let s = Instant::now();
        f();
        times.push(s.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// A hybrid handshake over an in-memory pipe of `pipe` bytes: the
/// initiator `a` (its secret and clock) dials `b` (its secret and public
/// key), which takes any key with `chain` as the stored keys.
pub(super) fn in_memory(
    rt: &tokio::runtime::Runtime,
    chain: &PskChain,
    a: (&StaticSecret, u64),
    b: (&StaticSecret, &[u8; 32]),
    pipe: usize,
) -> (
    Result<Initiated<DuplexStream>, LinkError>,
    Result<Responded<DuplexStream>, LinkError>,
) {
    let (x, y) = tokio::io::duplex(pipe);
    let offer = Offer {
        timestamp_ns: a.1,
        epoch: 0,
        psk: chain,
        use_prev: false,
    };
    let decide = |_: &[u8; 32]| PeerDecision::Pinned {
        last_timestamp: 0,
        min_epoch: 0,
        psk: chain.clone(),
    };
    rt.block_on(async {
        tokio::join!(
            hotline_link::initiate_with(x, a.0, b.1, offer),
            hotline_link::respond_with(y, b.0, 0, 1, decide)
        )
    })
}

/// Runs for about `budget` per figure.
pub fn measure(budget: Duration) -> anyhow::Result<Handshakes> {
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    let (a, _) = generate_keypair();
    let (b, b_pub) = generate_keypair();
    let chain = PskChain::initial(None);
    let mut ts = 0;
    let hybrid_ms = median(budget, || {
        ts += 1;
        let (i, r) = in_memory(&rt, &chain, (&a, ts), (&b, &b_pub), 1 << 14);
        assert!(i.is_ok() && r.is_ok(), "a handshake in memory failed");
    });

    let params: snow::params::NoiseParams = "Noise_IK_25519_AESGCM_SHA256".parse()?;
    let (a_bytes, b_bytes) = (*a.as_bytes(), *b.as_bytes());
    let b_public = public_key(&b);
    let ik_ms = median(budget, || {
        let mut i = snow::Builder::new(params.clone())
            .local_private_key(&a_bytes)
            .and_then(|x| x.remote_public_key(&b_public))
            .and_then(|x| x.build_initiator())
            .expect("IK initiator");
        let mut r = snow::Builder::new(params.clone())
            .local_private_key(&b_bytes)
            .and_then(|x| x.build_responder())
            .expect("IK responder");
        let (mut m, mut p) = ([0u8; 256], [0u8; 256]);
        let n = i.write_message(&[0; 16], &mut m).expect("message 1");
        r.read_message(&m[..n], &mut p).expect("message 1");
        let n = r.write_message(&[0; 8], &mut m).expect("message 2");
        i.read_message(&m[..n], &mut p).expect("message 2");
        std::hint::black_box((i.is_handshake_finished(), r.is_handshake_finished()));
    });

    let mlkem_ms = median(budget, || {
        use libcrux_ml_kem::mlkem768;
        let pair = mlkem768::generate_key_pair([7; 64]);
        let (ct, ss) = mlkem768::encapsulate(pair.public_key(), [9; 32]);
        let back = mlkem768::decapsulate(pair.private_key(), &ct);
        assert_eq!(ss, back);
    });
    Ok(Handshakes {
        hybrid_ms,
        ik_ms,
        mlkem_ms,
    })
}
