//! Human-readable output. Counterpart text is printed as-is, control characters escaped.

use serde_json::Value;

fn s(v: &Value) -> String {
    let t = match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        v => v.to_string(),
    };
    // Terminal escape sequences from the counterpart must not reach the terminal.
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

fn ago(ms: &Value) -> String {
    let Some(t) = ms.as_u64() else {
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
pub fn peers(v: &Value) {
    for p in v.as_array().into_iter().flatten() {
        println!(
            "{:<16} {:<11} link {:<5} {}\n  fingerprint {}\n  key {}",
            s(&p["name"]),
            if p["verified"] == true {
                "verified"
            } else {
                "UNVERIFIED"
            },
            s(&p["link"]),
            p["addrs"]
                .as_array()
                .map(|a| a.iter().map(s).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
            s(&p["fingerprint"]),
            s(&p["key"])
        );
    }
}

/// `channel list`.
pub fn channels(v: &Value) {
    for c in v.as_array().into_iter().flatten() {
        println!(
            "{}  {:<12} {:<10} link {:<4} ours {} theirs {}{}",
            s(&c["id"]),
            s(&c["peer"]),
            s(&c["state"]),
            s(&c["health"]["link"]),
            c["entries"]["ours"],
            c["entries"]["theirs"],
            if c["peer_verified"] == true {
                ""
            } else {
                "  (peer unverified: ROUTINE only)"
            }
        );
    }
}

/// `channel show`.
pub fn channel(c: &Value) {
    println!("channel   {}", s(&c["id"]));
    println!(
        "peer      {}{}",
        s(&c["peer"]),
        if c["peer_verified"] == true {
            ""
        } else {
            " (UNVERIFIED: ROUTINE only)"
        }
    );
    println!("state     {}", s(&c["state"]));
    let h = &c["health"];
    println!("link      {} since {}", s(&h["link"]), ago(&h["since"]));
    println!(
        "last from peer {} · last delivery confirmed {}",
        ago(&h["last_from_peer"]),
        ago(&h["last_delivered_to_peer"])
    );
    let d = &c["delivery"];
    println!(
        "ours      queued {} · sent {} · delivered {} · awaiting their ack {}",
        d["queued"], d["sent"], d["delivered"], d["unacknowledged_ours"]
    );
    println!("theirs    awaiting our ack {}", d["unacknowledged_theirs"]);
    println!("terms     {}", c["terms"]);
    for r in c["open_requests"].as_array().into_iter().flatten() {
        println!(
            "request   {} ({}) deadline {} on miss {}",
            s(&r["hash"]),
            if r["ours"] == true { "ours" } else { "theirs" },
            r["deadline"],
            s(&r["on_miss"])
        );
    }
}

/// `inbox`.
pub fn inbox(items: &[Value]) {
    if items.is_empty() {
        println!("no counterpart messages");
    }
    for e in items {
        let b = &e["body"];
        println!(
            "{:<9} {}  {}  [{}]  {}",
            s(&b["precedence"]).to_uppercase(),
            s(&e["hash"]),
            ago(&e["stored_at"]),
            s(&e["delivery"]),
            s(&b["subject"])
        );
        println!("          {}", s(&b["text"]).replace('\n', "\n          "));
    }
}

/// `alerts`.
pub fn alerts(v: &Value) {
    let list: Vec<&Value> = v.as_array().into_iter().flatten().collect();
    if list.is_empty() {
        println!("no alerts");
    }
    for a in list {
        println!(
            "{:<6} {:<17} {:<8} {}  {}",
            a["id"],
            s(&a["kind"]),
            if a["cleared_at"].is_null() {
                "OPEN"
            } else {
                "cleared"
            },
            ago(&a["raised_at"]),
            s(&a["cause"])
        );
    }
}
