//! Upgrades: the database made by the release before (schema version 6,
//! `fixtures/v6/`) opens, migrates forward after a copy is kept, keeps every
//! entry and verifies; a database newer than this release is refused before
//! anything is touched.

use hotline_station::Station;
use hotline_store::{schema_of, Schema, SqliteStore};
use std::path::{Path, PathBuf};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v6");

/// A private copy of the fixture's data directory, on ports of its own.
fn copy(root: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = root.join("alpha");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    for f in ["hotline.db", "identity.key", "admin.token", "config.toml"] {
        std::fs::copy(Path::new(FIXTURE).join(f), dir.join(f)).unwrap();
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let cfg = std::fs::read_to_string(dir.join("config.toml"))
        .unwrap()
        .replace("127.0.0.1:17901", "127.0.0.1:0")
        .replace("127.0.0.1:17911", "127.0.0.1:0");
    std::fs::write(dir.join("config.toml"), cfg).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_of_the_release_before_opens_migrates_keeps_every_entry_and_verifies() {
    let root = tempfile::tempdir().unwrap();
    let dir = copy(root.path());
    let db = dir.join("hotline.db");
    let known = hotline_store::schema_version();
    assert_eq!(
        schema_of(&db).unwrap(),
        Schema::Older { found: 6, known },
        "this release adds migrations"
    );
    assert_eq!(SqliteStore::count(&db).unwrap(), (2, 49));

    let st = Station::start(&dir, None).await.unwrap();
    assert_eq!(schema_of(&db).unwrap(), Schema::Current(known));
    // The database as it was is kept beside it, untouched.
    let bak = dir.join("hotline.db.v6.bak");
    assert_eq!(schema_of(&bak).unwrap(), Schema::Older { found: 6, known });
    assert_eq!(SqliteStore::count(&bak).unwrap(), (2, 49));

    let e = st.engine.clone();
    let mut ids = e.channel_ids();
    ids.sort();
    assert_eq!(ids.len(), 2);
    // Every entry the old database held is there, by hash: the policy may
    // have written a contact check since (the fixture's last entry is old).
    let old: Vec<Vec<u8>> = {
        let c = rusqlite::Connection::open(&bak).unwrap();
        let mut st = c.prepare("SELECT hash FROM entries").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(old.len(), 49);
    for h in old {
        let h: hotline_proto::Hash = h.try_into().unwrap();
        let row = e.db().read(move |s| s.entry_by_hash(&h)).await.unwrap();
        assert!(row.is_some(), "entry {} is kept", hotline_proto::hex(&h));
    }
    let mut entries = 0;
    let mut states = vec![];
    for id in &ids {
        let text = e.export(id).await.unwrap();
        let s = hotline_core::export::verify(&text).unwrap();
        entries += s.counts[0] + s.counts[1];
        states.push(s.state);
    }
    assert!(entries >= 49, "every entry is exported: {entries}");
    states.sort();
    assert_eq!(states, ["active", "terminated"]);
    // And the line goes on: the peer is still pinned and verified, and a
    // message can be written on the active channel.
    let bravo = e.peer_by_name("bravo").unwrap();
    assert!(bravo.row.verified);
    let mut active = None;
    for id in &ids {
        if e.channel_json(id, false).await.unwrap()["state"] == "active" {
            active = Some(*id);
        }
    }
    let msg = hotline_proto::Body::Message {
        precedence: hotline_proto::Precedence::Routine,
        subject: String::new(),
        text: "after the upgrade".into(),
        labels: vec![],
        reply_to: None,
    };
    let active = active.unwrap();
    let own = {
        let c = e.channel(&active).unwrap();
        let c = c.lock().await;
        c.book().len(c.book().me())
    };
    assert!(own >= 23, "alpha's own chain held 23");
    let v = e.author(&active, msg, "admin").await.unwrap();
    assert!(v.entry().seq > own, "written after every entry of its own");
    hotline_core::export::verify(&e.export(&active).await.unwrap()).unwrap();
    st.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_newer_than_this_release_is_refused_and_left_untouched() {
    let root = tempfile::tempdir().unwrap();
    let dir = copy(root.path());
    let db = dir.join("hotline.db");
    let known = hotline_store::schema_version();
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.pragma_update(None, "user_version", known + 1).unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let err = match Station::start(&dir, None).await {
        Ok(_) => panic!("a newer database was opened"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&format!(
            "schema version {} is newer than this hotline understands ({known})",
            known + 1
        )),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert!(!dir.join(format!("hotline.db.v{}.bak", known + 1)).exists());
}
