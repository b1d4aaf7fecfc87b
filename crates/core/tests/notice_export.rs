//! Notices in an export: each carries its type (the schema's id), the
//! terms in the `Open` carry the schemas, and `transcript verify` judges
//! every notice against them, a signed one that breaks its schema included.

use hotline_core::book::Outcome;
use hotline_core::{export, notice, ChannelBook};
use hotline_proto::{Body, Checkpoint, Entry, Envelope, Hash, SecretKeys, Terms};
use serde_json::{json, Value};

fn report(lat: f64) -> String {
    json!({
        "reporter": "Northern command",
        "what": "Shelling of a border post",
        "where": {"lat": lat, "lon": 37.9},
        "when": {"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T10:20:00Z"},
        "reference": "NC-2026-0412",
    })
    .to_string()
}

fn notice_of(text: String) -> Body {
    Body::Notice {
        notice_type: "incident-report/1".into(),
        notice: text,
    }
}

/// Alpha opens with incident-report/1 agreed, bravo accepts, alpha sends
/// one valid notice and then `last` (signed by alpha, not checked); the
/// export from alpha's side with both ends' checkpoints over all of it.
fn export_ending_with(last: Option<Body>) -> String {
    let a = SecretKeys::generate([1; 32], [1; 32]);
    let b = SecretKeys::generate([2; 32], [2; 32]);
    let terms = Terms {
        notice_types: vec![notice::shipped("incident-report/1").unwrap()],
        ..Terms::default()
    };
    let (mut ba, open) = ChannelBook::open(&a, b.identity(), terms.clone(), None, "a", 1);
    let (mut bb, _) = ChannelBook::genesis(open.envelope().bytes(), 1).unwrap();
    let accept = Body::Accept {
        terms_hash: terms.hash(),
    };
    let acc = bb.author(&b, accept, "b", 2, true).unwrap();
    bb.apply(&acc, 2);
    match ba.check(1, acc.envelope().bytes()).unwrap() {
        Outcome::New(x) => ba.apply(&x, 2),
        o => panic!("{o:?}"),
    }
    let good = ba
        .author(&a, notice_of(report(48.5)), "a", 3, true)
        .unwrap();
    ba.apply(&good, 3);
    let mut envs = vec![
        open.envelope().bytes().to_vec(),
        acc.envelope().bytes().to_vec(),
        good.envelope().bytes().to_vec(),
    ];
    let mut head_a: (u64, Hash) = ba.head(0);
    if let Some(body) = last {
        // Written by hand, as a station that skipped the check would.
        let e = Entry {
            channel: ba.id(),
            author: 0,
            seq: head_a.0 + 1,
            prev: head_a.1,
            seen: ba.head(1),
            lamport: ba.meta(0, head_a.0).unwrap().lamport + 1,
            time: 4,
            by: "a".into(),
            body,
        };
        let env = Envelope::sign(&e, &a);
        head_a = (e.seq, env.hash());
        envs.push(env.bytes().to_vec());
    }
    let ckb = Checkpoint {
        channel: ba.id(),
        signer: 1,
        heads: [head_a, bb.head(1)],
        time: 5,
        peer_checkpoint: None,
    }
    .sign(&b);
    let cka = Checkpoint {
        channel: ba.id(),
        signer: 0,
        heads: [head_a, ba.head(1)],
        time: 6,
        peer_checkpoint: Some(ckb.hash()),
    }
    .sign(&a);
    export::write(
        &ba.id(),
        ba.identities(),
        0,
        7,
        &envs,
        export::Attached {
            checkpoints: &[ckb.bytes().to_vec(), cka.bytes().to_vec()],
            evidence: &[],
            log_notes: &[],
        },
    )
    .unwrap()
}

#[test]
fn an_export_carries_each_notice_with_its_type_and_verifies() {
    let text = export_ending_with(None);
    let summary = export::verify(&text).expect("verifies");
    assert_eq!(summary.notices, 1);
    assert!(summary.to_string().contains("notices    1 (each matches"));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["entry"].clone())
        .collect();
    let open = lines
        .iter()
        .find(|l| l["kind"] == "open")
        .expect("the open line");
    let types = &open["body"]["terms"]["notice_types"];
    assert_eq!(types[0]["name"], "incident-report/1");
    assert_eq!(
        types[0]["schema"]["$id"],
        "https://hotline.invalid/schemas/incident-report/1"
    );
    let n = lines
        .iter()
        .find(|l| l["kind"] == "notice")
        .expect("a notice line");
    assert_eq!(n["body"]["type"], "incident-report/1");
    assert_eq!(n["body"]["notice"]["where"]["lat"], 48.5);
}

#[test]
fn a_signed_notice_that_breaks_its_schema_fails_verification() {
    for (what, body) in [
        ("latitude 91", notice_of(report(91.0))),
        (
            "a type not agreed",
            Body::Notice {
                notice_type: "launch-notification/1".into(),
                notice: report(48.5),
            },
        ),
    ] {
        let text = export_ending_with(Some(body));
        let fault = export::verify(&text).expect_err(what).to_string();
        assert!(
            fault.contains("incident-report/1") || fault.contains("launch-notification/1"),
            "{what}: the fault names the notice type: {fault}"
        );
    }
    // The same file with a valid notice in that place verifies: the fault
    // above is the notice's, not the construction's.
    export::verify(&export_ending_with(Some(notice_of(report(-12.25))))).expect("verifies");
}
