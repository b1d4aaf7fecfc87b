//! What a station leaves on its own host and what it pins: a private data
//! directory and database, and one pinned peer per key.

use hotline_proto::{Identity, SecretKeys};
use hotline_station::Station;
use serde_json::{json, Value};
use std::path::Path;

/// The umask most systems start processes with: files made without an
/// explicit mode come out readable by everyone. Set here so that the tests
/// do not depend on the umask they happen to be run under (it is a process
/// setting; 022 is what every other test of this binary assumes anyway).
#[cfg(unix)]
fn usual_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn a_started_station_keeps_its_directory_and_database_private() {
    use std::os::unix::fs::PermissionsExt;
    usual_umask();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("s");
    hotline_station::init_with(&data, "s", "127.0.0.1:0", "127.0.0.1:0", Some("sqlite")).unwrap();
    assert_eq!(mode(&data), 0o700, "after init");
    // As an older hotline, or an operator's copy, may have left them.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.join("hotline.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let st = Station::start(&data, None).await.unwrap();
    assert_eq!(mode(&data), 0o700, "the data directory");
    for f in [
        "hotline.db",
        "hotline.db-wal",
        "hotline.db-shm",
        "identity.key",
        "admin.token",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    st.stop().await;
}

/// A station on port 0 and its admin token.
async fn station(dir: &Path) -> (Station, String, Identity) {
    let data = dir.join("s");
    let i = hotline_station::init(&data, "s", "127.0.0.1:0", "127.0.0.1:0").unwrap();
    let st = Station::start(&data, None).await.unwrap();
    (st, i.admin_token, Identity::parse(&i.token).unwrap())
}

async fn call(st: &Station, admin: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(
            method.parse().unwrap(),
            format!("http://{}{path}", st.api_addr()),
        )
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A fresh identity with a real X25519 key.
fn fresh() -> Identity {
    let (secret, public) = hotline_link::generate_keypair();
    SecretKeys::generate(*secret.as_bytes(), public).identity()
}

fn add(name: &str, id: &Identity) -> Value {
    json!({"name": name, "key": id.token(), "addrs": ["127.0.0.1:1"]})
}

async fn peer_names(st: &Station, admin: &str) -> Vec<String> {
    let (s, v) = call(st, admin, "GET", "/v1/peers", Value::Null).await;
    assert_eq!(s, 200, "{v}");
    v["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn peer_add_refuses_a_key_another_pinned_peer_holds_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (st, admin, own) = station(dir.path()).await;
    let first = fresh();
    let other = fresh();
    let (s, v) = call(&st, &admin, "POST", "/v1/peers", add("first", &first)).await;
    assert_eq!(s, 201, "{v}");
    for (id, which) in [
        (
            Identity {
                sig_pk: other.sig_pk,
                ..first
            },
            "X25519",
        ),
        (
            Identity {
                dh_pk: other.dh_pk,
                ..first
            },
            "Ed25519",
        ),
    ] {
        let (s, v) = call(&st, &admin, "POST", "/v1/peers", add("second", &id)).await;
        assert_eq!(s, 409, "{v}");
        let e = v["error"].as_str().unwrap();
        assert!(
            e.contains("\"first\" is already pinned") && e.contains(which),
            "{e}"
        );
    }
    // This station's own keys are no peer's either.
    let (s, v) = call(
        &st,
        &admin,
        "POST",
        "/v1/peers",
        add(
            "mirror",
            &Identity {
                sig_pk: other.sig_pk,
                ..own
            },
        ),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("own X25519 key"),
        "{v}"
    );
    assert_eq!(peer_names(&st, &admin).await, ["first"]);
    // The key that is pinned still finds its one peer.
    assert_eq!(
        st.engine.peer_by_dh(&first.dh_pk).unwrap().row.name,
        "first"
    );
    st.stop().await;
}

#[tokio::test]
async fn peer_add_refuses_a_token_with_a_low_order_key() {
    let dir = tempfile::tempdir().unwrap();
    let (st, admin, _) = station(dir.path()).await;
    let good = fresh();
    // Zero, and a point of order 8: any handshake with them has the all-zero secret.
    let mut order8 = [0u8; 32];
    data_encoding::HEXLOWER
        .decode_mut(
            b"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            &mut order8,
        )
        .unwrap();
    for dh_pk in [[0u8; 32], order8] {
        let id = Identity { dh_pk, ..good };
        let (s, v) = call(&st, &admin, "POST", "/v1/peers", add("weak", &id)).await;
        assert_eq!(s, 400, "{v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("weak or non-canonical key"),
            "{v}"
        );
    }
    assert!(peer_names(&st, &admin).await.is_empty());
    st.stop().await;
}
