//! What only the PostgreSQL backend has: the server's durability settings,
//! its own migrations, the URL forms it accepts, a lost connection.

use crate::common::*;
use hotline_store::{pg_schema_version, PgStore, Store, StoreError};

fn commits_are_durable_and_a_server_that_could_lose_one_is_refused(db: &Db) {
    let s = db.pg();
    assert_eq!(
        s.durability().unwrap(),
        ("on".to_string(), "on".to_string())
    );
    drop(s);
    let mut c = db.client();
    c.batch_execute(&format!(
        "ALTER DATABASE \"{}\" SET synchronous_commit = off",
        db.name()
    ))
    .unwrap();
    let e = PgStore::connect(db.url()).err().expect("refused");
    assert!(matches!(e, StoreError::Refused(_)), "{e:?}");
    assert!(e.to_string().contains("synchronous_commit = off"), "{e}");
    // `local` still flushes each commit here before it returns.
    c.batch_execute(&format!(
        "ALTER DATABASE \"{}\" SET synchronous_commit = local",
        db.name()
    ))
    .unwrap();
    let s = PgStore::connect(db.url()).unwrap();
    assert_eq!(
        s.durability().unwrap().0,
        "local",
        "never lowered, nor raised"
    );
}

fn migrations_run_once_and_a_newer_schema_is_refused(db: &Db) {
    let mut s = db.pg();
    s.set_meta("k", "kept").unwrap();
    drop(s);
    let mut c = db.client();
    let version: i64 = c
        .query_one("SELECT version FROM hotline_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, pg_schema_version());
    // Connecting again migrates nothing and keeps what is there.
    assert_eq!(db.pg().meta("k").unwrap().as_deref(), Some("kept"));
    let known = pg_schema_version();
    c.execute("UPDATE hotline_schema SET version = $1", &[&(known + 1)])
        .unwrap();
    match PgStore::connect(db.url()) {
        Err(StoreError::TooNew { found, known: k }) => assert_eq!((found, k), (known + 1, known)),
        other => panic!("{:?}", other.err()),
    }
}

fn stations_connecting_at_once_migrate_once(db: &Db) {
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url().to_owned();
            std::thread::spawn(move || PgStore::connect(&url).map(drop))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    let mut c = db.client();
    let rows = c.query("SELECT version FROM hotline_schema", &[]).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i64>(0), pg_schema_version());
    let leases: i64 = c
        .query_one("SELECT count(*) FROM lease", &[])
        .unwrap()
        .get(0);
    assert_eq!(leases, 1);
}

fn several_hosts_are_tried_in_turn_for_a_read_write_server(db: &Db) {
    // The test server's own address after one where nothing listens.
    let config: ::postgres::Config = db.url().parse().unwrap();
    let mut hosts = vec!["/nonexistent/hotline-test".to_string()];
    let mut ports = vec!["5432".to_string()];
    let given = config.get_ports();
    for (i, h) in config.get_hosts().iter().enumerate() {
        hosts.push(match h {
            ::postgres::config::Host::Tcp(h) => h.clone(),
            ::postgres::config::Host::Unix(p) => p.display().to_string(),
        });
        let port = given.get(i).or(given.first()).copied().unwrap_or(5432);
        ports.push(port.to_string());
    }
    let mut url = format!(
        "host={} port={} dbname={} target_session_attrs=read-write",
        hosts.join(","),
        ports.join(","),
        db.name()
    );
    if let Some(user) = config.get_user() {
        url.push_str(&format!(" user={user}"));
    }
    let mut s = PgStore::connect(&url).unwrap();
    s.set_meta("k", "v").unwrap();
    assert_eq!(db.pg().meta("k").unwrap().as_deref(), Some("v"));
}

fn a_lost_connection_is_made_again_on_the_next_call(db: &Db) {
    let mut s = db.pg();
    s.set_meta("k", "v").unwrap();
    let mut c = db.client();
    let killed: i64 = c
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'hotline'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(killed, 1);
    // The call that finds the connection gone fails; the next connects again.
    let first = s.meta("k");
    let second = s.meta("k").unwrap();
    assert!(first.is_err() || first.as_ref().unwrap().as_deref() == Some("v"));
    assert_eq!(second.as_deref(), Some("v"));
    s.set_meta("k", "w").unwrap();
}

postgres_only!(
    commits_are_durable_and_a_server_that_could_lose_one_is_refused,
    migrations_run_once_and_a_newer_schema_is_refused,
    stations_connecting_at_once_migrate_once,
    several_hosts_are_tried_in_turn_for_a_read_write_server,
    a_lost_connection_is_made_again_on_the_next_call,
);
