#![no_main]
//! The link's handshake and frame decoder fed arbitrary bytes as the initiator:
//! never panics, never accepts.
use libfuzzer_sys::fuzz_target;
use tokio::io::AsyncWriteExt;

fuzz_target!(|data: &[u8]| {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let (mut a, b) = tokio::io::duplex(1 << 17);
        let _ = a.write_all(data).await;
        drop(a);
        let secret = hotline_link::StaticSecret::from_bytes([5u8; 32]);
        let r = hotline_link::respond(b, &secret, |_| hotline_link::PeerDecision::Pinned { last_timestamp: 0 }).await;
        assert!(r.is_err(), "random bytes completed a Noise handshake");
    });
});
