//! Key rotation through the station machine (SPEC §4 v2): the counterpart
//! re-pins only from the signed `KeyRotation`, entries after it verify under
//! the new key alone, and an oversight export follows the rotation.

#[path = "common/ends.rs"]
mod ends;

use ends::{keys, message, Ends};
use hotline_core::export::{self, Authors, KnownKey};
use hotline_core::machine::{Durable, Fault};
use hotline_core::policy::AlertKind;
use hotline_core::Reject;
use hotline_proto::{Body, Envelope};

fn fault_of(step: &hotline_core::machine::Step) -> Option<Reject> {
    match &step.fault {
        Some(Fault::Entry { reject, .. }) => Some(reject.clone()),
        other => panic!("expected an entry fault, got {other:?}"),
    }
}

fn bad_input_raised(step: &hotline_core::machine::Step) -> bool {
    step.writes.iter().any(|w| {
        matches!(
            w,
            Durable::RaiseAlert {
                kind: AlertKind::BadInput,
                ..
            }
        )
    })
}

#[test]
fn the_counterpart_re_pins_from_the_signed_entry_and_both_exports_verify_across_it() {
    let mut line = Ends::open([1, 2]);
    line.message(0, "before");
    line.message(1, "reply before");
    let old = keys(1).identity();
    assert_eq!(line.pin_of_other(1).identity, old);
    line.rotate(0, 7);
    let new = keys(7).identity();
    // Bravo moved its pin from the entry alone, and remembers the old key.
    assert_eq!(line.pin_of_other(1).identity, new);
    assert_eq!(line.pin_of_other(1).retired, vec![old]);
    // Traffic goes on both ways, alpha now signing with the new key only.
    line.message(0, "after");
    line.message(1, "reply after");
    line.crossing("both at once");
    for who in 0..2 {
        let text = line.export(who);
        let s = export::verify(&text).expect("the export verifies across the rotation");
        let rotated: Vec<_> = s.keys[0].iter().map(|(_, id)| *id).collect();
        assert_eq!(rotated, vec![old, new], "author 0's keys, oldest first");
        assert_eq!(s.keys[1].len(), 1, "author 1 never rotated");
        assert!(s.to_string().contains("rotated at seq"), "{s}");
        // Either of alpha's keys names author 0: each vouched for the other.
        let (k0, k1) = (s.keys_of(0), s.keys_of(1));
        for key in [old, new] {
            let given = [KnownKey::Token(key)];
            assert_eq!(
                export::check_rotated_authors([&k0, &k1], &given),
                Ok(Authors::One(0))
            );
        }
        let stranger = [KnownKey::Token(keys(9).identity())];
        assert!(export::check_rotated_authors([&k0, &k1], &stranger).is_err());
    }
}

#[test]
fn an_entry_signed_by_the_old_key_after_the_rotation_is_refused_with_an_alert() {
    let mut line = Ends::open([1, 2]);
    line.message(0, "before");
    line.rotate(0, 7);
    // Alpha's next entry, as written, re-signed by the key it retired.
    let honest = line.write(0, message("after"));
    let entry = Envelope::decode(&honest, usize::MAX)
        .unwrap()
        .peek()
        .unwrap();
    let old_signed = Envelope::sign(&entry, &keys(1)).bytes().to_vec();
    let step = line.offer(1, vec![old_signed]);
    assert!(
        matches!(fault_of(&step), Some(Reject::RetiredKey { rotated_at: 3 })),
        "{:?}",
        step.fault
    );
    assert!(bad_input_raised(&step));
    assert_eq!(step.entries().count(), 0, "nothing stored");
    // The same entry as alpha signed it goes through.
    let step = line.offer(1, vec![honest]);
    assert_eq!(step.fault, None);
    assert_eq!(step.entries().count(), 1);
}

#[test]
fn entries_from_before_a_rotation_sent_again_are_duplicates() {
    let mut line = Ends::open([1, 2]);
    line.message(0, "before");
    line.rotate(0, 7);
    line.message(0, "after");
    // A resend from the old checkpoint: the message signed by the old key,
    // the rotation, and one signed by the new key, all held already.
    let again = (2..=4).map(|seq| line.held(0, seq)).collect();
    let step = line.offer(1, again);
    assert_eq!(step.fault, None);
    assert_eq!(step.entries().count(), 0);
}

#[test]
fn a_fork_of_an_entry_from_before_the_rotation_is_equivocation() {
    let mut line = Ends::open([1, 2]);
    line.message(0, "before");
    line.rotate(0, 7);
    // Alpha's seq 2, signed by the key it had then, saying something else.
    let mut entry = Envelope::decode(&line.held(0, 2), usize::MAX)
        .unwrap()
        .peek()
        .unwrap();
    entry.body = message("told the other end something else");
    let fork = Envelope::sign(&entry, &keys(1)).bytes().to_vec();
    let step = line.offer(1, vec![fork]);
    assert!(
        matches!(step.fault, Some(Fault::Equivocation { seq: 2 })),
        "{:?}",
        step.fault
    );
    assert!(step
        .writes
        .iter()
        .any(|w| matches!(w, Durable::Evidence { seq: 2, .. })));
}

#[test]
fn a_rotation_to_a_key_whose_holder_did_not_sign_it_is_refused() {
    let mut line = Ends::open([1, 2]);
    line.message(0, "before");
    // A KeyRotation written and signed by alpha's old key, naming a key
    // whose secret it does not hold: the signature inside cannot be made.
    let contact = line.write(0, Body::ContactCheck);
    let mut entry = Envelope::decode(&contact, usize::MAX)
        .unwrap()
        .peek()
        .unwrap();
    entry.body = Body::KeyRotation {
        new_token: keys(8).identity().token(),
        new_sig: [7; 64],
    };
    let forged = Envelope::sign(&entry, &keys(1)).bytes().to_vec();
    let step = line.offer(1, vec![forged]);
    assert!(
        matches!(fault_of(&step), Some(Reject::BadRotation(_))),
        "{:?}",
        step.fault
    );
    assert!(bad_input_raised(&step));
    // The pin did not move.
    assert_eq!(line.pin_of_other(1).identity, keys(1).identity());
}

#[test]
fn a_rotation_back_to_a_key_already_used_is_refused() {
    let mut line = Ends::open([1, 2]);
    line.rotate(0, 7);
    // Alpha's chain is at key 7; a rotation "to" key 1 again, properly
    // signed by both, would let a retired key sign once more.
    let contact = line.write(0, Body::ContactCheck);
    let entry = Envelope::decode(&contact, usize::MAX)
        .unwrap()
        .peek()
        .unwrap();
    let mut template = entry.clone();
    template.body = Body::KeyRotation {
        new_token: keys(1).identity().token(),
        new_sig: [0; 64],
    };
    let back = Envelope::sign_rotation(&template, &keys(7), &keys(1));
    let step = line.offer(1, vec![back.bytes().to_vec()]);
    assert!(
        matches!(fault_of(&step), Some(Reject::BadRotation(_))),
        "{:?}",
        step.fault
    );
}
