//! `hotline witness init` and `serve` as a real process, driven over HTTP
//! as C2SP tlog-witness clients drive a witness: it cosigns a hotline log's
//! checkpoints while each new one is proven consistent with the last,
//! answers 409 with its size to a client behind, 422 to a proof that does
//! not hold, 403 to a checkpoint its author did not sign, and refuses a
//! second root at a size it cosigned with 409, keeping the evidence; its
//! state survives a restart.

#[path = "common/station.rs"]
mod station;
use station::{free_port, pair, run, until, St};

use hotline_core::tlog::{self, Log, WitnessVerifier};
use hotline_proto::SecretKeys;
use std::process::{Child, Command, Stdio};

fn keys(n: u8) -> SecretKeys {
    let mut b = [n; 96];
    b[64..].copy_from_slice(&[9u8; 32]);
    SecretKeys::from_bytes(&b).unwrap()
}

struct Served(Child);
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &std::path::Path, addr: &str) -> Served {
    let child = Command::new(station::BIN)
        .arg("--data")
        .arg(dir)
        .args(["witness", "serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until("the witness listens", 20, || {
        std::net::TcpStream::connect(addr).is_ok()
    });
    Served(child)
}

/// POSTs an add-checkpoint request: (status, body).
fn add(
    addr: &str,
    identity: Option<&str>,
    old: u64,
    proof: &[tlog::TreeHash],
    note: &[u8],
) -> (u16, String) {
    let mut body = format!("old {old}\n").into_bytes();
    for h in proof {
        body.extend_from_slice(format!("{}\n", tlog::b64(h)).as_bytes());
    }
    body.push(b'\n');
    body.extend_from_slice(note);
    let mut r = reqwest::blocking::Client::new()
        .post(format!("http://{addr}/add-checkpoint"))
        .body(body);
    if let Some(t) = identity {
        r = r.header("hotline-identity", t);
    }
    let r = r.send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn the_witness_cosigns_a_consistent_log_and_refuses_a_fork_with_evidence() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("witness");
    let (vkey, addr) = init(&dir, "witness.test");
    let v = WitnessVerifier::parse(&vkey).expect("a cosignature/v1 vkey");
    assert!(
        !run(
            &dir,
            &["witness", "init", "--name", "again", "--listen", &addr]
        )
        .status
        .success(),
        "a second init in the same directory is refused"
    );
    let mut w = serve(&dir, &addr);

    let author = keys(1);
    let token = author.identity().token();
    let origin = tlog::origin(&[4; 32], &author.identity());
    let mut log = Log::new();
    for i in 0..5 {
        log.push(format!("entry {i}").as_bytes());
    }
    let note = |l: &Log, n: u64| tlog::sign_checkpoint(&origin, n, l.root(n).unwrap(), &author);

    // First sight: the identity comes along, the origin must be its.
    let n3 = note(&log, 3);
    assert_eq!(
        add(&addr, None, 0, &[], &n3).0,
        404,
        "an unknown log without its author"
    );
    let stranger = keys(2).identity().token();
    assert_eq!(
        add(&addr, Some(&stranger), 0, &[], &n3).0,
        403,
        "another identity's origin"
    );
    let (s, cosig) = add(&addr, Some(&token), 0, &[], &n3);
    assert_eq!(s, 200, "{cosig}");
    let mut cosigned = n3.clone();
    cosigned.extend_from_slice(cosig.as_bytes());
    assert!(
        v.cosigned(&cosigned).is_some(),
        "the cosignature verifies under the printed vkey"
    );

    // A client behind is told the size; a proof that does not hold is 422.
    let n5 = note(&log, 5);
    let (s, size) = add(&addr, None, 0, &[], &n5);
    assert_eq!((s, size.as_str()), (409, "3\n"));
    let wrong = log.consistency(2, 5).unwrap();
    assert_eq!(add(&addr, None, 3, &wrong, &n5).0, 422);
    // Unsigned by the author: 403.
    let forged = tlog::sign_checkpoint(&origin, 5, log.root(5).unwrap(), &keys(2));
    assert_eq!(
        add(&addr, None, 3, &log.consistency(3, 5).unwrap(), &forged).0,
        403
    );
    // Consistent: cosigned.
    let (s, _) = add(&addr, None, 3, &log.consistency(3, 5).unwrap(), &n5);
    assert_eq!(s, 200);
    // The same checkpoint again is cosigned again (nothing changes).
    assert_eq!(add(&addr, None, 5, &[], &n5).0, 200);

    // Restarted, it remembers where the log stands.
    drop(w);
    w = serve(&dir, &addr);
    assert_eq!(add(&addr, None, 3, &[], &n5), (409, "5\n".into()));

    // A fork: another history of the same size, signed by the author.
    let mut fork = Log::new();
    for i in 0..5 {
        fork.push(format!("entry {}", if i == 4 { 99 } else { i }).as_bytes());
    }
    let (s, why) = add(&addr, None, 5, &[], &note(&fork, 5));
    assert_eq!(s, 409, "{why}");
    assert!(
        why.contains("equivocation") && why.contains(&origin),
        "{why}"
    );
    let ev: serde_json::Value = reqwest::blocking::get(format!("http://{addr}/hotline/evidence"))
        .unwrap()
        .json()
        .unwrap();
    let ev = ev.as_array().unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["origin"], origin.as_str());
    assert_eq!(ev[0]["size"], 5);
    assert_eq!(
        ev[0]["cosigned_root"],
        tlog::b64(&log.root(5).unwrap()).as_str()
    );
    assert_eq!(
        ev[0]["offered_root"],
        tlog::b64(&fork.root(5).unwrap()).as_str()
    );
    // The fork grown past it cannot be proven consistent either.
    fork.push(b"entry 5");
    let (s, _) = add(
        &addr,
        None,
        5,
        &fork.consistency(5, 6).unwrap(),
        &note(&fork, 6),
    );
    assert_eq!(s, 422);
    drop(w);
}

/// `witness init` in `dir`: its vkey and address.
fn init(dir: &std::path::Path, name: &str) -> (String, String) {
    let addr = format!("127.0.0.1:{}", free_port());
    let o = run(dir, &["witness", "init", "--name", name, "--listen", &addr]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let vkey = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    (vkey, addr)
}

/// A witness made and served in `dir`: its vkey, URL and process.
fn witness(dir: &std::path::Path, name: &str) -> (String, String, Served) {
    let (vkey, addr) = init(dir, name);
    let served = serve(dir, &addr);
    (vkey, format!("http://{addr}"), served)
}

/// `transcript verify FILE ARGS…`: (success, stdout and stderr).
fn verify(file: &std::path::Path, args: &[&str]) -> (bool, String) {
    let o = Command::new(station::BIN)
        .args(["transcript", "verify"])
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// How far witness `vkey` cosigned each author's log in `s`'s export of
/// `ch` (written to `file`), if it cosigned both.
fn witnessed(s: &St, ch: &str, file: &std::path::Path, vkey: &str) -> Option<String> {
    s.cli(&["transcript", "export", ch, "-o", file.to_str().unwrap()]);
    let (ok, out) = verify(file, &["--witness", vkey]);
    ok.then_some(out)
}

/// Whether `verify`'s output says the witness cosigned all of `author`'s
/// log ("author A up to seq N of N").
fn whole(out: &str, author: u8) -> bool {
    let Some(rest) = out.split(&format!("author {author} up to seq ")).nth(1) else {
        return false;
    };
    let mut words = rest.split([' ', ',', '(']);
    let (n, of, total) = (words.next(), words.next(), words.next());
    of == Some("of") && n.is_some() && n == total
}

#[test]
fn a_witness_cosigns_both_authors_logs_and_the_exports_carry_it() {
    let root = tempfile::tempdir().unwrap();
    let (vkey, url, _w) = witness(&root.path().join("witness"), "witness.test");
    let (other_vkey, _) = init(&root.path().join("other"), "other.test");
    let a = St::logging_every_second(root.path(), "alpha", &[]);
    let b = St::logging_every_second(root.path(), "bravo", &[]);

    // Refusals that say what to give and change nothing.
    let o = run(&a.dir, &["witness", "add", &url, "--key", "not-a-key"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("verifier key"));
    let o = run(&a.dir, &["witness", "add", "ftp://x", "--key", &vkey]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("http://"));
    assert!(a.cli(&["witness", "list"]).contains("no witness"));

    for s in [&a, &b] {
        let out = s.cli(&["witness", "add", &url, "--key", &vkey]);
        assert!(out.contains("witness.test"), "{out}");
    }
    let ch = pair(&a, &b);
    for i in 0..5 {
        a.cli(&["send", &ch, &format!("from alpha {i}")]);
        b.cli(&["send", &ch, &format!("from bravo {i}")]);
    }

    // Both exports come to carry the witness's cosignature of both logs,
    // and the counterpart's of each.
    for s in [&a, &b] {
        let file = root.path().join(format!("{}.jsonl", s.name));
        let mut out = String::new();
        until(
            "the witness's cosignatures reach the export",
            60,
            || match witnessed(s, &ch, &file, &vkey) {
                Some(o)
                    if whole(&o, 0)
                        && whole(&o, 1)
                        && o.matches("cosigned by the counterpart").count() >= 2 =>
                {
                    out = o;
                    true
                }
                _ => false,
            },
        );
        assert!(out.contains("witness    witness.test cosigned"), "{out}");
        // Another witness's key: it cosigned nothing here.
        let (ok, why) = verify(&file, &["--witness", &other_vkey]);
        assert!(!ok, "{why}");
        assert!(why.contains("other.test cosigned no checkpoint"), "{why}");
    }
    let list = a.cli(&["witness", "list"]);
    assert!(list.contains("last cosigned at"), "{list}");
    assert!(!station::open_alert(&a, "equivocation") && !station::open_alert(&b, "bad-input"));
}

#[test]
fn a_station_forking_its_log_is_refused_by_the_witness_with_evidence() {
    let root = tempfile::tempdir().unwrap();
    let (vkey, url, _w) = witness(&root.path().join("witness"), "witness.test");
    let a = St::logging_every_second(root.path(), "alpha", &[("HOTLINE_TEST_FORK_LOG", "1")]);
    let b = St::logging_every_second(root.path(), "bravo", &[]);
    a.cli(&["witness", "add", &url, "--key", &vkey]);
    let ch = pair(&a, &b);
    a.cli(&["send", &ch, "one"]);
    until("the witness refuses alpha's fork", 60, || {
        station::open_alert(&a, "equivocation")
    });
    let ev: serde_json::Value = reqwest::blocking::get(format!("{url}/hotline/evidence"))
        .unwrap()
        .json()
        .unwrap();
    let ev = ev.as_array().unwrap();
    let origin = format!("hotline/{ch}/");
    assert!(
        ev.iter()
            .any(|e| e["origin"].as_str().unwrap().starts_with(&origin)
                && e["cosigned_root"] != e["offered_root"]),
        "{ev:?}"
    );
    let alerts = a.cli(&["alerts", "--json"]);
    assert!(alerts.contains("fork of this station's log"), "{alerts}");
}
