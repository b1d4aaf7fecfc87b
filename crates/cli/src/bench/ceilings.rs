//! The ceilings `hotline bench` measures the line against, in the same run
//! and the way the bare libraries are used without hotline, so that no
//! ratio flatters: Ed25519 with ed25519-dalek directly, a plain rusqlite
//! commit loop, fdatasync on a file, a TCP round trip on loopback.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// What the machine allows before any hotline logic.
#[derive(Debug, Clone, Serialize)]
pub struct Ceilings {
    /// Ed25519 signatures per second, one core (300-byte messages).
    pub sign: f64,
    /// `verify_strict` per second, one core.
    pub verify_strict: f64,
    /// Signatures checked per second by batch verification (batches of 64),
    /// one core. In a full run it is measured again beside each of the
    /// three timings of `transcript verify`, and the median kept
    /// ([`verify_batch`]), so that the ratio compares the two under the
    /// same load.
    pub verify_batch: f64,
    /// Sign + verify_strict pairs per second, one core: each message is
    /// signed once at the sender and verified once at the receiver.
    pub pair: f64,
    /// Durable single-row SQLite commits per second (WAL, synchronous=FULL).
    pub sqlite_commits: f64,
    /// The same loop's commits per second, each of two at once on two
    /// files in one directory (the mean of the two): what each station's
    /// flushes reach while the other station flushes too, as both do
    /// with one message in flight.
    pub sqlite_commits_both: f64,
    /// One 4 KiB write + fdatasync, median, ms.
    pub fsync_ms: f64,
    /// One-byte TCP round trip on loopback, median, ms.
    pub rtt_ms: f64,
    /// Requests a second the bare HTTP server (axum on hyper, the
    /// station's API without the station) answered the bench's clients,
    /// at the 32-client phase's concurrency ([`super::bare_http`]).
    pub http_requests: f64,
    /// That server's CPU a request, µs: what any HTTP front of the line
    /// pays for a message before the line does anything.
    pub http_server_us: f64,
}

/// Runs for about `budget` per figure; the bare HTTP server answers
/// `clients` clients.
pub fn measure(
    dir: &std::path::Path,
    budget: Duration,
    clients: usize,
) -> anyhow::Result<Ceilings> {
    let (sign, verify_strict, verify_batch, pair) = ed25519(budget);
    let http = super::bare_http::measure(budget, clients)?;
    Ok(Ceilings {
        sign,
        verify_strict,
        verify_batch,
        pair,
        sqlite_commits: sqlite(&dir.join("ceiling.db"), budget)?,
        sqlite_commits_both: sqlite_both(dir, budget)?,
        fsync_ms: fsync(&dir.join("ceiling.fsync"), budget)?,
        rtt_ms: rtt(budget)?,
        http_requests: http.requests,
        http_server_us: http.server_us,
    })
}

/// Calls `f` until `budget` is spent; returns calls per second.
fn rate(budget: Duration, mut f: impl FnMut() -> usize) -> f64 {
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed() < budget {
        n += f();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn ed25519(budget: Duration) -> (f64, f64, f64, f64) {
    let mut rng = rand::rngs::OsRng;
    let keys: Vec<SigningKey> = (0..64).map(|_| SigningKey::generate(&mut rng)).collect();
    let vks: Vec<VerifyingKey> = keys.iter().map(|k| k.verifying_key()).collect();
    let msgs: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 300]).collect();
    let sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
    let mut i = 0;
    let sign = rate(budget, || {
        i = (i + 1) % 64;
        std::hint::black_box(keys[i].sign(&msgs[i]));
        1
    });
    let verify = rate(budget, || {
        i = (i + 1) % 64;
        vks[i].verify_strict(&msgs[i], &sigs[i]).expect("valid");
        1
    });
    let batch = verify_batch(budget);
    let pair = rate(budget, || {
        i = (i + 1) % 64;
        let s = keys[i].sign(&msgs[i]);
        vks[i].verify_strict(&msgs[i], &s).expect("valid");
        1
    });
    (sign, verify, batch, pair)
}

/// Batch verification of 64 signatures over 300-byte messages under 64
/// keys, one core: signatures checked per second.
pub fn verify_batch(budget: Duration) -> f64 {
    let mut rng = rand::rngs::OsRng;
    let keys: Vec<SigningKey> = (0..64).map(|_| SigningKey::generate(&mut rng)).collect();
    let vks: Vec<VerifyingKey> = keys.iter().map(|k| k.verifying_key()).collect();
    let msgs: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 300]).collect();
    let sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    rate(budget, || {
        ed25519_dalek::verify_batch(&refs, &sigs, &vks).expect("valid");
        64
    })
}

fn sqlite(path: &std::path::Path, budget: Duration) -> anyhow::Result<f64> {
    let c = rusqlite::Connection::open(path)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.execute(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)",
        [],
    )?;
    let row = vec![7u8; 300];
    let mut st = c.prepare("INSERT INTO t (v) VALUES (?1)")?;
    let mut err = None;
    let r = rate(budget, || {
        // Autocommit: each insert is its own durable transaction.
        if let Err(e) = st.execute([&row]) {
            err = Some(e);
        }
        1
    });
    match err {
        Some(e) => Err(e.into()),
        None => Ok(r),
    }
}

/// [`sqlite`] in two threads at once, each on its own file in `dir`; the
/// mean of their rates.
fn sqlite_both(dir: &std::path::Path, budget: Duration) -> anyhow::Result<f64> {
    let start = std::sync::Barrier::new(2);
    let rates = std::thread::scope(|s| {
        let loops: Vec<_> = ["ceiling-a.db", "ceiling-b.db"]
            .map(|name| {
                let (path, start) = (dir.join(name), &start);
                s.spawn(move || {
                    start.wait();
                    sqlite(&path, budget)
                })
            })
            .into_iter()
            .collect();
        loops
            .into_iter()
            .map(|l| {
                l.join()
                    .map_err(|_| anyhow::anyhow!("a commit loop panicked"))?
            })
            .collect::<anyhow::Result<Vec<f64>>>()
    })?;
    Ok(rates.iter().sum::<f64>() / rates.len() as f64)
}

/// The median of `v` (the upper one of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn fsync(path: &std::path::Path, budget: Duration) -> anyhow::Result<f64> {
    let mut f = std::fs::File::create(path)?;
    let block = vec![1u8; 4096];
    let mut times = vec![];
    let t = Instant::now();
    while t.elapsed() < budget {
        let s = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        times.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(median(times))
}

fn rtt(budget: Duration) -> anyhow::Result<f64> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = l.accept()?;
        s.set_nodelay(true)?;
        let mut b = [0u8; 1];
        while s.read(&mut b)? == 1 {
            s.write_all(&b)?;
        }
        Ok(())
    });
    let mut c = std::net::TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let mut b = [0u8; 1];
    let mut times = vec![];
    let t = Instant::now();
    while t.elapsed() < budget {
        let s = Instant::now();
        c.write_all(&[1])?;
        c.read_exact(&mut b)?;
        times.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    drop(c);
    let _ = echo.join();
    Ok(median(times))
}
