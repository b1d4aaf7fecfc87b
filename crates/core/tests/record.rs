//! Finding 10, the record: an export bound to the keys the verifier knows,
//! and the two ends' exports compared, so that neither a transcript written by
//! two other key pairs nor an export cut short passes as the record.

#[path = "common/ends.rs"]
mod ends;

use ends::Ends;
use hotline_core::export::{
    check_authors, compare, verify, Authors, AuthorsError, Disagreement, Evidence, KnownKey,
};

/// Alpha (seed 1) and bravo (seed 2) after some traffic both ways.
fn busy_line(crossings: usize) -> Ends {
    let mut l = Ends::open([1, 2]);
    for i in 0..crossings {
        l.crossing(&format!("round {i}"));
    }
    l
}

fn key(text: &str) -> KnownKey {
    text.parse().unwrap()
}

#[test]
fn a_transcript_written_by_two_other_key_pairs_fails_the_real_keys() {
    let mut real = busy_line(2);
    let mut forged = Ends::open([3, 4]);
    forged.message(0, "Ministry A to Ministry B: as agreed, we stand down.");
    let forged_export = forged.export(0);
    let s = verify(&forged_export).expect("a consistent transcript verifies on its own");
    let known = [key(&real.token(0)), key(&real.token(1))];
    assert!(matches!(
        check_authors(&s.identities, &known),
        Err(AuthorsError::NotAnAuthor { .. })
    ));
    assert!(matches!(
        check_authors(&s.identities, &known[..1]),
        Err(AuthorsError::NotAnAuthor { .. })
    ));
    // Without keys it verifies, and says so.
    assert_eq!(check_authors(&s.identities, &[]), Ok(Authors::Unchecked));

    // The real line binds to its two keys, as tokens or fingerprints, in any order.
    let s = verify(&real.export(0)).unwrap();
    for keys in [
        [key(&real.token(0)), key(&real.token(1))],
        [key(&real.fingerprint(1)), key(&real.fingerprint(0))],
        [key(&real.token(1)), key(&real.fingerprint(0))],
    ] {
        assert_eq!(check_authors(&s.identities, &keys), Ok(Authors::Both));
    }
    // One real key and one stranger's is not the record either.
    assert!(check_authors(&s.identities, &[key(&real.token(0)), key(&forged.token(1))]).is_err());
    assert_eq!(
        check_authors(&s.identities, &[key(&real.token(1))]),
        Ok(Authors::One(1))
    );
}

#[test]
fn both_ends_exports_agree_and_an_older_export_agrees_up_to_its_checkpoint() {
    let mut l = busy_line(3);
    l.message(0, "last word from alpha");
    let (a, b) = (verify(&l.export(0)).unwrap(), verify(&l.export(1)).unwrap());
    let agreed = compare(&a, &b).unwrap();
    assert_eq!(agreed.upto, [5, 4]);
    assert_eq!(agreed.beyond, [[0, 0], [0, 0]]);
    assert_eq!(compare(&b, &a).unwrap().upto, [5, 4]);

    // Bravo exported, then the line went on: alpha's later export holds more,
    // bravo's checkpoints never went back, and the files agree up to bravo's.
    let mut l = busy_line(2);
    let older = verify(&l.export(1)).unwrap();
    l.crossing("after bravo's export");
    let newer = verify(&l.export(0)).unwrap();
    let agreed = compare(&newer, &older).unwrap();
    assert_eq!(agreed.upto, [3, 3]);
    assert_eq!(agreed.beyond, [[1, 1], [0, 0]]);
}

#[test]
fn an_export_cut_short_and_signed_again_fails_compare() {
    // The whole line, as bravo exports it: it holds alpha's checkpoint over everything.
    let mut full = busy_line(4);
    let b = verify(&full.export(1)).unwrap();
    // Alpha's cut: the same history stopped before the last round, both chains
    // cut, and a fresh checkpoint signed over what is left an hour later.
    let mut cut = busy_line(3);
    cut.wait(3_600_000);
    let cut_text = cut.export(0);
    let a = verify(&cut_text).expect("a cut export is consistent on its own");
    assert_eq!(a.counts, [4, 4]);
    match compare(&a, &b) {
        Err(Disagreement::WentBack {
            signer: 0,
            earlier_seq: 5,
            later_seq: 4,
            ..
        }) => {}
        other => panic!("the cut was not found: {other:?}"),
    }
    let e = compare(&b, &a).unwrap_err().to_string();
    assert!(e.contains("entries were cut"), "{e}");
    // The same cut, exported when it was signed (no later than what bravo holds
    // of alpha), is only an older export: they agree up to it.
    let mut honest = busy_line(3);
    let older = verify(&honest.export(0)).unwrap();
    assert_eq!(compare(&older, &b).unwrap().upto, [4, 4]);
}

#[test]
fn exports_of_two_different_channels_or_of_one_end_twice_fail_compare() {
    let mut l = busy_line(1);
    let mut other = Ends::open([3, 4]);
    other.message(0, "elsewhere");
    let (a, o) = (
        verify(&l.export(0)).unwrap(),
        verify(&other.export(1)).unwrap(),
    );
    assert!(matches!(
        compare(&a, &o),
        Err(Disagreement::DifferentChannels { .. })
    ));
    assert!(compare(&a, &o)
        .unwrap_err()
        .to_string()
        .starts_with("different channels"));
    // The same two stations on a second channel is still another channel.
    let mut again = Ends::open_at([1, 2], ends::T0 + 1);
    again.message(1, "a second channel");
    let second = verify(&again.export(1)).unwrap();
    assert!(matches!(
        compare(&a, &second),
        Err(Disagreement::DifferentChannels { .. })
    ));
    let a2 = verify(&l.export(0)).unwrap();
    assert_eq!(compare(&a, &a2), Err(Disagreement::SameEnd(0)));
}

#[test]
fn an_author_who_told_each_end_something_different_is_named_with_the_seq() {
    // Bravo's history as alpha holds it, and a second history bravo wrote
    // from the same point with its third message changed.
    let mut told_alpha = busy_line(2);
    told_alpha.crossing("round 2");
    let mut told_bravo = busy_line(2);
    told_bravo.message(1, "something else");
    let a = verify(&told_alpha.export(0)).unwrap();
    let b = verify(&told_bravo.export(1)).unwrap();
    match compare(&a, &b) {
        Err(Disagreement::Entry {
            author: 1, seq: 4, ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

/// Equivocation evidence travels in the export and is checked there: two
/// different envelopes of one author with one seq, both signed by it, the
/// first the one the transcript holds. Anything less is refused.
#[test]
fn equivocation_evidence_is_exported_and_checked() {
    let mut l = busy_line(1);
    let (stored, conflicting) = l.fork(1, 2, 1);
    let ev = Evidence {
        author: 1,
        seq: 2,
        stored: stored.clone(),
        conflicting: conflicting.clone(),
    };
    let s = verify(&l.export_with(0, std::slice::from_ref(&ev))).unwrap();
    assert_eq!(s.equivocations, vec![(1, 2)]);
    assert!(verify(&l.export(0)).unwrap().equivocations.is_empty());
    let (_, by_alpha) = l.fork(1, 2, 0);
    let mut refused = |e: Evidence, why: &str| {
        let text = l.export_with(0, &[e]);
        let f = verify(&text).expect_err(why);
        assert!(f.what.contains("evidence"), "{why}: {f}");
    };
    refused(
        Evidence {
            conflicting: stored.clone(),
            ..ev.clone()
        },
        "the same entry twice",
    );
    refused(
        Evidence {
            conflicting: by_alpha,
            ..ev.clone()
        },
        "the other envelope signed by another key",
    );
    refused(
        Evidence {
            stored: conflicting.clone(),
            conflicting: stored.clone(),
            ..ev.clone()
        },
        "the held entry named as the other",
    );
    refused(Evidence { seq: 3, ..ev }, "another seq than the envelopes'");
}
