//! Human-readable output. Everything the station reports that the other
//! side or a user could have written goes through [`escaped`] on its way to
//! the terminal; `--json` output is serde's, exact.

use hotline_api_types::{Alert, Channel, Entry, MessageBody, Peer};

/// Text as it may reach a terminal, on one line and read back exactly.
///
/// Control characters (C0 with newline, carriage return and ESC; DEL; C1),
/// the Unicode bidirectional controls (U+061C, U+200E–U+200F, U+202A–U+202E,
/// U+2066–U+2069) and the line and paragraph separators (U+2028, U+2029)
/// are shown as Rust escapes (`\n`, `\u{1b}`, `\u{202e}`), and a backslash
/// as `\\`. So the other side cannot start a line that looks like ours,
/// move the cursor, colour the screen or reorder what is shown, and a
/// backslash it sent cannot pass for one of these escapes.
pub fn escaped(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        if c == '\\' || c.is_control() || is_bidi_or_separator(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The format characters that reorder or break a line without being control
/// characters (Unicode general category Cf and Zl/Zp).
fn is_bidi_or_separator(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{200e}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{2028}'..='\u{2029}'
    )
}

/// A Unix-ms time as an age; `never` when there is none.
pub fn ago(ms: Option<u64>) -> String {
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
            escaped(&p.name),
            if p.verified { "verified" } else { "UNVERIFIED" },
            p.link.as_str(),
            p.addrs
                .iter()
                .map(|a| escaped(a))
                .collect::<Vec<_>>()
                .join(", "),
            escaped(&p.fingerprint),
            escaped(&p.key)
        );
    }
}

/// `channel list`.
pub fn channels(channels: &[Channel]) {
    for c in channels {
        println!(
            "{}  {:<12} {:<10} link {:<4} ours {} theirs {}{}",
            escaped(&c.id),
            escaped(&c.peer),
            escaped(&c.state),
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
    println!("channel   {}", escaped(&c.id));
    println!(
        "peer      {}{}",
        escaped(&c.peer),
        if c.peer_verified {
            ""
        } else {
            " (UNVERIFIED: ROUTINE only)"
        }
    );
    println!("state     {}", escaped(&c.state));
    let h = &c.health;
    println!("link      {} since {}", h.link.as_str(), ago(h.since));
    for p in c.paths.iter().flatten() {
        let rtt = p.rtt_ms.map_or_else(|| "-".into(), |r| format!("{r} ms"));
        println!(
            "path      {}  {}  round trip {}  last probe {}{}",
            escaped(&p.addr),
            if p.up { "up" } else { "down" },
            rtt,
            ago(p.last_probe),
            if p.active { "  (active)" } else { "" }
        );
    }
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
    // serde escapes control characters in JSON strings but not the bidi ones.
    // The notice types' schemas are long: named here, whole in --json.
    let mut terms = c.terms.clone();
    let notices: Vec<String> = terms
        .as_mut()
        .map(|t| std::mem::take(&mut t.notice_types))
        .unwrap_or_default()
        .into_iter()
        .map(|n| n.name)
        .collect();
    let terms = match &terms {
        Some(t) => serde_json::to_string(t)?,
        None => "null".into(),
    };
    println!("terms     {}", escaped(&terms));
    if !notices.is_empty() {
        println!("notices   {}", escaped(&notices.join(", ")));
    }
    for r in c.open_requests.iter().flatten() {
        println!(
            "request   {} ({}) deadline {} on miss {}",
            escaped(&r.hash),
            if r.ours { "ours" } else { "theirs" },
            r.deadline,
            escaped(&r.on_miss)
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
            escaped(&m.precedence.to_uppercase()),
            escaped(&e.hash),
            ago(Some(e.stored_at)),
            e.delivery.as_str(),
            escaped(&m.subject)
        );
        println!("          {}", escaped(&m.text));
    }
}

/// The counterpart's reports and notices in `inbox`, after the messages.
pub fn reports(reports: &[Entry]) {
    if reports.is_empty() {
        return;
    }
    println!("reports and notices from counterparts:");
    for e in reports {
        let b = &e.body;
        let s = |k: &str| b[k].as_str().unwrap_or("").to_owned();
        if e.kind == "notice" {
            // One line: the type, then the notice's JSON as sent.
            println!(
                "NOTICE    {}  {}  {}",
                escaped(&e.hash),
                ago(Some(e.stored_at)),
                escaped(&s("type")),
            );
            println!("          {}", escaped(&b["notice"].to_string()));
            continue;
        }
        let flag = match e.stix_valid {
            Some(false) => "  (STIX INVALID: kept, not served over TAXII)",
            _ => "",
        };
        println!(
            "REPORT    {}  {}  {}  {}{flag}",
            escaped(&e.hash),
            ago(Some(e.stored_at)),
            escaped(&s("marking")),
            escaped(&s("title")),
        );
        println!("          {}", escaped(&s("content_type")));
    }
}

/// `alerts`.
pub fn alerts(alerts: &[Alert]) {
    if alerts.is_empty() {
        println!("no alerts");
    }
    for a in alerts {
        // One line an alert; an acknowledgement goes at its end.
        let acked = a.acked.as_ref().map_or(String::new(), |k| {
            format!(
                "  [acknowledged by {} {}: {}]",
                escaped(&k.by),
                ago(Some(k.at)),
                escaped(&k.note)
            )
        });
        // The id column has never been padded; scripts may split on it as it is.
        println!(
            "{} {:<17} {:<8} {}  {}{acked}",
            a.id,
            escaped(&a.kind),
            if a.cleared_at.is_none() {
                "OPEN"
            } else {
                "cleared"
            },
            ago(Some(a.raised_at)),
            escaped(&a.cause)
        );
    }
}

/// Equivocation evidence, a line each.
pub fn evidence(evidence: &[hotline_api_types::Evidence]) {
    if evidence.is_empty() {
        println!("no equivocation evidence");
    }
    for e in evidence {
        println!(
            "channel {}  author {} signed two entries {}: held {}, other {}  (found {})",
            short(&e.channel),
            e.author,
            e.seq,
            short(&e.stored_hash),
            short(&e.conflicting_hash),
            ago(Some(e.found_at)),
        );
    }
}

/// The first 12 hex digits of a hash, as the other listings show them.
fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn escaped_shows_every_line_breaking_and_reordering_character() {
        // What a counterpart might send to fake a line of ours.
        let sent = "ok\nFLASH  0000  [delivered]  fake\r\u{1b}[2K\u{7f}\u{85}\u{9b}\t";
        assert_eq!(
            escaped(sent),
            "ok\\nFLASH  0000  [delivered]  fake\\r\\u{1b}[2K\\u{7f}\\u{85}\\u{9b}\\t"
        );
        for (c, shown) in [
            ('\u{0}', "\\u{0}"),
            ('\u{061c}', "\\u{61c}"),
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{202a}', "\\u{202a}"),
            ('\u{202e}', "\\u{202e}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{2029}', "\\u{2029}"),
        ] {
            assert_eq!(escaped(&format!("a{c}b")), format!("a{shown}b"), "{c:?}");
        }
        // A backslash the other side sent cannot pass for an escape.
        assert_eq!(escaped("a\\nb"), "a\\\\nb");
        // Everything else, other scripts and emoji included, is shown as sent.
        let plain = "Привет, مرحبا, 你好 — «ok» 👍 'q' \"d\"";
        assert_eq!(escaped(plain), plain);
        assert!(!escaped(sent).chars().any(|c| c.is_control()));
    }
}
