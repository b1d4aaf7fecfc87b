//! hotline's STIX 2.1 validator against the corpus in `tests/stix/cases`,
//! and against OASIS's reference validator (`stix2-validator`) on the same
//! corpus when `HOTLINE_VENV_PYTHON` names a Python that has it (`.ci/run`
//! sets it up). The case's file name says what both should answer; see
//! `tests/stix/crosscheck.py` for the `stricter-` cases.

use hotline_core::stix::validate_bundle;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every case: (file name, bytes), sorted by name.
fn cases() -> Vec<(String, Vec<u8>)> {
    let dir = root().join("tests/stix/cases");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// What hotline should answer: only `valid-` cases pass.
fn hotline_should_accept(name: &str) -> bool {
    name.starts_with("valid-")
}

#[test]
fn hotline_answers_each_case_as_its_name_says() {
    let cases = cases();
    assert!(cases.len() >= 20, "the corpus has {} cases", cases.len());
    for (name, bytes) in &cases {
        let got = validate_bundle(bytes);
        assert_eq!(
            got.is_ok(),
            hotline_should_accept(name),
            "{name}: {:?}",
            got.err()
        );
        if let Err(e) = got {
            // Every refusal names what is wrong, never a Debug dump.
            assert!(!e.to_string().contains("Object {"), "{name}: {e}");
        }
    }
    // The case the issue names: a missing pattern is called so.
    let (_, missing) = cases
        .iter()
        .find(|(n, _)| n == "invalid-missing-pattern.json")
        .unwrap();
    let e = validate_bundle(missing).unwrap_err().to_string();
    assert!(
        e.contains("\"pattern\"") && e.contains("indicator--"),
        "{e}"
    );
}

#[test]
fn hotline_and_the_reference_validator_agree() {
    let Some(python) = std::env::var_os("HOTLINE_VENV_PYTHON").filter(|p| !p.is_empty()) else {
        println!(
            "note: HOTLINE_VENV_PYTHON is not set; the cross-check against stix2-validator \
             was skipped (.ci/run sets it)"
        );
        return;
    };
    let out = Command::new(&python)
        .arg(root().join("tests/stix/crosscheck.py"))
        .arg(root().join("tests/stix/cases"))
        .output()
        .expect("HOTLINE_VENV_PYTHON runs");
    assert!(
        out.status.success(),
        "the reference validator's verdicts do not match the case names:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (mut agree, mut stricter) = (0, 0);
    for (name, bytes) in cases() {
        let reference = verdicts[&name]["valid"]
            .as_bool()
            .unwrap_or_else(|| panic!("no verdict for {name}"));
        let ours = validate_bundle(&bytes);
        if name.starts_with("stricter-") {
            assert!(
                reference && ours.is_err(),
                "{name}: reference {reference}, hotline {ours:?}"
            );
            stricter += 1;
        } else {
            assert_eq!(
                ours.is_ok(),
                reference,
                "{name}: hotline {:?}, reference {}",
                ours.err(),
                verdicts[&name]
            );
            agree += 1;
        }
    }
    println!(
        "cross-check: {agree} cases agree with stix2-validator, {stricter} stricter by design"
    );
}
