#![no_main]
//! Entry decoder: never panics; accepted bytes are exactly the canonical encoding.
use hotline_proto::Entry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Entry::from_bytes(data) {
        assert_eq!(e.to_bytes(), data);
    }
});
