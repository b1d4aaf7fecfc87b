//! Numbered migrations of the PostgreSQL schema, applied on connect.

use super::*;

/// Numbered migrations, applied in order; `hotline_schema` holds the last applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations-pg/0001_init.sql"),
    include_str!("../../migrations-pg/0002_peer_psk.sql"),
    include_str!("../../migrations-pg/0003_peer_keys.sql"),
    include_str!("../../migrations-pg/0004_book_snapshots.sql"),
    include_str!("../../migrations-pg/0005_courier.sql"),
];

/// Serializes the stations that connect at once: only one migrates, the
/// others then find the schema current. (Advisory locks are per database.)
const LOCK: i64 = 0x0068_6f74_6c69_6e65; // "hotline" in ASCII

/// The PostgreSQL schema version this build writes: the number of its migrations.
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Applies the pending migrations, all in one transaction, or refuses a
/// database a newer hotline wrote.
pub(super) fn migrate(client: &mut Client) -> Result<()> {
    let known = schema_version();
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1::bigint)", &[&LOCK])?;
    let exists: bool = get(
        &tx.query_one("SELECT to_regclass('hotline_schema') IS NOT NULL", &[])?,
        0,
    )?;
    let found: i64 = if exists {
        match tx.query_opt("SELECT version FROM hotline_schema WHERE id = 1", &[])? {
            Some(r) => get(&r, 0)?,
            None => 0,
        }
    } else {
        tx.batch_execute(
            "CREATE TABLE hotline_schema (
                 id      BIGINT PRIMARY KEY CHECK (id = 1),
                 version BIGINT NOT NULL
             )",
        )?;
        0
    };
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    if found == known {
        return Ok(());
    }
    for sql in MIGRATIONS.iter().skip(found as usize) {
        tx.batch_execute(sql)?;
    }
    tx.execute(
        "INSERT INTO hotline_schema (id, version) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        &[&known],
    )?;
    tx.commit()?;
    Ok(())
}

/// Where the schema of the database `url` names stands against this build,
/// read without migrating or writing anything (`hotline doctor`).
pub fn schema_of(url: &str) -> Result<crate::Schema> {
    let mut config = super::parse_url(url)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(super::CONNECT_TIMEOUT);
    }
    let mut client = config.connect(::postgres::NoTls)?;
    let exists: bool = get(
        &client.query_one("SELECT to_regclass('hotline_schema') IS NOT NULL", &[])?,
        0,
    )?;
    let found: i64 = match exists {
        true => match client.query_opt("SELECT version FROM hotline_schema WHERE id = 1", &[])? {
            Some(r) => get(&r, 0)?,
            None => 0,
        },
        false => 0,
    };
    let known = schema_version();
    Ok(match found.cmp(&known) {
        std::cmp::Ordering::Equal => crate::Schema::Current(found),
        std::cmp::Ordering::Less => crate::Schema::Older { found, known },
        std::cmp::Ordering::Greater => crate::Schema::Newer { found, known },
    })
}
