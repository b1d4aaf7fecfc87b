//! STIX bundles and a TAXII reader for the TAXII tests: station A authors
//! reports, station B serves them.
#![allow(dead_code)] // each test file uses part of it

use super::pair::{line, side, Side};
use hotline_proto::{Body, Hash, Marking, Terms};
use serde_json::{json, Value};

pub const T1: &str = "2024-05-01T10:00:00.000Z";
pub const T2: &str = "2024-05-02T10:00:00.000Z";
pub const TAXII: &str = "application/taxii+json;version=2.1";

/// A UUID (v4 form) made from a number, so ids are known in advance.
pub fn uuid(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}

pub fn indicator(n: u32, modified: &str) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--{}", uuid(n)),
        "created": T1,
        "modified": modified,
        "name": format!("bad host {n}"),
        "pattern": format!("[ipv4-addr:value = '10.{}.{}.{}']", n >> 16 & 255, n >> 8 & 255, n & 255),
        "pattern_type": "stix",
        "valid_from": T1,
    })
}

pub fn malware(n: u32) -> Value {
    json!({
        "type": "malware",
        "spec_version": "2.1",
        "id": format!("malware--{}", uuid(n)),
        "created": T1,
        "modified": T1,
        "name": format!("family {n}"),
        "is_family": true,
    })
}

pub fn relationship(n: u32, source: &Value, target: &Value) -> Value {
    json!({
        "type": "relationship",
        "spec_version": "2.1",
        "id": format!("relationship--{}", uuid(n)),
        "created": T1,
        "modified": T1,
        "relationship_type": "indicates",
        "source_ref": source["id"],
        "target_ref": target["id"],
    })
}

pub fn bundle(n: u32, objects: Vec<Value>) -> Vec<u8> {
    json!({"type": "bundle", "id": format!("bundle--{}", uuid(n)), "objects": objects})
        .to_string()
        .into_bytes()
}

pub fn report(content_type: &str, content: Vec<u8>) -> Body {
    Body::Report {
        title: "test report".into(),
        marking: Marking::Amber,
        rel_to: vec![],
        content_type: content_type.into(),
        content,
    }
}

/// `n` indicators, numbered from 1.
pub fn indicators(n: u32) -> Vec<Value> {
    (1..=n).map(|i| indicator(i, T1)).collect()
}

/// Two stations with an active channel whose entries may be 4 MiB (a
/// 2,500-object bundle is about 1 MiB).
pub async fn pair(root: &std::path::Path) -> (Side, Side, Hash) {
    let a = side(root, "a", None).await;
    let b = side(root, "b", None).await;
    let terms = Terms {
        max_entry_bytes: 4 * 1024 * 1024,
        ..Terms::default()
    };
    let ch = line(&a, &b, terms).await;
    (a, b, ch)
}

/// A authors reports; returns once B has committed them all (B's book
/// knows an entry a moment before its commit is readable, and TAXII serves
/// only what is in storage).
pub async fn send(a: &Side, b: &Side, ch: &Hash, bodies: Vec<Body>) {
    let (ea, eb) = (a.engine(), b.engine());
    let mut last = None;
    for body in bodies {
        let v = ea.author(ch, body, "a").await.unwrap();
        last = Some((v.entry().author, v.entry().seq));
    }
    let Some((author, seq)) = last else { return };
    let ch = *ch;
    for _ in 0..500 {
        let stored = eb
            .db()
            .read(move |s| s.entry_at(&ch, author, seq))
            .await
            .unwrap();
        if stored.is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("B did not store the reports within 10 s");
}

/// B's TAXII base URL.
pub fn base(b: &Side) -> String {
    format!("http://{}/taxii2/", b.st.as_ref().unwrap().api_addr())
}
