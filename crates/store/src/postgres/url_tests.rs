//! Reading a PostgreSQL URL's hosts (`parse_url`).

use super::*;
use ::postgres::config::Host;

#[test]
fn a_host_list_in_the_query_is_every_host_in_order() {
    let c = parse_url("postgresql:///db?host=/run/a,/run/b&user=u&target_session_attrs=read-write")
        .unwrap();
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Unix(p) => p.display().to_string(),
            Host::Tcp(t) => t.clone(),
        })
        .collect();
    assert_eq!(hosts, ["/run/a", "/run/b"]);
    assert_eq!(c.get_user(), Some("u"));
    assert_eq!(c.get_dbname(), Some("db"));
    assert!(parse_url("postgresql:///db?host=/run/a,&user=u").is_err());
    // One host, or hosts in the authority: as the library parses them.
    let one = parse_url("postgresql://db1:5433,db2/hotline").unwrap();
    assert_eq!(one.get_hosts().len(), 2);
    assert_eq!(one.get_ports(), [5433, 5432]);
}
