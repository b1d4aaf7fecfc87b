//! Bugs the simulator found in other crates, now fixed, kept as regression
//! tests: each seed failed before its fix and must keep passing.

use hotline_core::book::Outcome;
use hotline_core::ChannelBook;
use hotline_proto::{SecretKeys, Terms};
use hotline_sim::Options;

fn replay(seed: u64) {
    if let Err(f) = hotline_sim::run(seed, &Options::default()) {
        panic!("{f}");
    }
}

/// SPEC §5: a duplicate (same author, seq and hash) is ignored. `ChannelBook::check`
/// tests `entry.channel` before looking for a duplicate, and an `Open` carries
/// channel zero, so a re-delivered `Open` is rejected as `WrongChannel`; the
/// station raises `bad-input` and refuses the rest of that batch.
#[test]
fn a_redelivered_open_is_a_duplicate() {
    let a = SecretKeys::from_bytes(&[1u8; 96]).unwrap();
    let b = SecretKeys::from_bytes(&[2u8; 96]).unwrap();
    let (_, open) = ChannelBook::open(&a, b.identity(), Terms::default(), None, "a", 1);
    let (book, _) = ChannelBook::genesis(open.envelope().bytes(), 1).unwrap();
    assert_eq!(
        book.check(0, open.envelope().bytes()),
        Ok(Outcome::Duplicate)
    );
}

/// The same bug met by the simulator: the `Open` is resent on a new session
/// while the old session's copy is still in flight; both arrive.
#[test]
fn sim_redelivered_open() {
    replay(15992514378859203390);
}

/// SPEC §6, an alert clears when its cause does. `Engine::receive` raises
/// `bad-input:<peer>` with the channel, and clears it after the peer's next
/// good batch with `clear_alert(None, ..)`, which matches only channel-less rows.
#[test]
fn sim_bad_input_alert_stays_open() {
    replay(8463332621518635955);
}

/// SPEC §5/§6: a checkpoint covering an entry is its proof of delivery. When
/// the checkpoint reply is lost, the next `Hello` shows the peer holds the
/// entries, nothing is resent, and nothing asks for a new checkpoint: the
/// entries stay "sent" until the channel writes again, forever if it ended.
#[test]
fn sim_delivery_never_proven() {
    replay(7755907994849293148);
}
