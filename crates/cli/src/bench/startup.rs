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

use super::{init, serve, Proc};
use hotline_core::machine::{self, Channel, Durable, Effect, Peer, Step};
use hotline_proto::{Body, Keyring, LinkMsg, SecretKeys, Signers, Terms};
use hotline_store::{SqliteStore, Store, WriteOp};
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

fn envelopes(step: &Step) -> Vec<Vec<u8>> {
    step.entries()
        .map(|v| v.envelope().bytes().to_vec())
        .collect()
}

fn checkpoint(step: &Step) -> anyhow::Result<Vec<u8>> {
    step.after
        .iter()
        .find_map(|e| match e {
            Effect::Reply(LinkMsg::Checkpoint { envelope }) => Some(envelope.clone()),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no checkpoint: {:?}", step.fault))
}

/// The station's writes of `step`, as its engine would commit them.
fn ops(step: Step, keys: &Keyring, into: &mut Vec<WriteOp>) -> anyhow::Result<()> {
    anyhow::ensure!(step.fault.is_none(), "refused: {:?}", step.fault);
    for mut w in step.writes {
        if let Durable::Snapshot(s) = &mut w {
            s.seal(keys.current());
        }
        into.push(WriteOp::from(w));
    }
    Ok(())
}

/// Fills the station in `dir` (initialised, not serving) with `entries` entries.
fn fill(dir: &std::path::Path, entries: u64) -> anyhow::Result<u64> {
    let data = hotline_station::DataDir(dir.to_owned());
    let mine = data.load_keys()?;
    let mut store = SqliteStore::open(&data.db())?;
    let (dh, dh_pub) = hotline_link::generate_keypair();
    let theirs = Keyring::new(SecretKeys::generate(*dh.as_bytes(), dh_pub));
    let now = hotline_station::engine::now_ms();
    let row = store.add_peer(
        "bravo",
        &theirs.identity().token(),
        &["127.0.0.1:9".into()],
        None,
        now,
    )?;
    store.set_verified(row.id, true)?;
    let peer = |id, name: &str, keys: &Keyring| Peer {
        id,
        name: name.into(),
        identity: keys.identity(),
        verified: true,
        earlier: vec![],
        retired: vec![],
    };
    let (bravo, alpha) = (peer(row.id, "bravo", &theirs), peer(0, "alpha", &mine));
    let mut w = Vec::new();
    let (mut a, open) = Channel::open(&mine, &bravo, Terms::default(), None, "bench", now)?;
    let sent = envelopes(&open);
    ops(open, &mine, &mut w)?;
    let (b, got) = machine::receive_proposal(&theirs, &alpha, a.id(), sent, 0, now);
    let mut b = b.ok_or_else(|| anyhow::anyhow!("the proposal was refused"))?;
    ops(
        a.receive_checkpoint(&bravo, &checkpoint(&got)?, now),
        &mine,
        &mut w,
    )?;
    let terms_hash = b.book().terms().hash();
    let (_, accept) = b.author(&theirs, &alpha, Body::Accept { terms_hash }, "bench", now)?;
    ops(
        a.receive(&mine, &bravo, envelopes(&accept), now),
        &mine,
        &mut w,
    )?;
    store.write(&w)?;
    while a.book().total() < entries {
        let now = hotline_station::engine::now_ms();
        let mut w = Vec::new();
        let mut sent = Vec::new();
        for i in 0..BATCH {
            let body = Body::Message {
                precedence: hotline_proto::Precedence::Routine,
                subject: String::new(),
                text: format!("message {i}"),
                labels: vec![],
                reply_to: None,
            };
            let (_, step) = a.author(&mine, &bravo, body, "bench", now)?;
            sent.extend(envelopes(&step));
            ops(step, &mine, &mut w)?;
        }
        let got = b.receive(&theirs, &alpha, sent.clone(), now);
        ops(
            a.receive_checkpoint(&bravo, &checkpoint(&got)?, now),
            &mine,
            &mut w,
        )?;
        let mut acks = Vec::new();
        for env in &sent {
            let of = hotline_proto::sha256(env);
            let (_, step) = b.author(&theirs, &alpha, Body::Ack { of }, "bench", now)?;
            acks.extend(envelopes(&step));
        }
        let taken = a.receive(&mine, &bravo, acks, now);
        let ckpt = checkpoint(&taken)?;
        ops(taken, &mine, &mut w)?;
        let _ = b.receive_checkpoint(&alpha, &ckpt, now);
        store.write(&w)?;
    }
    Ok(a.book().total())
}

/// Starts `hotline serve` on `dir`, timing spawn to the API's answer.
fn timed_start(root: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<(f64, Proc)> {
    let t = Instant::now();
    let p = serve(root, "alpha", dir, 600)?;
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
