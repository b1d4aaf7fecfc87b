//! JSON views of decoded values, shared by the API and the export file.
//!
//! A view is for people and tools; it is never signed or hashed. The export
//! verifier recomputes each view from the envelope bytes and requires equality,
//! so a view cannot disagree with what was signed.

use crate::entry::{Body, ContactSchedule, Entry, Terms};
use crate::{hex, Checkpoint};
use serde_json::{json, Value};

fn opt_hex(h: &Option<crate::Hash>) -> Value {
    h.as_ref()
        .map(|h| Value::String(hex(h)))
        .unwrap_or(Value::Null)
}

/// The JSON view of terms.
pub fn terms(t: &Terms) -> Value {
    let (every, at) = match &t.contact {
        ContactSchedule::Every(ms) => (json!(ms), json!([])),
        ContactSchedule::At(mins) => (
            Value::Null,
            Value::Array(
                mins.iter()
                    .map(|m| json!(format!("{:02}:{:02}", m / 60, m % 60)))
                    .collect(),
            ),
        ),
    };
    let mut v = json!({
        "contact_every_ms": every,
        "contact_at_utc": at,
        "contact_grace": t.contact_grace_permille as f64 / 1000.0,
        "ack_windows_ms": {
            "flash": t.ack_windows_ms[0],
            "immediate": t.ack_windows_ms[1],
            "priority": t.ack_windows_ms[2],
            "routine": t.ack_windows_ms[3],
        },
        "max_entry_bytes": t.max_entry_bytes,
        "languages": t.languages,
    });
    // Only when there are some: the view of terms without notice types is
    // what it was before they existed, and old exports still compare equal.
    if !t.notice_types.is_empty() {
        let types: Vec<Value> = t
            .notice_types
            .iter()
            .map(|n| json!({"name": n.name, "hash": hex(&n.hash()), "schema": json_or_text(&n.schema)}))
            .collect();
        v.as_object_mut()
            .expect("terms are an object")
            .insert("notice_types".into(), Value::Array(types));
    }
    v
}

/// JSON text as its value; text that is not JSON (a notice no station
/// accepted, seen by a verifier) as a string, so the view still shows it.
fn json_or_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()))
}

/// The JSON view of a body: its fields, with `kind` alongside.
pub fn body(b: &Body) -> Value {
    let mut v = match b {
        Body::Open {
            terms: t,
            initiator,
            responder,
            reopens,
        } => {
            json!({"terms": terms(t), "initiator": initiator, "responder": responder, "reopens": opt_hex(reopens)})
        }
        Body::Accept { terms_hash } => json!({"terms_hash": hex(terms_hash)}),
        Body::Message {
            precedence,
            subject,
            text,
            labels,
            reply_to,
        } => {
            json!({"precedence": precedence.name(), "subject": subject, "text": text, "labels": labels, "reply_to": opt_hex(reply_to)})
        }
        Body::Ack { of } => json!({"of": hex(of)}),
        Body::Translation { of, lang, text } => json!({"of": hex(of), "lang": lang, "text": text}),
        Body::ContactCheck | Body::Resume => json!({}),
        Body::Request {
            question,
            options,
            deadline,
            on_miss,
        } => {
            json!({"question": question, "options": options, "deadline": deadline, "on_miss": on_miss.name()})
        }
        Body::Decision {
            request,
            choice,
            text,
        } => json!({"request": hex(request), "choice": choice, "text": text}),
        Body::Suspend { reason } | Body::Terminate { reason } | Body::SharingPause { reason } => {
            json!({ "reason": reason })
        }
        Body::Report {
            title,
            marking,
            rel_to,
            content_type,
            content,
        } => json!({
            "title": title, "marking": marking.name(), "rel_to": rel_to,
            "content_type": content_type,
            "content_base64": data_encoding::BASE64.encode(content),
        }),
        Body::SharingResume { backfill } => json!({ "backfill": backfill }),
        Body::KeyRotation { new_token, new_sig } => json!({
            "new_token": new_token,
            "new_fingerprint": crate::Identity::parse(new_token).ok().map(|i| i.fingerprint().to_string()),
            "new_sig": hex(new_sig),
        }),
        Body::Notice {
            notice_type,
            notice,
        } => json!({"type": notice_type, "notice": json_or_text(notice)}),
    };
    v.as_object_mut()
        .expect("bodies are objects")
        .insert("kind".into(), json!(b.kind().name()));
    v
}

/// The JSON view of a whole entry.
pub fn entry(e: &Entry) -> Value {
    json!({
        "channel": hex(&e.channel),
        "author": e.author,
        "seq": e.seq,
        "prev": hex(&e.prev),
        "seen": {"seq": e.seen.0, "hash": hex(&e.seen.1)},
        "lamport": e.lamport,
        "time": e.time,
        "by": e.by,
        "kind": e.body.kind().name(),
        "body": body(&e.body),
    })
}

/// The compact JSON text of [`entry`]'s view, written without building
/// the value first: the bytes serde_json writes for that value (keys in
/// order, no spaces), for a reader comparing a view as text.
pub fn entry_text(e: &Entry) -> String {
    /// [`entry`]'s fields in serde_json's key order.
    #[derive(serde::Serialize)]
    struct View<'a> {
        author: u8,
        body: BodyView<'a>,
        by: &'a str,
        channel: String,
        kind: &'static str,
        lamport: u64,
        prev: String,
        seen: Seen,
        seq: u64,
        time: u64,
    }
    #[derive(serde::Serialize)]
    struct Seen {
        hash: String,
        seq: u64,
    }
    /// A message's [`body`] written field by field (the kind nearly every
    /// entry is); any other kind as its value.
    #[derive(serde::Serialize)]
    #[serde(untagged)]
    enum BodyView<'a> {
        Message {
            kind: &'static str,
            labels: &'a [String],
            precedence: &'static str,
            reply_to: Option<String>,
            subject: &'a str,
            text: &'a str,
        },
        Other(Value),
    }
    let body_view = match &e.body {
        b @ Body::Message {
            precedence,
            subject,
            text,
            labels,
            reply_to,
        } => BodyView::Message {
            kind: b.kind().name(),
            labels,
            precedence: precedence.name(),
            reply_to: reply_to.as_ref().map(|h| hex(h)),
            subject,
            text,
        },
        other => BodyView::Other(body(other)),
    };
    let v = View {
        author: e.author,
        body: body_view,
        by: &e.by,
        channel: hex(&e.channel),
        kind: e.body.kind().name(),
        lamport: e.lamport,
        prev: hex(&e.prev),
        seen: Seen {
            hash: hex(&e.seen.1),
            seq: e.seen.0,
        },
        seq: e.seq,
        time: e.time,
    };
    serde_json::to_string(&v).expect("a view is plain JSON")
}

/// The JSON view of a checkpoint.
pub fn checkpoint(c: &Checkpoint) -> Value {
    json!({
        "channel": hex(&c.channel),
        "signer": c.signer,
        "heads": [
            {"seq": c.heads[0].0, "hash": hex(&c.heads[0].1)},
            {"seq": c.heads[1].0, "hash": hex(&c.heads[1].1)},
        ],
        "time": c.time,
        "peer_checkpoint": opt_hex(&c.peer_checkpoint),
    })
}
