//! Human-readable output. Counterpart text is printed as-is, control characters escaped.

use hotline_api_types::{Alert, Channel, Entry, MessageBody, Peer};

/// Text as it may reach a terminal: escape sequences from the counterpart
/// must not, so control characters other than newlines are escaped.
fn clean(t: &str) -> String {
    t.chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// A Unix-ms time as an age; `never` when there is none.
fn ago(ms: Option<u64>) -> String {
    let Some(t) = ms else {
        return "never".into();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let d = now.saturating_sub(t) / 1000;
    match d {
        0..=59 => format!("{d}s ago"),
        60..=3599 => format!("{}m ago", d / 60),
        _ => format!("{}h ago", d / 3600),
    }
}

/// `peer list`.
pub fn peers(peers: &[Peer]) {
    for p in peers {
        println!(
            "{:<16} {:<11} link {:<5} {}\n  fingerprint {}\n  key {}",
            clean(&p.name),
            if p.verified { "verified" } else { "UNVERIFIED" },
            p.link.as_str(),
            p.addrs
                .iter()
                .map(|a| clean(a))
                .collect::<Vec<_>>()
                .join(", "),
            clean(&p.fingerprint),
            clean(&p.key)
        );
    }
}

/// `channel list`.
pub fn channels(channels: &[Channel]) {
    for c in channels {
        println!(
            "{}  {:<12} {:<10} link {:<4} ours {} theirs {}{}",
            clean(&c.id),
            clean(&c.peer),
            clean(&c.state),
            c.health.link.as_str(),
            c.entries.ours,
            c.entries.theirs,
            if c.peer_verified {
                ""
            } else {
                "  (peer unverified: ROUTINE only)"
            }
        );
    }
}

/// `channel show`.
pub fn channel(c: &Channel) -> anyhow::Result<()> {
    println!("channel   {}", clean(&c.id));
    println!(
        "peer      {}{}",
        clean(&c.peer),
        if c.peer_verified {
            ""
        } else {
            " (UNVERIFIED: ROUTINE only)"
        }
    );
    println!("state     {}", clean(&c.state));
    let h = &c.health;
    println!("link      {} since {}", h.link.as_str(), ago(h.since));
    println!(
        "last from peer {} · last delivery confirmed {}",
        ago(h.last_from_peer),
        ago(h.last_delivered_to_peer)
    );
    let d = &c.delivery;
    println!(
        "ours      queued {} · sent {} · delivered {} · awaiting their ack {}",
        d.queued, d.sent, d.delivered, d.unacknowledged_ours
    );
    println!("theirs    awaiting our ack {}", d.unacknowledged_theirs);
    let terms = match &c.terms {
        Some(t) => serde_json::to_string(t)?,
        None => "null".into(),
    };
    println!("terms     {terms}");
    for r in c.open_requests.iter().flatten() {
        println!(
            "request   {} ({}) deadline {} on miss {}",
            clean(&r.hash),
            if r.ours { "ours" } else { "theirs" },
            r.deadline,
            clean(&r.on_miss)
        );
    }
    Ok(())
}

/// `inbox`: counterpart messages, already in the order to show.
pub fn inbox(items: &[(Entry, MessageBody)]) {
    if items.is_empty() {
        println!("no counterpart messages");
    }
    for (e, m) in items {
        println!(
            "{:<9} {}  {}  [{}]  {}",
            clean(&m.precedence).to_uppercase(),
            clean(&e.hash),
            ago(Some(e.stored_at)),
            e.delivery.as_str(),
            clean(&m.subject)
        );
        println!("          {}", clean(&m.text).replace('\n', "\n          "));
    }
}

/// `alerts`.
pub fn alerts(alerts: &[Alert]) {
    if alerts.is_empty() {
        println!("no alerts");
    }
    for a in alerts {
        // The id column has never been padded; scripts may split on it as it is.
        println!(
            "{} {:<17} {:<8} {}  {}",
            a.id,
            clean(&a.kind),
            if a.cleared_at.is_none() {
                "OPEN"
            } else {
                "cleared"
            },
            ago(Some(a.raised_at)),
            clean(&a.cause)
        );
    }
}
