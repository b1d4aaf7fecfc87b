//! `hotline notice` and `channel open --notice-types` with real processes:
//! a shipped type and a station's own (DATA/schemas/NAME/VERSION.json, which
//! the counterpart does not have: the schema travels in the terms); a notice
//! from a file and from standard input; refusals that say why and write
//! nothing; both exports verify with the notices in them.

#[path = "common/station.rs"]
mod station;
use serde_json::{json, Value};
use station::{compare_exports, run, until, St, BIN};
use std::io::Write;
use std::process::{Command, Stdio};

const OWN_SCHEMA: &str = r#"{
  "title": "Ship movement",
  "type": "object",
  "required": ["vessel", "course"],
  "additionalProperties": false,
  "properties": {
    "vessel": {"type": "string", "title": "Vessel"},
    "course": {"type": "integer", "minimum": 0, "maximum": 359, "title": "Course"}
  }
}"#;

fn report(lat: f64) -> Value {
    json!({
        "reporter": "Northern command",
        "what": "Shelling of a border post",
        "where": {"lat": lat, "lon": 37.9},
        "when": {"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T10:20:00Z"},
        "reference": "NC-2026-0412",
    })
}

/// Notices `s` holds on `ch`: (own, type, notice).
fn notices(s: &St, ch: &str) -> Vec<(bool, String, Value)> {
    let v = s
        .get(&format!("/v1/channels/{ch}/entries"))
        .expect("entries");
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "notice")
        .map(|e| {
            (
                e["own"].as_bool().unwrap(),
                e["body"]["type"].as_str().unwrap().to_owned(),
                e["body"]["notice"].clone(),
            )
        })
        .collect()
}

#[test]
fn notices_of_a_shipped_and_a_stations_own_type_cross_and_verify() {
    let root = tempfile::tempdir().unwrap();
    let mut a = St::new(&root.path().join("alpha"), "alpha");
    let mut b = St::new(&root.path().join("bravo"), "bravo");
    let own = a.dir.join("schemas/ship-movement");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(own.join("1.json"), OWN_SCHEMA).unwrap();
    a.serve(&[]);
    b.serve(&[]);
    a.cli(&[
        "peer", "add", "bravo", "--key", &b.token, "--addr", &b.listen,
    ]);
    b.cli(&[
        "peer", "add", "alpha", "--key", &a.token, "--addr", &a.listen,
    ]);

    // A type nobody has is refused at open, naming where a station's own go.
    let o = run(
        &a.dir,
        &["channel", "open", "bravo", "--notice-types", "no-such/1"],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no-such/1") && err.contains("schemas"),
        "{err}"
    );

    let ch = a
        .cli(&[
            "channel",
            "open",
            "bravo",
            "--notice-types",
            "incident-report/1,ship-movement/1",
        ])
        .trim()
        .to_owned();
    until("bravo accepts", 20, || {
        run(&b.dir, &["channel", "accept", &ch]).status.success()
    });
    let terms = b.get(&format!("/v1/channels/{ch}")).unwrap()["terms"].clone();
    let names: Vec<&str> = terms["notice_types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["incident-report/1", "ship-movement/1"]);

    // From a file.
    let file = root.path().join("report.json");
    std::fs::write(&file, report(48.5).to_string()).unwrap();
    let hash = a.cli(&[
        "notice",
        &ch,
        "--type",
        "incident-report/1",
        file.to_str().unwrap(),
    ]);
    assert_eq!(hash.trim().len(), 64, "prints the entry hash: {hash}");

    // From standard input, at bravo, of alpha's own type.
    let mut child = Command::new(BIN)
        .arg("--data")
        .arg(&b.dir)
        .args(["notice", &ch, "--type", "ship-movement/1", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"vessel": "Aurora", "course": 270}"#)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // Refused, with the reason, and nothing written: against the schema,
    // a type not agreed, not JSON at all.
    std::fs::write(&file, report(91.0).to_string()).unwrap();
    let not_json = root.path().join("bad.json");
    std::fs::write(&not_json, "{\"reporter\": ").unwrap();
    for (args, says) in [
        (
            vec!["--type", "incident-report/1", file.to_str().unwrap()],
            "incident-report/1",
        ),
        (
            vec!["--type", "launch-notification/1", file.to_str().unwrap()],
            "not one of this channel's agreed notice types",
        ),
        (
            vec!["--type", "incident-report/1", not_json.to_str().unwrap()],
            "not JSON",
        ),
    ] {
        let mut all = vec!["notice", ch.as_str()];
        all.extend(args);
        let o = run(&a.dir, &all);
        assert!(!o.status.success(), "{all:?} succeeded");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{all:?}: {err}");
    }

    until("both notices at both ends", 20, || {
        notices(&a, &ch).len() == 2 && notices(&b, &ch).len() == 2
    });
    let at_b = notices(&b, &ch);
    assert_eq!(
        at_b[0],
        (false, "incident-report/1".into(), report(48.5)),
        "alpha's notice as bravo holds it"
    );
    assert_eq!(
        at_b[1],
        (
            true,
            "ship-movement/1".into(),
            json!({"vessel": "Aurora", "course": 270})
        )
    );

    // bravo's inbox lists alpha's notice with its type and content.
    let inbox = b.cli(&["inbox"]);
    assert!(
        inbox.contains("NOTICE")
            && inbox.contains("incident-report/1")
            && inbox.contains("NC-2026-0412"),
        "{inbox}"
    );

    a.verify_export(&ch, root.path());
    b.verify_export(&ch, root.path());
    compare_exports(root.path(), "alpha", "bravo");
    let export = std::fs::read_to_string(root.path().join("bravo.jsonl")).unwrap();
    assert_eq!(
        export
            .lines()
            .filter(|l| l.contains("\"kind\":\"notice\""))
            .count(),
        2,
        "the export carries both notices"
    );
    a.kill9();
    b.kill9();
}
