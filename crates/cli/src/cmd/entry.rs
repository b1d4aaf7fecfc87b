//! Commands that write or read entries: `send`, `inbox`, `ack`, `request`,
//! `decide`, `translate`, `suspend`, `resume`, `terminate`. Each writing
//! command prints the new entry's hash, alone on stdout, for scripts.

use super::print_json;
use crate::client::{Client, Failure};
use crate::out;
use hotline_api_types::{
    Channels, Created, Empty, Entry, MessageBody, NewAck, NewDecision, NewMessage, NewNotice,
    NewRequest, NewTranslation, Reason,
};

/// `send`: the text `-` is read from standard input.
pub fn send(
    c: &Client,
    channel: &str,
    precedence: String,
    subject: String,
    text: String,
) -> anyhow::Result<()> {
    let text = if text == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        text
    };
    let body = NewMessage {
        precedence: Some(precedence),
        subject,
        text,
        ..NewMessage::default()
    };
    print_hash(c.post(&format!("/v1/channels/{channel}/messages"), &body)?)
}

/// `notice`: the file `-` is standard input; its JSON is checked for
/// syntax here, for its schema by the station.
pub fn notice(c: &Client, channel: &str, notice_type: String, file: &str) -> anyhow::Result<()> {
    let text = if file == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| Failure::Usage(format!("cannot read {file}: {e}")))?
    };
    let notice: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Failure::Usage(format!(
            "{}: not JSON ({e}); a notice is a JSON object matching its type's schema",
            if file == "-" { "standard input" } else { file }
        ))
    })?;
    let body = NewNotice {
        notice_type,
        notice,
    };
    print_hash(c.post(&format!("/v1/channels/{channel}/notices"), &body)?)
}

/// `inbox`: counterpart messages, FLASH first, newest first within a
/// precedence; then their reports and structured notices, newest first.
pub fn inbox(c: &Client, only: Option<String>, json: bool) -> anyhow::Result<()> {
    let chans: Vec<String> = match only {
        Some(ch) => vec![ch],
        None => {
            let r: Channels = c.get("/v1/channels")?;
            r.channels.into_iter().map(|ch| ch.id).collect()
        }
    };
    let mut items: Vec<(Entry, MessageBody)> = Vec::new();
    let mut reports: Vec<Entry> = Vec::new();
    for ch in chans {
        for mut e in c.all_entries(&ch)? {
            if e.own {
                continue;
            }
            if e.kind == "report" || e.kind == "notice" {
                e.channel = Some(ch.clone());
                reports.push(e);
                continue;
            }
            let Some(m) = e.message().map_err(|err| {
                Failure::BadAnswer(format!(
                    "entry {} of channel {ch} is a message the station describes in a form this hotline cannot read ({err})",
                    e.hash
                ))
            })?
            else {
                continue;
            };
            e.channel = Some(ch.clone());
            items.push((e, m));
        }
    }
    let rank = |p: &str| {
        ["flash", "immediate", "priority", "routine"]
            .iter()
            .position(|x| *x == p)
            .unwrap_or(4)
    };
    items.sort_by_key(|(e, m)| (rank(&m.precedence), std::cmp::Reverse(e.stored_at)));
    reports.sort_by_key(|e| std::cmp::Reverse(e.stored_at));
    if json {
        // Messages by precedence, then reports and notices, newest first.
        let all: Vec<&Entry> = items.iter().map(|(e, _)| e).chain(&reports).collect();
        print_json(&all)
    } else {
        out::inbox(&items);
        out::reports(&reports);
        Ok(())
    }
}

/// `ack`: the channel is looked up from the entry.
pub fn ack(c: &Client, entry: String) -> anyhow::Result<()> {
    let ch = channel_of(c, &entry)?;
    let body = NewAck { of: entry };
    print_hash(c.post(&format!("/v1/channels/{ch}/acks"), &body)?)
}

/// `request`.
pub fn request(
    c: &Client,
    channel: &str,
    deadline: String,
    on_miss: String,
    options: Vec<String>,
    question: String,
) -> anyhow::Result<()> {
    let body = NewRequest {
        question,
        options,
        deadline: deadline.into(),
        on_miss: Some(on_miss),
    };
    print_hash(c.post(&format!("/v1/channels/{channel}/requests"), &body)?)
}

/// `decide`: the channel is looked up from the request.
pub fn decide(c: &Client, entry: String, choice: String, text: String) -> anyhow::Result<()> {
    let ch = channel_of(c, &entry)?;
    let body = NewDecision {
        request: entry,
        choice,
        text,
    };
    print_hash(c.post(&format!("/v1/channels/{ch}/decisions"), &body)?)
}

/// `translate`: the channel is looked up from the entry.
pub fn translate(c: &Client, entry: String, lang: String, text: String) -> anyhow::Result<()> {
    let ch = channel_of(c, &entry)?;
    let body = NewTranslation {
        of: entry,
        lang,
        text,
    };
    print_hash(c.post(&format!("/v1/channels/{ch}/translations"), &body)?)
}

/// `suspend`.
pub fn suspend(c: &Client, channel: &str, reason: String) -> anyhow::Result<()> {
    print_hash(c.post(
        &format!("/v1/channels/{channel}/suspend"),
        &Reason { reason },
    )?)
}

/// `resume`.
pub fn resume(c: &Client, channel: &str) -> anyhow::Result<()> {
    print_hash(c.post(&format!("/v1/channels/{channel}/resume"), &Empty {})?)
}

/// `terminate`.
pub fn terminate(c: &Client, channel: &str, reason: String) -> anyhow::Result<()> {
    print_hash(c.post(
        &format!("/v1/channels/{channel}/terminate"),
        &Reason { reason },
    )?)
}

/// The channel an entry belongs to, as the station knows it.
fn channel_of(c: &Client, entry: &str) -> anyhow::Result<String> {
    let e: Entry = c.get(&format!("/v1/entries/{entry}"))?;
    e.channel.ok_or_else(|| {
        Failure::BadAnswer(format!(
            "the station described entry {entry} without its channel; are the station and this command the same version?"
        ))
        .into()
    })
}

fn print_hash(r: Created) -> anyhow::Result<()> {
    println!("{}", r.hash);
    Ok(())
}
