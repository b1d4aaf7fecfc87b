//! The offline verifier rejects every tampering of an export, naming the fault.

use hotline_core::book::Outcome;
use hotline_core::tlog::{self, Log, WitnessKey, WitnessVerifier};
use hotline_core::{export, ChannelBook, VerifiedEntry};
use hotline_proto::{Body, Checkpoint, Precedence, SecretKeys, Terms};
use serde_json::Value;

struct Pair {
    a: SecretKeys,
    b: SecretKeys,
    ba: ChannelBook,
    bb: ChannelBook,
    envs: Vec<Vec<u8>>,
}

fn deliver(to: &mut ChannelBook, author: u8, v: &VerifiedEntry) {
    match to.check(author, v.envelope().bytes()).unwrap() {
        Outcome::New(x) => to.apply(&x, 0),
        o => panic!("{o:?}"),
    }
}

fn msg(t: &str) -> Body {
    Body::Message {
        precedence: Precedence::Routine,
        subject: "s".into(),
        text: t.into(),
        labels: vec![],
        reply_to: None,
    }
}

fn pair() -> Pair {
    let a = SecretKeys::generate([1; 32], [1; 32]);
    let b = SecretKeys::generate([2; 32], [2; 32]);
    let (mut ba, open) = ChannelBook::open(&a, b.identity(), Terms::default(), None, "a", 1);
    let (mut bb, _) = ChannelBook::genesis(open.envelope().bytes(), 1).unwrap();
    let mut envs = vec![open.envelope().bytes().to_vec()];
    let acc = bb
        .author(
            &b,
            Body::Accept {
                terms_hash: Terms::default().hash(),
            },
            "b",
            2,
            true,
        )
        .unwrap();
    bb.apply(&acc, 2);
    deliver(&mut ba, 1, &acc);
    envs.push(acc.envelope().bytes().to_vec());
    for i in 0..4 {
        // Concurrent messages: both write before seeing the other's.
        let ma = ba
            .author(&a, msg(&format!("a{i}")), "a", 10 + i, true)
            .unwrap();
        let mb = bb
            .author(&b, msg(&format!("b{i}")), "b", 10 + i, true)
            .unwrap();
        ba.apply(&ma, 0);
        bb.apply(&mb, 0);
        deliver(&mut bb, 0, &ma);
        deliver(&mut ba, 1, &mb);
        envs.push(ma.envelope().bytes().to_vec());
        envs.push(mb.envelope().bytes().to_vec());
    }
    Pair { a, b, ba, bb, envs }
}

fn export_of(p: &Pair) -> String {
    export_with(p, &[])
}

/// The export with log checkpoint notes after the rest.
fn export_with(p: &Pair, notes: &[(u8, Vec<u8>)]) -> String {
    let ckb = Checkpoint {
        channel: p.bb.id(),
        signer: 1,
        heads: [p.bb.head(0), p.bb.head(1)],
        time: 5,
        peer_checkpoint: None,
    }
    .sign(&p.b);
    let cka = Checkpoint {
        channel: p.ba.id(),
        signer: 0,
        heads: [p.ba.head(0), p.ba.head(1)],
        time: 6,
        peer_checkpoint: Some(ckb.hash()),
    }
    .sign(&p.a);
    export::write(
        &p.ba.id(),
        p.ba.identities(),
        0,
        7,
        &p.envs,
        export::Attached {
            checkpoints: &[ckb.bytes().to_vec(), cka.bytes().to_vec()],
            evidence: &[],
            log_notes: notes,
        },
    )
    .unwrap()
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(String::from).collect()
}

fn join(l: &[String]) -> String {
    l.iter().map(|x| format!("{x}\n")).collect()
}

fn fails(text: &str, expect: &str) {
    match export::verify(text) {
        Ok(s) => panic!("tampered export verified: {s}"),
        Err(f) => assert!(
            f.to_string().contains(expect),
            "fault {f:?} does not mention {expect:?}"
        ),
    }
}

#[test]
fn an_untouched_export_verifies() {
    let p = pair();
    let s = export::verify(&export_of(&p)).unwrap();
    assert_eq!(s.counts, [5, 5]);
    assert_eq!(s.state, "active");
    assert_eq!(s.checkpoints.len(), 2);
}

#[test]
fn a_flipped_byte_in_any_envelope_is_caught() {
    let p = pair();
    let l = lines(&export_of(&p));
    for i in 1..=10 {
        let mut l = l.clone();
        let mut v: Value = serde_json::from_str(&l[i]).unwrap();
        let mut b = data_encoding::BASE64
            .decode(v["envelope"].as_str().unwrap().as_bytes())
            .unwrap();
        let at = b.len() / 2;
        b[at] ^= 0x01;
        v["envelope"] = Value::String(data_encoding::BASE64.encode(&b));
        l[i] = v.to_string();
        assert!(
            export::verify(&join(&l)).is_err(),
            "flip in line {} not caught",
            i + 1
        );
    }
}

#[test]
fn dropped_lines_are_caught_anywhere() {
    let p = pair();
    let l = lines(&export_of(&p));
    for i in 1..l.len() {
        let mut d = l.clone();
        d.remove(i);
        assert!(
            export::verify(&join(&d)).is_err(),
            "dropping line {} not caught",
            i + 1
        );
    }
    // Dropping the last entry and fixing the header count is still caught by the exporter's checkpoint.
    let mut d = l.clone();
    d.remove(10);
    let mut h: Value = serde_json::from_str(&d[0]).unwrap();
    h["entries"] = Value::from(9);
    d[0] = h.to_string();
    fails(&join(&d), "checkpoint");
}

#[test]
fn duplicated_and_reordered_lines_are_caught() {
    let p = pair();
    let l = lines(&export_of(&p));
    let mut d = l.clone();
    d.insert(4, l[4].clone());
    fails(&join(&d), "line 6");
    let mut r = l.clone();
    r.swap(3, 5);
    assert!(export::verify(&join(&r)).is_err());
    // Two concurrent entries with the same lamport swapped: only the merged order rule sees it.
    let mut r = l.clone();
    r.swap(3, 4);
    fails(&join(&r), "order");
}

#[test]
fn a_decoded_view_that_disagrees_with_its_envelope_is_caught() {
    let p = pair();
    let mut l = lines(&export_of(&p));
    let mut v: Value = serde_json::from_str(&l[5]).unwrap();
    v["entry"]["body"]["text"] = Value::String("something else".into());
    l[5] = v.to_string();
    fails(&join(&l), "view");
}

#[test]
fn an_entry_view_laid_out_otherwise_is_read_as_json_and_still_checked() {
    let p = pair();
    let text = export_of(&p);
    let want = export::verify(&text).expect("as written");
    // Another writer's layout: a space after every colon, the keys of the
    // line in another order. The same values, so the same verdict.
    let mut l = lines(&text);
    for line in l.iter_mut().skip(1) {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(entry) = v.get("entry") {
            *line = format!(
                "{{\"hash\": {}, \"entry\": {}, \"envelope\": {}}}",
                v["hash"],
                entry.to_string().replace("\":", "\": "),
                v["envelope"]
            );
        }
    }
    assert_ne!(join(&l), text);
    let got = export::verify(&join(&l)).expect("the same values in another layout");
    assert_eq!(got.counts, want.counts);
    for (a, n) in [(0u8, want.counts[0]), (1, want.counts[1])] {
        for seq in 1..=n {
            assert_eq!(got.entry_hash(a, seq), want.entry_hash(a, seq));
        }
    }
    // In that layout too, a view that says something the envelope does not
    // is caught.
    l[5] = l[5].replacen("\"text\": \"", "\"text\": \"not ", 1);
    fails(&join(&l), "view");
}

#[test]
fn missing_or_inconsistent_checkpoints_are_caught() {
    let p = pair();
    let l = lines(&export_of(&p));
    let n = l.len();
    let mut d = l.clone();
    d.remove(n - 1);
    fails(&join(&d), "exporting station's checkpoint is missing");
    let mut d = l.clone();
    d.remove(n - 2);
    fails(&join(&d), "missing");
    // A counterpart checkpoint other than the one the exporter signed for.
    let older = Checkpoint {
        channel: p.bb.id(),
        signer: 1,
        heads: [p.bb.head(0), p.bb.head(1)],
        time: 1,
        peer_checkpoint: None,
    }
    .sign(&p.b);
    let mut d = l.clone();
    let mut v: Value = serde_json::from_str(&d[n - 2]).unwrap();
    v["checkpoint"] = Value::String(data_encoding::BASE64.encode(older.bytes()));
    v["hash"] = Value::String(hotline_proto::hex(&older.hash()));
    v["view"] = hotline_proto::view::checkpoint(older.checkpoint());
    d[n - 2] = v.to_string();
    fails(&join(&d), "not the one");
    // A flipped byte in a checkpoint.
    let mut d = l.clone();
    let mut v: Value = serde_json::from_str(&d[n - 1]).unwrap();
    let mut b = data_encoding::BASE64
        .decode(v["checkpoint"].as_str().unwrap().as_bytes())
        .unwrap();
    let last = b.len() - 1;
    b[last] ^= 0x80;
    v["checkpoint"] = Value::String(data_encoding::BASE64.encode(&b));
    d[n - 1] = v.to_string();
    assert!(export::verify(&join(&d)).is_err());
}

#[test]
fn a_checkpoint_that_disagrees_with_the_chain_is_caught() {
    let p = pair();
    let wrong = Checkpoint {
        channel: p.bb.id(),
        signer: 1,
        heads: [(2, [9; 32]), p.bb.head(1)],
        time: 5,
        peer_checkpoint: None,
    }
    .sign(&p.b);
    let cka = Checkpoint {
        channel: p.ba.id(),
        signer: 0,
        heads: [p.ba.head(0), p.ba.head(1)],
        time: 6,
        peer_checkpoint: Some(wrong.hash()),
    }
    .sign(&p.a);
    let text = export::write(
        &p.ba.id(),
        p.ba.identities(),
        0,
        7,
        &p.envs,
        export::Attached {
            checkpoints: &[wrong.bytes().to_vec(), cka.bytes().to_vec()],
            evidence: &[],
            log_notes: &[],
        },
    )
    .unwrap();
    fails(&text, "disagrees");
}

#[test]
fn the_counterparts_entries_without_any_of_its_checkpoints_fail() {
    let p = pair();
    // The exporter keeps bravo's entries but leaves out every checkpoint of
    // bravo's, so nothing bravo signed says where the record ends.
    let cka = Checkpoint {
        channel: p.ba.id(),
        signer: 0,
        heads: [p.ba.head(0), p.ba.head(1)],
        time: 6,
        peer_checkpoint: None,
    }
    .sign(&p.a);
    let text = export::write(
        &p.ba.id(),
        p.ba.identities(),
        0,
        7,
        &p.envs,
        export::Attached {
            checkpoints: &[cka.bytes().to_vec()],
            evidence: &[],
            log_notes: &[],
        },
    )
    .unwrap();
    fails(&text, "none of its checkpoints");

    // A proposal bravo has not answered: no entry of bravo's, none needed.
    let (ba, open) = ChannelBook::open(&p.a, p.b.identity(), Terms::default(), None, "a", 1);
    let alone = Checkpoint {
        channel: ba.id(),
        signer: 0,
        heads: [ba.head(0), ba.head(1)],
        time: 2,
        peer_checkpoint: None,
    }
    .sign(&p.a);
    let text = export::write(
        &ba.id(),
        ba.identities(),
        0,
        3,
        &[open.envelope().bytes().to_vec()],
        export::Attached {
            checkpoints: &[alone.bytes().to_vec()],
            evidence: &[],
            log_notes: &[],
        },
    )
    .unwrap();
    assert_eq!(export::verify(&text).unwrap().counts, [1, 0]);
}

/// `l` with `insert` placed right after the first `{` at or after `at`.
fn with_inserted(l: &str, at: &str, insert: &str) -> String {
    let i = l.find(at).expect("anchor") + at.len();
    format!("{}{insert}{}", &l[..i], &l[i..])
}

#[test]
fn a_repeated_json_key_fails_at_any_depth() {
    let p = pair();
    let l = lines(&export_of(&p));
    let wrong_hash = format!("\"hash\":\"{}\",", "0".repeat(64));
    for (i, at, insert) in [
        // A reader keeping the first value sees another entry count, hash or author.
        (0, "{", "\"entries\":99,".to_string()),
        (3, "{", wrong_hash.clone()),
        (3, "\"entry\":{", "\"by\":\"someone else\",".to_string()),
        (l.len() - 1, "{", wrong_hash),
    ] {
        let mut d = l.clone();
        d[i] = with_inserted(&d[i], at, &insert);
        fails(&join(&d), &format!("line {}: ", i + 1));
        fails(&join(&d), "duplicate key");
    }
}

#[test]
fn a_field_this_version_does_not_write_fails() {
    let p = pair();
    let l = lines(&export_of(&p));
    for i in [0, 4, l.len() - 2] {
        let mut d = l.clone();
        d[i] = with_inserted(&d[i], "{", "\"note\":\"trust me\",");
        fails(&join(&d), &format!("line {}: ", i + 1));
        fails(&join(&d), "unknown field `note`");
    }
}

#[test]
fn a_verified_summary_names_each_checkpoints_signer_heads_and_time() {
    let p = pair();
    let s = export::verify(&export_of(&p)).unwrap();
    assert_eq!(s.exported_by, 0);
    let signers: Vec<u8> = s.checkpoints.iter().map(|c| c.signer).collect();
    assert_eq!(signers, [1, 0]);
    let text = s.to_string();
    assert!(
        text.contains("checkpoint by author 1 (the counterpart), signed 1970-01-01T00:00:00.005Z"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "author 0 head seq 5 {}",
        hotline_proto::hex(&p.ba.head(0).1)
    )));
}

/// Each author's chain as a log (envelopes alternate a, b from the Open on).
fn logs(p: &Pair) -> [Log; 2] {
    let mut l = [Log::new(), Log::new()];
    for (i, e) in p.envs.iter().enumerate() {
        l[i % 2].push(e);
    }
    l
}

#[test]
fn log_notes_are_checked_against_the_entries_and_name_their_cosigners() {
    let p = pair();
    let [la, lb] = logs(&p);
    let id = p.ba.id();
    let (oa, ob) = (
        tlog::origin(&id, &p.a.identity()),
        tlog::origin(&id, &p.b.identity()),
    );
    let w = WitnessKey::from_seed("witness.test", &[5; 32]);
    let other = WitnessKey::from_seed("other.test", &[6; 32]);
    // What stations write: each author's note, cosigned by the other side
    // and by the witness.
    let cosigned = |note: Vec<u8>, by: &SecretKeys, size: u64| {
        let (cp, mut sigs) = tlog::verified_signatures(&note, &p.a.identity(), &[])
            .or_else(|_| tlog::verified_signatures(&note, &p.b.identity(), &[]))
            .unwrap();
        sigs.push(tlog::station_cosign(&cp.text, 1_700_000_000, by).unwrap());
        let mut n = tlog::combine(&cp.text, &sigs);
        n.extend(w.cosign(&cp.text, 1_700_000_001 + size));
        n
    };
    let na = cosigned(
        tlog::sign_checkpoint(&oa, 5, la.root(5).unwrap(), &p.a),
        &p.b,
        5,
    );
    let na3 = tlog::sign_checkpoint(&oa, 3, la.root(3).unwrap(), &p.a);
    let nb = cosigned(
        tlog::sign_checkpoint(&ob, 4, lb.root(4).unwrap(), &p.b),
        &p.a,
        4,
    );
    let text = export_with(&p, &[(0, na.clone()), (0, na3.clone()), (1, nb.clone())]);
    let s = export::verify(&text).unwrap();
    assert_eq!(s.logs.len(), 3);
    assert!(s.logs[0].counterpart_cosigned && !s.logs[1].counterpart_cosigned);
    let wv = WitnessVerifier::parse(&w.vkey()).unwrap();
    assert_eq!(s.witnessed(&wv), Ok(vec![(0, 5), (1, 4)]));
    let ov = WitnessVerifier::parse(&other.vkey()).unwrap();
    assert!(s
        .witnessed(&ov)
        .unwrap_err()
        .contains("other.test cosigned no checkpoint of author 0"));
    // Without author 1's, the witness did not cover author 1's log.
    let s = export::verify(&export_with(&p, &[(0, na.clone())])).unwrap();
    assert!(s.witnessed(&wv).unwrap_err().contains("author 1"));

    // Refused, each naming the fault.
    let mut fork = la.clone();
    fork.push(b"past the file");
    let cases: Vec<(Vec<u8>, u8, &str)> = vec![
        (
            tlog::sign_checkpoint(&oa, 5, lb.root(5).unwrap(), &p.a),
            0,
            "its root is not the tree",
        ),
        (
            tlog::sign_checkpoint(&oa, 6, fork.root(6).unwrap(), &p.a),
            0,
            "the file holds 5",
        ),
        (
            tlog::sign_checkpoint(&oa, 5, la.root(5).unwrap(), &p.b),
            0,
            "not a checkpoint of its log signed by its key",
        ),
        // Author 1's note filed as author 0's.
        (nb.clone(), 0, "not a checkpoint of its log"),
        (b"not a note\n".to_vec(), 1, "not a checkpoint of its log"),
    ];
    for (note, author, expect) in cases {
        fails(&export_with(&p, &[(author, note)]), expect);
    }
    // The counterpart's cosignature moved onto another size does not verify.
    let moved = {
        let (cp3, _) = tlog::verified_signatures(&na3, &p.a.identity(), &[]).unwrap();
        let sig = tlog::station_cosign(&cp3.text, 1, &p.b).unwrap();
        let mut n = tlog::sign_checkpoint(&oa, 5, la.root(5).unwrap(), &p.a);
        n.extend(sig.to_bytes());
        n
    };
    fails(
        &export_with(&p, &[(0, moved)]),
        "not a checkpoint of its log",
    );
    // Two notes of one log at one size.
    fails(
        &export_with(&p, &[(0, na3.clone()), (0, na3.clone())]),
        "two log notes of author 0 at size 3",
    );
    // Strict lines: an unknown field, and a note before the checkpoints.
    let mut l = lines(&export_with(&p, &[(0, na3.clone())]));
    let last = l.len() - 1;
    l[last] = l[last].replacen('{', "{\"extra\":1,", 1);
    fails(&join(&l), "unknown field");
    let mut l = lines(&export_with(&p, &[(0, na3)]));
    let note = l.pop().unwrap();
    l.insert(l.len() - 1, note);
    fails(&join(&l), "checkpoint after the evidence or log notes");
}
