//! A real TAXII 2.1 client against a live station: A sends a report of
//! 2,500 indicators marked TLP:AMBER (2,501 objects with the marking
//! definition), and OASIS's taxii2-client (`tests/taxii/client.py`) reads
//! it from B's API address, checking every object with stix2-validator.
//! Runs when `HOTLINE_VENV_PYTHON` names a Python that has both (`.ci/run`
//! sets it); skipped with a note otherwise.

mod common;

use common::taxii::*;
use hotline_core::stix::{apply_tlp, validate_bundle};
use hotline_proto::Marking;
use std::path::PathBuf;

#[tokio::test]
async fn taxii2_client_reads_a_received_report_in_pages() {
    let Some(python) = std::env::var_os("HOTLINE_VENV_PYTHON").filter(|p| !p.is_empty()) else {
        println!(
            "note: HOTLINE_VENV_PYTHON is not set; taxii2-client was not run against a live \
             station (.ci/run sets it)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, ch) = pair(dir.path()).await;
    let valid = validate_bundle(&bundle(1, indicators(2500))).unwrap();
    let marked = apply_tlp(valid, Marking::Amber).to_vec();
    send(
        &a,
        &b,
        &ch,
        vec![report(hotline_core::stix::MEDIA_TYPE, marked)],
    )
    .await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/taxii/client.py");
    let out = tokio::process::Command::new(&python)
        .arg(script)
        .arg(base(&b))
        .arg("admin")
        .arg(&b.id.admin_token)
        .arg("2501")
        .output()
        .await
        .expect("HOTLINE_VENV_PYTHON runs");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "taxii2-client failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    a.stop().await;
    b.stop().await;
}
