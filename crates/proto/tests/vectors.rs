//! Fixed test vectors: the exact bytes of one entry of each kind, its envelope
//! and its hash, under fixed keys. Ed25519 signatures are deterministic, so
//! any change to the encoding shows up here. To regenerate after an intended
//! change: `HOTLINE_BLESS=1 cargo test -p hotline-proto --test vectors`.

use hotline_proto::entry::{ContactSchedule, Terms};
use hotline_proto::{hex, Body, Entry, Envelope, Marking, OnMiss, Precedence, SecretKeys};

fn keys() -> SecretKeys {
    let mut b = [0u8; 96];
    for (i, x) in b.iter_mut().enumerate() {
        *x = i as u8;
    }
    SecretKeys::from_bytes(&b).unwrap()
}

/// The keys a `KeyRotation` vector rotates to.
fn next_keys() -> SecretKeys {
    let mut b = [0u8; 96];
    for (i, x) in b.iter_mut().enumerate() {
        *x = 0xff - i as u8;
    }
    // A valid X25519 public key (below the field prime, not of low order).
    b[64..].copy_from_slice(&[9u8; 32]);
    SecretKeys::from_bytes(&b).unwrap()
}

fn bodies() -> Vec<Body> {
    let h = [0x11u8; 32];
    let terms = Terms {
        contact: ContactSchedule::At(vec![540, 1020]),
        ..Terms::default()
    };
    vec![
        Body::Open {
            terms,
            initiator: "hotline1aaaa".into(),
            responder: "hotline1bbbb".into(),
            reopens: Some(h),
        },
        Body::Accept {
            terms_hash: Terms::default().hash(),
        },
        Body::Message {
            precedence: Precedence::Flash,
            subject: "Launch".into(),
            text: "Unidentified launch detected.".into(),
            labels: vec!["ops".into()],
            reply_to: None,
        },
        Body::Ack { of: h },
        Body::Translation {
            of: h,
            lang: "uk".into(),
            text: "Виявлено запуск.".into(),
        },
        Body::ContactCheck,
        Body::Request {
            question: "Extend the ceasefire?".into(),
            options: vec!["yes".into(), "no".into()],
            deadline: 1_795_716_000_000,
            on_miss: OnMiss::Suspend,
        },
        Body::Decision {
            request: h,
            choice: "yes".into(),
            text: "Agreed.".into(),
        },
        Body::Suspend {
            reason: "consultations".into(),
        },
        Body::Resume,
        Body::Terminate {
            reason: "end of mandate".into(),
        },
        Body::Report {
            title: "IOC batch".into(),
            marking: Marking::AmberStrict,
            rel_to: vec!["UKR".into(), "ACME".into()],
            content_type: "application/stix+json;version=2.1".into(),
            content: b"{\"type\":\"bundle\"}".to_vec(),
        },
        Body::SharingPause {
            reason: "review".into(),
        },
        Body::SharingResume { backfill: true },
        Body::KeyRotation {
            new_token: next_keys().identity().token(),
            new_sig: [0; 64],
        },
        Body::Notice {
            notice_type: "incident-report/1".into(),
            notice: r#"{"reference":"NC-1","reporter":"North","what":"shelling","when":{"from":"2026-11-28T10:00:00Z","to":"2026-11-28T10:20:00Z"},"where":{"lat":48.5,"lon":37.9}}"#.into(),
        },
    ]
}

/// Terms with notice types carry each one whole, name, hash and schema,
/// and read back the same; without any they encode as before the field
/// existed (the pinned `open` vector above holds that).
#[test]
fn terms_with_notice_types_round_trip_and_their_hash_must_match() {
    let t = Terms {
        notice_types: vec![hotline_proto::NoticeType {
            name: "ship-movement/1".into(),
            schema: r#"{"type":"object"}"#.into(),
        }],
        ..Terms::default()
    };
    let open = Body::Open {
        terms: t.clone(),
        initiator: "hotline1aaaa".into(),
        responder: "hotline1bbbb".into(),
        reopens: None,
    };
    let e = Entry {
        channel: [0; 32],
        author: 0,
        seq: 1,
        prev: [0; 32],
        seen: (0, [0; 32]),
        lamport: 1,
        time: 0,
        by: "x".into(),
        body: open,
    };
    let bytes = e.to_bytes();
    assert_eq!(Entry::from_bytes(&bytes).unwrap(), e);
    assert_ne!(t.hash(), Terms::default().hash());
    // The schema's hash is in the bytes; a schema changed under it is refused.
    let hash = hotline_proto::sha256(br#"{"type":"object"}"#);
    let at = bytes
        .windows(32)
        .position(|w| w == hash)
        .expect("the hash is carried");
    let mut forged = bytes.clone();
    forged[at] ^= 1;
    assert!(Entry::from_bytes(&forged).is_err());
}

/// The sample entry the vectors are made of: the `i`th, carrying `body`
/// and signed for `by`.
fn entry_of(i: usize, body: Body, by: &str) -> Entry {
    Entry {
        channel: [0x22; 32],
        author: (i % 2) as u8,
        seq: i as u64 + 1,
        prev: [0x33; 32],
        seen: (i as u64, [0x44; 32]),
        lamport: 2 * i as u64 + 1,
        time: 1_795_700_000_000 + i as u64,
        by: by.into(),
        body,
    }
}

fn render() -> String {
    let k = keys();
    let mut out = String::from("# hotline entry test vectors v1: kind, entry CBOR, envelope CBOR, SHA-256 of the envelope\n");
    out.push_str(&format!("# signing identity {}\n", k.identity().token()));
    for (i, body) in bodies().into_iter().enumerate() {
        let kind = body.kind().name();
        let mut e = entry_of(i, body, "duty-officer");
        if i == 0 {
            e.channel = [0; 32];
        }
        let env = if matches!(e.body, Body::KeyRotation { .. }) {
            // Signed by the new key inside, by the old one outside.
            let env = Envelope::sign_rotation(&e, &k, &next_keys());
            let signed = env.peek().unwrap();
            let new = hotline_proto::verify_rotation(&env, &signed).unwrap();
            assert_eq!(new, next_keys().identity());
            out.push_str(&format!("# key_rotation to {}\n", new.token()));
            env
        } else {
            Envelope::sign(&e, &k)
        };
        let e = env.peek().unwrap();
        // Each vector also decodes back to the same value.
        assert_eq!(Entry::from_bytes(&e.to_bytes()).unwrap(), e);
        assert_eq!(env.open(&k.identity().verifying_key().unwrap()).unwrap(), e);
        out.push_str(&format!(
            "{kind}\n  entry {}\n  envelope {}\n  hash {}\n",
            hex(&e.to_bytes()),
            hex(env.bytes()),
            hex(&env.hash())
        ));
    }
    out
}

#[test]
fn entry_bytes_match_the_pinned_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/entries.txt");
    let now = render();
    if std::env::var_os("HOTLINE_BLESS").is_some() {
        std::fs::write(path, &now).unwrap();
    }
    let pinned = std::fs::read_to_string(path)
        .expect("tests/vectors/entries.txt exists (HOTLINE_BLESS=1 creates it)");
    assert_eq!(
        now, pinned,
        "the byte encoding changed: this breaks every signature ever made"
    );
    assert_eq!(
        pinned.matches("\n  hash ").count(),
        hotline_proto::Kind::ALL.len()
    );
}

/// The view written directly as text is the view's value as serde_json
/// writes it, for every kind of body (the transcript verifier's fast path
/// compares an export's lines with it, and falls back to comparing values).
#[test]
fn the_entry_view_text_is_the_views_json() {
    // Beside one body of each kind, a message with every optional part
    // filled and one with every part empty.
    let more = [
        Body::Message {
            precedence: Precedence::Routine,
            subject: "re: \"launch\"\n".into(),
            text: "false alarm ✓ \u{202e}".into(),
            labels: vec!["ops".into(), "tlp:amber".into()],
            reply_to: Some([0x22; 32]),
        },
        Body::Message {
            precedence: Precedence::Priority,
            subject: String::new(),
            text: String::new(),
            labels: vec![],
            reply_to: None,
        },
    ];
    for (i, body) in bodies().into_iter().chain(more).enumerate() {
        let e = entry_of(i, body, "duty \"officer\" ✓");
        let kind = e.body.kind().name();
        assert_eq!(
            hotline_proto::view::entry_text(&e),
            hotline_proto::view::entry(&e).to_string(),
            "{kind}"
        );
    }
}
