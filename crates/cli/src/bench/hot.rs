//! The hot path, one message at a time, in this process: this station
//! authoring a message, committing it and framing it on a link session
//! (`hot_author`); the counterpart taking the frame off its session,
//! decoding, verifying and applying the entry, signing its checkpoint and
//! committing (`hot_receive`). Both stores are SQLite with
//! `synchronous=FULL`, the link session a real one over an in-memory pipe.
//!
//! `hotline bench --hot-path N` times the two natively. `hotline bench
//! --instructions` runs that under valgrind's callgrind, once per path with
//! collection switched on only inside the path's function, and reports
//! instructions per message: a figure that, unlike the clock, does not move
//! with what else the machine is doing, so a change's effect shows in it.

use super::line::{checkpoint, envelopes, message, ops, Line};
use hotline_link::{generate_keypair, PskChain, Receiver, Sender};
use hotline_proto::{Hash, Keyring, LinkMsg, SecretKeys};
use hotline_store::{SqliteStore, Store};
use std::process::Command;
use std::time::Instant;
use tokio::io::{DuplexStream, ReadHalf, WriteHalf};

/// Messages sent before anything is measured (statements prepared, pages cached).
const WARM: u64 = 200;

struct Hot {
    rt: tokio::runtime::Runtime,
    line: Line,
    channel: Hash,
    store_a: SqliteStore,
    store_b: SqliteStore,
    tx: Sender<WriteHalf<DuplexStream>>,
    rx: Receiver<ReadHalf<DuplexStream>>,
    n: u64,
}

/// What `--hot-path` measured natively.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HotPath {
    /// Messages measured.
    pub messages: u64,
    /// Author + commit + frame, µs per message.
    pub author_us: f64,
    /// Unframe + decode + verify + apply + checkpoint + commit, µs per message.
    pub receive_us: f64,
}

/// What `--instructions` counted under callgrind.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Instructions {
    /// Messages counted.
    pub messages: u64,
    /// Instructions per message, author + commit + frame.
    pub author: u64,
    /// Instructions per message, unframe + decode + verify + apply + checkpoint + commit.
    pub receive: u64,
}

fn setup(root: &std::path::Path) -> anyhow::Result<Hot> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut store_a = SqliteStore::open(&root.join("a.db"))?;
    let mut store_b = SqliteStore::open(&root.join("b.db"))?;
    let (dh, dh_pub) = generate_keypair();
    let mine = Keyring::new(SecretKeys::generate(*dh.as_bytes(), dh_pub));
    let line = Line::open(mine, &mut store_a, Some(&mut store_b))?;
    let (a_dh, _) = generate_keypair();
    let (b_dh, b_pub) = generate_keypair();
    let chain = PskChain::initial(None);
    let (i, r) = super::handshake::in_memory(&rt, &chain, (&a_dh, 1), (&b_dh, &b_pub), 1 << 20);
    let (_, tx) = i?.session.split();
    let (rx, _) = r?.session.split();
    Ok(Hot {
        rt,
        channel: line.a.id(),
        line,
        store_a,
        store_b,
        tx,
        rx,
        n: 0,
    })
}

/// This station's side of one message: author, commit, then frame and send.
fn author_once(h: &mut Hot) -> anyhow::Result<()> {
    let now = hotline_station::engine::now_ms();
    h.n += 1;
    let l = &mut h.line;
    let (_, step) = l.a.author(
        &l.mine,
        &l.bravo,
        message(format!("message {}", h.n)),
        "bench",
        now,
    )?;
    let sent = envelopes(&step);
    let mut w = Vec::new();
    ops(step, &l.mine, &mut w)?;
    h.store_a.write(&w)?;
    let frame = LinkMsg::Entries {
        channel: h.channel,
        envelopes: sent,
    }
    .to_bytes();
    h.rt.block_on(h.tx.send(&frame))?;
    Ok(())
}

/// The counterpart's side: receive, decode, verify and apply, sign its
/// checkpoint, commit. Returns the checkpoint.
fn receive_once(h: &mut Hot) -> anyhow::Result<Vec<u8>> {
    let now = hotline_station::engine::now_ms();
    let frame = h.rt.block_on(h.rx.recv(1 << 20))?;
    let LinkMsg::Entries { envelopes, .. } = LinkMsg::from_bytes(&frame)? else {
        anyhow::bail!("not an Entries message");
    };
    let l = &mut h.line;
    let step = l.b.receive(&l.theirs, &l.alpha, envelopes, now);
    let ckpt = checkpoint(&step)?;
    let mut w = Vec::new();
    ops(step, &l.theirs, &mut w)?;
    h.store_b.write(&w)?;
    Ok(ckpt)
}

/// The checkpoint back at this station (not part of either path).
fn delivered(h: &mut Hot, ckpt: &[u8]) -> anyhow::Result<()> {
    let now = hotline_station::engine::now_ms();
    let l = &mut h.line;
    let mut w = Vec::new();
    ops(l.a.receive_checkpoint(&l.bravo, ckpt, now), &l.mine, &mut w)?;
    h.store_a.write(&w)?;
    Ok(())
}

#[inline(never)]
fn hot_author(h: &mut Hot) -> anyhow::Result<()> {
    author_once(h)
}

#[inline(never)]
fn hot_receive(h: &mut Hot) -> anyhow::Result<Vec<u8>> {
    receive_once(h)
}

/// Sends `messages` one at a time through both paths, after a warm-up;
/// returns µs per message of each.
pub fn run(root: &std::path::Path, messages: u64) -> anyhow::Result<HotPath> {
    let mut h = setup(root)?;
    for _ in 0..WARM {
        author_once(&mut h)?;
        let c = receive_once(&mut h)?;
        delivered(&mut h, &c)?;
    }
    let (mut author, mut receive) = (0.0, 0.0);
    for _ in 0..messages {
        let t = Instant::now();
        hot_author(&mut h)?;
        author += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let c = hot_receive(&mut h)?;
        receive += t.elapsed().as_secs_f64();
        delivered(&mut h, &c)?;
    }
    let per = |s: f64| s * 1e6 / messages.max(1) as f64;
    Ok(HotPath {
        messages,
        author_us: per(author),
        receive_us: per(receive),
    })
}

/// Instructions counted by callgrind inside `function` while this program
/// runs `--hot-path messages`.
fn callgrind(function: &str, messages: u64) -> anyhow::Result<u64> {
    let exe = std::env::current_exe()?;
    let out_file = tempfile::NamedTempFile::new()?;
    let out = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!(
            "--callgrind-out-file={}",
            out_file.path().display()
        ))
        .arg(format!("--toggle-collect=*{function}*"))
        .arg(&exe)
        .args(["bench", "--hot-path", &messages.to_string(), "--json"])
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run valgrind (Debian's `valgrind` package): {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(out.status.success(), "valgrind failed:\n{err}");
    // "==PID== Collected : N" closes callgrind's report.
    err.lines()
        .find_map(|l| {
            l.split_once("Collected :")
                .map(|(_, n)| n.trim().to_owned())
        })
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no instruction count in valgrind's report:\n{err}"))
}

/// Counts both paths under callgrind.
pub fn instructions(messages: u64) -> anyhow::Result<Instructions> {
    let per = |total: u64| total / messages.max(1);
    Ok(Instructions {
        messages,
        author: per(callgrind("hot_author", messages)?),
        receive: per(callgrind("hot_receive", messages)?),
    })
}
