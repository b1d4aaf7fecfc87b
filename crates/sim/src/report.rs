//! What a run is asked to do and what it reports: options, statistics, the
//! channels as they ended, and a failure with what is needed to replay it.

use crate::SEED_VAR;
use hotline_proto::Hash;

/// A deliberately broken station, to show that the checkers see what they claim to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    /// The station as designed: report, reply and send only after the commit.
    #[default]
    None,
    /// Reports an own entry accepted when it is submitted, before it is committed.
    AckBeforeCommit,
    /// Answers the peer's entries with a checkpoint before they are committed.
    CheckpointBeforeCommit,
}

/// How one run is set up; anything left `None` is drawn from the seed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Broken variant, if any.
    pub fault: Fault,
    /// 2 stations (one channel) or 3 (channels A–B and A–C).
    pub stations: Option<usize>,
    /// Random steps before the drain.
    pub steps: Option<usize>,
    /// Two stations that never reach each other: the other channel must still work (isolation).
    pub severed: Option<(usize, usize)>,
}

/// Declares [`Stats`], every field a counter with its description, and its `add`.
macro_rules! stats {
    ($($f:ident: $doc:literal,)*) => {
        /// What happened in a run (or many): tests assert it reached what it claims to test.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Stats {
            $(#[doc = $doc] pub $f: u64,)*
        }

        impl Stats {
            /// Adds another run's numbers.
            pub fn add(&mut self, o: &Stats) {
                $(self.$f += o.$f;)*
            }
        }
    };
}

stats! {
    runs: "Runs added up here.",
    three_station_runs: "Runs with three stations.",
    steps: "Random steps taken.",
    accepted: "Own entries reported accepted and confirmed durable.",
    user_entries: "Local user entries authored.",
    refusals: "Local user requests the station refused (state, verification).",
    policy_entries: "Entries the policy engine authored.",
    contact_checks: "Of those, contact checks.",
    deadline_actions: "Of those, deadline `Suspend`s and `Terminate`s.",
    alerts_raised: "Policy alerts raised (committed).",
    received: "Counterpart entries taken in by a receive path.",
    commits: "Group commits.",
    crashes: "Crashes.",
    crashes_losing_work: "Crashes that threw away queued, uncommitted writes.",
    sent: "Packets sent.",
    delivered: "Packets delivered to a live receiver.",
    dropped: "Packets dropped by the network, or addressed to a dead process.",
    duplicated: "Packets duplicated.",
    out_of_order: "Batches rejected because they arrived out of order (reordering).",
    unverified: "Entries above ROUTINE held because the receiver has not verified the sender yet.",
    foreign_rejected: "Foreign packets (another channel's traffic) rejected with nothing stored.",
    exports_verified: "Exports written and verified offline.",
    terminated: "Channels that ended terminated.",
    suspended: "Channels that were seen suspended at some step.",
    partitions: "Partitions begun.",
    rotations: "Key rotations begun (`keys rotate`).",
}

/// The result of a run that kept every invariant.
#[derive(Debug, Clone)]
pub struct Report {
    /// What happened.
    pub stats: Stats,
    /// SHA-256 over every station's final transcripts: equal digests, equal runs.
    pub digest: Hash,
    /// Every channel as it ended.
    pub channels: Vec<ChannelEnd>,
}

/// How one channel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelEnd {
    /// Station index of author 0 and of author 1.
    pub parties: [usize; 2],
    /// Entries of author 0 and author 1 held in each party's store (author-0 station first).
    pub held: [[u64; 2]; 2],
    /// The channel state word at each party ("none" if it never stored the channel).
    pub state: [&'static str; 2],
}

/// A broken invariant, with what is needed to replay it.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The run's seed: `HOTLINE_SIM_SEED=<seed>` replays it.
    pub seed: u64,
    /// The step at which it broke (steps past the random ones are the drain).
    pub step: usize,
    /// What broke.
    pub what: String,
    /// The last actions before it.
    pub trace: Vec<String>,
    /// The options of the run, needed with the seed to replay it.
    pub options: Options,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (seed, step, what, o) = (self.seed, self.step, &self.what, &self.options);
        writeln!(f, "simulation seed {seed} failed at step {step}:\n  {what}")?;
        writeln!(f, "last actions:")?;
        for t in &self.trace {
            writeln!(f, "  {t}")?;
        }
        if *o != Options::default() {
            return write!(f, "replay: hotline_sim::run({seed}, &{o:?})");
        }
        let test = "cargo test -p hotline-sim sim_ci -- --nocapture";
        write!(f, "replay: {SEED_VAR}={seed} {test}")
    }
}
