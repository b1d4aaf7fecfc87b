#![no_main]
//! The offline verifier reading arbitrary text: never panics, and random text never verifies.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(hotline_core::export::verify(text).is_err());
        let _ = hotline_core::audit::verify_chain(text);
        let _ = hotline_core::audit::verify(text);
    }
});
