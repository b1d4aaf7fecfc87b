//! `hotline transcript verify --key` and `hotline transcript compare` on
//! exports written in memory by the station machine: whose record a file is,
//! and whether the two ends' files tell the same story.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../../core/tests/common/ends.rs"]
mod ends;
use ends::Ends;

const BIN: &str = env!("CARGO_BIN_EXE_hotline");

fn hotline(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn save(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn verify(file: &Path, keys: &[&str]) -> Output {
    let mut args = vec!["transcript", "verify", file.to_str().unwrap()];
    for k in keys {
        args.extend(["--key", k]);
    }
    hotline(&args)
}

fn compare(a: &Path, b: &Path) -> Output {
    hotline(&[
        "transcript",
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ])
}

/// Alpha (seed 1) and bravo (seed 2) after traffic both ways.
fn busy_line(crossings: usize) -> Ends {
    let mut l = Ends::open([1, 2]);
    for i in 0..crossings {
        l.crossing(&format!("round {i}"));
    }
    l
}

#[test]
fn verify_with_two_keys_passes_only_the_transcript_those_stations_wrote() {
    let t = tempfile::tempdir().unwrap();
    let mut real = busy_line(2);
    let real_file = save(t.path(), "real.jsonl", &real.export(0));
    let mut forged = Ends::open([3, 4]);
    forged.message(0, "Ministry A to Ministry B: as agreed, we stand down.");
    let forged_file = save(t.path(), "forged.jsonl", &forged.export(0));
    let (ta, tb) = (real.token(0), real.token(1));
    let (fa, fb) = (real.fingerprint(0), real.fingerprint(1));

    let o = verify(&forged_file, &[&ta, &tb]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("is not an author of this transcript"),
        "{}",
        text(&o)
    );
    let o = verify(&forged_file, &[&fa, &fb]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    // Without keys the forgery is consistent, and the output says what was not checked.
    let o = verify(&forged_file, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("authors not checked against known keys"));
    assert!(text(&o).contains(&forged.fingerprint(0)));
    assert!(text(&o).contains(&forged.fingerprint(1)));

    for keys in [[&ta, &tb], [&fb, &fa], [&tb, &fa]] {
        let o = verify(&real_file, &[keys[0], keys[1]]);
        assert_eq!(code(&o), 0, "{keys:?}: {}", text(&o));
        assert!(text(&o).contains("exactly the two stations given"));
        assert!(text(&o).ends_with("ok: the transcript verifies\n"));
    }
    let o = verify(&real_file, &[&ta, &forged.token(1)]);
    assert_eq!(code(&o), 1, "{}", text(&o));
}

#[test]
fn verify_with_one_key_says_which_author_is_unchecked_and_refuses_bad_keys() {
    let t = tempfile::tempdir().unwrap();
    let mut real = busy_line(1);
    let file = save(t.path(), "real.jsonl", &real.export(1));
    let o = verify(&file, &[&real.token(1)]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "author 0 (fingerprint {}) not checked against a known key",
            real.fingerprint(0)
        )),
        "{}",
        text(&o)
    );
    let stranger = Ends::open([5, 6]).token(0);
    assert_eq!(code(&verify(&file, &[&stranger])), 1);
    // The same station twice is not two known keys.
    let o = verify(&file, &[&real.token(0), &real.fingerprint(0)]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("same station"), "{}", text(&o));
    // Usage errors, exit 2: a malformed key, a short fingerprint, a third key.
    for (keys, says) in [
        (vec!["alpha".to_owned()], "neither an identity token"),
        (vec![real.fingerprint(0)[..70].to_owned()], "has 59"),
        (
            vec![format!("{}x", real.token(0))],
            "not a valid identity token",
        ),
        (
            vec![real.token(0), real.token(1), stranger.clone()],
            "at most twice",
        ),
    ] {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let o = verify(&file, &keys);
        assert_eq!(code(&o), 2, "{keys:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{keys:?}: {}", text(&o));
    }
}

#[test]
fn verify_prints_each_checkpoints_signer_heads_and_time_and_reads_lines_strictly() {
    let t = tempfile::tempdir().unwrap();
    let mut l = busy_line(1);
    let export = l.export(0);
    let o = verify(&save(t.path(), "a.jsonl", &export), &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("checkpoint by author 1 (the counterpart), signed 2027-01-15T08:00:00"),
        "{out}"
    );
    assert!(
        out.contains("checkpoint by author 0 (the exporter, covering exactly this file)"),
        "{out}"
    );
    assert!(out.contains("author 1 head seq 2 "), "{out}");
    // A repeated key and an unknown field are faults, named with their line.
    let lines: Vec<&str> = export.lines().collect();
    let edit = |i: usize, insert: &str| -> String {
        let mut d: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        d[i] = d[i].replacen('{', &format!("{{{insert}"), 1);
        d.iter().map(|l| format!("{l}\n")).collect()
    };
    let dup = format!("\"hash\":\"{}\",", "0".repeat(64));
    let o = verify(&save(t.path(), "dup.jsonl", &edit(2, &dup)), &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("line 3: not JSON: duplicate key \"hash\""),
        "{}",
        text(&o)
    );
    let o = verify(
        &save(t.path(), "extra.jsonl", &edit(0, "\"signed_off\":true,")),
        &[],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("line 1: header: unknown field `signed_off`"),
        "{}",
        text(&o)
    );
}

#[test]
fn compare_agrees_on_both_ends_and_finds_a_cut_export_and_another_channel() {
    let t = tempfile::tempdir().unwrap();
    let mut full = busy_line(4);
    let a = save(t.path(), "alpha.jsonl", &full.export(0));
    let b = save(t.path(), "bravo.jsonl", &full.export(1));
    let o = compare(&a, &b);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("ok: the two exports agree up to the older checkpoint"));

    // Alpha's record cut before the last round and signed again an hour
    // later: consistent alone, refused beside bravo's.
    let mut cut = busy_line(3);
    cut.wait(3_600_000);
    let short = save(t.path(), "alpha-cut.jsonl", &cut.export(0));
    assert_eq!(code(&verify(&short, &[])), 0);
    let o = compare(&short, &b);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("author 0 signed a checkpoint covering author 0's entries up to seq 5"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("entries were cut"), "{}", text(&o));

    let mut other = Ends::open([3, 4]);
    other.message(1, "elsewhere");
    let elsewhere = save(t.path(), "other.jsonl", &other.export(1));
    let o = compare(&a, &elsewhere);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("different channels"), "{}", text(&o));
    // A file that does not verify is named.
    let broken = save(t.path(), "broken.jsonl", "{}\n");
    let o = compare(&a, &broken);
    assert_eq!(code(&o), 1);
    assert!(
        text(&o).contains("broken.jsonl does not verify"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_help_teaches_keys_and_compare() {
    let o = hotline(&["transcript", "verify", "--help"]);
    assert_eq!(code(&o), 0);
    let h = text(&o);
    for s in [
        "--key <TOKEN|FINGERPRINT>",
        "hotline id --fingerprint",
        "authors not checked against known keys",
        "Example:",
    ] {
        assert!(h.contains(s), "verify --help lacks {s:?}");
    }
    let o = hotline(&["transcript", "compare", "--help"]);
    assert_eq!(code(&o), 0);
    let h = text(&o);
    for s in ["one from each end", "older", "Example:"] {
        assert!(h.contains(s), "compare --help lacks {s:?}");
    }
}
