//! `hotline bench`: two station processes on loopback, measured from outside.
//!
//! Durable messages per second A→B at 32 clients, at one message in flight,
//! and both ways at once (every message committed at both ends and covered
//! by the receiver's checkpoint); send-to-commit-at-receiver latency at one
//! in flight; `transcript verify` on an export it makes. Beside them, the
//! ceilings measured in the same run with the bare libraries
//! ([`ceilings`]). `--json` prints one object for scripts.

mod bare_http;
mod ceilings;
mod cost;
mod floors;
mod handshake;
mod hot;
mod http;
mod line;
mod scale;
mod startup;

use crate::client::Client;
use clap::Args;
use hotline_api_types::{
    Channel, Created, Empty, Event, NewMessage, NewPeer, OpenChannel, Peer, PeerVerified,
    VerifyPeer,
};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Options of `hotline bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Messages sent A→B for the throughput figure.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Concurrent API clients sending them.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Messages sent one at a time for the latency figures (p99.9 needs 1,000).
    #[arg(long, default_value_t = 1000)]
    latency_samples: usize,
    /// Messages sent one at a time, each durable before the next, for the
    /// one-in-flight throughput.
    #[arg(long, default_value_t = 2000)]
    inflight_messages: usize,
    /// Print one JSON object (figures, ceilings, ratios) instead of text.
    #[arg(long)]
    json: bool,
    /// How long each ceiling is measured, ms.
    #[arg(long, default_value_t = 800, hide = true)]
    ceiling_ms: u64,
    /// Also write the export `transcript verify` is timed on to this file,
    /// to profile or time it again (`hotline transcript verify FILE`).
    #[arg(long, value_name = "FILE", hide = true)]
    keep_export: Option<std::path::PathBuf>,
    /// Run both stations on PostgreSQL: a fresh database for each on the
    /// server this URL reaches (its role must be allowed to CREATE
    /// DATABASE), dropped at the end. Without it: SQLite.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Instead of the figures above: open this many channels between the
    /// two stations, measure the memory an idle channel costs, then send 10
    /// messages a minute on each for --scale-seconds and measure the
    /// stations' CPU and send→commit at B.
    #[arg(long, value_name = "N")]
    scale_channels: Option<usize>,
    /// How long the scale load runs, seconds.
    #[arg(long, default_value_t = 60, value_name = "S")]
    scale_seconds: u64,
    /// Instead of the figures above: store this many entries at one
    /// station (one channel, messages and their acknowledgements), then
    /// measure its start-up and the rebuilding of the channel from its
    /// start-up snapshot.
    #[arg(long, value_name = "N")]
    startup_entries: Option<u64>,
    /// With --startup-entries: also rebuild the channel from every entry,
    /// each checked (what start-up cost before snapshots).
    #[arg(long, requires = "startup_entries")]
    startup_replay: bool,
    /// Instead of the figures above: send this many messages one at a time
    /// through the hot path in this process (author, commit, frame; then at
    /// the counterpart unframe, verify, apply, checkpoint, commit) and print
    /// the time per message of each half.
    #[arg(long, value_name = "N")]
    hot_path: Option<u64>,
    /// Instead of the figures above: count the instructions per message of
    /// each half of the hot path under valgrind's callgrind (needs
    /// `valgrind`), over --instructions-messages messages. Unlike the clock,
    /// the count does not move with the machine's load.
    #[arg(long)]
    instructions: bool,
    /// Messages the instruction count runs over.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    instructions_messages: u64,
}

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
struct Figures {
    throughput_msgs_per_s: f64,
    inflight1_msgs_per_s: f64,
    both_directions_msgs_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    verify_entries_per_s: f64,
    ceilings: ceilings::Ceilings,
    /// What one link handshake costs, beside its bare parts.
    handshake: handshake::Handshakes,
    /// The ratios: throughput to one core's sign+verify pairs, and
    /// `transcript verify` to one core's batch verification.
    ratios: Ratios,
    messages: usize,
    concurrency: usize,
    latency_samples: usize,
    exported_entries: u64,
    /// `sqlite` or `postgres`.
    store: &'static str,
    /// Each station's CPU time (user + system) per message in the
    /// one-in-flight and 32-client phases, µs: steadier than the rates on
    /// a shared machine, and what a change to the hot path moves.
    cpu_us_per_message: cost::PerMessage,
    /// The kernel's part of `cpu_us_per_message` (system time): the
    /// loopback's TCP, the WAL's writes and flushes, the thread switches.
    kernel_us_per_message: cost::PerMessage,
    /// The bench's clients' own CPU a message in the same phases, µs.
    clients_cpu_us_per_message: cost::Clients,
    /// Each station's context switches (its threads' voluntary and
    /// involuntary ones together) per message, in the same two phases: a
    /// thread that sleeps and is woken again costs far more than the work
    /// it hands over on a small machine, and this counts them without
    /// the clock's noise.
    context_switches_per_message: cost::PerMessage,
    /// What the machine leaves each timed figure ([`floors`]).
    floors: floors::Floors,
}

#[derive(Debug, Clone, serde::Serialize)]
struct Ratios {
    throughput_to_pair: f64,
    verify_to_batch: f64,
}

struct Proc {
    child: Child,
    dir: std::path::PathBuf,
    token: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `hotline init` of station `name` in `root`: its directory, link
/// address and identity token.
fn init(
    root: &std::path::Path,
    name: &str,
    store: Option<&str>,
) -> anyhow::Result<(std::path::PathBuf, String, String)> {
    let exe = std::env::current_exe()?;
    let dir = root.join(name);
    let listen = format!("127.0.0.1:{}", free_port()?);
    let api = format!("127.0.0.1:{}", free_port()?);
    let out = Command::new(&exe)
        .args(["--data"])
        .arg(&dir)
        .args(["init", "--name", name, "--listen", &listen, "--api", &api])
        .args(["--store", store.unwrap_or("sqlite")])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?.trim().to_owned();
    Ok((dir, listen, token))
}

/// `hotline serve` on an initialised station whose identity token is
/// `token`, once its API answers (polled every 5 ms, for at most `tries` ×
/// 5 ms).
fn serve(
    root: &std::path::Path,
    name: &str,
    dir: &std::path::Path,
    token: String,
    tries: u32,
) -> anyhow::Result<Proc> {
    let exe = std::env::current_exe()?;
    let data = hotline_station::DataDir(dir.to_owned());
    let cfg = data.load_config().map_err(|e| anyhow::anyhow!("{e}"))?;
    let log = std::fs::File::create(root.join(format!("{name}.log")))?;
    let child = Command::new(&exe)
        .arg("--data")
        .arg(dir)
        .arg("serve")
        .env("HOTLINE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let mut p = Proc {
        child,
        dir: dir.to_owned(),
        token,
    };
    for _ in 0..tries {
        if std::net::TcpStream::connect(&cfg.api).is_ok() {
            return Ok(p);
        }
        if let Some(status) = p.child.try_wait()? {
            let log = std::fs::read_to_string(root.join(format!("{name}.log"))).unwrap_or_default();
            return Err(Stopped(format!(
                "{name} stopped at start ({status}): {}",
                log.trim()
            ))
            .into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    anyhow::bail!("{name} did not start")
}

/// A station that exited as it started: most often a port the bench chose
/// was taken in between (another process's connection, say), so
/// [`start`] tries again with new ones.
#[derive(Debug)]
struct Stopped(String);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stopped {}

fn start(
    root: &std::path::Path,
    name: &str,
    store: Option<&str>,
) -> anyhow::Result<(Proc, String)> {
    let mut tries = 3;
    loop {
        let (dir, listen, token) = init(root, name, store)?;
        match serve(root, name, &dir, token, 2000) {
            Ok(p) => return Ok((p, listen)),
            // On SQLite the station starts again from nothing; a database
            // given by URL is initialised once.
            Err(e) if store.is_none() && tries > 1 && e.downcast_ref::<Stopped>().is_some() => {
                tries -= 1;
                std::fs::remove_dir_all(&dir)?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A ROUTINE message with only a text.
fn text(text: String) -> NewMessage {
    NewMessage {
        text,
        ..NewMessage::default()
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Sends `n` messages on `ch` from `clients` threads; returns when all are
/// accepted (each durable at the sender before its 201).
fn send_many(
    dir: &std::path::Path,
    ch: &str,
    n: usize,
    clients: usize,
    tag: &str,
) -> anyhow::Result<usize> {
    let per = n.div_ceil(clients.max(1));
    let mut threads = Vec::new();
    for t in 0..clients.max(1) {
        let (dir, ch, tag) = (dir.to_owned(), ch.to_owned(), tag.to_owned());
        threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
            let mut c = http::Lean::new(&dir)?;
            for i in 0..per {
                let _: Created = c.post(
                    &format!("/v1/channels/{ch}/messages"),
                    &text(format!("{tag} {t}-{i}")),
                )?;
            }
            Ok(())
        }));
    }
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a sender panicked"))??;
    }
    Ok(per * clients.max(1))
}

/// Waits until the sender holds the receiver's checkpoint over `total` of its entries.
fn delivered(c: &Client, ch: &str, total: u64, since: Instant) -> anyhow::Result<()> {
    loop {
        let v: Channel = c.get(&format!("/v1/channels/{ch}"))?;
        if v.delivery.delivered >= total {
            return Ok(());
        }
        anyhow::ensure!(
            since.elapsed() < Duration::from_secs(600),
            "delivery did not finish in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn ours(c: &Client, ch: &str) -> anyhow::Result<u64> {
    Ok(c.get::<Channel>(&format!("/v1/channels/{ch}"))?
        .entries
        .ours)
}

/// Pins and verifies A and B both ways; their API clients.
fn pair(a: &Proc, a_link: &str, b: &Proc, b_link: &str) -> anyhow::Result<(Client, Client)> {
    let ca = Client::new(&a.dir, None, None)?;
    let cb = Client::new(&b.dir, None, None)?;
    let pin = |name: &str, key: &str, addr: &str| NewPeer {
        name: name.into(),
        key: key.into(),
        addrs: vec![addr.to_owned()],
        ..NewPeer::default()
    };
    let _: Peer = ca.post("/v1/peers", &pin("bravo", &b.token, b_link))?;
    let _: Peer = cb.post("/v1/peers", &pin("alpha", &a.token, a_link))?;
    let fa = hotline_proto::Identity::parse(&a.token)?
        .fingerprint()
        .to_string();
    let fb = hotline_proto::Identity::parse(&b.token)?
        .fingerprint()
        .to_string();
    let _: PeerVerified = ca.post("/v1/peers/bravo/verify", &VerifyPeer { fingerprint: fb })?;
    let _: PeerVerified = cb.post("/v1/peers/alpha/verify", &VerifyPeer { fingerprint: fa })?;
    Ok((ca, cb))
}

/// Opens a channel A→B and accepts it at B; its id.
fn open_channel(ca: &Client, cb: &Client) -> anyhow::Result<String> {
    let open = OpenChannel {
        peer: "bravo".into(),
        ..Default::default()
    };
    let ch = ca.post::<_, Channel>("/v1/channels", &open)?.id;
    for _ in 0..200 {
        if cb
            .post::<_, Created>(&format!("/v1/channels/{ch}/accept"), &Empty {})
            .is_ok()
        {
            return Ok(ch);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("the channel did not reach bravo")
}

/// When each entry committed at `b`, from its event stream (read on a
/// thread of its own until [`Commits::stop`]); the condition variable is
/// signalled at each, so that the sender waits without taking a core from
/// the stations.
type Seen = Arc<(Mutex<HashMap<String, Instant>>, Condvar)>;

/// B's event stream, read for the latency phase.
struct Commits {
    seen: Seen,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Commits {
    /// Closes the stream at its next event: the phases after the latency
    /// one measure the line without a subscriber that B writes every entry
    /// to and the bench parses (until 2026-11-30 it stayed open, and both
    /// costs were counted against the line).
    fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn commits_at(b: &Proc) -> anyhow::Result<Commits> {
    let seen: Seen = Default::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s, halt) = (seen.clone(), stop.clone());
    let c = http::Lean::new(&b.dir)?;
    std::thread::spawn(move || {
        let _ = c.stream("/v1/events", |line| {
            if halt.load(std::sync::atomic::Ordering::Relaxed) {
                return false;
            }
            if let Some(data) = line.strip_prefix("data:") {
                if let Ok(Event::Entry(e)) = serde_json::from_str(data.trim()) {
                    s.0.lock().unwrap().insert(e.hash, Instant::now());
                    s.1.notify_all();
                }
            }
            true
        });
    });
    Ok(Commits { seen, stop })
}

/// Drops the benchmark's databases when it ends, however it ends (after
/// the stations, which are dropped first: declared later).
struct DropDatabases(Option<(String, [String; 2])>);

impl Drop for DropDatabases {
    fn drop(&mut self) {
        if let Some((base, dbs)) = &self.0 {
            for db in dbs {
                let _ = hotline_store::pg_test::drop_database(base, db);
            }
        }
    }
}

/// Runs the benchmark and prints its figures.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let root = tempfile::Builder::new()
        .prefix("hotline-bench.")
        .tempdir()?;
    if let Some(n) = args.hot_path {
        let f = hot::run(root.path(), n)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&f)?);
        } else {
            println!(
                "hotline bench --hot-path {n} — in one process, SQLite, one message at a time"
            );
            println!("  author + commit + frame: {:.1} µs a message", f.author_us);
            println!(
                "  unframe + verify + apply + checkpoint + commit: {:.1} µs a message",
                f.receive_us
            );
        }
        return Ok(());
    }
    if args.instructions {
        let f = hot::instructions(args.instructions_messages)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&f)?);
        } else {
            println!(
                "hotline bench --instructions — callgrind, {} messages one at a time",
                f.messages
            );
            println!(
                "  author + commit + frame: {} instructions a message",
                f.author
            );
            println!(
                "  unframe + verify + apply + checkpoint + commit: {} instructions a message",
                f.receive
            );
        }
        return Ok(());
    }
    if let Some(n) = args.startup_entries {
        let f = startup::run(root.path(), n, args.startup_replay)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&f)?);
        } else {
            println!("hotline bench --startup-entries {n} — one station process, SQLite");
            println!(
                "  {} entries stored (in {:.0} s); start-up, spawn to the API's answer: {:.0} ms; RSS then {} KiB",
                f.entries, f.fill_s, f.startup_ms, f.rss_kib
            );
            println!(
                "  the channel rebuilt from its snapshot ({} entries) and the entries after it: {:.0} ms",
                f.snapshot_covers, f.restore_ms
            );
            if let Some(ms) = f.restore_replay_ms {
                println!("  the same, from every entry, each checked: {ms:.0} ms");
            }
        }
        return Ok(());
    }
    if let Some(n) = args.scale_channels {
        let f = scale::run(root.path(), n, args.scale_seconds)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&f)?);
        } else {
            println!(
                "hotline bench --scale-channels {n} — two station processes on loopback, SQLite"
            );
            println!(
                "  memory: A's RSS {} KiB with one channel, {} KiB with {n}: {:.1} KiB per idle channel",
                f.rss_one_kib, f.rss_all_kib, f.kib_per_idle_channel
            );
            println!(
                "  of it anonymous (heap, stacks): {} KiB, {} KiB: {:.1} KiB per idle channel",
                f.anon_one_kib, f.anon_all_kib, f.anon_kib_per_idle_channel
            );
            println!(
                "  load: {} messages in {} s ({}/min on each channel): CPU A {:.1} %, B {:.1} % of one core",
                f.sent, f.seconds, f.per_channel_per_minute, f.cpu_a_pct, f.cpu_b_pct
            );
            println!(
                "  send→commit at B under that load: p50 {:.2} ms, p99 {:.2} ms",
                f.p50_ms, f.p99_ms
            );
        }
        return Ok(());
    }
    eprintln!("measuring ceilings with the bare libraries…");
    let mut ceil = ceilings::measure(
        root.path(),
        Duration::from_millis(args.ceiling_ms),
        args.concurrency,
    )?;
    let hs = handshake::measure(Duration::from_millis(args.ceiling_ms))?;

    // On PostgreSQL: a fresh database for each station, dropped at the end.
    let dbs = match &args.store {
        Some(url) => {
            let fresh = || {
                hotline_store::pg_test::fresh_database(url)
                    .map_err(|e| anyhow::anyhow!("--store: cannot create a database: {e}"))
            };
            Some((url.clone(), [fresh()?, fresh()?]))
        }
        None => None,
    };
    let _drop = DropDatabases(dbs.clone());
    eprintln!(
        "starting two stations on {}…",
        if dbs.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let (a, a_link) = start(root.path(), "alpha", dbs.as_ref().map(|d| d.1[0].as_str()))?;
    let (b, b_link) = start(root.path(), "bravo", dbs.as_ref().map(|d| d.1[1].as_str()))?;
    let (ca, cb) = pair(&a, &a_link, &b, &b_link)?;
    let ch = open_channel(&ca, &cb)?;

    // Latency: B's event stream tells when each entry committed there.
    let commits = commits_at(&b)?;
    let seen = &commits.seen;
    std::thread::sleep(Duration::from_millis(300));
    eprintln!("latency: {} messages one at a time…", args.latency_samples);
    let mut lat = Vec::new();
    let mut la = http::Lean::new(&a.dir)?;
    for i in 0..args.latency_samples {
        let t0 = Instant::now();
        let h = la
            .post::<_, Created>(
                &format!("/v1/channels/{ch}/messages"),
                &text(format!("latency {i}")),
            )?
            .hash;
        let (map, signal) = &**seen;
        let (map, timeout) = signal
            .wait_timeout_while(map.lock().unwrap(), Duration::from_secs(5), |m| {
                !m.contains_key(&h)
            })
            .unwrap();
        anyhow::ensure!(
            !timeout.timed_out(),
            "message {i} did not reach bravo in 5 s"
        );
        lat.push(map[&h].duration_since(t0).as_secs_f64() * 1000.0);
    }
    lat.sort_by(|x, y| x.partial_cmp(y).expect("finite"));
    commits.stop();

    eprintln!("one in flight: {} messages…", args.inflight_messages);
    let before = ours(&ca, &ch)?;
    let r0 = cost::read(&a, &b)?;
    let t0 = Instant::now();
    let n1 = send_many(&a.dir, &ch, args.inflight_messages, 1, "one")?;
    delivered(&ca, &ch, before + n1 as u64, t0)?;
    let inflight1 = n1 as f64 / t0.elapsed().as_secs_f64();
    let one = cost::spent(&r0, &cost::read(&a, &b)?, n1);

    eprintln!(
        "throughput: {} messages from {} clients…",
        args.messages, args.concurrency
    );
    let before = ours(&ca, &ch)?;
    let r0 = cost::read(&a, &b)?;
    let t0 = Instant::now();
    let n = send_many(&a.dir, &ch, args.messages, args.concurrency, "bulk")?;
    delivered(&ca, &ch, before + n as u64, t0)?;
    let throughput = n as f64 / t0.elapsed().as_secs_f64();
    let bulk = cost::spent(&r0, &cost::read(&a, &b)?, n);

    eprintln!("both directions at once…");
    let (before_a, before_b) = (ours(&ca, &ch)?, ours(&cb, &ch)?);
    let half = args.concurrency.div_ceil(2);
    let t0 = Instant::now();
    let (da, db, chb) = (a.dir.clone(), b.dir.clone(), ch.clone());
    let m = args.messages / 2;
    let from_b = std::thread::spawn(move || send_many(&db, &chb, m, half, "back"));
    let na = send_many(&da, &ch, m, half, "forth")?;
    let nb = from_b
        .join()
        .map_err(|_| anyhow::anyhow!("a sender panicked"))??;
    delivered(&ca, &ch, before_a + na as u64, t0)?;
    delivered(&cb, &ch, before_b + nb as u64, t0)?;
    let both = (na + nb) as f64 / t0.elapsed().as_secs_f64();

    eprintln!("transcript verify on an export…");
    let export = ca.get_text(&format!("/v1/channels/{ch}/export"))?;
    if let Some(path) = &args.keep_export {
        std::fs::write(path, &export)?;
    }
    // `transcript verify` is an offline tool: both stations stop first, so
    // that their background rounds (the log round grows each author's tree
    // over the entries just sent) do not share the cores it is timed on.
    drop(a);
    drop(b);
    // Timed three times, each right after a fresh measure of the
    // batch-verify ceiling, so that on a shared machine the two see the
    // same load; the medians are kept.
    let (mut rates, mut batch, mut entries) = (Vec::new(), Vec::new(), 0);
    for _ in 0..3 {
        batch.push(ceilings::verify_batch(Duration::from_millis(
            args.ceiling_ms / 2,
        )));
        let t0 = Instant::now();
        let summary = hotline_core::export::verify(&export)
            .map_err(|f| anyhow::anyhow!("the export does not verify: {f}"))?;
        entries = summary.counts[0] + summary.counts[1];
        rates.push(entries as f64 / t0.elapsed().as_secs_f64());
    }
    let verify = ceilings::median(rates);
    ceil.verify_batch = ceilings::median(batch);

    let f = Figures {
        throughput_msgs_per_s: throughput,
        inflight1_msgs_per_s: inflight1,
        both_directions_msgs_per_s: both,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        p999_ms: percentile(&lat, 0.999),
        verify_entries_per_s: verify,
        ratios: Ratios {
            throughput_to_pair: throughput / ceil.pair,
            verify_to_batch: verify / ceil.verify_batch,
        },
        handshake: hs,
        messages: n,
        concurrency: args.concurrency,
        latency_samples: lat.len(),
        exported_entries: entries,
        store: if dbs.is_some() { "postgres" } else { "sqlite" },
        cpu_us_per_message: cost::stations(one.cpu, bulk.cpu),
        kernel_us_per_message: cost::stations(one.kernel, bulk.kernel),
        clients_cpu_us_per_message: cost::Clients {
            inflight1: one.cpu[2],
            throughput: bulk.cpu[2],
        },
        context_switches_per_message: cost::stations(one.switches, bulk.switches),
        floors: floors::floors(&ceil, bulk.cpu[2]),
        ceilings: ceil,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
    } else {
        print(&f);
    }
    Ok(())
}

fn print(f: &Figures) {
    let c = &f.ceilings;
    println!(
        "hotline bench — two station processes on loopback, same machine, same run; store: {}",
        f.store
    );
    println!(
        "  durable messages A→B, {} clients  {:>9.0} msg/s  ({:.2} × one core's sign+verify pairs)",
        f.concurrency, f.throughput_msgs_per_s, f.ratios.throughput_to_pair
    );
    println!(
        "  one message in flight            {:>9.0} msg/s",
        f.inflight1_msgs_per_s
    );
    println!(
        "  both directions at once          {:>9.0} msg/s",
        f.both_directions_msgs_per_s
    );
    let cpu = &f.cpu_us_per_message;
    println!(
        "  stations' CPU a message           A {:.0} µs, B {:.0} µs one in flight; A {:.0} µs, B {:.0} µs at {} clients",
        cpu.inflight1_a, cpu.inflight1_b, cpu.throughput_a, cpu.throughput_b, f.concurrency
    );
    let (k, cl) = (&f.kernel_us_per_message, &f.clients_cpu_us_per_message);
    println!(
        "    of it in the kernel             A {:.0} µs, B {:.0} µs one in flight; A {:.0} µs, B {:.0} µs at {} clients",
        k.inflight1_a, k.inflight1_b, k.throughput_a, k.throughput_b, f.concurrency
    );
    println!(
        "  the clients' own CPU a message    {:.0} µs one in flight, {:.0} µs at {} clients",
        cl.inflight1, cl.throughput, f.concurrency
    );
    let cs = &f.context_switches_per_message;
    println!(
        "  context switches a message        A {:.1}, B {:.1} one in flight; A {:.2}, B {:.2} at {} clients",
        cs.inflight1_a, cs.inflight1_b, cs.throughput_a, cs.throughput_b, f.concurrency
    );
    println!(
        "  send→commit at B  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  ({} one at a time)",
        f.p50_ms, f.p99_ms, f.p999_ms, f.latency_samples
    );
    println!(
        "  transcript verify                {:>9.0} entries/s  ({} entries; {:.2} × one core's batch verify)",
        f.verify_entries_per_s, f.exported_entries, f.ratios.verify_to_batch
    );
    let h = &f.handshake;
    println!(
        "  link handshake, both ends, one core  {:.2} ms  (hybrid IKpsk2 + ML-KEM-768; bare IK {:.2} ms, bare ML-KEM-768 {:.2} ms)",
        h.hybrid_ms, h.ik_ms, h.mlkem_ms
    );
    println!("ceilings, bare libraries, same run:");
    println!("  Ed25519 sign {:.0}/s · verify_strict {:.0}/s · batch verify {:.0}/s · sign+verify pairs {:.0}/s (one core)", c.sign, c.verify_strict, c.verify_batch, c.pair);
    println!(
        "  bare HTTP (axum on hyper, {} clients): {:.0} requests/s, the server's CPU {:.0} µs a request",
        f.concurrency, c.http_requests, c.http_server_us
    );
    println!("  SQLite durable commits {:.0}/s (WAL, FULL, one 300-byte row), {:.0}/s each of two at once · fdatasync {:.3} ms · loopback round trip {:.3} ms", c.sqlite_commits, c.sqlite_commits_both, c.fsync_ms, c.rtt_ms);
    let fl = &f.floors;
    println!("floors: the most each figure could reach if a message cost only the work SPEC §1 requires, at those ceilings:");
    println!(
        "  {} clients {:.0} msg/s ({:.2} × pairs) · one in flight {:.0} msg/s · send→commit at B {:.2} ms",
        f.concurrency,
        fl.throughput_msgs_per_s,
        fl.throughput_msgs_per_s / c.pair,
        fl.inflight1_msgs_per_s,
        fl.send_commit_ms
    );
}
