#![no_main]
//! Checkpoint decoder: never panics; random bytes never verify.
use hotline_proto::checkpoint::SignedCheckpoint;
use hotline_proto::SecretKeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if SignedCheckpoint::peek(data).is_ok() {
        let key = SecretKeys::from_bytes(&[9u8; 96]).unwrap().identity().verifying_key().unwrap();
        assert!(SignedCheckpoint::open(data, &key).is_err());
    }
});
