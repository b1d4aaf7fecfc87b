//! The restore drill: a backup taken under load, the station lost after
//! acknowledging more, restored at another address from the older backup.
//! The line resumes, nothing acknowledged is lost, no sequence number is
//! written twice, and both exports verify and agree.

use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[path = "common/station.rs"]
mod station;
use station::{any_alert, counts, free_port, load, open_alert, pair, run, until, St};

#[test]
fn a_station_restored_from_an_older_backup_takes_its_chain_back_and_never_forks() {
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

    // Both ways under load; the backup is taken in the middle of it, and
    // alpha acknowledges more after it.
    let stop = Arc::new(AtomicBool::new(false));
    let (la, lb) = (load(&a, &ch, stop.clone()), load(&b, &ch, stop.clone()));
    std::thread::sleep(Duration::from_millis(300));
    let backup = t.path().join("alpha.backup");
    let out = a.cli(&["backup", "-o", backup.to_str().unwrap(), "--include-keys"]);
    assert!(out.contains("holds the secret key"), "{out}");
    let at_backup = counts(&a, &ch).unwrap().0;
    let at_backup_b = counts(&b, &ch).unwrap().0;
    until("alpha acknowledges more after the backup", 30, || {
        counts(&a, &ch).is_some_and(|(ours, _)| ours >= at_backup + 20)
            && counts(&b, &ch).is_some_and(|(ours, _)| ours > at_backup_b)
    });
    stop.store(true, Ordering::Relaxed);
    let acked_a = la.join().unwrap();
    let acked_b = lb.join().unwrap();
    assert!(!acked_a.is_empty() && !acked_b.is_empty());
    until("bravo holds all of alpha's chain", 30, || {
        counts(&a, &ch)
            .zip(counts(&b, &ch))
            .is_some_and(|(x, y)| x.0 == y.1)
    });
    let alpha_chain = counts(&a, &ch).unwrap().0;

    // Alpha is lost with its disk; bravo goes on writing.
    a.kill9();
    std::fs::remove_dir_all(&a.dir).unwrap();
    for i in 0..5 {
        let (s, _) = b
            .post(
                &format!("/v1/channels/{ch}/messages"),
                json!({"text": format!("while away {i}")}),
            )
            .unwrap();
        assert_eq!(s, 201);
    }

    // A restore never overwrites a station's data.
    let o = run(&b.dir, &["restore", backup.to_str().unwrap()]);
    assert_ne!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));

    // Restored at another link address and API port.
    let dir = t.path().join("a2");
    let listen = format!("127.0.0.1:{}", free_port());
    let api = format!("127.0.0.1:{}", free_port());
    let o = run(
        &dir,
        &[
            "restore",
            backup.to_str().unwrap(),
            "--listen",
            &listen,
            "--api",
            &api,
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut a2 = St {
        name: "alpha".into(),
        dir: dir.clone(),
        api,
        listen: listen.clone(),
        token: a.token.clone(),
        admin: std::fs::read_to_string(dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_owned(),
        child: None,
        log: t.path().join("a2.log"),
    };
    // Bravo is away when the restored alpha starts: alpha has not heard
    // what bravo holds of its chain, and writes nothing.
    b.kill9();
    a2.serve(&[]);
    let (s, v) = a2
        .post(
            &format!("/v1/channels/{ch}/messages"),
            json!({"text": "too early"}),
        )
        .unwrap();
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or("")
            .contains("says what it holds of ours"),
        "{v}"
    );
    assert!(
        counts(&a2, &ch).unwrap().0 < alpha_chain,
        "the backup is older"
    );
    // Bravo is back. Alpha dials it (one connection carries both ways, so
    // bravo need not know alpha's new address), learns from bravo's Hello
    // that bravo holds more of its chain, and takes the rest back.
    b.serve(&[]);
    until("own-chain-behind raised at the restored alpha", 30, || {
        any_alert(&a2, "own-chain-behind")
    });
    b.cli(&["peer", "set", "alpha", "--addr", &listen]);
    until("alpha's chain back at alpha", 30, || {
        counts(&a2, &ch).is_some_and(|(ours, _)| ours == alpha_chain)
    });
    until("the alert clears", 10, || {
        !open_alert(&a2, "own-chain-behind")
    });
    let (s, v) = a2
        .post(
            &format!("/v1/channels/{ch}/messages"),
            json!({"text": "back"}),
        )
        .unwrap();
    assert_eq!(s, 201, "{v}");
    let back = v["hash"].as_str().unwrap().to_owned();
    until("both ends agree", 30, || {
        counts(&a2, &ch)
            .zip(counts(&b, &ch))
            .is_some_and(|(x, y)| x.0 == y.1 && x.1 == y.0)
    });
    assert_eq!(counts(&a2, &ch).unwrap().0, alpha_chain + 1);

    // Nothing acknowledged is lost, at either end.
    for h in acked_a.iter().chain(&acked_b).chain([&back]) {
        for s in [&a2, &b] {
            let v = s.get(&format!("/v1/entries/{h}"));
            assert!(
                v.is_some_and(|v| v["hash"] == h.as_str()),
                "{h} at {}",
                s.name
            );
        }
    }
    // No sequence number written twice: no evidence anywhere, and the exports agree.
    for s in [&a2, &b] {
        let ev = s.get("/v1/evidence").unwrap();
        assert_eq!(ev["evidence"], json!([]), "{ev}");
        assert!(!open_alert(s, "equivocation"));
    }
    a2.verify_export(&ch, t.path());
    b.verify_export(&ch, t.path());
    station::compare_exports(t.path(), "alpha", "bravo");
    a2.kill9();
    b.kill9();
}
