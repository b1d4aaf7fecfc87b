//! The backends under test, and a line of signed entries to store.

use hotline_core::{ChannelBook, Outcome, VerifiedEntry};
use hotline_proto::{Body, Hash, Precedence, SecretKeys, Terms};
use hotline_store::{pg_test, ChannelRow, PgStore, SqliteStore, Store, WriteOp};
use std::path::PathBuf;

/// A database of one backend, fresh for one test. More than one store can
/// be opened on it, as a station opens a writer and readers.
pub enum Db {
    /// A SQLite file in a temporary directory.
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    /// A database of its own on the server of `HOTLINE_TEST_PG`, dropped
    /// when the test ends.
    Postgres { base: String, url: String },
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hotline.db");
        Db::Sqlite { _dir: dir, path }
    }

    /// None, after saying so, when no server is given.
    pub fn postgres() -> Option<Db> {
        match std::env::var("HOTLINE_TEST_PG") {
            Ok(base) if !base.trim().is_empty() => {
                let url = pg_test::fresh_database(&base)
                    .unwrap_or_else(|e| panic!("creating a test database: {e}"));
                Some(Db::Postgres { base, url })
            }
            _ => {
                println!("skipped: HOTLINE_TEST_PG (a PostgreSQL server URL) is not set");
                None
            }
        }
    }

    /// A new store (a new connection) on this database.
    pub fn open(&self) -> Box<dyn Store> {
        match self {
            Db::Sqlite { path, .. } => Box::new(SqliteStore::open(path).unwrap()),
            Db::Postgres { .. } => Box::new(self.pg()),
        }
    }

    /// A new PostgreSQL store on this database.
    pub fn pg(&self) -> PgStore {
        PgStore::connect(self.url()).unwrap()
    }

    /// The PostgreSQL database's URL.
    pub fn url(&self) -> &str {
        match self {
            Db::Postgres { url, .. } => url,
            Db::Sqlite { .. } => panic!("a SQLite database has no URL"),
        }
    }

    /// A plain client on the PostgreSQL database, to do what no store does.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(self.url(), postgres::NoTls).unwrap()
    }

    /// The PostgreSQL database's name.
    pub fn name(&self) -> String {
        let config: postgres::Config = self.url().parse().unwrap();
        config.get_dbname().unwrap().to_owned()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres { base, url } = self {
            if let Err(e) = pg_test::drop_database(base, url) {
                eprintln!("could not drop the test database {url}: {e}");
            }
        }
    }
}

pub fn keys(n: u8) -> SecretKeys {
    SecretKeys::generate([n; 32], [n; 32])
}

/// A channel between stations 1 (author 0) and 2 (author 1): its `Open`,
/// the `Accept`, then messages of author 0; and two different next
/// messages of author 0, which claim the same seq (a fork).
pub struct Line {
    pub id: Hash,
    pub entries: Vec<VerifiedEntry>,
    pub fork: [VerifiedEntry; 2],
}

fn message(text: &str) -> Body {
    Body::Message {
        precedence: Precedence::Routine,
        subject: "s".into(),
        text: text.into(),
        labels: Vec::new(),
        reply_to: None,
    }
}

pub fn line(messages: u64) -> Line {
    let (a, b) = (keys(1), keys(2));
    let (mut book, open) = ChannelBook::open(&a, b.identity(), Terms::default(), None, "alice", 10);
    let (theirs, _) = ChannelBook::genesis(open.envelope().bytes(), 1).unwrap();
    let terms_hash = theirs.terms().hash();
    let accept = theirs
        .author(&b, Body::Accept { terms_hash }, "bob", 11, true)
        .unwrap();
    let Outcome::New(accept) = book.check(1, accept.envelope().bytes()).unwrap() else {
        panic!("the accept is new")
    };
    book.apply(&accept, 11);
    let mut entries = vec![open, accept];
    for i in 0..messages {
        let m = book
            .author(&a, message(&format!("m{i}")), "alice", 12 + i, true)
            .unwrap();
        book.apply(&m, 12 + i);
        entries.push(m);
    }
    let next = |t: &str| book.author(&a, message(t), "alice", 99, true).unwrap();
    Line {
        id: book.id(),
        fork: [next("x"), next("y")],
        entries,
    }
}

/// The channel row and each entry as a write, in order.
pub fn writes(line: &Line, peer_id: i64) -> Vec<WriteOp> {
    let mut ops = vec![WriteOp::Channel(ChannelRow {
        id: line.id,
        peer_id,
        me: 0,
        created_at: 10,
    })];
    ops.extend(line.entries.iter().map(|e| WriteOp::Entry {
        entry: e.clone(),
        stored_at: 20 + e.entry().seq,
    }));
    ops
}

/// A pinned peer (station 2) and the line's channel with all its entries.
pub fn stored_line(s: &mut dyn Store, messages: u64) -> (Line, i64) {
    let peer = s
        .add_peer(
            "b",
            &keys(2).identity().token(),
            &["127.0.0.1:1".into()],
            None,
            1,
        )
        .unwrap();
    let line = line(messages);
    s.write(&writes(&line, peer.id)).unwrap();
    (line, peer.id)
}

/// Everything a store holds that a test may want unchanged, as text.
pub fn snapshot(s: &dyn Store, channel: &Hash) -> String {
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        s.meta("k").unwrap(),
        s.peers().unwrap(),
        s.users().unwrap(),
        s.alerts(false, usize::MAX).unwrap(),
        s.channels().unwrap(),
        s.entries_after(channel, 0, usize::MAX).unwrap(),
        s.restored().unwrap(),
        s.audit(0, usize::MAX).unwrap(),
        s.sharing().unwrap(),
        s.reports().unwrap(),
    )
}
