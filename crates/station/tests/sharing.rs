//! Partner sharing among three stations in one process (SPEC §7): alpha
//! shares with bravo (UKR) and charlie (GBR). The release guard, TLP:RED
//! held until an explicit release, pause and resume with and without
//! backfill, what each partner received, and the audit log.

use hotline_core::machine::Report;
use hotline_proto::{hex, Body, Hash, Kind, Marking, Terms};
use hotline_station::engine::Engine;
use std::time::Duration;

mod common;
use common::pair::*;

fn report(title: &str, rel_to: &[&str], marking: Marking) -> Report {
    Report::new(
        title.into(),
        marking,
        rel_to.iter().map(|s| s.to_string()).collect(),
        "text/markdown".into(),
        format!("# {title}").into_bytes(),
        hotline_station::engine::now_ms(),
        "chief".into(),
    )
}

/// Titles of the reports a station received on a channel, in chain order.
async fn received(e: &Engine, ch: &Hash) -> Vec<String> {
    let id = *ch;
    let rows = e
        .db()
        .read(move |s| s.entries_after(&id, 0, 10_000))
        .await
        .unwrap();
    rows.iter()
        .filter_map(|r| {
            let env = hotline_proto::Envelope::decode(&r.envelope, 1 << 21).ok()?;
            match env.peek().ok()?.body {
                Body::Report { title, .. } => Some(title),
                _ => None,
            }
        })
        .collect()
}

async fn until_received(e: &Engine, ch: &Hash, title: &str) {
    for _ in 0..200 {
        if received(e, ch).await.iter().any(|t| t == title) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{title} did not arrive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_release_guard_red_and_pause_with_and_without_backfill() {
    let root = tempfile::tempdir().unwrap();
    let a = side(root.path(), "a", None).await;
    let b = side(root.path(), "b", None).await;
    let c = side(root.path(), "c", None).await;
    let ab = link(&a, "bravo", Some("UKR"), &b, "alpha", Terms::default()).await;
    let ac = link(&a, "charlie", Some("GBR"), &c, "alpha", Terms::default()).await;
    let (ea, eb, ec) = (a.engine(), b.engine(), c.engine());

    let r1 = ea
        .publish(report("R1", &["UKR", "GBR"], Marking::Amber))
        .await
        .unwrap();
    assert_eq!(r1.released_to, ["bravo", "charlie"]);
    let r2 = ea
        .publish(report("R2", &["GBR"], Marking::Green))
        .await
        .unwrap();
    assert_eq!(r2.released_to, ["charlie"]);
    assert_eq!(r2.withheld.len(), 1);
    assert_eq!(r2.withheld[0].0, "bravo");
    // The same report twice is refused.
    assert!(ea
        .publish(report("R2", &["GBR"], Marking::Green))
        .await
        .is_err());

    // TLP:RED goes to no one until an explicit release inside rel_to.
    let red = ea
        .publish(report("RED", &["UKR"], Marking::Red))
        .await
        .unwrap();
    assert!(red.released_to.is_empty());
    let err = ea
        .release_report(&red.id, "charlie", "chief")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("rel_to"), "{err}");
    ea.release_report(&red.id, "bravo", "chief").await.unwrap();

    until_received(&ec, &ac, "R2").await;
    until_received(&eb, &ab, "RED").await;
    assert_eq!(
        received(&eb, &ab).await,
        ["R1", "RED"],
        "R2 never reaches UKR"
    );
    assert_eq!(
        received(&ec, &ac).await,
        ["R1", "R2"],
        "RED never reaches GBR"
    );

    // Paused: held, then released in publication order on a backfill.
    ea.pause_sharing("bravo", "review", "chief").await.unwrap();
    assert!(ea.pause_sharing("bravo", "again", "chief").await.is_err());
    let r3 = ea
        .publish(report("R3", &["UKR", "GBR"], Marking::Amber))
        .await
        .unwrap();
    let r4 = ea
        .publish(report("R4", &["UKR", "GBR"], Marking::Amber))
        .await
        .unwrap();
    assert_eq!(
        (r3.held_for.clone(), r3.released_to.clone()),
        (vec!["bravo".to_string()], vec!["charlie".to_string()])
    );
    until_received(&ec, &ac, "R4").await;
    ea.resume_sharing("bravo", true, "chief").await.unwrap();
    until_received(&eb, &ab, "R4").await;
    assert_eq!(received(&eb, &ab).await, ["R1", "RED", "R3", "R4"]);

    // Paused again: held, then dropped by a resume without backfill.
    ea.pause_sharing("bravo", "again", "chief").await.unwrap();
    let r5 = ea
        .publish(report("R5", &["UKR", "GBR"], Marking::Amber))
        .await
        .unwrap();
    ea.resume_sharing("bravo", false, "chief").await.unwrap();
    assert!(
        ea.resume_sharing("bravo", false, "chief").await.is_err(),
        "not paused"
    );
    ea.publish(report("R7", &["UKR"], Marking::Amber))
        .await
        .unwrap();
    until_received(&eb, &ab, "R7").await;
    assert_eq!(received(&eb, &ab).await, ["R1", "RED", "R3", "R4", "R7"]);
    // Bravo's transcript holds both sharing entries.
    let kinds: Vec<Kind> = {
        let c = eb.channel(&ab).unwrap();
        let c = c.lock().await;
        (1..=c.book().len(0))
            .map(|s| c.book().meta(0, s).unwrap().kind)
            .collect()
    };
    assert!(kinds.contains(&Kind::SharingPause) && kinds.contains(&Kind::SharingResume));

    // Dispositions per report and partner, and the audit log names them.
    let disp = ea.db().read(|s| s.dispositions(None)).await.unwrap();
    let bravo = ea.peer_by_name("bravo").unwrap().row.id;
    let of = |id: &Hash| {
        disp.iter()
            .find(|d| d.report == *id && d.peer_id == bravo)
            .map(|d| d.disposition.clone())
            .unwrap()
    };
    assert_eq!(of(&r1.id), "released");
    assert_eq!(of(&r2.id), "withheld-rel");
    assert_eq!(of(&red.id), "released");
    assert_eq!(of(&r3.id), "released");
    assert_eq!(of(&r4.id), "released");
    assert_eq!(of(&r5.id), "dropped");
    let audit = ea.db().read(|s| s.audit(0, 10_000)).await.unwrap();
    let line = |id: &Hash, word: &str| {
        audit
            .iter()
            .any(|l| l.target == hex(id) && l.result.contains("bravo") && l.action.contains(word))
    };
    assert!(line(&r1.id, "released"));
    assert!(line(&r3.id, "held"));
    assert!(line(&r5.id, "dropped"));
    assert!(line(&r2.id, "withheld-rel"));

    for (e, ch) in [(&ea, &ab), (&eb, &ab), (&ec, &ac)] {
        hotline_core::export::verify(&e.export(ch).await.unwrap()).unwrap();
    }
    for mut s in [a, b, c] {
        s.stop().await;
    }
}

/// A STIX bundle is validated before it is published, the refusal naming
/// what is wrong; a valid one carries the report's TLP marking on every
/// object that had none, as the standard marking-definition.
#[test]
fn stix_content_is_validated_and_marked_before_publishing() {
    use hotline_station::engine::share::content;
    let indicator = |pattern: bool| {
        let mut o = serde_json::json!({
            "type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2026-11-28T10:00:00.000Z", "modified": "2026-11-28T10:00:00.000Z",
            "name": "bad host", "pattern_type": "stix", "valid_from": "2026-11-28T10:00:00Z"
        });
        if pattern {
            o["pattern"] = "[ipv4-addr:value = '10.0.0.1']".into();
        }
        serde_json::json!({
            "type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
            "objects": [o]
        })
        .to_string()
        .into_bytes()
    };
    let err = content("stix", indicator(false), Marking::Amber).unwrap_err();
    assert!(err.to_string().contains("pattern"), "{err}");
    let (ct, bytes) = content("stix", indicator(true), Marking::Amber).unwrap();
    assert_eq!(ct, "application/stix+json;version=2.1");
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let amber = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
    let objects = v["objects"].as_array().unwrap();
    let ind = objects.iter().find(|o| o["type"] == "indicator").unwrap();
    assert_eq!(ind["object_marking_refs"], serde_json::json!([amber]));
    assert!(objects.iter().any(|o| o["id"] == amber));
    assert!(content("markdown", vec![0xff, 0xfe], Marking::Green).is_err());
    assert!(content("pdf", b"x".to_vec(), Marking::Green).is_err());
}
