//! The courier transport with real processes: two stations with no network
//! link between them (neither has an address for the other) open a channel
//! and exchange 1,000 messages only through bundle files, taken in out of
//! order, one twice, one lost and made good by the next. Every message
//! arrives exactly once, every one is proven delivered, and both exports
//! verify and agree. A bundle sealed to another station, by a station not
//! pinned, or altered, is refused and changes nothing.

#[path = "common/station.rs"]
mod station;
use station::{compare_exports, run, until, St};

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const ROUNDS: usize = 10;
const PER_ROUND: usize = 50;

/// Pins the other station's key with no address: no link, ever.
fn pin_without_link(a: &St, b: &St) {
    a.cli(&["peer", "add", &b.name, "--key", &b.token]);
    let fp = b.cli(&["id", "--fingerprint"]);
    a.cli(&["peer", "verify", &b.name, "--fingerprint", fp.trim()]);
}

/// Pins `a` and `b` to each other with no link, and opens a channel from
/// `a` whose proposal and acceptance travel in bundles through `carry`.
fn open_by_courier(a: &St, b: &St, carry: &Path) -> String {
    pin_without_link(a, b);
    pin_without_link(b, a);
    let ch = a.cli(&["channel", "open", &b.name]).trim().to_owned();
    let (f, _) = export(a, &b.name, carry, "open.hlb");
    import(b, &f);
    b.cli(&["channel", "accept", &ch]);
    let (f, _) = export(b, &a.name, carry, "accept.hlb");
    import(a, &f);
    until("the channel is active at its opener", 10, || {
        a.get(&format!("/v1/channels/{ch}"))
            .is_some_and(|v| v["state"] == "active")
    });
    ch
}

/// `hotline bundle export PEER -o FILE`: the file and how many entries it carries.
fn export(s: &St, peer: &str, dir: &Path, name: &str) -> (PathBuf, u64) {
    let f = dir.join(name);
    let n = s.cli(&["bundle", "export", peer, "-o", f.to_str().unwrap()]);
    (f, n.trim().parse().expect("a count"))
}

/// `hotline bundle import FILE`: how many entries were new.
fn import(s: &St, f: &Path) -> u64 {
    s.cli(&["bundle", "import", f.to_str().unwrap()])
        .trim()
        .parse()
        .expect("a count")
}

/// Every entry `s` holds of `ch`, in commit order.
fn entries(s: &St, ch: &str) -> Vec<Value> {
    let mut out = vec![];
    let mut after = 0;
    loop {
        let v = s
            .get(&format!(
                "/v1/channels/{ch}/entries?after={after}&limit=1000"
            ))
            .unwrap();
        let page = v["entries"].as_array().unwrap().clone();
        let Some(last) = page.last() else { return out };
        after = last["cursor"].as_u64().unwrap();
        out.extend(page);
    }
}

/// The texts of the messages `s` holds from its peer on `ch`, in order.
fn received(s: &St, ch: &str) -> Vec<String> {
    entries(s, ch)
        .iter()
        .filter(|e| e["kind"] == "message" && e["own"] == false)
        .map(|e| e["body"]["text"].as_str().unwrap().to_owned())
        .collect()
}

fn send_many(s: &St, http: &reqwest::blocking::Client, ch: &str, round: usize) -> Vec<String> {
    (0..PER_ROUND)
        .map(|i| {
            let text = format!("{} round {round} message {i}", s.name);
            let r = http
                .post(format!("http://{}/v1/channels/{ch}/messages", s.api))
                .bearer_auth(&s.admin)
                .json(&json!({"text": text}))
                .send()
                .unwrap();
            assert_eq!(r.status().as_u16(), 201, "{text}");
            text
        })
        .collect()
}

#[test]
fn a_thousand_messages_cross_on_bundles_alone_out_of_order_doubled_and_lost() {
    let root = tempfile::tempdir().unwrap();
    let carry = root.path().join("usb-stick");
    std::fs::create_dir_all(&carry).unwrap();
    let mut a = St::new(&root.path().join("alpha"), "alpha");
    let mut b = St::new(&root.path().join("bravo"), "bravo");
    a.serve(&[]);
    b.serve(&[]);
    pin_without_link(&a, &b);
    pin_without_link(&b, &a);

    // The proposal and the acceptance travel by courier too.
    let ch = a.cli(&["channel", "open", "bravo"]).trim().to_owned();
    let (f, n) = export(&a, "bravo", &carry, "a0.hlb");
    assert_eq!(n, 1, "the Open");
    assert_eq!(import(&b, &f), 1);
    assert_eq!(import(&b, &f), 0, "twice adds nothing");
    b.cli(&["channel", "accept", &ch]);
    let (f, _) = export(&b, "alpha", &carry, "b0.hlb");
    assert_eq!(import(&a, &f), 1, "the Accept");
    until("alpha sees the channel active", 10, || {
        a.get(&format!("/v1/channels/{ch}"))
            .is_some_and(|v| v["state"] == "active")
    });

    let http = reqwest::blocking::Client::new();
    let (mut sent_a, mut sent_b) = (vec![], vec![]);
    let (mut held_a, mut held_b): (Vec<PathBuf>, Vec<PathBuf>) = (vec![], vec![]);
    for round in 1..=ROUNDS {
        sent_a.extend(send_many(&a, &http, &ch, round));
        sent_b.extend(send_many(&b, &http, &ch, round));
        let (fa, _) = export(&a, "bravo", &carry, &format!("a{round}.hlb"));
        let (fb, _) = export(&b, "alpha", &carry, &format!("b{round}.hlb"));
        // alpha -> bravo: a1 is held back and taken after a2; a3 is lost;
        // a4 is taken twice.
        match round {
            1 => held_a.push(fa),
            2 => {
                assert!(import(&b, &fa) >= PER_ROUND as u64);
                for old in held_a.drain(..) {
                    assert_eq!(import(&b, &old), 0, "an older bundle adds nothing");
                }
            }
            3 => {} // lost on the way
            4 => {
                assert!(
                    import(&b, &fa) >= 2 * PER_ROUND as u64,
                    "a4 makes good the lost a3"
                );
                assert_eq!(import(&b, &fa), 0, "the same bundle twice");
            }
            _ => {
                import(&b, &fa);
            }
        }
        // bravo -> alpha: b2 is lost, b1 comes again after b3, b6 twice.
        match round {
            2 => {}
            3 => {
                import(&a, &fb);
                held_b.push(carry.join("b1.hlb"));
                for old in held_b.drain(..) {
                    assert_eq!(import(&a, &old), 0);
                }
            }
            6 => {
                import(&a, &fb);
                assert_eq!(import(&a, &fb), 0);
            }
            _ => {
                import(&a, &fb);
            }
        }
    }
    assert_eq!(
        received(&b, &ch),
        sent_a,
        "every alpha message at bravo once, in order"
    );
    assert_eq!(
        received(&a, &ch),
        sent_b,
        "every bravo message at alpha once, in order"
    );
    // Every entry of the counterpart's is marked as come by courier, none of
    // a station's own.
    for s in [&a, &b] {
        for e in entries(s, &ch) {
            assert_eq!(e["own"] == false, e["courier"] == true, "{}: {e}", s.name);
        }
    }

    // One more bundle each way carries the last checkpoints: every message
    // of each side is then proven delivered.
    let (f, _) = export(&a, "bravo", &carry, "a-last.hlb");
    import(&b, &f);
    let (f, n) = export(&b, "alpha", &carry, "b-last.hlb");
    assert_eq!(
        n, 0,
        "bravo owes alpha nothing: alpha's checkpoint confirmed it all"
    );
    import(&a, &f);
    let (f, n) = export(&a, "bravo", &carry, "a-final.hlb");
    assert_eq!(n, 0, "and alpha owes bravo nothing");
    import(&b, &f);
    for s in [&a, &b] {
        let v = s.get(&format!("/v1/channels/{ch}")).unwrap();
        assert_eq!(
            v["delivery"]["queued"].as_u64().unwrap() + v["delivery"]["sent"].as_u64().unwrap(),
            0,
            "{}: {v}",
            s.name
        );
    }

    a.verify_export(&ch, root.path());
    b.verify_export(&ch, root.path());
    compare_exports(root.path(), "alpha", "bravo");

    // Refused whole, nothing changes: alpha's own bundle (sealed to bravo),
    // a bundle altered on the way, one from a station alpha has not pinned.
    let before = a.get(&format!("/v1/channels/{ch}")).unwrap()["entries"].clone();
    let mut altered = std::fs::read(carry.join("b5.hlb")).unwrap();
    let mid = altered.len() / 2;
    altered[mid] ^= 1;
    std::fs::write(carry.join("altered.hlb"), &altered).unwrap();
    let mut c = St::new(&root.path().join("charlie"), "charlie");
    c.serve(&[]);
    pin_without_link(&c, &a);
    let (stranger, _) = export(&c, "alpha", &carry, "c.hlb");
    for (f, says) in [
        (carry.join("a5.hlb"), "another station"),
        (carry.join("altered.hlb"), "altered"),
        (stranger, "not pinned"),
    ] {
        let o = run(&a.dir, &["bundle", "import", f.to_str().unwrap()]);
        assert!(!o.status.success(), "{f:?} taken");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{f:?}: {err}");
    }
    let after: Value = a.get(&format!("/v1/channels/{ch}")).unwrap()["entries"].clone();
    assert_eq!(before, after);
    a.kill9();
    b.kill9();
    c.kill9();
}

/// A bundle from a pinned peer that forks its own chain (a second, different
/// entry at a seq already held, properly signed and sealed) is caught as on
/// the link: refused, an `equivocation` alert, the evidence kept.
#[test]
fn a_fork_carried_in_a_bundle_is_equivocation() {
    use hotline_proto::link::{LinkMsg, LINK_VERSION};
    use hotline_proto::{Envelope, Signers};

    let root = tempfile::tempdir().unwrap();
    let carry = root.path().join("carry");
    std::fs::create_dir_all(&carry).unwrap();
    let mut a = St::new(&root.path().join("alpha"), "alpha");
    let mut b = St::new(&root.path().join("bravo"), "bravo");
    a.serve(&[]);
    b.serve(&[]);
    let ch = open_by_courier(&a, &b, &carry);
    a.cli(&["send", &ch, "told bravo this"]);
    let (f, n) = export(&a, "bravo", &carry, "a1.hlb");
    assert_eq!(n, 1, "bravo's checkpoint confirmed the Open");
    assert_eq!(import(&b, &f), 1);

    // Alpha's key signs another entry at seq 2, sealed from alpha's key.
    let keys = hotline_station::DataDir(a.dir.clone()).load_keys().unwrap();
    let exported = root.path().join("alpha-export.jsonl");
    a.cli(&[
        "transcript",
        "export",
        &ch,
        "-o",
        exported.to_str().unwrap(),
    ]);
    let line = std::fs::read_to_string(&exported)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["entry"]["seq"] == 2 && l["entry"]["author"] == 0)
        .expect("alpha's seq 2");
    let bytes = data_encoding::BASE64
        .decode(line["envelope"].as_str().unwrap().as_bytes())
        .unwrap();
    let mut entry = Envelope::decode(&bytes, bytes.len())
        .unwrap()
        .peek()
        .unwrap();
    entry.body = hotline_proto::Body::Message {
        precedence: hotline_proto::Precedence::Routine,
        subject: String::new(),
        text: "told bravo something else".into(),
        labels: vec![],
        reply_to: None,
    };
    let forged = Envelope::sign(&entry, keys.current()).bytes().to_vec();
    let mut contents = vec![];
    for m in [
        LinkMsg::Hello {
            version: LINK_VERSION,
            heads: vec![],
        },
        LinkMsg::Entries {
            channel: entry.channel,
            envelopes: vec![forged],
        },
    ] {
        let m = m.to_bytes();
        contents.extend_from_slice(&(m.len() as u32).to_be_bytes());
        contents.extend_from_slice(&m);
    }
    let bravo = hotline_proto::Identity::parse(&b.token).unwrap();
    let secret = hotline_link::StaticSecret::from_bytes(*keys.current().dh_secret());
    let sealed = hotline_link::courier::seal(&secret, &bravo.dh_pk, &contents);
    let f = carry.join("forked.hlb");
    std::fs::write(&f, sealed).unwrap();

    let o = run(&b.dir, &["bundle", "import", f.to_str().unwrap()]);
    assert!(!o.status.success(), "a fork was taken");
    assert!(station::open_alert(&b, "equivocation"));
    let ev = b.get("/v1/evidence").unwrap();
    assert_eq!(ev["evidence"].as_array().unwrap().len(), 1, "{ev}");
    // The held entry stands.
    let texts: Vec<String> = received(&b, &ch);
    assert_eq!(texts, ["told bravo this"]);
    a.kill9();
    b.kill9();
}

/// Bundles and the link on one channel: what one brings the other finds
/// held. Alpha writes while bravo is down, carries a bundle over, and
/// bravo comes back with its link up at the same time as it takes the
/// bundle in: every message once, no fault, both exports agree.
#[test]
fn bundles_and_the_link_mix_on_one_channel() {
    let root = tempfile::tempdir().unwrap();
    let carry = root.path().join("carry");
    std::fs::create_dir_all(&carry).unwrap();
    let mut a = St::new(&root.path().join("alpha"), "alpha");
    let mut b = St::new(&root.path().join("bravo"), "bravo");
    a.serve(&[]);
    b.serve(&[]);
    let ch = station::pair(&a, &b);
    let http = reqwest::blocking::Client::new();
    let mut sent = send_many(&a, &http, &ch, 1);
    until("the first round over the link", 20, || {
        received(&b, &ch).len() == PER_ROUND
    });
    // A bundle starts above what bravo's checkpoint confirmed, which comes
    // back after bravo holds the messages.
    until("the first round confirmed at alpha", 20, || {
        a.get(&format!("/v1/channels/{ch}"))
            .is_some_and(|v| v["delivery"]["delivered"].as_u64() == Some(1 + PER_ROUND as u64))
    });
    let (f, n) = export(&a, "bravo", &carry, "confirmed.hlb");
    assert_eq!(n, 0, "the link delivered and confirmed everything");
    assert_eq!(import(&b, &f), 0);

    b.kill9();
    sent.extend(send_many(&a, &http, &ch, 2));
    let (f, n) = export(&a, "bravo", &carry, "while-down.hlb");
    assert_eq!(n, PER_ROUND as u64, "what bravo has not confirmed");
    b.serve(&[]);
    // The link reconnects and resends while the bundle is taken in.
    let new = import(&b, &f);
    assert!(new <= PER_ROUND as u64);
    until("every message at bravo", 20, || {
        received(&b, &ch).len() == 2 * PER_ROUND
    });
    assert_eq!(received(&b, &ch), sent, "each once, in order");
    assert!(!station::any_alert(&b, "bad-input"));
    assert!(!station::any_alert(&b, "equivocation"));
    // The entries the bundle brought, and only those, are marked.
    let couriered = entries(&b, &ch)
        .iter()
        .filter(|e| e["courier"] == true)
        .count() as u64;
    assert_eq!(couriered, new);
    until("alpha's delivery confirmed", 20, || {
        a.get(&format!("/v1/channels/{ch}"))
            .is_some_and(|v| v["delivery"]["delivered"].as_u64() == Some(1 + 2 * PER_ROUND as u64))
    });
    a.verify_export(&ch, root.path());
    b.verify_export(&ch, root.path());
    compare_exports(root.path(), "alpha", "bravo");
    a.kill9();
    b.kill9();
}

/// Log checkpoints travel in bundles too: on bundles alone, each end's
/// export comes to carry both logs' notes, each cosigned by the other end.
#[test]
fn log_checkpoints_are_cosigned_across_bundles() {
    let root = tempfile::tempdir().unwrap();
    let carry = root.path().join("usb-stick");
    std::fs::create_dir_all(&carry).unwrap();
    let a = St::logging_every_second(root.path(), "alpha", &[]);
    let b = St::logging_every_second(root.path(), "bravo", &[]);
    let ch = open_by_courier(&a, &b, &carry);
    a.cli(&["send", &ch, "from alpha"]);
    b.cli(&["send", &ch, "from bravo"]);
    let cosigned_both = |s: &St| {
        let file = carry.join(format!("{}.jsonl", s.name));
        s.cli(&["transcript", "export", &ch, "-o", file.to_str().unwrap()]);
        let o = std::process::Command::new(station::BIN)
            .args(["transcript", "verify"])
            .arg(&file)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        o.status.success() && out.matches("cosigned by the counterpart").count() >= 2
    };
    let mut n = 0;
    until("both exports carry both logs cosigned", 60, || {
        // Each round trip carries the other end's newest notes and brings
        // back the cosignatures it added.
        n += 1;
        let (fa, _) = export(&a, "bravo", &carry, &format!("a{n}.hlb"));
        import(&b, &fa);
        let (fb, _) = export(&b, "alpha", &carry, &format!("b{n}.hlb"));
        import(&a, &fb);
        cosigned_both(&a) && cosigned_both(&b)
    });
    assert!(!station::open_alert(&a, "bad-input") && !station::open_alert(&b, "bad-input"));
}
