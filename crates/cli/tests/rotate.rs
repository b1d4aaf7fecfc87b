//! `hotline keys rotate` with real station processes (SPEC §4 v2): under
//! traffic nothing is lost, the counterpart re-pins from the signed entry
//! alone, both survive restarts, a crash in the middle of a rotation is
//! finished at the next start, and both exports verify across it.

use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[path = "common/station.rs"]
mod station;
use station::{any_alert, counts, load, pair, until, St, BIN};

/// How `s` pins `peer` now: its token and the fingerprints it rotated away from.
fn pin(s: &St, peer: &str) -> (String, Vec<String>) {
    let v = s.get("/v1/peers").expect("peers");
    let p = v["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == peer)
        .cloned()
        .expect("pinned");
    let prev = p["previous_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["token"].as_str().unwrap().to_owned())
        .collect();
    (p["key"].as_str().unwrap().to_owned(), prev)
}

/// The kinds of `author`'s entries on a channel, as `s` holds them.
fn kinds(s: &St, ch: &str, own: bool) -> Vec<String> {
    let (mut out, mut after) = (vec![], 0);
    loop {
        let v = s
            .get(&format!(
                "/v1/channels/{ch}/entries?after={after}&limit=1000"
            ))
            .expect("entries");
        let page = v["entries"].as_array().unwrap();
        let Some(last) = page.last() else {
            return out;
        };
        after = last["cursor"].as_u64().unwrap();
        out.extend(
            page.iter()
                .filter(|e| e["own"] == own)
                .map(|e| e["kind"].as_str().unwrap().to_owned()),
        );
    }
}

/// Both directions delivered: each holds all of the other's chain.
fn settled(a: &St, b: &St, ch: &str) -> bool {
    counts(a, ch)
        .zip(counts(b, ch))
        .is_some_and(|(x, y)| x.0 == y.1 && x.1 == y.0)
}

/// Sends one message, waiting while the process is a standby (on a shared
/// database a restarted process leads once the killed one's lease is over).
fn send(s: &St, ch: &str, text: &str) {
    until("a message accepted", 60, || {
        let r = s.post(
            &format!("/v1/channels/{ch}/messages"),
            json!({"text": text}),
        );
        assert!(matches!(r, Ok((201 | 503, _)) | Err(_)), "refused: {r:?}");
        matches!(r, Ok((201, _)))
    });
}

/// `s`'s export of `ch` verified offline with `--key` for each of `keys`.
fn verify_with(s: &St, ch: &str, root: &Path, keys: &[&str]) -> String {
    let f = root.join(format!("{}-{}.jsonl", s.name, keys.len()));
    s.cli(&["transcript", "export", ch, "-o", f.to_str().unwrap()]);
    let mut cmd = Command::new(BIN);
    cmd.args(["transcript", "verify", f.to_str().unwrap()]);
    for k in keys {
        cmd.args(["--key", k]);
    }
    let o = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "export of {} does not verify: {text}{}",
        s.name,
        String::from_utf8_lossy(&o.stderr)
    );
    text
}

#[test]
fn keys_rotate_under_traffic_loses_nothing_and_the_line_verifies_across_it() {
    let t = tempfile::tempdir().unwrap();
    let mut a = St::new(&t.path().join("a"), "alpha");
    let mut b = St::new(&t.path().join("b"), "bravo");
    a.serve(&[]);
    b.serve(&[]);
    let ch = pair(&a, &b);
    until("accepted at alpha", 20, || {
        a.get(&format!("/v1/channels/{ch}"))
            .is_some_and(|v| v["state"] == "active")
    });
    let old = a.token.clone();

    // Both ways under load; alpha rotates in the middle of it.
    let stop = Arc::new(AtomicBool::new(false));
    let (la, lb) = (load(&a, &ch, stop.clone()), load(&b, &ch, stop.clone()));
    std::thread::sleep(Duration::from_millis(300));
    let out = a.cli(&["keys", "rotate", "--json"]);
    let r: Value = serde_json::from_str(&out).unwrap();
    let new = r["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let rotated = r["channels"].as_array().unwrap();
    assert_eq!(rotated.len(), 1, "{out}");
    assert_eq!(rotated[0]["channel"], ch.as_str());
    assert!(rotated[0]["entry"].is_string(), "{out}");
    // Both loaders go on past the rotation before they stop.
    let (at_a, at_b) = (counts(&a, &ch).unwrap().0, counts(&b, &ch).unwrap().0);
    until("both ends acknowledge more after the rotation", 30, || {
        counts(&a, &ch).is_some_and(|(ours, _)| ours >= at_a + 3)
            && counts(&b, &ch).is_some_and(|(ours, _)| ours >= at_b + 3)
    });
    stop.store(true, Ordering::Relaxed);
    let (acked_a, acked_b) = (la.join().unwrap(), lb.join().unwrap());
    assert!(!acked_a.is_empty() && !acked_b.is_empty());
    until("both chains delivered", 30, || settled(&a, &b, &ch));

    // Every acknowledged message is at the other end, once.
    for (from, to, acked) in [(&a, &b, &acked_a), (&b, &a, &acked_b)] {
        for h in acked {
            let e = to.get(&format!("/v1/entries/{h}"));
            assert!(
                e.is_some(),
                "{h} acknowledged by {} is missing at {}",
                from.name,
                to.name
            );
        }
    }
    // No input was refused at either end: every batch and checkpoint after
    // the rotation verified under the key it should.
    for s in [&a, &b] {
        assert!(!any_alert(s, "bad-input"), "{} raised bad-input", s.name);
    }
    // Bravo re-pinned from the entry: alpha's new token, the old one retired.
    assert_eq!(pin(&b, "alpha"), (new.clone(), vec![old.clone()]));
    let theirs = kinds(&b, &ch, false);
    assert_eq!(
        theirs.iter().filter(|k| *k == "key_rotation").count(),
        1,
        "one KeyRotation from alpha"
    );
    // `keys list`: the old key, then the current one with its entry.
    let list: Value = serde_json::from_str(&a.cli(&["keys", "list", "--json"])).unwrap();
    let keys = list.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        (keys[0]["token"].as_str(), keys[0]["current"].as_bool()),
        (Some(old.as_str()), Some(false))
    );
    assert_eq!(
        (keys[1]["token"].as_str(), keys[1]["current"].as_bool()),
        (Some(new.as_str()), Some(true))
    );
    assert_eq!(keys[1]["rotations"][0]["channel"], ch.as_str());
    assert_eq!(a.cli(&["id"]).trim(), new);

    // Both restart: the new keys and the new pin hold.
    a.kill9();
    b.kill9();
    a.serve(&[]);
    b.serve(&[]);
    send(&a, &ch, "after the restart, from alpha");
    send(&b, &ch, "after the restart, from bravo");
    until("the line carries both ways after the restart", 30, || {
        settled(&a, &b, &ch)
    });
    assert_eq!(pin(&b, "alpha").0, new);

    // Both exports verify, bound to either of alpha's keys.
    for s in [&a, &b] {
        let out = verify_with(s, &ch, t.path(), &[&old, &b.token]);
        assert!(out.contains("rotated at seq"), "{out}");
        verify_with(s, &ch, t.path(), &[&new]);
    }
}

#[test]
fn a_rotation_cut_short_by_a_crash_is_finished_at_the_next_start() {
    let t = tempfile::tempdir().unwrap();
    let mut a = St::new(&t.path().join("a"), "alpha");
    let mut b = St::new(&t.path().join("b"), "bravo");
    b.serve(&[]);
    // Alpha dies after the new keys are in its key file and the first of
    // its two channels has its KeyRotation.
    a.serve(&[("HOTLINE_TEST_CRASH_IN_ROTATION", "1")]);
    let one = pair(&a, &b);
    let two = a
        .cli(&["channel", "open", "bravo"])
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    until("the second channel accepted", 20, || {
        station::run(&b.dir, &["channel", "accept", &two])
            .status
            .success()
    });
    for ch in [&one, &two] {
        until("active at alpha", 20, || {
            a.get(&format!("/v1/channels/{ch}"))
                .is_some_and(|v| v["state"] == "active")
        });
        send(&a, ch, "before");
    }
    let old = a.token.clone();
    let o = station::run(&a.dir, &["keys", "rotate"]);
    assert!(
        !o.status.success(),
        "the rotation was meant to be cut short"
    );
    until("alpha is down", 10, || a.get("/v1/health").is_none());

    // At the next start alpha finishes it: each channel gets exactly one
    // KeyRotation, and bravo re-pins.
    a.serve(&[]);
    let new = a.cli(&["id"]).trim().to_owned();
    assert_ne!(new, old);
    until("bravo re-pinned alpha", 30, || pin(&b, "alpha").0 == new);
    for ch in [&one, &two] {
        send(&a, ch, "after, from alpha");
        send(&b, ch, "after, from bravo");
        until("both chains delivered", 30, || settled(&a, &b, ch));
        let rotations = kinds(&a, ch, true)
            .iter()
            .filter(|k| *k == "key_rotation")
            .count();
        assert_eq!(rotations, 1, "one KeyRotation on {ch}");
        for s in [&a, &b] {
            verify_with(s, ch, t.path(), &[&old, &b.token]);
        }
    }
    assert_eq!(pin(&b, "alpha"), (new, vec![old]));
}
