//! `hotline bench`: two station processes on loopback, measured from outside.
//!
//! Reports durable messages per second A→B (every message committed at both
//! ends and covered by B's checkpoint) and send-to-commit-at-receiver latency
//! at low load, beside this machine's ceilings measured in the same run:
//! Ed25519 sign+verify rate and SQLite durable commit rate.

use crate::client::Client;
use clap::Args;
use hotline_api_types::{
    Channel, Created, Empty, Event, NewMessage, NewPeer, OpenChannel, Peer, PeerVerified,
    VerifyPeer,
};
use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
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
    /// Messages sent one at a time for the latency figure.
    #[arg(long, default_value_t = 300)]
    latency_samples: usize,
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

fn start(root: &std::path::Path, name: &str) -> anyhow::Result<(Proc, String)> {
    let exe = std::env::current_exe()?;
    let dir = root.join(name);
    let listen = format!("127.0.0.1:{}", free_port()?);
    let api = format!("127.0.0.1:{}", free_port()?);
    let out = Command::new(&exe)
        .args(["--data"])
        .arg(&dir)
        .args(["init", "--name", name, "--listen", &listen, "--api", &api])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?.trim().to_owned();
    let log = std::fs::File::create(root.join(format!("{name}.log")))?;
    let child = Command::new(&exe)
        .arg("--data")
        .arg(&dir)
        .arg("serve")
        .env("HOTLINE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?;
    let p = Proc {
        child,
        dir: dir.clone(),
        token,
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(&api).is_ok() {
            return Ok((p, listen));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("{name} did not start")
}

fn ed25519_rate(n: usize) -> f64 {
    let keys = hotline_proto::SecretKeys::generate([1; 32], [2; 32]);
    let vk = keys.identity().verifying_key().expect("valid key");
    let entry = hotline_proto::Entry {
        channel: [7; 32],
        author: 0,
        seq: 1,
        prev: [0; 32],
        seen: (0, [0; 32]),
        lamport: 1,
        time: 0,
        by: "bench".into(),
        body: hotline_proto::Body::Message {
            precedence: hotline_proto::Precedence::Routine,
            subject: "s".into(),
            text: "x".repeat(100),
            labels: vec![],
            reply_to: None,
        },
    };
    let t = Instant::now();
    for _ in 0..n {
        let env = hotline_proto::Envelope::sign(&entry, &keys);
        env.open(&vk).expect("verifies");
    }
    n as f64 / t.elapsed().as_secs_f64()
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

/// Runs the benchmark and prints its figures.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let root = tempfile::Builder::new()
        .prefix("hotline-bench.")
        .tempdir()?;
    eprintln!("measuring ceilings…");
    let sign_verify = ed25519_rate(20_000);
    let sqlite = hotline_station::ceiling::commit_rate(&root.path().join("ceiling.db"), 300)?;

    eprintln!("starting two stations…");
    let (a, a_link) = start(root.path(), "alpha")?;
    let (b, b_link) = start(root.path(), "bravo")?;
    let ca = Client::new(&a.dir, None, None)?;
    let cb = Client::new(&b.dir, None, None)?;
    let pin = |name: &str, key: &str, addr: String| NewPeer {
        name: name.into(),
        key: key.into(),
        addrs: vec![addr],
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
    let open = OpenChannel {
        peer: "bravo".into(),
        ..Default::default()
    };
    let ch = ca.post::<_, Channel>("/v1/channels", &open)?.id;
    let mut accepted = false;
    for _ in 0..200 {
        if cb
            .post::<_, Created>(&format!("/v1/channels/{ch}/accept"), &Empty {})
            .is_ok()
        {
            accepted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::ensure!(accepted, "the channel did not reach bravo");

    // Latency: B's event stream tells when each entry committed there.
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    {
        let seen = seen.clone();
        let cfg = hotline_station::DataDir(b.dir.clone()).load_config()?;
        let token = hotline_station::DataDir(b.dir.clone()).load_admin_token()?;
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .timeout(None)
                .build()
                .expect("client");
            let Ok(resp) = http
                .get(format!("http://{}/v1/events", cfg.api))
                .bearer_auth(token)
                .send()
            else {
                return;
            };
            for line in std::io::BufReader::new(resp).lines() {
                let Ok(line) = line else { return };
                if let Some(data) = line.strip_prefix("data:") {
                    if let Ok(Event::Entry(e)) = serde_json::from_str(data.trim()) {
                        seen.lock().unwrap().insert(e.hash, Instant::now());
                    }
                }
            }
        });
    }
    std::thread::sleep(Duration::from_millis(300));
    eprintln!("latency: {} messages one at a time…", args.latency_samples);
    let mut lat = Vec::new();
    for i in 0..args.latency_samples {
        let t0 = Instant::now();
        let h = ca
            .post::<_, Created>(
                &format!("/v1/channels/{ch}/messages"),
                &text(format!("latency {i}")),
            )?
            .hash;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(t) = seen.lock().unwrap().get(&h) {
                lat.push(t.duration_since(t0).as_secs_f64() * 1000.0);
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "message {i} did not reach bravo in 5 s"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    lat.sort_by(|x, y| x.partial_cmp(y).expect("finite"));

    eprintln!(
        "throughput: {} messages from {} clients…",
        args.messages, args.concurrency
    );
    let before = ca
        .get::<Channel>(&format!("/v1/channels/{ch}"))?
        .entries
        .ours;
    let t0 = Instant::now();
    let per = args.messages.div_ceil(args.concurrency);
    let mut threads = Vec::new();
    for t in 0..args.concurrency {
        let c = Client::new(&a.dir, None, None)?;
        let ch = ch.clone();
        threads.push(std::thread::spawn(move || -> anyhow::Result<()> {
            for i in 0..per {
                let _: Created = c.post(
                    &format!("/v1/channels/{ch}/messages"),
                    &text(format!("bulk {t}-{i}")),
                )?;
            }
            Ok(())
        }));
    }
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a sender panicked"))??;
    }
    let accepted_at = t0.elapsed().as_secs_f64();
    let total = before + (per * args.concurrency) as u64;
    loop {
        let c: Channel = ca.get(&format!("/v1/channels/{ch}"))?;
        if c.delivery.delivered >= total {
            break;
        }
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(600),
            "delivery did not finish in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let n = per * args.concurrency;
    println!("hotline bench — two station processes on loopback, same machine, same run");
    println!("  durable messages A→B        {:>10.0} msg/s  ({n} messages in {elapsed:.2} s; all accepted at A after {accepted_at:.2} s)", n as f64 / elapsed);
    println!(
        "  send→commit at B, p50       {:>10.2} ms     ({} sequential messages)",
        percentile(&lat, 0.5),
        lat.len()
    );
    println!(
        "  send→commit at B, p99       {:>10.2} ms",
        percentile(&lat, 0.99)
    );
    println!("ceilings on this machine:");
    println!("  Ed25519 sign+verify         {:>10.0} /s", sign_verify);
    println!(
        "  SQLite durable commits      {:>10.0} /s     (WAL, synchronous=FULL, one row each)",
        sqlite
    );
    drop(a);
    drop(b);
    Ok(())
}
