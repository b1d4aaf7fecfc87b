//! Read-only views of the station's state for the API and the console: the
//! channel summary, entries with their delivery state, alerts.

use crate::engine::Engine;
use crate::error::StationError;
use hotline_proto::{hex, view, Hash};
use hotline_store::AlertRow;
use serde_json::{json, Value};

impl Engine {
    /// The JSON summary of a channel.
    pub async fn channel_json(&self, id: &Hash, detail: bool) -> Result<Value, StationError> {
        let arc = self.channel(id)?;
        let rt = arc.lock().await;
        let peer = self.peer(rt.peer_id())?;
        let b = rt.book();
        let me = b.me();
        let st = b.state();
        let h = self.link_health(rt.peer_id());
        let own = b.len(me);
        let delivered = rt.delivered_upto();
        let sent = rt.sent_upto().max(delivered).min(own);
        let unacked_own = b.unacked[me as usize].len();
        let unacked_peer = b.unacked[b.peer() as usize].len();
        let mut v = json!({
            "id": hex(id),
            "peer": peer.row.name,
            "peer_verified": peer.row.verified,
            "me": me,
            "state": st.word(),
            "suspended_by": (0..2u8).filter(|a| st.suspended[*a as usize]).map(|a| if a == me { "us" } else { "peer" }).collect::<Vec<_>>(),
            "terminated_by": st.terminated_by.map(|a| if a == me { "us" } else { "peer" }),
            "entries": {"ours": own, "theirs": b.len(b.peer())},
            "delivery": {
                "queued": own - sent,
                "sent": sent - delivered,
                "delivered": delivered,
                "unacknowledged_ours": unacked_own,
                "unacknowledged_theirs": unacked_peer,
            },
            "health": {
                "link": if h.up { "up" } else { "down" },
                "since": if h.since == 0 { Value::Null } else { json!(h.since) },
                "last_from_peer": b.last_stored_at(b.peer()),
                "last_delivered_to_peer": rt.last_delivery_at(),
            },
        });
        if detail {
            let obj = v.as_object_mut().expect("object");
            obj.insert("terms".into(), view::terms(b.terms()));
            obj.insert(
                "identities".into(),
                json!([b.identities()[0].token(), b.identities()[1].token()]),
            );
            let reqs: Vec<Value> = b.open_requests[me as usize]
                .iter()
                .map(|(h, r)| json!({"hash": hex(h), "deadline": r.deadline, "on_miss": r.on_miss.name(), "ours": true}))
                .chain(b.open_requests[b.peer() as usize].iter().map(|(h, r)| json!({"hash": hex(h), "deadline": r.deadline, "on_miss": r.on_miss.name(), "ours": false})))
                .collect();
            obj.insert("open_requests".into(), json!(reqs));
            obj.insert("open_alerts".into(), json!(rt.open_alerts()));
        }
        Ok(v)
    }

    /// JSON of stored entry rows, with delivery state.
    pub async fn entries_json(
        &self,
        id: &Hash,
        rows: Vec<hotline_store::EntryRow>,
    ) -> Result<Vec<Value>, StationError> {
        let arc = self.channel(id)?;
        let rt = arc.lock().await;
        let me = rt.book().me();
        let delivered = rt.delivered_upto();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let env = hotline_proto::Envelope::decode(
                &r.envelope,
                hotline_proto::MAX_ENTRY_BYTES_CAP as usize,
            )
            .map_err(|e| StationError::Storage(e.to_string()))?;
            let e = env
                .peek()
                .map_err(|e| StationError::Storage(e.to_string()))?;
            let own = r.author == me;
            let acked = !rt.book().unacked[r.author as usize].contains_key(&r.hash);
            let is_msg = e.body.kind() == hotline_proto::Kind::Message;
            let state = if own {
                if is_msg && acked && r.seq <= delivered {
                    "acknowledged"
                } else if r.seq <= delivered {
                    "delivered"
                } else if r.seq <= rt.sent_upto() {
                    "sent"
                } else {
                    "queued"
                }
            } else if is_msg && acked {
                "acknowledged"
            } else {
                "received"
            };
            out.push(json!({
                "cursor": r.cursor,
                "hash": hex(&r.hash),
                "author": r.author,
                "own": own,
                "seq": r.seq,
                "lamport": r.lamport,
                "time": e.time,
                "stored_at": r.stored_at,
                "by": e.by,
                "kind": e.body.kind().name(),
                "body": view::body(&e.body),
                "delivered": !own || r.seq <= delivered,
                "delivery": state,
            }));
        }
        Ok(out)
    }
}

/// The JSON of an alert, as the API and the hook show it.
pub fn alert_json(a: &AlertRow) -> Value {
    json!({
        "id": a.id,
        "kind": a.kind,
        "channel": a.channel.map(|c| hex(&c)),
        "key": a.key,
        "cause": a.cause,
        "raised_at": a.raised_at,
        "cleared_at": a.cleared_at,
    })
}
