//! Read-only views of the station's state for the API and the console: the
//! channel summary, entries with their delivery state, peers, alerts, users
//! and audit lines, built as the typed bodies of `hotline-api-types`.

use crate::engine::{Engine, PeerRt};
use crate::error::StationError;
use hotline_api_types as api;
use hotline_proto::{hex, view, ContactSchedule, Hash, Kind};
use hotline_store::{AlertRow, AuditRow, EntryRow, UserRow};
use serde_json::Value;

/// The channel as the API shows it; `detail` adds terms, identities, open
/// requests and open alerts (a single channel's view, not a list's).
pub async fn channel(
    engine: &Engine,
    id: &Hash,
    detail: bool,
) -> Result<api::Channel, StationError> {
    let arc = engine.channel(id)?;
    let rt = arc.lock().await;
    let peer = engine.peer_on_record(rt.peer_id())?;
    let b = rt.book();
    let me = b.me();
    let them = b.peer();
    let st = b.state();
    let h = engine.link_health(rt.peer_id());
    let own = b.len(me);
    let delivered = rt.delivered_upto();
    let sent = rt.sent_upto().max(delivered).min(own);
    let side = |a: u8| {
        if a == me {
            api::Side::Us
        } else {
            api::Side::Peer
        }
    };
    let mut v = api::Channel {
        delivery: api::Delivery {
            delivered,
            queued: own - sent,
            sent: sent - delivered,
            unacknowledged_ours: b.unacked()[me as usize].len() as u64,
            unacknowledged_theirs: b.unacked()[them as usize].len() as u64,
        },
        entries: api::EntryCounts {
            ours: own,
            theirs: b.len(them),
        },
        health: api::ChannelHealth {
            last_delivered_to_peer: rt.last_delivery_at(),
            last_from_peer: b.last_stored_at(them),
            link: link_state(h.up),
            since: (h.since != 0).then_some(h.since),
        },
        id: hex(id),
        identities: None,
        me,
        open_alerts: None,
        open_requests: None,
        paths: None,
        peer: peer.row.name.clone(),
        peer_verified: peer.row.verified && peer.row.removed_at.is_none(),
        peer_removed: peer.row.removed_at.is_some(),
        proposal_delivered: None,
        state: st.word().into(),
        suspended_by: (0..2u8)
            .filter(|a| st.suspended[*a as usize])
            .map(side)
            .collect(),
        terminated_by: st.terminated_by.map(side),
        terms: None,
    };
    if detail {
        let ids = b.identities();
        v.identities = Some([ids[0].token(), ids[1].token()]);
        let request = |ours: bool| {
            move |(h, r): (&Hash, &hotline_core::book::OpenRequest)| api::OpenRequest {
                deadline: r.deadline,
                hash: hex(h),
                on_miss: r.on_miss.name().into(),
                ours,
            }
        };
        v.open_requests = Some(
            b.open_requests[me as usize]
                .iter()
                .map(request(true))
                .chain(b.open_requests[them as usize].iter().map(request(false)))
                .collect(),
        );
        v.open_alerts = Some(rt.open_alerts().iter().cloned().collect());
        v.paths = Some(paths(engine, &peer));
        v.terms = Some(terms(b.terms()));
    }
    Ok(v)
}

/// Stored entry rows of one channel as the API shows them, with delivery state.
pub async fn entries(
    engine: &Engine,
    id: &Hash,
    rows: Vec<EntryRow>,
) -> Result<Vec<api::Entry>, StationError> {
    let channel = *id;
    let couriered = engine
        .db()
        .read(move |s| s.courier_ranges(&channel))
        .await?;
    let by_courier = |author: u8, seq: u64| {
        couriered
            .iter()
            .any(|(a, first, last)| *a == author && (*first..=*last).contains(&seq))
    };
    let arc = engine.channel(id)?;
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
        let acked = !rt.book().unacked()[r.author as usize].contains_key(&r.hash);
        let is_msg = e.body.kind() == Kind::Message;
        let delivery = if own {
            if is_msg && acked && r.seq <= delivered {
                api::DeliveryState::Acknowledged
            } else if r.seq <= delivered {
                api::DeliveryState::Delivered
            } else if r.seq <= rt.sent_upto() {
                api::DeliveryState::Sent
            } else {
                api::DeliveryState::Queued
            }
        } else if is_msg && acked {
            api::DeliveryState::Acknowledged
        } else {
            api::DeliveryState::Received
        };
        out.push(api::Entry {
            author: r.author,
            body: view::body(&e.body),
            by: e.by.clone(),
            channel: None,
            courier: by_courier(r.author, r.seq),
            cursor: r.cursor,
            delivered: !own || r.seq <= delivered,
            delivery,
            hash: hex(&r.hash),
            held: rt.book().unacked()[r.author as usize]
                .get(&r.hash)
                .is_some_and(|u| u.held),
            kind: e.body.kind().name().into(),
            lamport: r.lamport,
            own,
            seq: r.seq,
            stored_at: r.stored_at,
            stix_valid: stix_valid(&e.body, own),
            time: e.time,
        });
    }
    Ok(out)
}

/// Whether a counterpart's STIX report passes the STIX 2.1 check here;
/// `None` for anything else.
fn stix_valid(body: &hotline_proto::Body, own: bool) -> Option<bool> {
    match body {
        hotline_proto::Body::Report {
            content_type,
            content,
            ..
        } if !own && content_type.starts_with("application/stix+json") => {
            Some(hotline_core::stix::validate_bundle(content).is_ok())
        }
        _ => None,
    }
}

/// Each of a peer's addresses as a path, in the peer's order.
pub fn paths(engine: &Engine, p: &PeerRt) -> Vec<api::PeerPath> {
    let h = engine.link_health(p.row.id);
    p.row
        .addrs
        .iter()
        .map(|a| {
            let probed = h.paths.iter().find(|x| &x.addr == a);
            // A session the peer dialled comes from its address on the
            // path (another port): the host tells the path.
            let host = |x: &str| x.rsplit_once(':').map_or(x, |(h, _)| h).to_owned();
            let active = h.up && h.addr.as_deref().map(host) == Some(host(a));
            api::PeerPath {
                active,
                addr: a.clone(),
                last_probe: probed.and_then(|x| x.last_probe),
                rtt_ms: probed.and_then(|x| x.rtt_ms),
                up: active || probed.is_some_and(|x| x.up),
            }
        })
        .collect()
}

/// A pinned peer with its link's live health.
pub fn peer(engine: &Engine, p: &PeerRt) -> api::Peer {
    let h = engine.link_health(p.row.id);
    api::Peer {
        addr_in_use: h.addr,
        addrs: p.row.addrs.clone(),
        clock_skew_ms: h.clock_skew_ms,
        fingerprint: p.identity.fingerprint().to_string(),
        key: p.row.token.clone(),
        link: link_state(h.up),
        link_since: h.since,
        name: p.row.name.clone(),
        paths: paths(engine, p),
        previous_keys: p
            .retired
            .iter()
            .map(|k| {
                let fp = |t: &str| {
                    hotline_proto::Identity::parse(t)
                        .map(|i| i.fingerprint().to_string())
                        .unwrap_or_default()
                };
                api::PeerKeyChange {
                    at: k.at,
                    channel: hex(&k.channel),
                    entry: hex(&k.entry),
                    fingerprint: fp(&k.token),
                    next_fingerprint: fp(&k.next),
                    token: k.token.clone(),
                }
            })
            .collect(),
        rel: p.row.rel.clone(),
        rtt_ms: h.rtt_ms,
        psk_generation_out: engine.psk(p.row.id, hotline_store::PskDir::Out).gen,
        psk_generation_in: engine.psk(p.row.id, hotline_store::PskDir::In).gen,
        verified: p.row.verified,
    }
}

/// An alert as the API lists it.
pub fn alert(a: &AlertRow) -> api::Alert {
    api::Alert {
        cause: a.cause.clone(),
        channel: a.channel.map(|c| hex(&c)),
        cleared_at: a.cleared_at,
        id: a.id,
        key: a.key.clone(),
        kind: a.kind.clone(),
        raised_at: a.raised_at,
        acked: a.ack.as_ref().map(|k| api::AlertAck {
            at: k.at,
            by: k.by.clone(),
            note: k.note.clone(),
        }),
    }
}

/// An alert as the event stream and the alert hook carry it: the same
/// fields as [`alert`], as a JSON value to embed in an event.
pub fn alert_json(a: &AlertRow) -> Value {
    to_value(alert(a))
}

/// A user as the API lists it; the token hash stays inside.
pub fn user(u: &UserRow) -> api::User {
    api::User {
        expires_at: u.expires_at,
        created_at: u.created_at,
        name: u.name.clone(),
        revoked_at: u.revoked_at,
        role: u.role.clone(),
    }
}

/// An audit line in its export form, the one `hotline audit verify` checks.
pub fn audit_line(a: &AuditRow) -> api::AuditLine {
    api::AuditLine {
        action: a.action.clone(),
        at: a.at,
        hash: hex(&a.hash),
        id: a.id,
        prev: hex(&a.prev),
        result: a.result.clone(),
        target: a.target.clone(),
        user: a.user.clone(),
    }
}

/// The audit log's signed head, as the last line of an export carries it.
pub fn audit_head(
    h: &hotline_proto::SignedAuditHead,
    signer: &hotline_proto::Identity,
) -> api::AuditHead {
    api::AuditHead {
        count: h.head().count,
        hash: hex(&h.head().hash),
        sig: hex(h.sig()),
        signer: signer.token(),
    }
}

/// A channel's terms in the API's units. The export file shows the same
/// view ([`view::terms`]); a test below holds the two equal.
pub fn terms(t: &hotline_proto::Terms) -> api::Terms {
    let (contact_every_ms, contact_at_utc) = match &t.contact {
        ContactSchedule::Every(ms) => (Some(*ms), vec![]),
        ContactSchedule::At(mins) => (
            None,
            mins.iter()
                .map(|m| format!("{:02}:{:02}", m / 60, m % 60))
                .collect(),
        ),
    };
    let w = &t.ack_windows_ms;
    api::Terms {
        ack_windows_ms: api::AckWindows {
            flash: w[0],
            immediate: w[1],
            priority: w[2],
            routine: w[3],
        },
        contact_at_utc,
        contact_every_ms,
        contact_grace: t.contact_grace_permille as f64 / 1000.0,
        languages: t.languages.clone(),
        max_entry_bytes: t.max_entry_bytes,
        notice_types: t
            .notice_types
            .iter()
            .map(|n| api::NoticeTypeInfo {
                hash: hex(&n.hash()),
                name: n.name.clone(),
                schema: serde_json::from_str(&n.schema)
                    .unwrap_or_else(|_| Value::String(n.schema.clone())),
            })
            .collect(),
    }
}

fn link_state(up: bool) -> api::LinkState {
    if up {
        api::LinkState::Up
    } else {
        api::LinkState::Down
    }
}

impl Engine {
    /// The channel view as a JSON value, for callers that inspect it loosely.
    pub async fn channel_json(&self, id: &Hash, detail: bool) -> Result<Value, StationError> {
        Ok(to_value(channel(self, id, detail).await?))
    }
}

/// A view as a JSON value. The views are plain data with string keys, for
/// which serialising cannot fail.
fn to_value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_match_the_export_view_for_both_schedules() {
        let mut t = hotline_proto::Terms::default();
        for contact in [
            ContactSchedule::Every(600_000),
            ContactSchedule::At(vec![540, 1020]),
        ] {
            t.contact = contact;
            t.contact_grace_permille = 2500;
            t.languages = vec!["en".into(), "uk".into()];
            t.notice_types = vec![hotline_core::notice::shipped("incident-report/1").unwrap()];
            assert_eq!(serde_json::to_value(terms(&t)).unwrap(), view::terms(&t));
            assert_eq!(
                serde_json::to_string(&terms(&t)).unwrap(),
                view::terms(&t).to_string(),
                "same bytes, not only the same value"
            );
        }
    }

    #[test]
    fn an_alert_keeps_its_nulls() {
        let a = AlertRow {
            id: 7,
            kind: "link-down".into(),
            channel: None,
            key: "link-down:bravo".into(),
            cause: "bravo unreachable".into(),
            raised_at: 1,
            cleared_at: None,
            ack: None,
        };
        assert_eq!(
            alert_json(&a).to_string(),
            r#"{"cause":"bravo unreachable","channel":null,"cleared_at":null,"id":7,"key":"link-down:bravo","kind":"link-down","raised_at":1}"#
        );
    }
}
