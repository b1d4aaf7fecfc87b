//! `hotline audit export` and `audit verify` against a real station: the
//! export is the whole log and ends in a head the station signed; verify
//! catches a file cut short, without its head, or with a line changed, and
//! with `--key` checks who signed.

use std::path::Path;
use std::process::{Command, Output};

#[path = "common/station.rs"]
mod station;
use station::St;

fn verify(file: &Path, key: Option<&str>) -> Output {
    let mut c = Command::new(station::BIN);
    c.args(["audit", "verify", file.to_str().unwrap()]);
    if let Some(k) = key {
        c.args(["--key", k]);
    }
    c.output().unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn export(st: &St, file: &Path) -> Vec<String> {
    st.cli(&["audit", "export", "-o", file.to_str().unwrap()]);
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write(file: &Path, lines: &[String]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(file, text).unwrap();
}

#[test]
fn an_export_ends_in_a_signed_head_and_verify_checks_it_and_its_signer() {
    let t = tempfile::tempdir().unwrap();
    let mut a = St::new(&t.path().join("a"), "a");
    a.serve(&[]);
    for n in 0..3 {
        a.cli(&["user", "add", &format!("u{n}"), "--role", "auditor"]);
    }
    let f = t.path().join("audit.jsonl");
    let lines = export(&a, &f);
    assert!(lines.last().unwrap().starts_with("{\"head\":"), "{lines:?}");
    let fp = a.cli(&["id", "--fingerprint"]).trim().to_owned();

    // Intact, signer not given: it verifies, names the signer, says it was not checked.
    let o = verify(&f, None);
    assert!(o.status.success(), "{}", out(&o));
    let said = out(&o);
    assert!(
        said.contains(&format!(
            "ok: {} audit lines, hash chain intact",
            lines.len() - 1
        )),
        "{said}"
    );
    assert!(said.contains(&fp), "{said}");
    assert!(said.contains("not checked against a known key"), "{said}");
    // With the station's token or fingerprint: checked.
    for k in [a.token.as_str(), fp.as_str()] {
        let o = verify(&f, Some(k));
        assert!(o.status.success(), "--key {k}: {}", out(&o));
        assert!(out(&o).contains("the signer is the station given with --key"));
    }
    // Another station's key: exit 1, naming who did sign.
    let b = St::new(&t.path().join("b"), "b");
    let o = verify(&f, Some(&b.token));
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains(&fp), "{}", out(&o));
    // Not a key at all: bad usage.
    assert_eq!(verify(&f, Some("nonsense")).status.code(), Some(2));

    // Tampered files: each fails with exit 1, whatever key is given.
    let n = lines.len();
    let head = lines[n - 1].clone();
    let cut_tail = [&lines[..n - 3], &[head.clone()][..]].concat();
    let no_head = lines[..n - 1].to_vec();
    let cut_and_headless = lines[..n - 3].to_vec();
    let mut edited = lines.clone();
    edited[1] = edited[1].replacen("\"admin\"", "\"nobody\"", 1);
    assert_ne!(edited[1], lines[1]);
    for (what, bad) in [
        ("tail cut, head kept", cut_tail),
        ("head dropped", no_head),
        ("tail and head cut", cut_and_headless),
        ("a line edited", edited),
    ] {
        let g = t.path().join("bad.jsonl");
        write(&g, &bad);
        for key in [None, Some(a.token.as_str())] {
            let o = verify(&g, key);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{what}, --key {key:?}: {}",
                out(&o)
            );
        }
    }
}

/// More than 10,000 lines, put in through the store for speed: the export
/// holds every one and verifies.
#[test]
fn audit_export_returns_the_whole_log_past_ten_thousand_lines() {
    use hotline_store::{AuditRow, SqliteStore, Store, WriteOp};
    let t = tempfile::tempdir().unwrap();
    // This test writes the SQLite file itself: SQLite even where the
    // station tests run on PostgreSQL (HOTLINE_TEST_PG).
    let mut a = St::new_with(&t.path().join("a"), "a", &["--store", "sqlite"]);
    let keys = hotline_station::DataDir(a.dir.clone()).load_keys().unwrap();
    {
        let mut s = SqliteStore::open(&a.dir.join("hotline.db")).unwrap();
        let mut head = hotline_proto::AuditHead {
            count: s.audit_count().unwrap(),
            hash: s.last_audit().unwrap().unwrap().hash,
        };
        let mut ops = Vec::new();
        for i in 0..10_050u64 {
            let target = format!("u{i}");
            let hash =
                hotline_core::audit::hash(&head.hash, i, "admin", "POST users", &target, "201");
            let line = AuditRow {
                id: 0,
                at: i,
                user: "admin".into(),
                action: "POST users".into(),
                target,
                result: "201".into(),
                prev: head.hash,
                hash,
            };
            head = hotline_proto::AuditHead {
                count: head.count + 1,
                hash,
            };
            ops.push(WriteOp::Audit(line));
        }
        ops.push(WriteOp::AuditHead(
            head.sign(hotline_proto::Signers::current(&keys)),
        ));
        s.write(&ops).unwrap();
    }
    a.serve(&[]);
    let f = t.path().join("audit.jsonl");
    let lines = export(&a, &f);
    let users = lines
        .iter()
        .filter(|l| l.contains("\"action\":\"POST users\""))
        .count();
    assert_eq!(users, 10_050);
    let o = verify(&f, Some(&a.token));
    assert!(o.status.success(), "{}", out(&o));
}
