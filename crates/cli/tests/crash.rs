//! kill -9 of either station at random moments while messages flow both ways;
//! restart; repeat. Every message the API accepted (201) must end up exactly
//! once at both ends, and both exports must verify.
//!
//! CI size by default (at least 12 s, 4 kills and 100 accepted messages, however
//! long a slow machine needs for that); scale with HOTLINE_CRASH_SECONDS (how
//! long to keep killing) for a soak, e.g. `HOTLINE_CRASH_SECONDS=600 cargo test
//! -p hotline-cli --release --test crash` (docs/RELIABILITY.md records the figures).

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "common/station.rs"]
mod station;
use station::{pair, St};
#[path = "common/heavy.rs"]
mod heavy;

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn get(h: &reqwest::blocking::Client, api: &str, token: &str, path: &str) -> Option<Value> {
    h.get(format!("http://{api}{path}"))
        .bearer_auth(token)
        .send()
        .ok()?
        .json()
        .ok()
}

fn messages(h: &reqwest::blocking::Client, s: &St, ch: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut after = 0;
    loop {
        let v = get(
            h,
            &s.api,
            &s.admin,
            &format!("/v1/channels/{ch}/entries?after={after}&limit=1000"),
        )
        .expect("entries");
        let batch = v["entries"].as_array().unwrap().clone();
        if batch.is_empty() {
            return out;
        }
        after = batch.last().unwrap()["cursor"].as_u64().unwrap();
        for e in batch {
            if e["kind"] == "message" {
                out.push((
                    e["hash"].as_str().unwrap().to_owned(),
                    e["body"]["text"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
}

/// What a crash run found.
struct Report {
    kills: usize,
    /// Seconds of killing.
    took: f64,
    accepted: usize,
    lost: usize,
    duplicated: usize,
    held: usize,
}

/// The least a crash run does before it stops, however long that takes.
const MIN_KILLS: usize = 4;
const MIN_ACCEPTED: usize = 100;

#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let _heavy = heavy::one_at_a_time();
    let seconds: u64 = std::env::var("HOTLINE_CRASH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let r = crash_run(seconds, &[]);
    assert_eq!(
        (r.lost, r.duplicated),
        (0, 0),
        "accepted messages lost or duplicated"
    );
    eprintln!(
        "crash test: {} kill -9s in {:.0} s, {} messages accepted, 0 lost, 0 duplicated, {} at each end",
        r.kills, r.took, r.accepted, r.held
    );
}

/// The same checker against stations that acknowledge before committing. Each
/// is restarted in that mode with its commits held back 10 minutes (so none
/// lands before the next kill, whatever the machine's speed), and is killed
/// only after it acknowledged a message since it started: every kill loses
/// work, and the checker must see it.
#[test]
fn the_checker_catches_a_station_that_acknowledges_before_committing() {
    let _heavy = heavy::one_at_a_time();
    let r = crash_run(
        3,
        &[
            ("HOTLINE_UNSAFE_ACK_BEFORE_COMMIT", "1"),
            ("HOTLINE_TEST_COMMIT_DELAY_MS", "600000"),
        ],
    );
    assert!(
        r.lost > 0,
        "the checker missed the loss: {} accepted, {} kills",
        r.accepted,
        r.kills
    );
    eprintln!(
        "broken variant: {} accepted, {} lost — caught",
        r.accepted, r.lost
    );
}

/// Two stations, a channel, a sender posting to each; kill -9 a random one at
/// random moments for at least `seconds` (and `MIN_KILLS`, `MIN_ACCEPTED`),
/// restarting it with `env`; then let the line settle and count what each end
/// holds of the accepted messages. With a non-empty `env`, both stations run
/// with it from the first kill on, and are restarted without it at the end.
fn crash_run(seconds: u64, env: &'static [(&'static str, &'static str)]) -> Report {
    let mut root = tempfile::tempdir().unwrap();
    let mut a = St::new(&root.path().join("alpha"), "alpha");
    let mut b = St::new(&root.path().join("bravo"), "bravo");
    a.serve(&[]);
    b.serve(&[]);
    let ch = pair(&a, &b);
    let h = http();
    if !env.is_empty() {
        // Both sides know the channel is open before they stop committing.
        root = settled(&h, &a, &b, &ch, root);
        for s in [&mut a, &mut b] {
            s.kill9();
            s.serve(env);
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let accepted: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    // Messages each station acknowledged so far.
    let acked = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
    let mut senders = vec![];
    for (s, count) in [&a, &b].into_iter().zip(&acked) {
        let (api, token, tag, ch) = (s.api.clone(), s.admin.clone(), s.name.clone(), ch.clone());
        let (stop, accepted, count) = (stop.clone(), accepted.clone(), count.clone());
        senders.push(std::thread::spawn(move || {
            let h = http();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let text = format!("{tag}-{i}");
                i += 1;
                let r = h
                    .post(format!("http://{api}/v1/channels/{ch}/messages"))
                    .bearer_auth(&token)
                    .json(&json!({"text": text}))
                    .send();
                match r {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let v: Value = r.json().unwrap();
                        accepted
                            .lock()
                            .unwrap()
                            .push((v["hash"].as_str().unwrap().to_owned(), text));
                        count.fetch_add(1, Ordering::SeqCst);
                    }
                    // Down, or killed mid-request: not accepted; it may or may not have been stored.
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }));
    }
    let mut rng = 0x9e3779b97f4a7c15u64;
    let mut rand = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let start = Instant::now();
    let mut kills = 0;
    // What each station had acknowledged when it last started.
    let mut at_start = [0, 0];
    while start.elapsed() < Duration::from_secs(seconds)
        || kills < MIN_KILLS
        || accepted.lock().unwrap().len() < MIN_ACCEPTED
    {
        assert!(
            start.elapsed() < Duration::from_secs(seconds + 600),
            "too little happened in {seconds} s + 10 min: {kills} kills, {} accepted",
            accepted.lock().unwrap().len()
        );
        std::thread::sleep(Duration::from_millis(300 + rand(1200)));
        let i = rand(2) as usize;
        // A kill before the station acknowledged anything since it started puts
        // nothing at stake: wait for one.
        let t = Instant::now();
        while acked[i].load(Ordering::SeqCst) == at_start[i] {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "station {i} acknowledged nothing for 120 s after it started"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let victim = if i == 0 { &mut a } else { &mut b };
        victim.kill9();
        kills += 1;
        std::thread::sleep(Duration::from_millis(rand(400)));
        victim.serve(env);
        at_start[i] = acked[i].load(Ordering::SeqCst);
    }
    let took = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    if !env.is_empty() {
        // What each end holds is what a correct restart finds on its disk.
        for s in [&mut a, &mut b] {
            s.kill9();
            s.serve(&[]);
        }
    }
    let root = settled(&h, &a, &b, &ch, root);
    let ma = messages(&h, &a, &ch);
    let mb = messages(&h, &b, &ch);
    let mut lost = 0;
    let mut duplicated = 0;
    for got in [&ma, &mb] {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (_, text) in got.iter() {
            *seen.entry(text).or_default() += 1;
        }
        duplicated += seen.values().filter(|n| **n > 1).count();
        let hashes: HashSet<&str> = got.iter().map(|(h, _)| h.as_str()).collect();
        lost = lost.max(
            accepted
                .iter()
                .filter(|(h, _)| !hashes.contains(h.as_str()))
                .count(),
        );
    }
    let set = |v: &Vec<(String, String)>| v.iter().map(|(h, _)| h.clone()).collect::<HashSet<_>>();
    assert_eq!(set(&ma), set(&mb), "the two ends hold different messages");
    for s in [&a, &b] {
        s.verify_export(&ch, root.path());
    }
    Report {
        kills,
        took,
        accepted: accepted.len(),
        lost,
        duplicated,
        held: ma.len(),
    }
}

/// Waits until everything each station wrote is held by the other and
/// covered by its checkpoint; after 120 s, panics and keeps the data.
fn settled(
    h: &reqwest::blocking::Client,
    a: &St,
    b: &St,
    ch: &str,
    root: tempfile::TempDir,
) -> tempfile::TempDir {
    let t = Instant::now();
    loop {
        let da = get(h, &a.api, &a.admin, &format!("/v1/channels/{ch}"));
        let db = get(h, &b.api, &b.admin, &format!("/v1/channels/{ch}"));
        let settled = |v: &Option<Value>| {
            v.as_ref()
                .is_some_and(|v| v["delivery"]["delivered"] == v["entries"]["ours"])
        };
        if settled(&da)
            && settled(&db)
            && da.as_ref().unwrap()["entries"]["theirs"] == db.as_ref().unwrap()["entries"]["ours"]
            && db.as_ref().unwrap()["entries"]["theirs"] == da.as_ref().unwrap()["entries"]["ours"]
        {
            return root;
        }
        if t.elapsed() > Duration::from_secs(120) {
            let kept = root.keep();
            panic!(
                "the line did not settle (logs kept in {}): {da:?} {db:?}",
                kept.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
