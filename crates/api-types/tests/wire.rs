//! The bodies as the station sent them before they had types, byte for byte:
//! each sample is a real answer of the API (hashes, tokens and times
//! replaced by fixed values), read into its type and written back unchanged.

use hotline_api_types::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

const H: &str = "9f2c4e1d3b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn sample(text: &str) -> String {
    text.replace("<H>", H)
        .replace("<ID>", "hotline1abcdefghijklmnop")
        .replace("<T>", "1790000000000")
        .replace(
            "<FP>",
            "12345 67890 12345 67890 12345 67890 12345 67890 12345 67890 12345 67890",
        )
}

/// Reads `text` as a `T` and writes it back: the bytes must not change.
fn same_bytes<T: Serialize + DeserializeOwned>(text: &str) -> T {
    let text = sample(text);
    let v: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(serde_json::to_string(&v).unwrap(), text);
    v
}

#[test]
fn station_and_caller() {
    same_bytes::<Health>(r#"{"identity":"<ID>","name":"alpha","status":"ok"}"#);
    same_bytes::<StationIdentity>(r#"{"fingerprint":"<FP>","name":"alpha","token":"<ID>"}"#);
    same_bytes::<WhoAmI>(r#"{"name":"admin","role":"admin"}"#);
    same_bytes::<ApiError>(r#"{"error":"a valid bearer token is required"}"#);
}

#[test]
fn peers_keep_their_nulls() {
    let p = same_bytes::<Peers>(
        r#"{"peers":[{"addr_in_use":null,"addrs":["127.0.0.1:7820"],"fingerprint":"<FP>","key":"<ID>","link":"down","link_since":0,"name":"bravo","paths":[{"active":false,"addr":"127.0.0.1:7820","last_probe":null,"rtt_ms":null,"up":false}],"previous_keys":[],"psk_generation_in":0,"psk_generation_out":0,"rel":"BRAVO","rtt_ms":null,"verified":true}]}"#,
    );
    assert_eq!(p.peers[0].link, LinkState::Down);
    same_bytes::<Peer>(
        r#"{"addr_in_use":"127.0.0.1:7820","addrs":["127.0.0.1:7820"],"fingerprint":"<FP>","key":"<ID>","link":"up","link_since":<T>,"name":"alpha","paths":[{"active":true,"addr":"127.0.0.1:7820","last_probe":<T>,"rtt_ms":3,"up":true}],"previous_keys":[{"at":<T>,"channel":"<H>","entry":"<H>","fingerprint":"<FP>","next_fingerprint":"<FP>","token":"<ID>"}],"psk_generation_in":4,"psk_generation_out":5,"rel":null,"rtt_ms":3,"verified":false}"#,
    );
    // The clock skew is there once the peer has connected, left out before.
    let p = same_bytes::<Peer>(
        r#"{"addr_in_use":"127.0.0.1:7820","addrs":["127.0.0.1:7820"],"clock_skew_ms":-42,"fingerprint":"<FP>","key":"<ID>","link":"up","link_since":<T>,"name":"alpha","paths":[{"active":true,"addr":"127.0.0.1:7820","last_probe":<T>,"rtt_ms":3,"up":true}],"previous_keys":[],"psk_generation_in":4,"psk_generation_out":5,"rel":null,"rtt_ms":3,"verified":false}"#,
    );
    assert_eq!(p.clock_skew_ms, Some(-42));
    same_bytes::<PeerVerified>(r#"{"name":"bravo","verified":true}"#);
}

#[test]
fn a_listed_channel_has_no_detail_fields_and_a_null_terminator() {
    let c = same_bytes::<Channels>(
        r#"{"channels":[{"delivery":{"delivered":1,"queued":0,"sent":0,"unacknowledged_ours":0,"unacknowledged_theirs":0},"entries":{"ours":1,"theirs":1},"health":{"last_delivered_to_peer":<T>,"last_from_peer":<T>,"link":"up","since":<T>},"id":"<H>","me":0,"peer":"bravo","peer_verified":true,"state":"active","suspended_by":[],"terminated_by":null}]}"#,
    );
    let c = &c.channels[0];
    assert!(c.terms.is_none() && c.identities.is_none() && c.open_requests.is_none());
    assert_eq!(c.terminated_by, None);
}

#[test]
fn a_proposed_channel_shows_its_detail_and_whether_the_proposal_arrived() {
    let c = same_bytes::<Channel>(
        r#"{"delivery":{"delivered":1,"queued":0,"sent":0,"unacknowledged_ours":0,"unacknowledged_theirs":0},"entries":{"ours":1,"theirs":0},"health":{"last_delivered_to_peer":<T>,"last_from_peer":null,"link":"up","since":<T>},"id":"<H>","identities":["<ID>","<ID>"],"me":0,"open_alerts":[],"open_requests":[],"peer":"bravo","peer_verified":true,"proposal_delivered":true,"state":"proposed","suspended_by":[],"terminated_by":null,"terms":{"ack_windows_ms":{"flash":600000,"immediate":1800000,"priority":10800000,"routine":21600000},"contact_at_utc":["09:00","17:00"],"contact_every_ms":null,"contact_grace":2.0,"languages":["en","uk"],"max_entry_bytes":1048576}}"#,
    );
    assert_eq!(c.proposal_delivered, Some(true));
    assert_eq!(c.terms.unwrap().contact_grace, 2.0);
}

#[test]
fn a_suspended_and_ended_channel_names_the_sides() {
    let c = same_bytes::<Channel>(
        r#"{"delivery":{"delivered":4,"queued":0,"sent":0,"unacknowledged_ours":0,"unacknowledged_theirs":0},"entries":{"ours":4,"theirs":1},"health":{"last_delivered_to_peer":<T>,"last_from_peer":<T>,"link":"up","since":<T>},"id":"<H>","identities":["<ID>","<ID>"],"me":1,"open_alerts":["contact-missed"],"open_requests":[{"deadline":<T>,"hash":"<H>","on_miss":"suspend","ours":false}],"peer":"alpha","peer_verified":true,"state":"terminated","suspended_by":["us","peer"],"terminated_by":"peer","terms":{"ack_windows_ms":{"flash":300000,"immediate":1800000,"priority":10800000,"routine":21600000},"contact_at_utc":[],"contact_every_ms":600000,"contact_grace":1.5,"languages":["en"],"max_entry_bytes":4096}}"#,
    );
    assert_eq!(c.suspended_by, [Side::Us, Side::Peer]);
    assert_eq!(c.terminated_by, Some(Side::Peer));
}

#[test]
fn created_entries_say_delivered_only_when_accepting() {
    let c = same_bytes::<Created>(r#"{"hash":"<H>","kind":"message","lamport":3,"seq":2}"#);
    assert_eq!(c.delivered, None);
    same_bytes::<Created>(r#"{"delivered":true,"hash":"<H>","kind":"accept","lamport":2,"seq":1}"#);
}

#[test]
fn entries_and_one_entry_with_its_channel() {
    let list = same_bytes::<Entries>(
        r#"{"entries":[{"author":0,"body":{"initiator":"<ID>","kind":"open","reopens":null,"responder":"<ID>","terms":{"ack_windows_ms":{"flash":300000,"immediate":1800000,"priority":10800000,"routine":21600000},"contact_at_utc":[],"contact_every_ms":600000,"contact_grace":1.5,"languages":["en"],"max_entry_bytes":4096}},"by":"admin","cursor":1,"delivered":true,"delivery":"delivered","hash":"<H>","kind":"open","lamport":1,"own":true,"seq":1,"stored_at":<T>,"time":<T>},{"author":1,"body":{"kind":"accept","terms_hash":"<H>"},"by":"admin","cursor":2,"delivered":true,"delivery":"received","hash":"<H>","kind":"accept","lamport":2,"own":false,"seq":1,"stored_at":<T>,"time":<T>}]}"#,
    );
    assert!(list.entries.iter().all(|e| e.channel.is_none()));
    assert_eq!(list.entries[0].message().unwrap(), None);
    let one = same_bytes::<Entry>(
        r#"{"author":0,"body":{"kind":"message","labels":[],"precedence":"priority","reply_to":null,"subject":"S priority","text":"text\u001b[31m priority"},"by":"admin","channel":"<H>","cursor":6,"delivered":true,"delivery":"acknowledged","hash":"<H>","kind":"message","lamport":4,"own":true,"seq":3,"stored_at":<T>,"time":<T>}"#,
    );
    assert_eq!(one.channel.as_deref(), Some(H));
    let m = one.message().unwrap().unwrap();
    assert_eq!(
        (m.precedence.as_str(), m.text.as_str()),
        ("priority", "text\u{1b}[31m priority")
    );
}

#[test]
fn a_message_body_that_is_not_one_is_an_error_not_a_default() {
    let e: Entry = serde_json::from_str(&sample(
        r#"{"author":1,"body":{"kind":"message","subject":"s"},"by":"x","cursor":1,"delivered":true,"delivery":"received","hash":"<H>","kind":"message","lamport":1,"own":false,"seq":1,"stored_at":1,"time":1}"#,
    ))
    .unwrap();
    assert!(e.message().is_err());
    let unknown_state = sample(
        r#"{"author":1,"body":{},"by":"x","cursor":1,"delivered":true,"delivery":"lost","hash":"<H>","kind":"ack","lamport":1,"own":false,"seq":1,"stored_at":1,"time":1}"#,
    );
    assert!(serde_json::from_str::<Entry>(&unknown_state).is_err());
}

#[test]
fn alerts_users_and_the_audit_log() {
    same_bytes::<Alerts>(
        r#"{"alerts":[{"cause":"request 9f2c4e1d3b5a had no decision by its deadline; on-miss: alert","channel":"<H>","cleared_at":null,"id":1,"key":"deadline-missed:<H>","kind":"deadline-missed","raised_at":<T>},{"cause":"bravo unreachable","channel":null,"cleared_at":<T>,"id":2,"key":"link-down:bravo","kind":"link-down","raised_at":<T>}]}"#,
    );
    same_bytes::<Users>(
        r#"{"users":[{"created_at":<T>,"name":"admin","revoked_at":null,"role":"admin"},{"created_at":<T>,"name":"op1","revoked_at":<T>,"role":"operator"}]}"#,
    );
    same_bytes::<UserCreated>(r#"{"name":"op1","role":"operator","token":"hlt_abc"}"#);
    same_bytes::<UserRevoked>(r#"{"name":"op1","revoked":true}"#);
    same_bytes::<AuditLog>(
        r#"{"audit":[{"action":"POST peers/bravo/verify","at":<T>,"hash":"<H>","id":8,"prev":"<H>","result":"409","target":"bravo","user":"admin"}],"head":{"count":8,"hash":"<H>","sig":"<H><H>","signer":"<ID>"}}"#,
    );
}

#[test]
fn requests_take_their_defaults_and_refuse_unknown_fields() {
    let m: NewMessage = serde_json::from_str(r#"{"text":"t"}"#).unwrap();
    assert_eq!(
        m,
        NewMessage {
            text: "t".into(),
            ..NewMessage::default()
        }
    );
    let e = serde_json::from_str::<NewPeer>(r#"{"name":"x","key":"k","unknown_field":1}"#)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("expected one of `name`, `key`, `addrs`, `addr`, `rel`"),
        "the station's message names the fields in this order: {e}"
    );
    let r: Reason = serde_json::from_str("{}").unwrap();
    assert_eq!(r.reason, "");
    assert!(serde_json::from_str::<Reason>(r#"{"reason":1}"#).is_err());
    assert_eq!(serde_json::to_string(&Empty {}).unwrap(), "{}");
    let o: OpenChannel = serde_json::from_str(r#"{"peer":"bravo"}"#).unwrap();
    assert_eq!(
        serde_json::to_string(&o).unwrap(),
        r#"{"peer":"bravo","ack_windows":{}}"#
    );
}

#[test]
fn events_are_told_apart_by_type() {
    let e: Event = serde_json::from_str(&sample(
        r#"{"author":0,"channel":"<H>","cursor":9,"hash":"<H>","kind":"message","own":true,"type":"entry"}"#,
    ))
    .unwrap();
    assert!(matches!(
        e,
        Event::Entry(EntryEvent {
            cursor: 9,
            own: true,
            ..
        })
    ));
    let other: Event = serde_json::from_str(r#"{"type":"link","peer_id":1,"up":true}"#).unwrap();
    assert_eq!(other, Event::Other);
    let lagged = Lagged {
        missed: 3,
        kind: "lagged".into(),
    };
    assert_eq!(
        serde_json::to_string(&lagged).unwrap(),
        r#"{"missed":3,"type":"lagged"}"#
    );
}
