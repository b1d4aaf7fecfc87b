//! What the trait does not show: the session settings of a connection.
//! Run when `HOTLINE_TEST_PG` names a server (see `tests/conformance.rs`).

use super::*;

#[test]
fn the_server_is_told_to_end_a_transaction_left_idle() {
    let Ok(base) = std::env::var("HOTLINE_TEST_PG") else {
        println!("skipped: HOTLINE_TEST_PG (a PostgreSQL server URL) is not set");
        return;
    };
    let url = crate::pg_test::fresh_database(&base).unwrap();
    let s = PgStore::connect(&url).unwrap();
    let shown = s
        .read(|q| {
            let r = q.one("SHOW idle_in_transaction_session_timeout", &[])?;
            get::<String>(&r, 0)
        })
        .unwrap();
    assert_eq!(shown, "10s");
    drop(s);
    crate::pg_test::drop_database(&base, &url).unwrap();
}
