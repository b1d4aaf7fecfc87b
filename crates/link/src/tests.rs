//! Behaviour tests for the handshake and the framing, over in-memory pipes
//! (and once over loopback TCP).

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use snow::{Builder, StatelessTransportState};
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};

use crate::handshake::{MSG1_LEN, MSG2_LEN};
use crate::*;

/// Room in each direction of an in-memory pipe; smaller than a frame, so
/// large messages only pass if both sides run concurrently.
const PIPE: usize = 16 * 1024;

/// Generous limit for tests that are not about limits.
const BIG: usize = 1 << 20;

/// Bytes a frame adds to its chunk: prefix, flag, tag.
const OVERHEAD: usize = 2 + 1 + TAG_LEN;

struct Keys {
    secret: StaticSecret,
    public: [u8; 32],
}

fn keys() -> Keys {
    let (secret, public) = generate_keypair();
    Keys { secret, public }
}

/// A decision function pinning exactly `pinned` with the given last timestamp.
fn pin(pinned: [u8; 32], last_timestamp: u64) -> impl FnOnce(&[u8; 32]) -> PeerDecision {
    move |key| {
        if *key == pinned {
            PeerDecision::Pinned {
                last_timestamp,
                min_epoch: 0,
                psk: PskChain::initial(None),
            }
        } else {
            PeerDecision::Unknown
        }
    }
}

/// A message whose bytes depend on their position, so misordered fragments show.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Handshakes over a fresh pipe; returns (initiator, responder).
async fn connected() -> (Session<DuplexStream>, Session<DuplexStream>) {
    let (a, b) = (keys(), keys());
    let (ia, rb) = duplex(PIPE);
    let (init, resp) = tokio::join!(
        initiate(ia, &a.secret, &b.public, 7),
        respond(rb, &b.secret, pin(a.public, 0)),
    );
    let (resp, who, ts) = resp.expect("responder handshake");
    assert_eq!((who, ts), (a.public, 7));
    (init.expect("initiator handshake"), resp)
}

/// Encrypts `plaintext` as transport frame number `nonce` and prefixes it.
fn seal(transport: &StatelessTransportState, nonce: u64, plaintext: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 2 + MAX_NOISE_MESSAGE];
    let n = transport
        .write_message(nonce, plaintext, &mut out[2..])
        .expect("seal");
    out[..2].copy_from_slice(&(n as u16).to_be_bytes());
    out.truncate(2 + n);
    out
}

/// The bytes `send` puts on the wire for `message`, using the sending keys of `transport`.
async fn wire_bytes(transport: Arc<StatelessTransportState>, messages: &[&[u8]]) -> Vec<u8> {
    let mut sender = Sender::new(Vec::new(), transport);
    for message in messages {
        sender.send(message).await.expect("send to memory");
    }
    sender.into_writer()
}

/// An initiator whose raw stream and transport the test drives by hand, and
/// the responder's receiving half.
async fn raw_to_receiver() -> (
    DuplexStream,
    Arc<StatelessTransportState>,
    Receiver<tokio::io::ReadHalf<DuplexStream>>,
) {
    let (init, resp) = connected().await;
    let (stream, transport) = init.into_parts();
    let (rx, _tx) = resp.split();
    (stream, transport, rx)
}

#[test]
fn pattern_parses_and_keys_agree() {
    let _ = handshake_params();
    let (secret, public) = generate_keypair();
    assert_eq!(public_key(&secret), public);
    let again = StaticSecret::from_bytes(*secret.as_bytes());
    assert_eq!(public_key(&again), public);
    assert_ne!(generate_keypair().1, public, "two fresh keys must differ");
}

fn handshake_params() -> snow::params::NoiseParams {
    crate::handshake::params()
}

#[tokio::test]
async fn handshake_then_messages_both_ways() {
    let (a, b) = (keys(), keys());
    let (ia, rb) = duplex(PIPE);
    let (init, resp) = tokio::join!(
        initiate(ia, &a.secret, &b.public, 1_700_000_000_000_000_000),
        respond(rb, &b.secret, pin(a.public, 42)),
    );
    let init = init.unwrap();
    let (resp, who, ts) = resp.unwrap();
    assert_eq!(who, a.public);
    assert_eq!(ts, 1_700_000_000_000_000_000);
    assert_eq!(init.remote_static(), b.public);
    assert_eq!(resp.remote_static(), a.public);

    let (mut a_rx, mut a_tx) = init.split();
    let (mut b_rx, mut b_tx) = resp.split();
    let big = pattern(200 * 1024);
    let messages: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        Vec::new(),
        big.clone(),
        b"after".to_vec(),
    ];

    let a_to_b = async {
        for m in &messages {
            a_tx.send(m).await.unwrap();
        }
    };
    let b_reads = async {
        let mut got = Vec::new();
        for _ in &messages {
            got.push(b_rx.recv(BIG).await.unwrap());
        }
        got
    };
    let b_to_a = async {
        for m in messages.iter().rev() {
            b_tx.send(m).await.unwrap();
        }
    };
    let a_reads = async {
        let mut got = Vec::new();
        for _ in &messages {
            got.push(a_rx.recv(BIG).await.unwrap());
        }
        got
    };
    let ((), at_b, (), at_a) = tokio::join!(a_to_b, b_reads, b_to_a, a_reads);
    assert_eq!(at_b, messages);
    let mut reversed = messages.clone();
    reversed.reverse();
    assert_eq!(at_a, reversed);

    // Dropping the sender closes the stream between messages: a clean close.
    drop(a_tx);
    drop(a_rx);
    assert_eq!(b_rx.recv(BIG).await, Err(LinkError::Closed));
    assert_eq!(
        b_rx.recv(BIG).await,
        Err(LinkError::Closed),
        "Closed stays Closed"
    );
}

#[tokio::test]
async fn handshake_over_loopback_tcp() {
    let (a, b) = (keys(), keys());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (stream, _) = listener.accept().await.unwrap();
        let (session, who, _) = respond(stream, &b.secret, pin(a.public, 0)).await.unwrap();
        assert_eq!(who, a.public);
        let (mut rx, mut tx) = session.split();
        let got = rx.recv(BIG).await.unwrap();
        tx.send(&got).await.unwrap();
    };
    let client = async {
        let stream = TcpStream::connect(addr).await.unwrap();
        let session = initiate(stream, &a.secret, &b.public, 1).await.unwrap();
        let (mut rx, mut tx) = session.split();
        let message = pattern(150_000);
        tx.send(&message).await.unwrap();
        assert_eq!(rx.recv(BIG).await.unwrap(), message);
    };
    tokio::join!(server, client);
}

#[tokio::test]
async fn unpinned_initiator_is_refused_without_a_reply() {
    let (a, b, c) = (keys(), keys(), keys());
    let (ia, rb) = duplex(PIPE);
    // The responder pins only c, so a is unknown.
    let (init, resp) = tokio::join!(
        initiate(ia, &a.secret, &b.public, 5),
        respond(rb, &b.secret, pin(c.public, 0)),
    );
    assert_eq!(resp.err(), Some(LinkError::UnpinnedKey(a.public)));
    // Closed, not Crypto: the responder wrote not a single byte before hanging up.
    assert_eq!(init.err(), Some(LinkError::Closed));
}

/// Each side learns the other's leader epoch; an initiator whose epoch is
/// below the last accepted from its key is refused before the responder
/// says a word, and an equal or higher one is let through.
#[tokio::test]
async fn leader_epochs_are_exchanged_and_a_fallen_one_refused() {
    let (a, b) = (keys(), keys());
    let pinned = |min_epoch| {
        move |_: &[u8; 32]| PeerDecision::Pinned {
            last_timestamp: 0,
            min_epoch,
            psk: PskChain::initial(None),
        }
    };
    let (ia, rb) = duplex(PIPE);
    let (init, resp) = tokio::join!(
        initiate_at(ia, &a.secret, &b.public, 10, 7),
        respond_at(rb, &b.secret, 3, pinned(7)),
    );
    assert_eq!(init.map(|(_, e)| e).ok(), Some(3), "the responder's epoch");
    assert_eq!(
        resp.map(|(_, _, _, e)| e).ok(),
        Some(7),
        "the initiator's epoch"
    );
    let (ia, rb) = duplex(PIPE);
    let (init, resp) = tokio::join!(
        initiate_at(ia, &a.secret, &b.public, 11, 6),
        respond_at(rb, &b.secret, 3, pinned(7)),
    );
    assert_eq!(resp.err(), Some(LinkError::StaleEpoch { seen: 7, got: 6 }));
    assert_eq!(init.err(), Some(LinkError::Closed));
}

#[tokio::test]
async fn stale_or_repeated_timestamp_is_a_replay() {
    let (a, b) = (keys(), keys());
    for (last, got) in [(100, 100), (100, 99), (u64::MAX, u64::MAX), (1, 0)] {
        let (ia, rb) = duplex(PIPE);
        let (init, resp) = tokio::join!(
            initiate(ia, &a.secret, &b.public, got),
            respond(rb, &b.secret, pin(a.public, last)),
        );
        assert_eq!(resp.err(), Some(LinkError::Replay { last, got }));
        assert_eq!(init.err(), Some(LinkError::Closed));
    }
    // One nanosecond later is accepted.
    let (ia, rb) = duplex(PIPE);
    let (init, resp) = tokio::join!(
        initiate(ia, &a.secret, &b.public, 101),
        respond(rb, &b.secret, pin(a.public, 100)),
    );
    assert!(init.is_ok());
    assert_eq!(
        resp.map(|(_, who, ts)| (who, ts)).ok(),
        Some((a.public, 101))
    );
}

#[tokio::test]
async fn initiator_with_wrong_responder_key_fails() {
    let (a, b, x) = (keys(), keys(), keys());
    let (ia, rb) = duplex(PIPE);
    let mut asked = false;
    // The initiator believes the responder's key is x, but the responder holds b.
    let (init, resp) = tokio::join!(
        initiate(ia, &a.secret, &x.public, 5),
        respond(rb, &b.secret, |_: &[u8; 32]| {
            asked = true;
            PeerDecision::Pinned {
                last_timestamp: 0,
                min_epoch: 0,
                psk: PskChain::initial(None),
            }
        }),
    );
    assert_eq!(resp.err(), Some(LinkError::Crypto));
    assert_eq!(init.err(), Some(LinkError::Closed));
    assert!(
        !asked,
        "an undecryptable handshake must not reach the pinning decision"
    );
}

#[tokio::test]
async fn message_above_limit_is_too_large() {
    // One frame over the limit.
    let (init, resp) = connected().await;
    let (_a_rx, mut a_tx) = init.split();
    let (mut b_rx, _b_tx) = resp.split();
    let (sent, got) = tokio::join!(a_tx.send(&[7u8; 1000]), b_rx.recv(999));
    sent.unwrap();
    assert_eq!(got, Err(LinkError::TooLarge { limit: 999 }));
    // The stream is now inside nothing we can trust; the half stays failed.
    assert!(matches!(
        b_rx.recv(BIG).await,
        Err(LinkError::Io(ErrorKind::BrokenPipe, _))
    ));

    // Over the limit only after several fragments; exactly at the limit is fine.
    let (init, resp) = connected().await;
    let (_a_rx, mut a_tx) = init.split();
    let (mut b_rx, _b_tx) = resp.split();
    let exact = pattern(3 * MAX_CHUNK);
    let (sent, got) = tokio::join!(a_tx.send(&exact), b_rx.recv(exact.len()));
    sent.unwrap();
    assert_eq!(got.unwrap(), exact);
    // The receiver gives up midway and stops reading, so the send is left stalled.
    let send = tokio::spawn(async move { a_tx.send(&pattern(200_000)).await });
    assert_eq!(
        b_rx.recv(100_000).await,
        Err(LinkError::TooLarge { limit: 100_000 })
    );
    send.abort();
}

#[tokio::test]
async fn garbage_instead_of_handshake_is_an_error() {
    let b = keys();

    // Text: its first two bytes read as a length far beyond any handshake message.
    let (mut client, server) = duplex(PIPE);
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let resp = respond(server, &b.secret, |_: &[u8; 32]| PeerDecision::Unknown).await;
    assert_eq!(
        resp.err(),
        Some(LinkError::Malformed("message longer than allowed here"))
    );

    // A plausible length, then the stream ends early.
    let (mut client, server) = duplex(PIPE);
    client.write_all(&[0, 104, 1, 2, 3]).await.unwrap();
    drop(client);
    let resp = respond(server, &b.secret, |_: &[u8; 32]| PeerDecision::Unknown).await;
    assert!(matches!(
        resp.err(),
        Some(LinkError::Io(ErrorKind::UnexpectedEof, _))
    ));

    // Well framed, the right version and length, random otherwise: the
    // first DH-derived decryption fails.
    let (mut client, server) = duplex(PIPE);
    let mut msg = vec![WIRE_VERSION];
    msg.extend(pattern(MSG1_LEN - 1).iter().map(|b| b.wrapping_mul(31)));
    client.write_all(&prefixed(&msg)).await.unwrap();
    let resp = respond(server, &b.secret, |_: &[u8; 32]| PeerDecision::Unknown).await;
    assert_eq!(resp.err(), Some(LinkError::Crypto));

    // The right version, too short to hold even an ephemeral key.
    let (mut client, server) = duplex(PIPE);
    client
        .write_all(&prefixed(&[WIRE_VERSION, 1, 2]))
        .await
        .unwrap();
    let resp = respond(server, &b.secret, |_: &[u8; 32]| PeerDecision::Unknown).await;
    assert!(matches!(resp.err(), Some(LinkError::Malformed(_))));

    // A responder that answers with garbage of the right shape: the KEM
    // secret comes out unrelated (implicit rejection) and Noise fails.
    let a = keys();
    let (client, mut server) = duplex(PIPE);
    let fake = async {
        read_prefixed(&mut server).await;
        let mut reply = vec![WIRE_VERSION];
        reply.extend_from_slice(&[0x5a; MSG2_LEN - 1]);
        server.write_all(&prefixed(&reply)).await.unwrap();
        server
    };
    let (init, _server) = tokio::join!(initiate(client, &a.secret, &b.public, 1), fake);
    assert_eq!(init.err(), Some(LinkError::Crypto));
}

/// The bytes of `msg` behind their u16 length prefix.
fn prefixed(msg: &[u8]) -> Vec<u8> {
    let mut out = (msg.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(msg);
    out
}

/// Reads one length-prefixed message.
async fn read_prefixed(stream: &mut DuplexStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.unwrap();
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut msg).await.unwrap();
    msg
}

/// A link-version-2 initiator (IK, 112 bytes, no version byte) is told the
/// versions on this end and answered with this side's version byte alone,
/// which an initiator of another version reports in turn.
#[tokio::test]
async fn another_link_version_is_named_on_both_ends() {
    let (a, b) = (keys(), keys());
    let (mut client, server) = duplex(PIPE);
    let v2 = async {
        let mut hs = Builder::new("Noise_IK_25519_AESGCM_SHA256".parse().unwrap())
            .prologue(PROLOGUE)
            .unwrap()
            .local_private_key(a.secret.as_bytes())
            .unwrap()
            .remote_public_key(&b.public)
            .unwrap()
            .build_initiator()
            .unwrap();
        let mut out = [0u8; 256];
        let n = hs.write_message(&[0u8; 16], &mut out).unwrap();
        assert_eq!(n, 112);
        client.write_all(&prefixed(&out[..n])).await.unwrap();
        read_prefixed(&mut client).await
    };
    let (resp, answer) = tokio::join!(respond(server, &b.secret, pin(a.public, 0)), v2);
    assert_eq!(
        resp.err(),
        Some(LinkError::Version {
            ours: WIRE_VERSION,
            theirs: 2
        })
    );
    assert_eq!(answer, vec![WIRE_VERSION]);

    // A responder of a later version answers with its byte alone.
    let (client, mut server) = duplex(PIPE);
    let later = async {
        read_prefixed(&mut server).await;
        server
            .write_all(&prefixed(&[WIRE_VERSION + 1]))
            .await
            .unwrap();
        server
    };
    let (init, _server) = tokio::join!(initiate(client, &a.secret, &b.public, 1), later);
    assert_eq!(
        init.err(),
        Some(LinkError::Version {
            ours: WIRE_VERSION,
            theirs: WIRE_VERSION + 1
        })
    );
}

/// A version-2 message 1 whose random ephemeral key happens to begin with
/// this version's byte (one in 256 of them) is still named version 2, not
/// taken for a message of this version of the wrong length.
#[tokio::test]
async fn a_version_two_message_starting_with_our_byte_is_still_version_two() {
    let b = keys();
    let (mut client, server) = duplex(PIPE);
    let mut v2 = [0x5au8; 112];
    v2[0] = WIRE_VERSION;
    client.write_all(&prefixed(&v2)).await.unwrap();
    let resp = respond(server, &b.secret, |_: &[u8; 32]| PeerDecision::Unknown).await;
    assert_eq!(
        resp.err(),
        Some(LinkError::Version {
            ours: WIRE_VERSION,
            theirs: 2
        })
    );
    assert_eq!(read_prefixed(&mut client).await, vec![WIRE_VERSION]);
}

#[tokio::test]
async fn zero_length_prefix_is_malformed() {
    let b = keys();
    let (mut client, server) = duplex(PIPE);
    client.write_all(&[0, 0, 1, 2, 3]).await.unwrap();
    let resp = respond(server, &b.secret, |_: &[u8; 32]| PeerDecision::Unknown).await;
    assert_eq!(resp.err(), Some(LinkError::Malformed("zero length prefix")));

    let (mut raw, _transport, mut rx) = raw_to_receiver().await;
    raw.write_all(&[0, 0]).await.unwrap();
    assert_eq!(
        rx.recv(BIG).await,
        Err(LinkError::Malformed("zero length prefix"))
    );
}

#[tokio::test]
async fn wrong_handshake_lengths_are_malformed() {
    let (a, b) = (keys(), keys());
    // A well-encrypted first message whose payload is not clock, epoch,
    // generation and KEM key (8: a version-1 clock alone; 16: version 2's).
    for len in [0usize, 8, 16, 17] {
        let (mut client, server) = duplex(PIPE);
        let mut hs = Builder::new(handshake_params())
            .prologue(PROLOGUE)
            .unwrap()
            .local_private_key(a.secret.as_bytes())
            .unwrap()
            .remote_public_key(&b.public)
            .unwrap()
            .build_initiator()
            .unwrap();
        let mut out = vec![0u8; MAX_NOISE_MESSAGE];
        out[0] = WIRE_VERSION;
        let n = hs.write_message(&vec![1u8; len], &mut out[1..]).unwrap();
        client.write_all(&prefixed(&out[..1 + n])).await.unwrap();
        let resp = respond(server, &b.secret, pin(a.public, 0)).await;
        assert!(
            matches!(resp.err(), Some(LinkError::Malformed(m)) if m.contains("wrong length")),
            "payload of {len}"
        );
    }

    // A reply of the right version and the wrong length.
    let (client, mut server) = duplex(PIPE);
    let fake = async {
        read_prefixed(&mut server).await;
        server
            .write_all(&prefixed(&[WIRE_VERSION, 0, 0, 0, 0, 0, 0, 0, 7]))
            .await
            .unwrap();
        server
    };
    let (init, _server) = tokio::join!(initiate(client, &a.secret, &b.public, 1), fake);
    assert!(matches!(init.err(), Some(LinkError::Malformed(m)) if m.contains("wrong length")));
}

#[tokio::test]
async fn flipped_byte_in_a_frame_is_crypto() {
    // Flip a byte of the ciphertext, then (separately) of the tag.
    for offset in [2 + 1, 2 + 1 + 5 + TAG_LEN - 1] {
        let (mut raw, transport, mut rx) = raw_to_receiver().await;
        let mut wire = wire_bytes(transport, &[b"hello"]).await;
        assert_eq!(wire.len(), OVERHEAD + 5);
        wire[offset] ^= 0x01;
        raw.write_all(&wire).await.unwrap();
        assert_eq!(rx.recv(BIG).await, Err(LinkError::Crypto));
    }
}

#[tokio::test]
async fn replayed_or_reordered_frames_are_crypto() {
    // The same frame twice: the second has a stale nonce.
    let (mut raw, transport, mut rx) = raw_to_receiver().await;
    let wire = wire_bytes(transport, &[b"once"]).await;
    raw.write_all(&wire).await.unwrap();
    raw.write_all(&wire).await.unwrap();
    assert_eq!(rx.recv(BIG).await.unwrap(), b"once");
    assert_eq!(rx.recv(BIG).await, Err(LinkError::Crypto));

    // Second frame first.
    let (mut raw, transport, mut rx) = raw_to_receiver().await;
    let first = seal(&transport, 0, b"\x01first");
    let second = seal(&transport, 1, b"\x01second");
    raw.write_all(&second).await.unwrap();
    raw.write_all(&first).await.unwrap();
    assert_eq!(rx.recv(BIG).await, Err(LinkError::Crypto));
}

#[tokio::test]
async fn bad_fragment_flags_are_malformed() {
    let cases: [(&[u8], &str); 3] = [
        (b"\x02abc", "unknown fragment flag"),
        (b"\x00", "empty middle fragment"),
        (b"", "frame without a flag byte"),
    ];
    for (plaintext, why) in cases {
        let (mut raw, transport, mut rx) = raw_to_receiver().await;
        raw.write_all(&seal(&transport, 0, plaintext))
            .await
            .unwrap();
        assert_eq!(rx.recv(BIG).await, Err(LinkError::Malformed(why)));
    }
}

#[tokio::test]
async fn hand_made_fragments_reassemble() {
    let (mut raw, transport, mut rx) = raw_to_receiver().await;
    raw.write_all(&seal(&transport, 0, b"\x00ab"))
        .await
        .unwrap();
    raw.write_all(&seal(&transport, 1, b"\x00c")).await.unwrap();
    raw.write_all(&seal(&transport, 2, b"\x01")).await.unwrap();
    raw.write_all(&seal(&transport, 3, b"\x01d")).await.unwrap();
    assert_eq!(rx.recv(BIG).await.unwrap(), b"abc");
    assert_eq!(rx.recv(BIG).await.unwrap(), b"d");
}

#[tokio::test]
async fn fragment_boundaries_on_the_wire() {
    let (init, _resp) = connected().await;
    let (_, transport) = init.into_parts();
    // (message length, frames it must take)
    for (len, frames) in [
        (0, 1),
        (1, 1),
        (MAX_CHUNK, 1),
        (MAX_CHUNK + 1, 2),
        (2 * MAX_CHUNK, 2),
        (2 * MAX_CHUNK + 1, 3),
    ] {
        let message = pattern(len);
        let wire = wire_bytes(Arc::clone(&transport), &[&message]).await;
        assert_eq!(
            wire.len(),
            len + frames * OVERHEAD,
            "message of {len} bytes"
        );
        // A full frame is exactly the largest Noise message.
        if len >= MAX_CHUNK {
            assert_eq!(
                usize::from(u16::from_be_bytes([wire[0], wire[1]])),
                MAX_NOISE_MESSAGE
            );
        }
    }
    assert_eq!(MAX_CHUNK, 65518);
}

#[tokio::test]
async fn stream_ending_mid_message_is_io_error() {
    let (mut raw, transport, mut rx) = raw_to_receiver().await;
    raw.write_all(&seal(&transport, 0, b"\x00part"))
        .await
        .unwrap();
    drop(raw);
    assert!(matches!(
        rx.recv(BIG).await,
        Err(LinkError::Io(ErrorKind::UnexpectedEof, _))
    ));

    // Ending inside a frame is no clean close either.
    let (mut raw, transport, mut rx) = raw_to_receiver().await;
    let frame = seal(&transport, 0, b"\x01whole");
    raw.write_all(&frame[..frame.len() - 1]).await.unwrap();
    drop(raw);
    assert!(matches!(
        rx.recv(BIG).await,
        Err(LinkError::Io(ErrorKind::UnexpectedEof, _))
    ));
}

#[tokio::test]
async fn cancelled_recv_loses_nothing() {
    let (mut raw, transport, mut rx) = raw_to_receiver().await;
    let wait = Duration::from_millis(30);
    let first = seal(&transport, 0, b"\x00first half, ");
    let second = seal(&transport, 1, b"\x01second half");

    // Cancelled inside the length prefix, inside a frame, and between fragments.
    raw.write_all(&first[..1]).await.unwrap();
    assert!(tokio::time::timeout(wait, rx.recv(BIG)).await.is_err());
    raw.write_all(&first[1..7]).await.unwrap();
    assert!(tokio::time::timeout(wait, rx.recv(BIG)).await.is_err());
    raw.write_all(&first[7..]).await.unwrap();
    assert!(tokio::time::timeout(wait, rx.recv(BIG)).await.is_err());
    raw.write_all(&second).await.unwrap();
    assert_eq!(rx.recv(BIG).await.unwrap(), b"first half, second half");
}

#[tokio::test]
async fn cancelled_send_blocks_later_sends() {
    let (init, _resp) = connected().await;
    let (_rx, mut tx) = init.split();
    // Nobody reads, so the pipe fills and the send stalls midway.
    let stalled = tokio::time::timeout(Duration::from_millis(30), tx.send(&pattern(100_000))).await;
    assert!(stalled.is_err());
    assert!(matches!(
        tx.send(b"x").await,
        Err(LinkError::Io(ErrorKind::BrokenPipe, _))
    ));
}

#[test]
fn error_messages_are_sentences() {
    let text = LinkError::UnpinnedKey([0xab; 32]).to_string();
    assert!(text.contains(&"ab".repeat(32)), "{text}");
    assert_eq!(
        LinkError::TooLarge { limit: 10 }.to_string(),
        "the peer sent a link message larger than the 10-byte limit"
    );
}

/// A single-threaded runtime for property tests, which are synchronous.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever the sizes, messages arrive whole, in order, and the wire
    /// carries exactly one frame per started chunk.
    #[test]
    fn any_messages_round_trip(sizes in proptest::collection::vec(0usize..140_000, 1..5)) {
        block_on(async {
            let (init, resp) = connected().await;
            let (_, transport) = init.into_parts();
            let (_, peer) = resp.into_parts();
            let messages: Vec<Vec<u8>> = sizes.iter().map(|&n| pattern(n)).collect();
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            let wire = wire_bytes(transport, &refs).await;
            let frames: usize = sizes.iter().map(|&n| n.div_ceil(MAX_CHUNK).max(1)).sum();
            prop_assert_eq!(wire.len(), sizes.iter().sum::<usize>() + frames * OVERHEAD);
            let mut rx = Receiver::new(wire.as_slice(), peer);
            for message in &messages {
                prop_assert_eq!(&rx.recv(BIG).await.unwrap(), message);
            }
            prop_assert_eq!(rx.recv(BIG).await, Err(LinkError::Closed));
            Ok(())
        })?;
    }

    /// Arbitrary bytes never decode into a message, and never panic.
    #[test]
    fn arbitrary_bytes_are_rejected(bytes in proptest::collection::vec(any::<u8>(), 1..3000)) {
        block_on(async {
            let (_init, resp) = connected().await;
            let (_, peer) = resp.into_parts();
            let mut rx = Receiver::new(bytes.as_slice(), peer);
            prop_assert!(rx.recv(BIG).await.is_err());

            let b = keys();
            let result = respond(tokio::io::join(bytes.as_slice(), tokio::io::sink()), &b.secret, |_: &[u8; 32]| PeerDecision::Pinned { last_timestamp: 0, min_epoch: 0, psk: PskChain::initial(None) }).await;
            prop_assert!(result.is_err());
            Ok(())
        })?;
    }
}
