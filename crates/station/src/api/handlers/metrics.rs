//! `/metrics`: Prometheus text, for any user's token (scrapers send it as a
//! bearer token). Rendered at most once a second, however often it is asked
//! for, since the queue depth looks at every channel.

use crate::api::auth::Authed;
use crate::api::Api;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// A rendering is served again for this long.
const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// `GET /metrics`.
#[utoipa::path(
    get, path = "/metrics", tag = "metrics", operation_id = "metrics",
    security(("bearer" = [])),
    responses(
        (status = 200,
            description = "Prometheus text exposition format 0.0.4.",
            body = String,
            content_type = "text/plain"),
    ),
)]
pub async fn render(State(api): State<Api>, _: Authed) -> Response {
    let mut last = api.metrics_cache.lock().await;
    let text = match &*last {
        Some((at, t)) if at.elapsed() < FRESH => t.clone(),
        _ => {
            let t = text(&api).await;
            *last = Some((std::time::Instant::now(), t.clone()));
            t
        }
    };
    drop(last);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn text(api: &Api) -> String {
    let e = &api.engine;
    let m = e.metrics();
    let up = e.links_up();
    // A storage failure shows as no open alerts rather than failing the scrape.
    let open = e
        .db()
        .read(|s| s.alerts(true, 100_000))
        .await
        .map(|a| a.len())
        .unwrap_or(0);
    let mut queue = 0u64;
    for (_, c) in e.all_channels() {
        let c = c.lock().await;
        queue += c.book().len(c.book().me()) - c.delivered_upto();
    }
    let mut t = String::new();
    let _ = writeln!(t, "# HELP hotline_entries_total Entries committed, by direction and kind.\n# TYPE hotline_entries_total counter");
    for ((dir, kind), n) in m.entries.lock().unwrap().iter() {
        let _ = writeln!(
            t,
            "hotline_entries_total{{direction=\"{dir}\",kind=\"{kind}\"}} {n}"
        );
    }
    let _ = writeln!(t, "# HELP hotline_entries_rejected_total Peer input rejected.\n# TYPE hotline_entries_rejected_total counter\nhotline_entries_rejected_total {}", m.entries_rejected.load(Relaxed));
    let _ = writeln!(t, "# HELP hotline_checkpoints_received_total Checkpoints received from peers.\n# TYPE hotline_checkpoints_received_total counter\nhotline_checkpoints_received_total {}", m.checkpoints_received.load(Relaxed));
    let _ = writeln!(t, "# HELP hotline_unpinned_handshakes_total Handshakes from keys not pinned here.\n# TYPE hotline_unpinned_handshakes_total counter\nhotline_unpinned_handshakes_total {}", m.unpinned_handshakes.load(Relaxed));
    let _ = writeln!(t, "# HELP hotline_link_refused_total Link connections closed at once: a connection cap was reached.\n# TYPE hotline_link_refused_total counter\nhotline_link_refused_total {}", m.link_refused.load(Relaxed));
    let _ = writeln!(t, "# HELP hotline_hook_dropped_total Alerts not passed to the hook: too many runs waiting.\n# TYPE hotline_hook_dropped_total counter\nhotline_hook_dropped_total {}", m.hook_dropped.load(Relaxed));
    // Prometheus base units: seconds (the histogram counts milliseconds).
    let h = &m.delivery_ms;
    let _ = writeln!(t, "# HELP hotline_delivery_latency_seconds From our commit to the peer's checkpoint covering the entry.\n# TYPE hotline_delivery_latency_seconds histogram");
    let mut cum = 0;
    for (i, b) in h.bounds.iter().enumerate() {
        cum += h.counts[i].load(Relaxed);
        let le = *b as f64 / 1000.0;
        let _ = writeln!(
            t,
            "hotline_delivery_latency_seconds_bucket{{le=\"{le}\"}} {cum}"
        );
    }
    cum += h.counts[h.bounds.len()].load(Relaxed);
    let _ = writeln!(
        t,
        "hotline_delivery_latency_seconds_bucket{{le=\"+Inf\"}} {cum}"
    );
    let _ = writeln!(
        t,
        "hotline_delivery_latency_seconds_sum {}\nhotline_delivery_latency_seconds_count {}",
        h.sum.load(Relaxed) as f64 / 1000.0,
        h.count.load(Relaxed)
    );
    let _ = writeln!(t, "# HELP hotline_links_up Outbound links up.\n# TYPE hotline_links_up gauge\nhotline_links_up {up}");
    let _ = writeln!(t, "# HELP hotline_alerts_open Open alerts.\n# TYPE hotline_alerts_open gauge\nhotline_alerts_open {open}");
    let _ = writeln!(t, "# HELP hotline_queue_depth Own entries not yet covered by a peer checkpoint.\n# TYPE hotline_queue_depth gauge\nhotline_queue_depth {queue}");
    t
}
