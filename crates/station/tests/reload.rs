//! A running station takes a changed configuration where that is safe: the
//! alert hook, `api_hosts` and `[tuning]` at once; name and addresses only
//! at a restart, and it says which of those changed.

use hotline_core::policy::AlertKind;
use hotline_station::{Config, Options, Station};
use std::path::Path;
use std::time::{Duration, Instant};

fn hook_script(dir: &Path, out: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("hook.sh");
    std::fs::write(&p, format!("#!/bin/sh\ncat >> '{}'\n", out.display())).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

async fn status_for_host(st: &Station, host: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://{}/v1/health", st.api_addr()))
        .header("Host", host)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_applies_hook_hosts_and_tuning_and_names_what_waits_for_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("s");
    hotline_station::init(&data, "alpha", "127.0.0.1:0", "127.0.0.1:0").unwrap();
    let text = std::fs::read_to_string(data.join("config.toml")).unwrap();
    let tuned = format!("{text}\n[tuning]\nping_every = \"250ms\"\nhook_timeout = \"5s\"\n");
    let config = Config::parse(&tuned, Path::new("config.toml")).unwrap();
    let st = Station::start_with(Options {
        data: data.clone(),
        config: config.clone(),
        alert_hook: None,
        heartbeat: None,
        ha: None,
    })
    .await
    .unwrap();
    assert_eq!(
        st.engine.tuning(),
        config.tuning,
        "the config's tuning in force"
    );
    assert_eq!(st.engine.tuning().ping_every(), Duration::from_millis(250));
    assert_eq!(status_for_host(&st, "hotline.example").await, 421);

    let out = root.path().join("hook.jsonl");
    let changed = format!(
        "name = \"alpha2\"\nlisten = \"127.0.0.1:1\"\napi = \"{}\"\nalert_hook = \"{}\"\napi_hosts = [\"hotline.example\"]\n\n[tuning]\nlink_down_after = \"9s\"\n",
        config.api,
        hook_script(root.path(), &out)
    );
    let new = Config::parse(&changed, Path::new("config.toml")).unwrap();
    assert_eq!(st.reload(&new), vec!["name", "listen"]);
    // What reloads is in force at once.
    assert_eq!(status_for_host(&st, "hotline.example").await, 200);
    let t = st.engine.tuning();
    assert_eq!(t.link_down_after(), Duration::from_secs(9));
    assert_eq!(
        t.ping_every(),
        Duration::from_millis(500),
        "back to its default"
    );
    st.engine
        .raise_alert(
            AlertKind::BadInput,
            "test:reload".into(),
            "a test alert".into(),
        )
        .await;
    let start = Instant::now();
    while !std::fs::read_to_string(&out).is_ok_and(|s| s.contains("a test alert")) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the new hook was not run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // What waits for a restart keeps its running value.
    let running = st.config();
    assert_eq!(
        (running.name.as_str(), running.listen.as_str()),
        ("alpha", "127.0.0.1:0")
    );
    assert_eq!(running.api_hosts, vec!["hotline.example".to_string()]);
    assert_eq!(st.engine.name(), "alpha");
    st.stop().await;
}
