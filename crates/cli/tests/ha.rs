//! Leader and standby on one PostgreSQL database, as real processes: two
//! `hotline serve` with the same identity and database, a counterpart on
//! SQLite, traffic both ways, and the leader killed with SIGKILL again and
//! again (restarted each time as the new standby). Nothing acknowledged is
//! lost, nothing is held twice, no position of a chain is authored twice,
//! both exports verify and agree, and each takeover is quick.
//!
//! Runs where `HOTLINE_TEST_PG` names a PostgreSQL server (`.ci/run` starts
//! one: tests/pg/cluster.sh); elsewhere it says so and passes.

#[path = "common/pg.rs"]
mod pg;
#[path = "common/station.rs"]
mod station;
use pg::Cluster;
use serde_json::{json, Value};
use station::{free_port, run, St, BIN};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At least this many acknowledged messages, both ways together.
const MIN_ACCEPTED: usize = 5_000;
/// At least this many takeovers.
const MIN_KILLS: usize = 3;
/// A takeover must be done this soon after the kill.
const TAKEOVER: Duration = Duration::from_secs(20);
/// Senders per side.
const SENDERS: usize = 4;

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The second process of a station: a copy of the first one's data
/// directory (key, admin token, config) with addresses of its own, as an
/// operator would set up a second machine.
fn standby_copy(first: &St, dir: &std::path::Path) -> St {
    std::fs::create_dir_all(dir).unwrap();
    for f in ["identity.key", "admin.token"] {
        std::fs::copy(first.dir.join(f), dir.join(f)).unwrap();
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let api = format!("127.0.0.1:{}", free_port());
    let cfg = std::fs::read_to_string(first.dir.join("config.toml"))
        .unwrap()
        .replace(&first.listen, &listen)
        .replace(&first.api, &api);
    std::fs::write(dir.join("config.toml"), cfg).unwrap();
    St {
        name: first.name.clone(),
        dir: dir.to_owned(),
        api,
        listen,
        token: first.token.clone(),
        admin: first.admin.clone(),
        child: None,
        log: dir.with_extension("log"),
    }
}

/// The `store` part of `/v1/health` for a caller with a token.
fn store_health(s: &St) -> Option<Value> {
    s.get("/v1/health").map(|h| h["store"].clone())
}

fn role(s: &St) -> Option<String> {
    store_health(s).and_then(|v| v["role"].as_str().map(str::to_owned))
}

fn epoch(s: &St) -> u64 {
    store_health(s)
        .and_then(|v| v["epoch"].as_u64())
        .unwrap_or(0)
}

/// Waits until one of `pair` reports itself the leader; its index.
fn leader_of(pair: &[St; 2], within: Duration) -> Option<usize> {
    let t = Instant::now();
    while t.elapsed() < within {
        for (i, s) in pair.iter().enumerate() {
            if s.child.is_some() && role(s).as_deref() == Some("leader") {
                return Some(i);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Every message of a channel as `(hash, text)`, paging by cursor.
fn messages(h: &reqwest::blocking::Client, s: &St, ch: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut after = 0;
    loop {
        let v: Value = h
            .get(format!(
                "http://{}/v1/channels/{ch}/entries?after={after}&limit=1000",
                s.api
            ))
            .bearer_auth(&s.admin)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let batch = v["entries"].as_array().unwrap().clone();
        let Some(last) = batch.last() else {
            return out;
        };
        after = last["cursor"].as_u64().unwrap();
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

#[test]
fn killing_the_leader_again_and_again_loses_and_duplicates_nothing() {
    if std::env::var("HOTLINE_TEST_PG").map_or(true, |v| v.trim().is_empty()) {
        eprintln!("HOTLINE_TEST_PG is not set: the leader/standby test needs a PostgreSQL server; skipped");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    // alpha on PostgreSQL (a fresh database, as `init` does in test builds
    // with HOTLINE_TEST_PG), bravo alone on SQLite.
    let a1 = St::new(&root.path().join("alpha1"), "alpha");
    let a2 = standby_copy(&a1, &root.path().join("alpha2"));
    let mut b = St::new_with(&root.path().join("bravo"), "bravo", &["--store", "sqlite"]);
    let mut alpha = [a1, a2];
    alpha[0].serve(&[]);
    assert_eq!(leader_of(&alpha, Duration::from_secs(20)), Some(0));
    alpha[1].serve(&[]);
    assert_eq!(role(&alpha[1]).as_deref(), Some("standby"));
    // A standby refuses writes, naming the leader.
    let (code, body) = alpha[1]
        .post(
            "/v1/peers",
            json!({"name": "x", "key": b.token, "addrs": [b.listen]}),
        )
        .unwrap();
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["leader_api"], json!(alpha[0].api));
    b.serve(&[]);

    // Pairing: bravo knows both of alpha's addresses.
    alpha[0].cli(&[
        "peer", "add", "bravo", "--key", &b.token, "--addr", &b.listen,
    ]);
    b.cli(&[
        "peer",
        "add",
        "alpha",
        "--key",
        &alpha[0].token,
        "--addr",
        &alpha[0].listen,
        "--addr",
        &alpha[1].listen,
    ]);
    let fa = alpha[0].cli(&["id", "--fingerprint"]);
    let fb = b.cli(&["id", "--fingerprint"]);
    alpha[0].cli(&["peer", "verify", "bravo", "--fingerprint", fb.trim()]);
    b.cli(&["peer", "verify", "alpha", "--fingerprint", fa.trim()]);
    let ch = alpha[0]
        .cli(&["channel", "open", "bravo"])
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let t = Instant::now();
    while !run(&b.dir, &["channel", "accept", &ch]).status.success() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the proposal did not reach bravo"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let accepted: Arc<Mutex<Vec<(String, String)>>> = Default::default();
    let alpha_apis = [alpha[0].api.clone(), alpha[1].api.clone()];
    let mut senders = vec![];
    for side in 0..2 {
        for n in 0..SENDERS {
            let apis: Vec<String> = if side == 0 {
                alpha_apis.to_vec()
            } else {
                vec![b.api.clone()]
            };
            let token = if side == 0 {
                alpha[0].admin.clone()
            } else {
                b.admin.clone()
            };
            let (stop, accepted, ch) = (stop.clone(), accepted.clone(), ch.clone());
            senders.push(std::thread::spawn(move || {
                let h = http();
                let mut i = 0u64;
                let mut at = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let text = format!("{side}-{n}-{i}");
                    let r = h
                        .post(format!("http://{}/v1/channels/{ch}/messages", apis[at]))
                        .bearer_auth(&token)
                        .json(&json!({ "text": text }))
                        .send();
                    match r {
                        Ok(r) if r.status().as_u16() == 201 => {
                            let v: Value = r.json().unwrap();
                            accepted
                                .lock()
                                .unwrap()
                                .push((v["hash"].as_str().unwrap().to_owned(), text));
                            i += 1;
                        }
                        // A standby, a process down or killed mid-request:
                        // not accepted (it may or may not have been stored);
                        // try the other process, with a new text.
                        _ => {
                            i += 1;
                            at = (at + 1) % apis.len();
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            }));
        }
    }

    let start = Instant::now();
    let mut kills = 0;
    let mut takeovers = vec![];
    let mut last_epoch = epoch(&alpha[0]);
    while kills < MIN_KILLS || accepted.lock().unwrap().len() < MIN_ACCEPTED {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "too little happened in 10 min: {kills} kills, {} accepted",
            accepted.lock().unwrap().len()
        );
        let before = accepted.lock().unwrap().len();
        std::thread::sleep(Duration::from_secs(3));
        // The leader must have served since it took over.
        let t = Instant::now();
        while accepted.lock().unwrap().len() == before {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "nothing acknowledged for 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let l = leader_of(&alpha, Duration::from_secs(5)).expect("a leader");
        alpha[l].kill9();
        let killed = Instant::now();
        kills += 1;
        let next = leader_of(&alpha, TAKEOVER).unwrap_or_else(|| {
            panic!(
                "no takeover within {TAKEOVER:?}; standby log:\n{}",
                alpha[1 - l].log_text()
            )
        });
        takeovers.push(killed.elapsed());
        assert_eq!(next, 1 - l);
        let e = epoch(&alpha[next]);
        assert!(
            e > last_epoch,
            "the epoch grows on takeover: {last_epoch} then {e}"
        );
        last_epoch = e;
        // The killed process comes back as the standby.
        alpha[l].serve(&[]);
        assert_eq!(role(&alpha[l]).as_deref(), Some("standby"));
    }
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    let l = leader_of(&alpha, Duration::from_secs(20)).expect("a leader at the end");
    let a = &alpha[l];

    // Settled: each end holds what the other wrote.
    let h = http();
    let t = Instant::now();
    let (ma, mb) = loop {
        let (ma, mb) = (messages(&h, a, &ch), messages(&h, &b, &ch));
        let set =
            |v: &Vec<(String, String)>| v.iter().map(|(h, _)| h.clone()).collect::<HashSet<_>>();
        if set(&ma) == set(&mb) {
            break (ma, mb);
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the two ends hold different messages after 120 s: {} and {}",
            ma.len(),
            mb.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for got in [&ma, &mb] {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (_, text) in got.iter() {
            *seen.entry(text).or_default() += 1;
        }
        let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(dup.is_empty(), "messages held twice: {dup:?}");
        let hashes: HashSet<&str> = got.iter().map(|(h, _)| h.as_str()).collect();
        let lost: Vec<_> = accepted
            .iter()
            .filter(|(h, _)| !hashes.contains(h.as_str()))
            .collect();
        assert!(lost.is_empty(), "{} acknowledged messages lost", lost.len());
    }
    // Exports verify (a position authored twice would break the chain) and agree.
    let mut exports = vec![];
    for s in [a, &b] {
        let f = root.path().join(format!(
            "{}.export",
            s.dir.file_name().unwrap().to_string_lossy()
        ));
        s.cli(&["transcript", "export", &ch, "-o", f.to_str().unwrap()]);
        let o = std::process::Command::new(BIN)
            .args(["transcript", "verify", f.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        exports.push(f);
    }
    eprintln!(
        "leader/standby: {kills} kills, {} acknowledged, {} held, takeovers {:?}",
        accepted.len(),
        ma.len(),
        takeovers
    );
    assert!(takeovers.iter().all(|t| *t < TAKEOVER));
}

/// The database stalls under the leader (every PostgreSQL process
/// stopped): the leader acknowledges nothing once its lease may have
/// expired; when the database is back the standby leads at a higher epoch,
/// the former leader has become the standby and refuses writes, and
/// nothing acknowledged is lost.
#[test]
fn a_leader_cut_off_from_its_database_stops_acknowledging_and_comes_back_as_standby() {
    if std::env::var("HOTLINE_TEST_PG").map_or(true, |v| v.trim().is_empty()) {
        eprintln!("HOTLINE_TEST_PG is not set: the leader/standby test needs PostgreSQL; skipped");
        return;
    }
    let pg = Cluster::start();
    let root = tempfile::tempdir().unwrap();
    let a1 = St::new_with(&root.path().join("alpha1"), "alpha", &["--store", &pg.url]);
    let a2 = standby_copy(&a1, &root.path().join("alpha2"));
    let mut b = St::new_with(&root.path().join("bravo"), "bravo", &["--store", "sqlite"]);
    let mut alpha = [a1, a2];
    alpha[0].serve(&[]);
    assert_eq!(leader_of(&alpha, Duration::from_secs(20)), Some(0));
    alpha[1].serve(&[]);
    b.serve(&[]);
    alpha[0].cli(&[
        "peer", "add", "bravo", "--key", &b.token, "--addr", &b.listen,
    ]);
    b.cli(&[
        "peer",
        "add",
        "alpha",
        "--key",
        &alpha[0].token,
        "--addr",
        &alpha[0].listen,
        "--addr",
        &alpha[1].listen,
    ]);
    let ch = alpha[0]
        .cli(&["channel", "open", "bravo"])
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let t = Instant::now();
    while !run(&b.dir, &["channel", "accept", &ch]).status.success() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the proposal did not reach bravo"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let epoch_before = epoch(&alpha[0]);

    // One sender to alpha, following 503s to the other process; every 201
    // is noted with which process gave it and when.
    let stop = Arc::new(AtomicBool::new(false));
    let acks: Arc<Mutex<Vec<(usize, Instant, String)>>> = Default::default();
    let sender = {
        let apis = [alpha[0].api.clone(), alpha[1].api.clone()];
        let (token, stop, acks, ch) = (
            alpha[0].admin.clone(),
            stop.clone(),
            acks.clone(),
            ch.clone(),
        );
        std::thread::spawn(move || {
            let h = http();
            let (mut i, mut at) = (0u64, 0usize);
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let r = h
                    .post(format!("http://{}/v1/channels/{ch}/messages", apis[at]))
                    .bearer_auth(&token)
                    .json(&json!({ "text": format!("m-{i}") }))
                    .send();
                match r {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let v: Value = r.json().unwrap();
                        let hash = v["hash"].as_str().unwrap().to_owned();
                        acks.lock().unwrap().push((at, Instant::now(), hash));
                    }
                    _ => {
                        at = 1 - at;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        })
    };
    let t0 = Instant::now();
    while acks.lock().unwrap().is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the leader acknowledged nothing in 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    pg.signal("-STOP");
    let stalled = Instant::now();
    std::thread::sleep(Duration::from_secs(12));
    pg.signal("-CONT");
    let next =
        leader_of(&alpha, Duration::from_secs(30)).expect("a leader after the database came back");
    assert_eq!(next, 1, "the standby leads once the database is back");
    assert!(epoch(&alpha[1]) > epoch_before);
    // The former leader comes back as the standby and refuses writes.
    let t = Instant::now();
    while role(&alpha[0]).as_deref() != Some("standby") {
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "alpha1 did not become the standby:\n{}",
            alpha[0].log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, _) = alpha[0]
        .post(
            &format!("/v1/channels/{ch}/messages"),
            json!({"text": "late"}),
        )
        .unwrap();
    assert_eq!(code, 503);
    // Traffic goes on through the new leader.
    let n = acks.lock().unwrap().len();
    let t = Instant::now();
    while acks.lock().unwrap().len() <= n + 10 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the new leader acknowledges nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    let acks = acks.lock().unwrap().clone();
    // The lease the stalled leader held expires 6 s after its last renewal,
    // which began at most 1 s before the stall: nothing from it after 5 s.
    let late: Vec<_> = acks
        .iter()
        .filter(|(at, when, _)| *at == 0 && *when > stalled + Duration::from_secs(5))
        .collect();
    assert!(
        late.is_empty(),
        "the cut-off leader acknowledged {} messages after its lease could expire",
        late.len()
    );
    // Nothing acknowledged is lost: bravo ends up holding every one.
    let h = http();
    let t = Instant::now();
    loop {
        let held: HashSet<String> = messages(&h, &b, &ch).into_iter().map(|(h, _)| h).collect();
        let missing = acks.iter().filter(|(_, _, h)| !held.contains(h)).count();
        if missing == 0 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{missing} acknowledged messages never reached bravo"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
