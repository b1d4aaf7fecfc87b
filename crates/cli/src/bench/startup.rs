//! `hotline bench --startup-entries N`: how long a station holding N stored
//! entries takes to start, with its start-up snapshots (docs/DECISIONS.md,
//! "Start-up snapshots"), and what rebuilding its channel from every entry
//! would cost instead.
//!
//! The station's store is filled in this process through the station
//! machine, as the station itself would fill it: one channel to a peer whose
//! keys this process holds, this station writing messages and the peer
//! acknowledging each, in batches of 512 each way. Then `hotline serve`
//! starts on it; the clock runs from the spawn to the API's answer. Beside
//! it, in this process, the channel is rebuilt from storage the way start-up
//! does it: from its snapshot, and (`--startup-replay`) from every entry.

use super::line::{checkpoint, envelopes, message, ops, Line};
use super::{init, serve, Proc};
use hotline_proto::Body;
use hotline_store::{SqliteStore, Store};
use std::time::Instant;

/// What a start-up run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Startup {
    /// Entries stored at the station.
    pub entries: u64,
    /// Seconds spent writing them (not part of any figure).
    pub fill_s: f64,
    /// Start-up with the snapshots, ms: spawn to the API's first answer.
    pub startup_ms: f64,
    /// The channel rebuilt in one process from its snapshot and the
    /// entries after it, ms (the part of start-up the snapshot changes).
    pub restore_ms: f64,
    /// The same channel rebuilt from every entry, each checked, ms.
    pub restore_replay_ms: Option<f64>,
    /// Entries the snapshot covered (the rest were checked one by one).
    pub snapshot_covers: u64,
    /// The station's resident set once started (snapshots), KiB.
    pub rss_kib: u64,
}

const BATCH: usize = 512;

/// Fills the station in `dir` (initialised, not serving) with `entries` entries.
fn fill(dir: &std::path::Path, entries: u64) -> anyhow::Result<u64> {
    let data = hotline_station::DataDir(dir.to_owned());
    let mut store = SqliteStore::open(&data.db())?;
    let mut l = Line::open(data.load_keys()?, &mut store, None)?;
    while l.a.book().total() < entries {
        let now = hotline_station::engine::now_ms();
        let mut w = Vec::new();
        let mut sent = Vec::new();
        for i in 0..BATCH {
            let body = message(format!("message {i}"));
            let (_, step) = l.a.author(&l.mine, &l.bravo, body, "bench", now)?;
            sent.extend(envelopes(&step));
            ops(step, &l.mine, &mut w)?;
        }
        let got = l.b.receive(&l.theirs, &l.alpha, sent.clone(), now);
        ops(
            l.a.receive_checkpoint(&l.bravo, &checkpoint(&got)?, now),
            &l.mine,
            &mut w,
        )?;
        let mut acks = Vec::new();
        for env in &sent {
            let of = hotline_proto::sha256(env);
            let (_, step) =
                l.b.author(&l.theirs, &l.alpha, Body::Ack { of }, "bench", now)?;
            acks.extend(envelopes(&step));
        }
        let taken = l.a.receive(&l.mine, &l.bravo, acks, now);
        let ckpt = checkpoint(&taken)?;
        ops(taken, &l.mine, &mut w)?;
        let _ = l.b.receive_checkpoint(&l.alpha, &ckpt, now);
        store.write(&w)?;
    }
    Ok(l.a.book().total())
}

/// Starts `hotline serve` on `dir`, timing spawn to the API's answer.
fn timed_start(root: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<(f64, Proc)> {
    let t = Instant::now();
    let p = serve(root, "alpha", dir, String::new(), 2000)?;
    Ok((t.elapsed().as_secs_f64() * 1e3, p))
}

/// The channel rebuilt in this process from the store in `dir`, with the
/// snapshots (`mine` the station's keys) or, given no key, from every entry:
/// milliseconds, and the entries of each author the snapshot covered.
fn restore(
    dir: &std::path::Path,
    mine: &[hotline_proto::Identity],
) -> anyhow::Result<(f64, [u64; 2])> {
    let store = SqliteStore::open(&dir.join("hotline.db"))?;
    let row = store.channels()?.remove(0);
    let t = Instant::now();
    let ch = hotline_store::restore_channel(&store, &row, &[], mine)?;
    Ok((t.elapsed().as_secs_f64() * 1e3, ch.snapshot_lens()))
}

/// Runs the start-up measurement in `root`.
pub fn run(root: &std::path::Path, entries: u64, replay: bool) -> anyhow::Result<Startup> {
    let (dir, _, _) = init(root, "alpha", None)?;
    let t = Instant::now();
    eprintln!("storing {entries} entries…");
    let entries = fill(&dir, entries)?;
    let fill_s = t.elapsed().as_secs_f64();
    // Once to warm the page cache as a restart would find it, then measured.
    drop(timed_start(root, &dir)?);
    let (startup_ms, p) = timed_start(root, &dir)?;
    let rss_kib = super::scale::rss_kib(&p)?;
    drop(p);
    let mine = hotline_station::DataDir(dir.clone())
        .load_keys()?
        .identities()
        .to_vec();
    let (restore_ms, lens) = restore(&dir, &mine)?;
    anyhow::ensure!(lens != [0, 0], "the snapshot was not used");
    let restore_replay_ms = if replay {
        let (ms, lens) = restore(&dir, &[])?;
        anyhow::ensure!(lens == [0, 0], "the snapshot was used");
        Some(ms)
    } else {
        None
    };
    Ok(Startup {
        entries,
        fill_s,
        startup_ms,
        restore_ms,
        restore_replay_ms,
        snapshot_covers: lens[0] + lens[1],
        rss_kib,
    })
}
