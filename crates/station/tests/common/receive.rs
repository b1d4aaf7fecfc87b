//! One station (bravo) in process, with its counterpart alpha played by
//! hand: entries alpha signs are fed through bravo's real receive path.
#![allow(dead_code)] // each test file uses part of it

use hotline_core::ChannelBook;
use hotline_proto::{Body, Entry, Envelope, SecretKeys, Terms};
use hotline_station::db::Db;
use hotline_station::engine::{Engine, PeerRt};

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub engine: Engine,
    pub peer: PeerRt,
    pub a: SecretKeys,
    /// Alpha's own book of the channel (alpha is author 0).
    pub book: ChannelBook,
}

pub fn keys() -> SecretKeys {
    let (s, p) = hotline_link::generate_keypair();
    SecretKeys::generate(*s.as_bytes(), p)
}

pub async fn fixture(verified: bool, terms: Terms) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bravo");
    hotline_station::init_with(&data, "bravo", "127.0.0.1:0", "127.0.0.1:0", Some("sqlite"))
        .unwrap();
    let d = hotline_station::DataDir(data);
    let kb = d.load_keys().unwrap();
    let db = Db::open(&d.db(), 1).unwrap();
    let engine = Engine::load("bravo".into(), kb, db, None).unwrap();
    let a = keys();
    engine
        .add_peer(
            "alpha",
            &a.identity().token(),
            vec!["127.0.0.1:9".into()],
            None,
        )
        .await
        .unwrap();
    if verified {
        assert!(engine
            .verify_peer("alpha", &a.identity().fingerprint().to_string())
            .await
            .unwrap());
    }
    let peer = engine.peer_by_name("alpha").unwrap();
    let (book, open) = ChannelBook::open(&a, engine.identity(), terms, None, "a", 1);
    engine
        .receive(&peer, book.id(), vec![open.envelope().bytes().to_vec()])
        .await
        .expect("storage works")
        .fault
        .map_or(Ok(()), Err)
        .expect("a valid proposal is stored");
    Fixture {
        _dir: dir,
        engine,
        peer,
        a,
        book,
    }
}

impl Fixture {
    pub async fn stored(&self) -> usize {
        let id = self.book.id();
        self.engine
            .db()
            .read(move |s| s.entries_after(&id, 0, 100_000))
            .await
            .unwrap()
            .len()
    }
    pub async fn open_alerts(&self, kind: &str) -> usize {
        let k = kind.to_owned();
        self.engine
            .db()
            .read(move |s| s.alerts(true, 1000))
            .await
            .unwrap()
            .iter()
            .filter(|a| a.kind == k)
            .count()
    }
    pub async fn accept(&mut self) {
        let arc = self.engine.channel(&self.book.id()).unwrap();
        let th = arc.lock().await.book().terms().hash();
        let v = self
            .engine
            .author(&self.book.id(), Body::Accept { terms_hash: th }, "b")
            .await
            .unwrap();
        match self.book.check(1, v.envelope().bytes()).unwrap() {
            hotline_core::Outcome::New(x) => self.book.apply(&x, 2),
            o => panic!("{o:?}"),
        }
    }
    pub fn next(&self, body: Body) -> Entry {
        let v = self.book.author(&self.a, body, "a", 10, true).unwrap();
        v.entry().clone()
    }
    pub fn sign(&self, e: &Entry) -> Vec<u8> {
        Envelope::sign(e, &self.a).bytes().to_vec()
    }
    /// Feeds bytes through the receive path and checks: refused, alerted, nothing stored.
    pub async fn refused(&self, bytes: Vec<u8>, what: &str) {
        let before = self.stored().await;
        let r = self
            .engine
            .receive(&self.peer, self.book.id(), vec![bytes])
            .await;
        assert!(r.unwrap().fault.is_some(), "{what}: accepted");
        assert_eq!(self.stored().await, before, "{what}: something was stored");
        assert_eq!(
            self.open_alerts("bad-input").await,
            1,
            "{what}: no bad-input alert"
        );
        // Clear it so the next case must raise its own.
        self.engine.clear_alert(None, "bad-input:alpha").await;
        assert_eq!(self.open_alerts("bad-input").await, 0);
    }
}

impl Fixture {
    /// The next entry, built by hand so the state check of `author` does not stop it.
    pub fn next_unchecked(&self, body: Body) -> Entry {
        let (seq, prev) = self.book.head(0);
        let seen = self.book.head(1);
        let lamport = self
            .book
            .meta(0, seq)
            .map(|m| m.lamport)
            .unwrap_or(0)
            .max(self.book.meta(1, seen.0).map(|m| m.lamport).unwrap_or(0))
            + 1;
        Entry {
            channel: self.book.id(),
            author: 0,
            seq: seq + 1,
            prev,
            seen,
            lamport,
            time: 10,
            by: "a".into(),
            body,
        }
    }
}
