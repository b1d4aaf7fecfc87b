#![no_main]
//! Link-message decoder: never panics; what it accepts re-encodes and decodes to the same value.
use hotline_proto::LinkMsg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = LinkMsg::from_bytes(data) {
        assert_eq!(LinkMsg::from_bytes(&m.to_bytes()).unwrap(), m);
    }
});
