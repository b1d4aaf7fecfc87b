//! A checker that cannot see a loss proves nothing: deliberately broken
//! stations must be caught, and the same seeds must pass when unbroken.

use hotline_sim::{Fault, Options};

/// Runs fixed seeds with a broken station until the checker catches it.
fn caught(fault: Fault, needle: &str) -> u64 {
    let broken = Options {
        fault,
        ..Options::default()
    };
    for i in 0..300 {
        let seed = hotline_sim::nth_seed(0x5eed, i);
        if let Err(f) = hotline_sim::run(seed, &broken) {
            assert!(
                f.what.contains(needle),
                "seed {seed}: {fault:?} was caught, but not as {needle:?}:\n{f}"
            );
            // The same seed with a correct station keeps every invariant: it is the fault
            // that was caught, not the checker failing on anything.
            if let Err(f) = hotline_sim::run(seed, &Options::default()) {
                panic!("seed {seed} fails without the fault too:\n{f}");
            }
            return seed;
        }
    }
    panic!("300 seeds with {fault:?} and the checker never saw it");
}

#[test]
fn reporting_an_entry_accepted_before_its_commit_is_caught_as_a_loss() {
    let seed = caught(Fault::AckBeforeCommit, "LOST");
    println!("AckBeforeCommit caught by seed {seed}");
}

#[test]
fn answering_with_a_checkpoint_before_the_commit_is_caught() {
    let seed = caught(
        Fault::CheckpointBeforeCommit,
        "signed a checkpoint covering",
    );
    println!("CheckpointBeforeCommit caught by seed {seed}");
}
