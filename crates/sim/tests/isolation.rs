//! Three stations, channels A–B and A–C: one channel's traffic never lands in
//! the other, and trouble on one never stalls the other.

use hotline_sim::Options;

#[test]
fn misrouted_traffic_is_rejected_and_stored_nowhere() {
    let opts = Options {
        stations: Some(3),
        ..Options::default()
    };
    let stats = hotline_sim::run_series(0x150, 120, &opts, 1).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(stats.three_station_runs, 120);
    // Every misrouted or reflected packet was refused whole (the run fails otherwise),
    // and the checker found no foreign channel in any store.
    assert!(stats.foreign_rejected > 50, "{stats:?}");
}

#[test]
fn a_severed_pair_does_not_stall_the_other_channel() {
    for i in 0..30 {
        let seed = hotline_sim::nth_seed(0xc0ffee, i);
        let opts = Options {
            stations: Some(3),
            severed: Some((0, 2)),
            ..Options::default()
        };
        let r = hotline_sim::run(seed, &opts).unwrap_or_else(|f| panic!("{f}"));
        let ab = r
            .channels
            .iter()
            .find(|c| c.parties.contains(&1))
            .expect("A–B");
        let ac = r
            .channels
            .iter()
            .find(|c| c.parties.contains(&2))
            .expect("A–C");
        // A–B ran to the end: both ends hold the same transcript.
        assert_eq!(ab.held[0], ab.held[1], "seed {seed}: {ab:?}");
        assert_ne!(ab.state[1], "none", "seed {seed}: {ab:?}");
        // A–C never connected: the invited side never even saw the proposal,
        // and the opener holds only what it wrote itself.
        assert_eq!(ac.state[1], "none", "seed {seed}: {ac:?}");
        assert_eq!(ac.held[0][1], 0, "seed {seed}: {ac:?}");
    }
}
