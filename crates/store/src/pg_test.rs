//! Fresh PostgreSQL databases, for tests and tools: each test of a
//! PostgreSQL store gets a database of its own on a server it is given (by
//! `HOTLINE_TEST_PG` in this workspace's tests), and drops it at the end.
//!
//! Not for production: the databases are created and dropped through the
//! base URL's role, which must be allowed to `CREATE DATABASE`.

use crate::{Result, StoreError};
use ::postgres::{Client, NoTls};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn connect(url: &str) -> Result<Client> {
    let config: ::postgres::Config = url
        .parse()
        .map_err(|e: ::postgres::Error| StoreError::Db(format!("database URL: {e}")))?;
    Ok(config.connect(NoTls)?)
}

/// Creates an empty database `hotline_t_<pid>_<n>` on the server of
/// `base_url` (a libpq-style URL or `key=value` string whose role may
/// create databases) and returns the URL that reaches it: `base_url` with
/// the database name replaced. A database of that name left by an earlier
/// process with the same pid is dropped first.
pub fn fresh_database(base_url: &str) -> Result<String> {
    let name = format!(
        "hotline_t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = connect(base_url)?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))?;
    admin.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
    Ok(with_database(base_url, &name))
}

/// Drops the database `url` names (one [`fresh_database`] made), through
/// `base_url`, closing any connection still open to it.
pub fn drop_database(base_url: &str, url: &str) -> Result<()> {
    let config: ::postgres::Config = url
        .parse()
        .map_err(|e: ::postgres::Error| StoreError::Db(format!("database URL: {e}")))?;
    let name = config
        .get_dbname()
        .ok_or(StoreError::NotFound("a database name in the URL"))?;
    if name.contains('"') {
        return Err(StoreError::Refused("a database name with a double quote"));
    }
    let mut admin = connect(base_url)?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))?;
    Ok(())
}

/// `url` with its database name replaced by `name` (which needs no
/// percent-encoding): the path of a `postgres://` or `postgresql://` URL
/// (any `dbname` parameter removed), or a `dbname` appended to a
/// `key=value` string, where the last value of a key wins.
pub fn with_database(url: &str, name: &str) -> String {
    let Some(prefix) = ["postgresql://", "postgres://"]
        .into_iter()
        .find(|p| url.starts_with(p))
    else {
        return format!("{url} dbname={name}");
    };
    let rest = &url[prefix.len()..];
    let (before, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    // Credentials end at '@'; the authority (hosts) ends at the first '/'.
    let host_start = before.find('@').map_or(0, |i| i + 1);
    let authority = match before[host_start..].find('/') {
        Some(i) => &before[..host_start + i],
        None => before,
    };
    let mut out = format!("{prefix}{authority}/{name}");
    if let Some(query) = query {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("dbname="))
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_in_every_form_of_url() {
        let cases = [
            (
                "postgresql:///postgres?host=/tmp/d&user=u",
                "postgresql:///t?host=/tmp/d&user=u",
            ),
            (
                "postgresql://h1:5432,h2:5432/db?target_session_attrs=read-write",
                "postgresql://h1:5432,h2:5432/t?target_session_attrs=read-write",
            ),
            ("postgres://u:p@h", "postgres://u:p@h/t"),
            ("postgres://u:p@h/", "postgres://u:p@h/t"),
            (
                "postgres://h/x?dbname=y&sslmode=disable",
                "postgres://h/t?sslmode=disable",
            ),
            ("postgres://h?dbname=y", "postgres://h/t"),
            (
                "host=/tmp user=u dbname=x",
                "host=/tmp user=u dbname=x dbname=t",
            ),
        ];
        for (url, want) in cases {
            assert_eq!(with_database(url, "t"), want, "{url}");
        }
    }

    #[test]
    fn the_rewritten_url_parses_to_the_new_name_and_the_same_hosts() {
        for url in [
            "postgresql:///postgres?host=/tmp/d&user=u",
            "postgresql://h1:5432,h2:5433/db?target_session_attrs=read-write",
            "host=/tmp user=u dbname=x",
        ] {
            let old: ::postgres::Config = url.parse().unwrap();
            let new: ::postgres::Config = with_database(url, "t").parse().unwrap();
            assert_eq!(new.get_dbname(), Some("t"));
            assert_eq!(new.get_hosts(), old.get_hosts());
            assert_eq!(new.get_ports(), old.get_ports());
            assert_eq!(new.get_user(), old.get_user());
        }
    }
}
