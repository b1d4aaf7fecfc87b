//! Bad input against a running station, over real sockets: each case ends with
//! the connection dropped or the input rejected, an alert where the sender is
//! known, nothing stored, and the station still serving.

use hotline_core::ChannelBook;
use hotline_link::StaticSecret;
use hotline_proto::link::ChannelHeads;
use hotline_proto::{Body, Envelope, LinkMsg, Precedence, SecretKeys, Terms};
use hotline_station::engine::{now_ns, Engine};
use hotline_station::Station;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Fake {
    keys: SecretKeys,
    dh: StaticSecret,
}

fn fake() -> Fake {
    let (dh, pk) = hotline_link::generate_keypair();
    let keys = SecretKeys::generate(*dh.as_bytes(), pk);
    Fake { keys, dh }
}

struct Rig {
    _dir: tempfile::TempDir,
    st: Station,
    a: Fake,
    /// The admin's API token.
    admin: String,
}

async fn rig() -> Rig {
    rig_with("").await
}

/// A rig whose station's config ends with `extra` (a `[tuning]` table).
async fn rig_with(extra: &str) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("b");
    let admin = hotline_station::init(&data, "b", "127.0.0.1:0", "127.0.0.1:0")
        .unwrap()
        .admin_token;
    let config = hotline_station::DataDir(data.clone()).config();
    let text = std::fs::read_to_string(&config).unwrap();
    // The fake peer sends no Hello: the station would end its session after
    // `handshake_timeout` (3 s), which a long case on a slow disk can outlast.
    let patient = "handshake_timeout = \"60s\"\n";
    let extra = match extra.strip_prefix("[tuning]\n") {
        Some(rest) => format!("[tuning]\n{patient}{rest}"),
        None => format!("[tuning]\n{patient}{extra}"),
    };
    std::fs::write(&config, format!("{text}\n{extra}")).unwrap();
    let st = Station::start(&data, None).await.unwrap();
    let a = fake();
    st.engine
        .add_peer(
            "a",
            &a.keys.identity().token(),
            vec!["127.0.0.1:9".into()],
            None,
        )
        .await
        .unwrap();
    assert!(st
        .engine
        .verify_peer("a", &a.keys.identity().fingerprint().to_string())
        .await
        .unwrap());
    Rig {
        _dir: dir,
        st,
        a,
        admin,
    }
}

impl Rig {
    fn e(&self) -> Arc<Engine> {
        self.st.engine.clone()
    }
    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.st.link_addr()).await.unwrap()
    }
    async fn session(
        &self,
    ) -> (
        hotline_link::Receiver<tokio::io::ReadHalf<TcpStream>>,
        hotline_link::Sender<tokio::io::WriteHalf<TcpStream>>,
    ) {
        let s = hotline_link::initiate(
            self.connect().await,
            &self.a.dh,
            &self.e().identity().dh_pk,
            now_ns(),
        )
        .await
        .unwrap();
        let (mut rx, tx) = s.split();
        let hello = rx.recv(1 << 20).await.unwrap();
        assert!(matches!(
            LinkMsg::from_bytes(&hello),
            Ok(LinkMsg::Hello { .. })
        ));
        (rx, tx)
    }
    async fn alerts(&self, kind: &str) -> usize {
        let k = kind.to_owned();
        self.e()
            .db()
            .read(move |s| s.alerts(true, 1000))
            .await
            .unwrap()
            .iter()
            .filter(|a| a.kind == k)
            .count()
    }
    async fn wait_alert(&self, kind: &str) {
        // Up to 30 s: generous for a loaded machine; returns as soon as it is there.
        for _ in 0..1500 {
            if self.alerts(kind).await > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no {kind} alert");
    }
    async fn reset(&self) {
        self.e().clear_alert(None, "bad-input:a").await;
    }
    async fn entries(&self) -> usize {
        let ids: Vec<_> = self.e().channel_ids();
        let mut n = 0;
        for id in ids {
            n += self
                .e()
                .db()
                .read(move |s| s.entries_after(&id, 0, 1_000_000))
                .await
                .unwrap()
                .len();
        }
        n
    }
    /// The station still answers its API.
    async fn serving(&self) {
        let r = reqwest::get(format!("http://{}/v1/health", self.st.api_addr()))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
}

/// Reads until the peer closes (or 30 s pass, which fails the test).
async fn closed(mut s: TcpStream) {
    let mut buf = [0u8; 4096];
    let r = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(r.is_ok(), "the station kept the connection open");
}

async fn recv_closed(
    rx: &mut hotline_link::Receiver<tokio::io::ReadHalf<TcpStream>>,
) -> Vec<LinkMsg> {
    let mut got = vec![];
    let r = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(b) = rx.recv(1 << 20).await {
            if let Ok(m) = LinkMsg::from_bytes(&b) {
                got.push(m);
            }
        }
    })
    .await;
    assert!(r.is_ok(), "the station kept the session open");
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_before_the_handshake_is_dropped() {
    let r = rig().await;
    let mut s = r.connect().await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    closed(s).await;
    let mut s = r.connect().await;
    s.write_all(&[0, 0]).await.unwrap();
    closed(s).await;
    assert_eq!(r.entries().await, 0);
    r.serving().await;
    r.st.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_from_an_unpinned_key_is_refused_and_alerted() {
    let r = rig().await;
    let stranger = fake();
    let res = hotline_link::initiate(
        r.connect().await,
        &stranger.dh,
        &r.e().identity().dh_pk,
        now_ns(),
    )
    .await;
    assert!(res.is_err());
    r.wait_alert("unpinned-key").await;
    assert_eq!(r.entries().await, 0);
    r.serving().await;
    r.st.stop().await;
}

/// The replay guard (SPEC §3): of two handshakes carrying the same clock (a
/// replay racing the original) exactly one is let through, an older clock
/// never is, and the stored clock only grows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_clock_is_claimed_once_and_the_stored_one_only_grows() {
    let r = rig().await;
    let e = r.e();
    let id = e.peer_by_name("a").unwrap().row.id;
    let ts = now_ns();
    let (x, y) = tokio::join!(e.advance_handshake(id, ts), e.advance_handshake(id, ts));
    let through = [x.unwrap(), y.unwrap()];
    assert_eq!(through.iter().filter(|t| **t).count(), 1, "{through:?}");
    assert!(!e.advance_handshake(id, ts - 1).await.unwrap());
    assert!(e.advance_handshake(id, ts + 1).await.unwrap());
    let stored = e
        .db()
        .read(move |s| s.peers())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.id == id)
        .unwrap()
        .handshake_ts;
    assert_eq!(stored, ts + 1);
    // The store keeps the maximum whatever order writes come in.
    e.db()
        .write(vec![hotline_store::WriteOp::HandshakeTs {
            peer_id: id,
            ts: 5,
        }])
        .await
        .unwrap();
    let stored = e
        .db()
        .read(move |s| s.peers())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.id == id)
        .unwrap()
        .handshake_ts;
    assert_eq!(stored, ts + 1);
    r.st.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_and_messages_after_the_handshake() {
    let r = rig().await;

    // Undecodable CBOR inside a valid Noise frame.
    let (mut rx, mut tx) = r.session().await;
    tx.send(b"\xff\xfe\xfd").await.unwrap();
    let got = recv_closed(&mut rx).await;
    assert!(
        got.iter().any(|m| matches!(m, LinkMsg::Error { .. })),
        "{got:?}"
    );
    r.wait_alert("bad-input").await;
    r.reset().await;

    // A message beyond the reassembly bound.
    let (mut rx, mut tx) = r.session().await;
    let _ = tx.send(&vec![0u8; 3 << 20]).await;
    recv_closed(&mut rx).await;
    r.wait_alert("bad-input").await;
    r.reset().await;

    // A frame cut short, then silence: the session is dropped, nothing stored.
    let mut s = r.connect().await;
    s.write_all(&[0x01, 0x00, 1, 2, 3]).await.unwrap();
    drop(s);

    // Too many envelopes in one message.
    let (mut rx, mut tx) = r.session().await;
    let m = LinkMsg::Entries {
        channel: [1; 32],
        envelopes: vec![vec![0]; 2000],
    };
    tx.send(&m.to_bytes()).await.unwrap();
    recv_closed(&mut rx).await;
    r.wait_alert("bad-input").await;
    r.reset().await;

    // A replayed handshake clock is refused.
    let old = now_ns() - 1_000_000_000_000;
    assert!(
        hotline_link::initiate(r.connect().await, &r.a.dh, &r.e().identity().dh_pk, old)
            .await
            .is_err()
    );

    assert_eq!(r.entries().await, 0);
    r.serving().await;
    r.st.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_entry_over_the_wire_is_rejected_and_nothing_stored() {
    let r = rig().await;
    let (book, open) =
        ChannelBook::open(&r.a.keys, r.e().identity(), Terms::default(), None, "a", 1);
    let (mut rx, mut tx) = r.session().await;
    tx.send(
        &LinkMsg::Entries {
            channel: book.id(),
            envelopes: vec![open.envelope().bytes().to_vec()],
        }
        .to_bytes(),
    )
    .await
    .unwrap();
    let cp = rx.recv(1 << 20).await.unwrap();
    assert!(
        matches!(LinkMsg::from_bytes(&cp), Ok(LinkMsg::Checkpoint { .. })),
        "a valid proposal is checkpointed"
    );
    assert_eq!(r.entries().await, 1);
    // The proposer may withdraw; a forged withdrawal (signed by someone else) is rejected.
    let v = book
        .author(
            &r.a.keys,
            Body::Terminate { reason: "x".into() },
            "a",
            2,
            true,
        )
        .unwrap();
    let forged = Envelope::sign(v.entry(), &fake().keys);
    tx.send(
        &LinkMsg::Entries {
            channel: book.id(),
            envelopes: vec![forged.bytes().to_vec()],
        }
        .to_bytes(),
    )
    .await
    .unwrap();
    let got = recv_closed(&mut rx).await;
    assert!(
        got.iter()
            .any(|m| matches!(m, LinkMsg::Error { text, .. } if text.contains("signature"))),
        "{got:?}"
    );
    r.wait_alert("bad-input").await;
    assert_eq!(r.entries().await, 1);
    let _ = Precedence::Routine;
    r.serving().await;
    r.st.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_is_cut_off_and_the_station_stays_responsive() {
    let r = rig().await;
    let (mut rx, mut tx) = r.session().await;
    let hello = LinkMsg::Hello {
        version: hotline_proto::link::LINK_VERSION,
        heads: vec![ChannelHeads {
            channel: [0; 32],
            heads: [(0, [0; 32]), (0, [0; 32])],
        }],
    };
    let flood = hello.to_bytes();
    // Until the station cuts the connection: however slowly it reads, it reads
    // faster than its own sustained limit, so the bucket empties (no fixed count
    // that a slow machine could take longer than the limit's refill to read).
    let sender = tokio::spawn(async move {
        for _ in 0..10_000_000u32 {
            if tx.send(&flood).await.is_err() {
                break;
            }
        }
    });
    let got = recv_closed(&mut rx).await;
    assert!(got.iter().any(|m| matches!(m, LinkMsg::Error { code, .. } if *code == hotline_proto::link::codes::RATE)), "{got:?}");
    let _ = sender.await;
    r.wait_alert("bad-input").await;
    r.serving().await;
    // And the same peer can come back and be served normally.
    r.reset().await;
    let (_rx, mut tx) = r.session().await;
    tx.send(&LinkMsg::Ping { n: 1 }.to_bytes()).await.unwrap();
    r.st.stop().await;
}

/// Every validity rule of SPEC §4, sent over a real session: each faulty entry
/// gets an `Error`, the session closes, `bad-input` is raised, nothing is stored.
/// A peer sending one new entry at a time, far over the inbound rate, moves
/// the line on and is not taken for a flood; the same entry sent again and
/// again moves nothing, and is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_entries_one_at_a_time_are_no_flood_and_repeats_are() {
    // The lowest rate allowed: 50 a second, a burst of 100.
    let r = rig_with("[tuning]\ninbound_rate_per_sec = 50\n").await;
    let (mut book, open) =
        ChannelBook::open(&r.a.keys, r.e().identity(), Terms::default(), None, "a", 1);
    let (mut rx, mut tx) = r.session().await;
    // What the station sends is read, so that it never waits on us.
    let replies = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Ok(b) = rx.recv(1 << 20).await {
            got.extend(LinkMsg::from_bytes(&b).ok());
        }
        got
    });
    let id = book.id();
    let entries = |v: &hotline_core::VerifiedEntry| {
        LinkMsg::Entries {
            channel: id,
            envelopes: vec![v.envelope().bytes().to_vec()],
        }
        .to_bytes()
    };
    tx.send(&entries(&open)).await.unwrap();
    let stored = |n: usize| {
        let r = &r;
        async move {
            for _ in 0..1500 {
                if r.entries().await == n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("{n} entries not stored");
        }
    };
    stored(1).await;
    let terms_hash = r
        .e()
        .channel(&id)
        .unwrap()
        .lock()
        .await
        .book()
        .terms()
        .hash();
    let accept = r
        .e()
        .author(&id, Body::Accept { terms_hash }, "b")
        .await
        .unwrap();
    match book.check(1, accept.envelope().bytes()).unwrap() {
        hotline_core::Outcome::New(v) => book.apply(&v, 2),
        o => panic!("{o:?}"),
    }
    // Four times the burst, as fast as they are signed.
    let n = 400;
    let mut last = Vec::new();
    for i in 0..n {
        let body = Body::Message {
            precedence: Precedence::Routine,
            subject: String::new(),
            text: format!("message {i}"),
            labels: vec![],
            reply_to: None,
        };
        let v = book.author(&r.a.keys, body, "a", 3, true).unwrap();
        book.apply(&v, 3);
        last = entries(&v);
        tx.send(&last).await.unwrap();
    }
    stored(n + 2).await;
    assert_eq!(
        r.alerts("bad-input").await,
        0,
        "new entries taken for a flood"
    );
    // The last one again and again: nothing new, so each counts.
    let sender = tokio::spawn(async move {
        for _ in 0..10_000_000u32 {
            if tx.send(&last).await.is_err() {
                break;
            }
        }
    });
    let got = replies.await.unwrap();
    let _ = sender.await;
    let rate = |m: &LinkMsg| matches!(m, LinkMsg::Error { code, .. } if *code == hotline_proto::link::codes::RATE);
    assert_eq!(got.iter().filter(|m| rate(m)).count(), 1, "{got:?}");
    r.wait_alert("bad-input").await;
    assert_eq!(r.entries().await, n + 2);
    r.serving().await;
    r.st.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_entry_over_the_wire_is_rejected_alerted_and_not_stored() {
    use hotline_proto::Entry;
    let r = rig().await;
    let terms = Terms {
        max_entry_bytes: 4096,
        ..Terms::default()
    };
    let (mut book, open) = ChannelBook::open(&r.a.keys, r.e().identity(), terms, None, "a", 1);
    let id = book.id();
    let send = |envs: Vec<Vec<u8>>| {
        let r = &r;
        async move {
            let (mut rx, mut tx) = r.session().await;
            tx.send(
                &LinkMsg::Entries {
                    channel: id,
                    envelopes: envs,
                }
                .to_bytes(),
            )
            .await
            .unwrap();
            let first = tokio::time::timeout(Duration::from_secs(30), rx.recv(1 << 20))
                .await
                .unwrap()
                .unwrap();
            LinkMsg::from_bytes(&first).unwrap()
        }
    };
    assert!(matches!(
        send(vec![open.envelope().bytes().to_vec()]).await,
        LinkMsg::Checkpoint { .. }
    ));
    // The invited station accepts; alpha learns of it as it would over its own link.
    let th = book.terms().hash();
    let acc = r
        .e()
        .author(&id, Body::Accept { terms_hash: th }, "b")
        .await
        .unwrap();
    match book.check(1, acc.envelope().bytes()).unwrap() {
        hotline_core::Outcome::New(v) => book.apply(&v, 2),
        o => panic!("{o:?}"),
    }
    let good = book
        .author(
            &r.a.keys,
            Body::Message {
                precedence: Precedence::Routine,
                subject: String::new(),
                text: "hi".into(),
                labels: vec![],
                reply_to: None,
            },
            "a",
            3,
            true,
        )
        .unwrap()
        .entry()
        .clone();
    let sign = |e: &Entry| Envelope::sign(e, &r.a.keys).bytes().to_vec();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "over max_entry_bytes",
            sign(&Entry {
                body: Body::Message {
                    precedence: Precedence::Routine,
                    subject: String::new(),
                    text: "x".repeat(5000),
                    labels: vec![],
                    reply_to: None,
                },
                ..good.clone()
            }),
        ),
        (
            "undecodable envelope",
            b"\xa2\x65entry\x41\x00\x63sig\x41\x00".to_vec(),
        ),
        (
            "forged signature",
            Envelope::sign(&good, &fake().keys).bytes().to_vec(),
        ),
        (
            "wrong channel",
            sign(&Entry {
                channel: [9; 32],
                ..good.clone()
            }),
        ),
        (
            "wrong author",
            sign(&Entry {
                author: 1,
                ..good.clone()
            }),
        ),
        (
            "seq gap",
            sign(&Entry {
                seq: good.seq + 1,
                ..good.clone()
            }),
        ),
        (
            "wrong prev",
            sign(&Entry {
                prev: [3; 32],
                ..good.clone()
            }),
        ),
        (
            "seen pointing nowhere",
            sign(&Entry {
                seen: (7, [1; 32]),
                ..good.clone()
            }),
        ),
        (
            "wrong lamport",
            sign(&Entry {
                lamport: good.lamport + 1,
                ..good.clone()
            }),
        ),
        (
            "reference outside the causal past",
            sign(&Entry {
                body: Body::Ack { of: [4; 32] },
                ..good.clone()
            }),
        ),
        (
            "body the state forbids",
            sign(&Entry {
                body: Body::Resume,
                ..good.clone()
            }),
        ),
    ];
    let before = r.entries().await;
    for (what, bytes) in cases {
        let reply = send(vec![bytes]).await;
        assert!(
            matches!(reply, LinkMsg::Error { code: 1, .. }),
            "{what}: {reply:?}"
        );
        r.wait_alert("bad-input").await;
        assert_eq!(r.entries().await, before, "{what}: something was stored");
        r.reset().await;
    }
    // The valid entry still goes in; replaying it is ignored and stored once.
    assert!(matches!(
        send(vec![sign(&good)]).await,
        LinkMsg::Checkpoint { .. }
    ));
    assert!(matches!(
        send(vec![sign(&good)]).await,
        LinkMsg::Checkpoint { .. }
    ));
    assert_eq!(r.entries().await, before + 1);
    // Equivocation: same seq, other content.
    let other = Entry {
        body: Body::Message {
            precedence: Precedence::Routine,
            subject: String::new(),
            text: "other".into(),
            labels: vec![],
            reply_to: None,
        },
        ..good.clone()
    };
    assert!(matches!(
        send(vec![sign(&other)]).await,
        LinkMsg::Error { .. }
    ));
    r.wait_alert("equivocation").await;
    assert_eq!(r.entries().await, before + 1);
    // Both envelopes are kept, and the API shows them.
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/v1/evidence", r.st.api_addr()))
        .bearer_auth(&r.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ev = v["evidence"].as_array().unwrap();
    assert_eq!(ev.len(), 1, "{v}");
    let b64 = |b: &[u8]| data_encoding::BASE64.encode(b);
    assert_eq!(ev[0]["stored"], b64(&sign(&good)));
    assert_eq!(ev[0]["conflicting"], b64(&sign(&other)));
    assert_eq!(ev[0]["seq"], good.seq);
    r.serving().await;
    r.st.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_peer_is_served_while_one_floods() {
    let r = rig().await;
    let c = fake();
    r.e()
        .add_peer(
            "c",
            &c.keys.identity().token(),
            vec!["127.0.0.1:9".into()],
            None,
        )
        .await
        .unwrap();
    let (_rx, mut tx) = r.session().await;
    let flood = LinkMsg::Ping { n: 0 }.to_bytes();
    let flooder = tokio::spawn(async move {
        for _ in 0..50_000 {
            if tx.send(&flood).await.is_err() {
                break;
            }
        }
    });
    let s = hotline_link::initiate(r.connect().await, &c.dh, &r.e().identity().dh_pk, now_ns())
        .await
        .unwrap();
    let (mut crx, mut ctx) = s.split();
    assert!(matches!(
        LinkMsg::from_bytes(&crx.recv(1 << 20).await.unwrap()),
        Ok(LinkMsg::Hello { .. })
    ));
    ctx.send(&LinkMsg::Ping { n: 7 }.to_bytes()).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(30), crx.recv(1 << 20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(LinkMsg::from_bytes(&pong).unwrap(), LinkMsg::Pong { n: 7 });
    let _ = flooder.await;
    r.serving().await;
    r.st.stop().await;
}
