//! Two stations in one process, talking over loopback: restarts, deadlines
//! across a restart, the alert hook, delivery after an outage.

use hotline_proto::{hex, Body, OnMiss, Precedence, Terms};
use hotline_station::engine::Engine;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::pair::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_missed_while_the_requester_was_down_is_acted_on_once_after_restart() {
    let root = tempfile::tempdir().unwrap();
    let mut a = side(root.path(), "a", None).await;
    let b = side(root.path(), "b", None).await;
    let ch = line(&a, &b, Terms::default()).await;
    let now = hotline_station::engine::now_ms();
    // Room for the request and a stop on a loaded machine.
    let deadline = now + 8000;
    let rq = a
        .engine()
        .author(
            &ch,
            Body::Request {
                question: "q".into(),
                options: vec![],
                deadline,
                on_miss: OnMiss::Terminate,
            },
            "a",
        )
        .await
        .unwrap();
    a.stop().await;
    // The deadline must pass while the requester is down, or this tests nothing.
    let left = deadline.saturating_sub(hotline_station::engine::now_ms());
    assert!(left > 0, "the request and the stop took over 8 s");
    tokio::time::sleep(Duration::from_millis(left + 500)).await;
    a.start().await;
    let ea = a.engine();
    let eb = b.engine();
    until("terminated at a", 10, || state(&ea, &ch) == "terminated").await;
    until("terminated at b", 10, || state(&eb, &ch) == "terminated").await;
    // Restart again: still exactly one Terminate, citing the request.
    a.stop().await;
    a.start().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ea = a.engine();
    assert_eq!(count(&ea, &ch, hotline_proto::Kind::Terminate).await, 1);
    assert_eq!(count(&eb, &ch, hotline_proto::Kind::Terminate).await, 1);
    let text = ea.export(&ch).await.unwrap();
    assert!(text.contains(&format!("deadline missed: {}", hex(&rq.hash()))));
    hotline_core::export::verify(&text).unwrap();
    let err = ea
        .author(&ch, msg(Precedence::Routine, "still there?"), "a")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("terminated"), "{err}");
    a.stop().await;
    let mut b = b;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_queued_while_the_peer_is_down_are_delivered_when_it_returns() {
    let root = tempfile::tempdir().unwrap();
    let mut a = side(root.path(), "a", None).await;
    let mut b = side(root.path(), "b", None).await;
    let ch = line(&a, &b, Terms::default()).await;
    b.stop().await;
    let ea = a.engine();
    let mut hashes = vec![];
    for i in 0..50 {
        hashes.push(
            ea.author(&ch, msg(Precedence::Routine, &format!("m{i}")), "a")
                .await
                .unwrap()
                .hash(),
        );
    }
    let queued = ea.channel_json(&ch, false).await.unwrap();
    assert!(
        queued["delivery"]["queued"].as_u64().unwrap()
            + queued["delivery"]["sent"].as_u64().unwrap()
            >= 50,
        "{queued}"
    );
    b.start().await;
    let eb = b.engine();
    until("all 50 at b", 15, || {
        eb.channel(&ch)
            .ok()
            .and_then(|c| {
                c.try_lock()
                    .ok()
                    .map(|c| hashes.iter().all(|h| c.book().locate(h).is_some()))
            })
            .unwrap_or(false)
    })
    .await;
    until("delivery confirmed at a", 10, || {
        ea.channel(&ch)
            .ok()
            .and_then(|c| {
                c.try_lock()
                    .ok()
                    .map(|c| c.delivered_upto() == c.book().len(0))
            })
            .unwrap_or(false)
    })
    .await;
    for e in [&ea, &eb] {
        hotline_core::export::verify(&e.export(&ch).await.unwrap()).unwrap();
    }
    let api = a.st.as_ref().unwrap().api_addr();
    let metrics = |token: Option<String>| async move {
        let mut r = reqwest::Client::new().get(format!("http://{api}/metrics"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    };
    // A token is needed, any user's.
    assert_eq!(metrics(None).await.status().as_u16(), 401);
    // Delivery latencies are recorded as the peer's checkpoint commits, a
    // moment after it shows in memory, and /metrics is cached for a second:
    // asked again until all 50 show, for up to 15 s.
    let latencies = |m: &str| {
        m.lines()
            .find_map(|l| l.strip_prefix("hotline_delivery_latency_seconds_count "))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut m = String::new();
    for _ in 0..15 {
        m = metrics(Some(a.id.admin_token.clone()))
            .await
            .text()
            .await
            .unwrap();
        if latencies(&m) >= 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert!(
        m.contains("hotline_entries_total{direction=\"sent\",kind=\"message\"} 50"),
        "{m}"
    );
    assert!(latencies(&m) >= 50, "{m}");
    assert!(m.contains("hotline_queue_depth 0"), "{m}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_hook_receives_every_alert_once_as_json() {
    let root = tempfile::tempdir().unwrap();
    let log_a = root.path().join("hook-a.jsonl");
    let log_b = root.path().join("hook-b.jsonl");
    let script = |log: &PathBuf, name: &str| {
        let p = root.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\ncat >> '{}'\n", log.display())).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        p.display().to_string()
    };
    let mut a = side(root.path(), "a", Some(script(&log_a, "hook-a.sh"))).await;
    let mut b = side(root.path(), "b", Some(script(&log_b, "hook-b.sh"))).await;
    let mut terms = Terms::default();
    terms.ack_windows_ms[Precedence::Flash as usize] = 1000;
    let ch = line(&a, &b, terms).await;
    let m = a
        .engine()
        .author(&ch, msg(Precedence::Flash, "launch"), "a")
        .await
        .unwrap();
    let read = |p: &PathBuf| -> Vec<serde_json::Value> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("hook input is JSON"))
            .collect()
    };
    until("hook calls", 10, || {
        read(&log_b).len() >= 2 && !read(&log_a).is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let hb = read(&log_b);
    let ha = read(&log_a);
    let kinds = |v: &[serde_json::Value]| {
        v.iter()
            .map(|x| x["kind"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&hb), vec!["ack-overdue", "ack-overdue"], "{hb:?}");
    assert_eq!(kinds(&ha), vec!["peer-ack-overdue"], "{ha:?}");
    let ids: std::collections::HashSet<_> = hb.iter().map(|x| x["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 2, "two distinct alerts, each once");
    assert!(hb.iter().all(|x| x["channel"] == hex(&ch)
        && x["cleared_at"].is_null()
        && x["cause"].as_str().unwrap().contains("FLASH")));
    // Acknowledging clears them; clearing calls no hook.
    b.engine()
        .author(&ch, Body::Ack { of: m.hash() }, "b")
        .await
        .unwrap();
    let eb = b.engine();
    until("cleared at b", 5, || {
        eb.channel(&ch)
            .ok()
            .and_then(|c| c.try_lock().ok().map(|c| c.open_alerts().is_empty()))
            .unwrap_or(false)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(read(&log_b).len(), 2);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_down_is_raised_once_while_the_peer_is_away_and_cleared_when_it_returns() {
    let root = tempfile::tempdir().unwrap();
    let a = side(root.path(), "a", None).await;
    let mut b = side(root.path(), "b", None).await;
    line(&a, &b, Terms::default()).await;
    b.stop().await;
    let ea = a.engine();
    let link_down = |ea: Arc<Engine>| async move {
        ea.db()
            .read(|s| s.alerts(false, 1000))
            .await
            .unwrap()
            .into_iter()
            .filter(|x| x.kind == "link-down")
            .collect::<Vec<_>>()
    };
    let mut raised = vec![];
    for _ in 0..100 {
        raised = link_down(ea.clone()).await;
        if !raised.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(raised.len(), 1, "link-down raised once");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        link_down(ea.clone()).await.len(),
        1,
        "not raised again while still down"
    );
    b.start().await;
    let mut cleared = false;
    for _ in 0..100 {
        let l = link_down(ea.clone()).await;
        if l.len() == 1 && l[0].cleared_at.is_some() {
            cleared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cleared, "link-down cleared when the peer returned");
    let mut a = a;
    a.stop().await;
    b.stop().await;
}
