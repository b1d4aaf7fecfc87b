//! kill -9 of either station at random moments while messages flow both ways;
//! restart; repeat. Every message the API accepted (201) must end up exactly
//! once at both ends, and both exports must verify.
//!
//! CI size by default; scale with HOTLINE_CRASH_SECONDS (how long to keep
//! killing) for a soak, e.g. `HOTLINE_CRASH_SECONDS=600 cargo nextest run -p
//! hotline-cli --release crash` (docs/RELIABILITY.md records the figures).

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "common/station.rs"]
mod station;
use station::{pair, St};

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
    accepted: usize,
    lost: usize,
    duplicated: usize,
    held: usize,
}

#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let seconds: u64 = std::env::var("HOTLINE_CRASH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let r = crash_run(seconds, &[]);
    assert!(
        r.kills >= 4 && r.accepted > 100,
        "too little happened: {} kills, {} accepted",
        r.kills,
        r.accepted
    );
    assert_eq!(
        (r.lost, r.duplicated),
        (0, 0),
        "accepted messages lost or duplicated"
    );
    eprintln!(
        "crash test: {} kill -9s in {seconds} s, {} messages accepted, 0 lost, 0 duplicated, {} at each end",
        r.kills, r.accepted, r.held
    );
}

/// The same checker against a station that acknowledges before committing
/// (commits held back 100 ms to widen the window): it must see the loss.
#[test]
fn the_checker_catches_a_station_that_acknowledges_before_committing() {
    let r = crash_run(
        6,
        &[
            ("HOTLINE_UNSAFE_ACK_BEFORE_COMMIT", "1"),
            ("HOTLINE_TEST_COMMIT_DELAY_MS", "100"),
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

fn crash_run(seconds: u64, env: &'static [(&'static str, &'static str)]) -> Report {
    let root = tempfile::tempdir().unwrap();
    let mut a = St::new(&root.path().join("alpha"), "alpha");
    let mut b = St::new(&root.path().join("bravo"), "bravo");
    a.serve(env);
    b.serve(env);
    let ch = pair(&a, &b);

    let stop = Arc::new(AtomicBool::new(false));
    let accepted: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let mut senders = vec![];
    for s in [&a, &b] {
        let (api, token, tag, ch) = (s.api.clone(), s.admin.clone(), s.name.clone(), ch.clone());
        let (stop, accepted) = (stop.clone(), accepted.clone());
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
    while start.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(300 + rand(1200)));
        let victim = if rand(2) == 0 { &mut a } else { &mut b };
        victim.kill9();
        kills += 1;
        std::thread::sleep(Duration::from_millis(rand(400)));
        victim.serve(env);
    }
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();

    // Let the line settle: everything delivered both ways.
    let h = http();
    let t = Instant::now();
    loop {
        let da = get(&h, &a.api, &a.admin, &format!("/v1/channels/{ch}"));
        let db = get(&h, &b.api, &b.admin, &format!("/v1/channels/{ch}"));
        let settled = |v: &Option<Value>| {
            v.as_ref()
                .is_some_and(|v| v["delivery"]["delivered"] == v["entries"]["ours"])
        };
        if settled(&da)
            && settled(&db)
            && da.as_ref().unwrap()["entries"]["theirs"] == db.as_ref().unwrap()["entries"]["ours"]
        {
            break;
        }
        if t.elapsed() > Duration::from_secs(60) {
            let kept = root.keep();
            panic!(
                "the line did not settle (logs kept in {}): {da:?} {db:?}",
                kept.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
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
        accepted: accepted.len(),
        lost,
        duplicated,
        held: ma.len(),
    }
}
