#![no_main]
//! Envelope decoder and signature check: never panics, accepts only canonical
//! bytes, and nothing random verifies under a key that signed nothing.
use hotline_proto::{Envelope, SecretKeys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = Envelope::decode(data, 1 << 20) {
        assert_eq!(env.bytes(), data);
        let key = SecretKeys::from_bytes(&[7u8; 96]).unwrap().identity().verifying_key().unwrap();
        assert!(env.open(&key).is_err(), "a forged envelope verified");
        let _ = env.peek();
    }
});
