//! `hotline serve` as a service: the systemd unit passes `systemd-analyze
//! verify`; the notify protocol (READY=1 once the API and the link listen,
//! WATCHDOG=1 from the policy loop, STOPPING=1) spoken to a socket the test
//! binds, as systemd would; SIGHUP reloads the config or refuses a bad one;
//! `--config FILE` outside the data directory.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/station.rs"]
mod station;

use station::{free_port, St, BIN};

/// `systemd-analyze verify` on the unit, with ExecStart pointing at the
/// binary under test (verify wants the program to exist) and the man pages
/// of `Documentation=` on a MANPATH of their own.
#[test]
fn the_unit_passes_systemd_analyze_verify() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "systemd-analyze (Debian's systemd package) is needed for this test in CI (see .ci/run)"
        );
        eprintln!("SKIPPED: systemd-analyze is not installed here; this test runs in CI");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let unit = std::fs::read_to_string(repo.join("dist/hotline.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/hotline "), "{unit}");
    for needed in [
        "Type=notify",
        "WatchdogSec=",
        "ExecReload=",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=hotline",
        "MemoryDenyWriteExecute=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed:?}");
    }
    let t = tempfile::tempdir().unwrap();
    let copy = t.path().join("hotline.service");
    std::fs::write(&copy, unit.replace("/usr/bin/hotline", BIN)).unwrap();
    let mut verify = Command::new("systemd-analyze");
    verify.arg("verify");
    let man = t.path().join("man");
    if Command::new("man").arg("--version").output().is_ok() {
        let o = Command::new(BIN)
            .arg("man")
            .arg(man.join("man1"))
            .output()
            .unwrap();
        assert!(o.status.success());
        verify.env("MANPATH", &man);
    } else {
        eprintln!("NOTE: no man command here: Documentation= is not checked");
        verify.arg("--man=no");
    }
    let o = verify.arg(&copy).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "systemd-analyze verify: {said}");
    assert!(!said.contains("hotline.service"), "warnings: {said}");
}

/// The notify socket a service manager would listen on.
struct Manager {
    sock: UnixDatagram,
    path: std::path::PathBuf,
}

impl Manager {
    fn new(dir: &Path) -> Manager {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Manager { sock, path }
    }

    /// Messages until one has `line` as a line of its own, within 60 s;
    /// returns them all.
    fn until(&self, line: &str) -> Vec<String> {
        let mut got = vec![];
        let t = Instant::now();
        let mut buf = [0u8; 4096];
        while t.elapsed() < Duration::from_secs(60) {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = m.lines().any(|l| l == line);
                got.push(m);
                if done {
                    return got;
                }
            }
        }
        panic!("no {line} within 60 s; got {got:?}");
    }

    /// Every message that arrives within `d`.
    fn during(&self, d: Duration) -> Vec<String> {
        let mut got = vec![];
        let t = Instant::now();
        let mut buf = [0u8; 4096];
        while t.elapsed() < d {
            if let Ok(n) = self.sock.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        got
    }
}

/// Starts `hotline serve` for `st` under the manager, without waiting for
/// it; the log at warn unless `env` says otherwise.
fn serve_under(st: &mut St, m: &Manager, env: &[(&str, &str)]) {
    let mut cmd = Command::new(BIN);
    cmd.env("HOTLINE_LOG", "warn");
    serve_with_log(st, m, env, cmd);
}

fn serve_with_log(st: &mut St, m: &Manager, env: &[(&str, &str)], mut cmd: Command) {
    let log = std::fs::File::create(&st.log).unwrap();
    st.child = Some(
        cmd.arg("--data")
            .arg(&st.dir)
            .arg("serve")
            .env("NOTIFY_SOCKET", &m.path)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
}

fn signal(st: &St, sig: &str) {
    let pid = st.child.as_ref().unwrap().id().to_string();
    assert!(Command::new("kill")
        .args([sig, &pid])
        .status()
        .unwrap()
        .success());
}

fn health_now(api: &str) -> bool {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("http://{api}/v1/health"))
        .send()
        .is_ok_and(|r| r.status().is_success())
}

#[test]
fn ready_comes_once_it_listens_the_watchdog_is_fed_and_stopping_is_said() {
    let t = tempfile::tempdir().unwrap();
    let m = Manager::new(t.path());
    let mut a = St::new(&t.path().join("a"), "alpha");
    // A watchdog of 200 ms, as systemd would pass for WatchdogSec=200ms.
    serve_under(&mut a, &m, &[("WATCHDOG_USEC", "200000")]);
    let got = m.until("READY=1");
    // READY=1 means listening: the API answers at once, and so does the link port.
    assert!(health_now(&a.api), "READY=1 before the API listens");
    assert!(std::net::TcpStream::connect(&a.listen).is_ok());
    let ready = got.last().unwrap();
    assert!(
        ready.contains("STATUS=serving") && ready.contains(&a.api),
        "{ready}"
    );
    for _ in 0..3 {
        m.until("WATCHDOG=1");
    }
    signal(&a, "-TERM");
    let stopping = m.until("STOPPING=1");
    assert!(stopping.last().unwrap().contains("STATUS=stopping"));
    let status = a.child.take().unwrap().wait().unwrap();
    assert!(status.success(), "{status:?}: {}", a.log_text());
}

#[test]
fn no_watchdog_is_fed_unless_the_manager_asks_for_one() {
    let t = tempfile::tempdir().unwrap();
    let m = Manager::new(t.path());
    let mut a = St::new(&t.path().join("a"), "alpha");
    // The watchdog is another process's: this one must not feed it.
    let other = (std::process::id() + 1).to_string();
    serve_under(
        &mut a,
        &m,
        &[("WATCHDOG_USEC", "200000"), ("WATCHDOG_PID", &other)],
    );
    m.until("READY=1");
    // The policy loop turns ten times a second: ten turns at least.
    let got = m.during(Duration::from_secs(1));
    assert!(
        !got.iter().any(|g| g.contains("WATCHDOG=1")),
        "fed a watchdog it was not given: {got:?}"
    );
}

/// Waits until `f` holds, for at most 30 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(30), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The status of `GET /` addressed to `host`.
fn status_for_host(api: &str, host: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(format!("http://{api}/v1/health"))
        .header("Host", host)
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn sighup_reloads_what_it_can_and_keeps_the_running_config_when_the_file_is_bad() {
    let t = tempfile::tempdir().unwrap();
    let m = Manager::new(t.path());
    let mut a = St::new(&t.path().join("a"), "alpha");
    serve_under(&mut a, &m, &[]);
    m.until("READY=1");
    assert_eq!(status_for_host(&a.api, "hotline.example"), 421);

    // A good file: api_hosts takes effect; a new name waits for a restart.
    let config = a.dir.join("config.toml");
    let original = std::fs::read_to_string(&config).unwrap();
    let renamed = original.replace("name = \"alpha\"", "name = \"alpha2\"");
    assert_ne!(renamed, original);
    std::fs::write(
        &config,
        format!("{renamed}api_hosts = [\"hotline.example\"]\n"),
    )
    .unwrap();
    signal(&a, "-HUP");
    let got = m.until("READY=1");
    assert!(got.iter().any(|g| g.contains("RELOADING=1")), "{got:?}");
    assert_eq!(status_for_host(&a.api, "hotline.example"), 200);
    let log = a.log_text();
    assert!(log.contains("configuration reloaded from"), "{log}");
    assert!(
        log.contains("name changed in") && log.contains("takes effect when the station restarts"),
        "{log}"
    );
    let health = a.get("/v1/health").unwrap();
    assert_eq!(
        health["name"], "alpha",
        "the name changed without a restart"
    );

    // A bad file: refused, naming line and key; the running config stays.
    std::fs::write(
        &config,
        format!("{original}\n[tuning]\nping_every = \"1ms\"\n"),
    )
    .unwrap();
    let line = original.lines().count() + 3;
    signal(&a, "-HUP");
    let got = m.until("READY=1");
    assert!(
        got.last().unwrap().contains("reload refused"),
        "systemctl status would not say: {got:?}"
    );
    eventually("the refusal is logged", || {
        a.log_text().contains("reload refused")
    });
    let log = a.log_text();
    assert!(
        log.contains(&format!(
            "config.toml:{line}: tuning.ping_every: 1ms is out of bounds"
        )),
        "{log}"
    );
    assert_eq!(status_for_host(&a.api, "hotline.example"), 200);
    assert!(health_now(&a.api));
}

/// Without HOTLINE_LOG, the config's `log` sets the level, and a reload changes it.
#[test]
fn the_log_level_follows_the_config_through_a_reload() {
    let t = tempfile::tempdir().unwrap();
    let m = Manager::new(t.path());
    let mut a = St::new(&t.path().join("a"), "alpha");
    let config = a.dir.join("config.toml");
    let original = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{original}log = \"warn\"\n")).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.env_remove("HOTLINE_LOG");
    serve_with_log(&mut a, &m, &[], cmd);
    m.until("READY=1");
    // A connection that sends a broken handshake is logged at info when it
    // ends (one closed without a word is a path probe: debug).
    let knock = || {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(&a.listen).unwrap();
        let _ = s.write_all(&[0, 3, 3, 1, 2]);
    };
    knock();
    std::thread::sleep(Duration::from_millis(500));
    let quiet = a.log_text();
    assert!(
        !quiet.contains(" INFO "),
        "info lines at log = \"warn\": {quiet}"
    );
    std::fs::write(&config, format!("{original}log = \"info\"\n")).unwrap();
    signal(&a, "-HUP");
    m.until("READY=1");
    knock();
    eventually("an info line after the reload", || {
        a.log_text().contains("handshake from")
    });
}

#[test]
fn a_config_outside_the_data_directory_is_served_and_found_by_commands() {
    let t = tempfile::tempdir().unwrap();
    let mut a = St::new(&t.path().join("a"), "alpha");
    // Elsewhere, with another API port than DATA/config.toml's.
    let api = format!("127.0.0.1:{}", free_port());
    let etc = t.path().join("etc-hotline.toml");
    let text = std::fs::read_to_string(a.dir.join("config.toml"))
        .unwrap()
        .replace(&a.api, &api);
    std::fs::write(&etc, &text).unwrap();
    a.child = Some(
        Command::new(BIN)
            .arg("--data")
            .arg(&a.dir)
            .args(["serve", "--config"])
            .arg(&etc)
            .env("HOTLINE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&a.log).unwrap())
            .spawn()
            .unwrap(),
    );
    eventually("the API at the --config address", || health_now(&api));
    assert!(!health_now(&a.api), "DATA/config.toml was served instead");
    // Commands find the API through --config, or HOTLINE_CONFIG.
    let o = Command::new(BIN)
        .arg("--data")
        .arg(&a.dir)
        .arg("--config")
        .arg(&etc)
        .args(["peer", "list"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(BIN)
        .arg("--data")
        .arg(&a.dir)
        .args(["channel", "list"])
        .env("HOTLINE_CONFIG", &etc)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    a.kill9();

    // A file that does not check: exit 4, naming file, line and key.
    std::fs::write(&etc, format!("{text}\n[tuning]\nmax_pending = 0\n")).unwrap();
    let o = Command::new(BIN)
        .arg("--data")
        .arg(&a.dir)
        .args(["serve", "--config"])
        .arg(&etc)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    let line = text.lines().count() + 3;
    assert!(
        err.contains(&format!(
            "etc-hotline.toml:{line}: tuning.max_pending: 0 is out of bounds"
        )),
        "{err}"
    );
}
