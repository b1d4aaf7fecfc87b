//! The audit log against real stations: every change finds its line already
//! committed, the head is signed with every line, and a log altered while
//! the station was stopped is on record at the next start.

use hotline_station::{Initialized, Station};
use hotline_store::{SqliteStore, Store};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A station started in-process on port 0, with an HTTP client.
struct St {
    data: PathBuf,
    init: Initialized,
    st: Option<Station>,
    base: String,
    http: reqwest::Client,
}

impl St {
    fn init(root: &Path, name: &str) -> (PathBuf, Initialized) {
        let data = root.join(name);
        let i =
            hotline_station::init_with(&data, name, "127.0.0.1:0", "127.0.0.1:0", Some("sqlite"))
                .unwrap();
        (data, i)
    }

    async fn start(data: PathBuf, init: Initialized) -> St {
        let st = Station::start(&data, None).await.unwrap();
        St {
            base: format!("http://{}", st.api_addr()),
            data,
            init,
            st: Some(st),
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(&self.init.admin_token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let s = resp.status().as_u16();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.call("POST", path, Some(body)).await;
        assert!(s == 200 || s == 201, "POST {path}: {s} {v}");
        v
    }

    /// POSTs until it succeeds (the counterpart may not have the channel yet).
    async fn post_until_ok(&self, path: &str, body: Value) -> Value {
        let t = Instant::now();
        loop {
            let (s, v) = self.call("POST", path, Some(body.clone())).await;
            if s == 200 || s == 201 {
                return v;
            }
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "POST {path}: {s} {v}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn link(&self) -> String {
        self.st.as_ref().unwrap().link_addr().to_string()
    }

    async fn audit(&self) -> Vec<Value> {
        let (s, v) = self.call("GET", "/v1/audit", None).await;
        assert_eq!(s, 200, "{v}");
        v["audit"].as_array().unwrap().clone()
    }

    async fn stop(&mut self) {
        self.st.take().unwrap().stop().await;
    }

    fn db(&self) -> PathBuf {
        self.data.join("hotline.db")
    }
}

/// Records, at the moment each change is written and inside its transaction,
/// the newest audit line the database holds by then: a line committed
/// before the change or in the same transaction is seen, one written after
/// it is not.
fn probe(db: &Path) {
    let c = rusqlite::Connection::open(db).unwrap();
    let newest =
        "(SELECT user || ' ' || action || ' ' || result FROM audit ORDER BY id DESC LIMIT 1)";
    c.execute_batch(&format!(
        "CREATE TABLE probe (id INTEGER PRIMARY KEY, what TEXT NOT NULL, newest TEXT);
         CREATE TRIGGER p1 AFTER INSERT ON users BEGIN
           INSERT INTO probe (what, newest) VALUES ('user added ' || NEW.name, {newest}); END;
         CREATE TRIGGER p2 AFTER UPDATE OF revoked_at ON users BEGIN
           INSERT INTO probe (what, newest) VALUES ('user revoked ' || NEW.name, {newest}); END;
         CREATE TRIGGER p3 AFTER INSERT ON peers BEGIN
           INSERT INTO probe (what, newest) VALUES ('peer added ' || NEW.name, {newest}); END;
         CREATE TRIGGER p4 AFTER UPDATE OF verified ON peers BEGIN
           INSERT INTO probe (what, newest) VALUES ('peer verified ' || NEW.name, {newest}); END;
         CREATE TRIGGER p5 AFTER INSERT ON channels BEGIN
           INSERT INTO probe (what, newest) VALUES ('channel stored', {newest}); END;
         CREATE TRIGGER p6 AFTER INSERT ON entries
           WHEN NEW.author = (SELECT me FROM channels WHERE id = NEW.channel) BEGIN
           INSERT INTO probe (what, newest) VALUES ('own entry ' || NEW.kind, {newest}); END;"
    ))
    .unwrap();
}

fn probed(db: &Path) -> Vec<(String, String)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT what, COALESCE(newest, '(none)') FROM probe ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The change and its audit line are committed together or the line first:
/// a crash between an action's commit and its audit line can no longer leave
/// the action off the record. Covers users added and revoked, peers added and
/// verified, a channel opened and accepted, and an entry authored.
#[tokio::test]
async fn every_change_finds_its_attempt_line_already_committed() {
    let root = tempfile::tempdir().unwrap();
    let (da, ia) = St::init(root.path(), "a");
    let (db_, ib) = St::init(root.path(), "b");
    probe(&da.join("hotline.db"));
    probe(&db_.join("hotline.db"));
    let mut a = St::start(da, ia).await;
    let mut b = St::start(db_, ib).await;

    a.post("/v1/users", json!({"name": "op", "role": "operator"}))
        .await;
    let (ta, tb) = (a.init.token.clone(), b.init.token.clone());
    a.post(
        "/v1/peers",
        json!({"name": "b", "key": tb, "addrs": [b.link()]}),
    )
    .await;
    b.post(
        "/v1/peers",
        json!({"name": "a", "key": ta, "addrs": [a.link()]}),
    )
    .await;
    a.post(
        "/v1/peers/b/verify",
        json!({"fingerprint": b.init.fingerprint}),
    )
    .await;
    b.post(
        "/v1/peers/a/verify",
        json!({"fingerprint": a.init.fingerprint}),
    )
    .await;
    let ch = a.post("/v1/channels", json!({"peer": "b"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    b.post_until_ok(&format!("/v1/channels/{ch}/accept"), json!({}))
        .await;
    a.post_until_ok(
        &format!("/v1/channels/{ch}/messages"),
        json!({"text": "hello"}),
    )
    .await;
    a.post("/v1/users/op/revoke", json!({})).await;
    a.stop().await;
    b.stop().await;

    let attempt = |what: &str| format!("admin {what} attempt");
    let p = |what: &str, newest: String| (what.to_owned(), newest);
    assert_eq!(
        probed(&a.db()),
        [
            p("user added op", attempt("POST users")),
            p("peer added b", attempt("POST peers")),
            p("peer verified b", attempt("POST peers/b/verify")),
            p("channel stored", attempt("POST channels")),
            p("own entry open", attempt("POST channels")),
            p(
                "own entry message",
                attempt(&format!("POST channels/{ch}/messages"))
            ),
            p("user revoked op", attempt("POST users/op/revoke")),
        ]
    );
    let on_b = probed(&b.db());
    assert!(
        on_b.contains(&p(
            "own entry accept",
            attempt(&format!("POST channels/{ch}/accept"))
        )),
        "{on_b:?}"
    );
}

/// With every line the station signs the head anew: after the actions
/// above, the stored head counts every line and names the newest, under the
/// station's own key.
#[tokio::test]
async fn the_head_is_signed_with_every_line() {
    let root = tempfile::tempdir().unwrap();
    let (d, i) = St::init(root.path(), "a");
    let me = hotline_proto::Identity::parse(&i.token).unwrap();
    let mut a = St::start(d, i).await;
    for n in 0..3 {
        a.post(
            "/v1/users",
            json!({"name": format!("u{n}"), "role": "auditor"}),
        )
        .await;
        let s = SqliteStore::open(&a.db()).unwrap();
        // The request's outcome line commits a few ms after its answer: the
        // three reads are taken again until no commit fell between them.
        let (head, count, last) = loop {
            let head = s.audit_head().unwrap().expect("a signed head");
            let count = s.audit_count().unwrap();
            let last = s.last_audit().unwrap().unwrap().hash;
            let again = s.audit_head().unwrap().expect("a signed head");
            if again.head().count == head.head().count {
                break (head, count, last);
            }
        };
        assert_eq!(head.verify(&me), Ok(()));
        assert_eq!(head.head().count, count);
        assert_eq!(head.head().hash, last);
    }
    // The API hands the head out with the lines; it covers all of them.
    let (_, v) = a.call("GET", "/v1/audit", None).await;
    let lines = v["audit"].as_array().unwrap();
    assert_eq!(v["head"]["count"].as_u64().unwrap() as usize, lines.len());
    assert_eq!(v["head"]["hash"], lines.last().unwrap()["hash"]);
    assert_eq!(v["head"]["signer"], a.init.token.as_str());
    a.stop().await;
}

/// Lines cut from the database's tail, or its signed head removed, while the
/// station was stopped: the next start writes a line saying what it found
/// before anything else, and the log goes on from there.
#[tokio::test]
async fn a_log_altered_while_stopped_is_on_record_at_the_next_start() {
    let root = tempfile::tempdir().unwrap();
    let (d, i) = St::init(root.path(), "a");
    let mut a = St::start(d.clone(), i.clone()).await;
    for n in 0..3 {
        a.post(
            "/v1/users",
            json!({"name": format!("u{n}"), "role": "auditor"}),
        )
        .await;
    }
    a.stop().await;
    let sql = |q: &str| {
        rusqlite::Connection::open(d.join("hotline.db"))
            .unwrap()
            .execute_batch(q)
            .unwrap()
    };
    let count = |db: &Path| SqliteStore::open(db).unwrap().audit_count().unwrap();
    let before = count(&a.db());
    sql("DELETE FROM audit WHERE id > (SELECT MAX(id) - 2 FROM audit)");

    let mut a = St::start(d.clone(), i.clone()).await;
    let lines = a.audit().await;
    let note = &lines[before as usize - 2];
    assert_eq!(note["user"], "station");
    assert_eq!(note["action"], "audit log damaged");
    let r = note["result"].as_str().unwrap();
    assert!(
        r.contains(&format!("covers {before} lines"))
            && r.contains(&format!("holds {} lines", before - 2)),
        "{r}"
    );
    a.stop().await;

    sql("DELETE FROM audit_head");
    let held = count(&a.db()) as usize;
    let mut a = St::start(d, i).await;
    let lines = a.audit().await;
    let note = &lines[held];
    assert_eq!(note["user"], "station");
    assert_eq!(note["action"], "audit head missing", "{lines:?}");
    a.stop().await;
}
