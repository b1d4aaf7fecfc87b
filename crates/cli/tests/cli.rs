//! The `hotline` command as scripts see it: output, exit codes, help.

use std::process::{Command, Output};

#[path = "common/station.rs"]
mod station;

const BIN: &str = env!("CARGO_BIN_EXE_hotline");

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn init_prints_one_token_line_and_keeps_secrets_private() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("s");
    let o = run(
        &d,
        &[
            "init",
            "--name",
            "alpha",
            "--listen",
            "127.0.0.1:0",
            "--api",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 1);
    assert!(out.starts_with("hotline1"));
    let id = run(&d, &["id"]);
    assert_eq!(String::from_utf8(id.stdout).unwrap(), out);
    let fp = String::from_utf8(run(&d, &["id", "--fingerprint"]).stdout).unwrap();
    assert_eq!(fp.trim().split(' ').count(), 12);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["identity.key", "admin.token"] {
            let mode = std::fs::metadata(d.join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
    }
    // A second init in the same place is refused and changes nothing.
    let again = run(&d, &["init", "--name", "beta"]);
    assert_eq!(code(&again), 4);
    assert!(text(&again).contains("already holds a station"));
    assert_eq!(String::from_utf8(run(&d, &["id"]).stdout).unwrap(), out);
}

#[test]
fn commands_needing_a_station_say_so_with_exit_3() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("s");
    // A port nothing listens on: reserved for this process, and outside the
    // range from which anything else on the machine is handed ports.
    let port = station::free_port();
    assert_eq!(
        code(&run(
            &d,
            &["init", "--name", "a", "--api", &format!("127.0.0.1:{port}")]
        )),
        0
    );
    let o = run(&d, &["channel", "list"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(text(&o).contains("hotline serve"));
    let none = run(&t.path().join("nothing"), &["peer", "list"]);
    assert_eq!(code(&none), 2);
    assert!(text(&none).contains("hotline init"));
}

#[test]
fn help_teaches_and_bad_usage_exits_2() {
    let o = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(code(&o), 0);
    let h = text(&o);
    for c in [
        "init",
        "serve",
        "demo",
        "peer",
        "channel",
        "send",
        "inbox",
        "ack",
        "request",
        "decide",
        "suspend",
        "resume",
        "terminate",
        "alerts",
        "user",
        "transcript",
        "doctor",
        "Exit codes",
    ] {
        assert!(h.contains(c), "--help does not mention {c}");
    }
    let o = Command::new(BIN).args(["send"]).output().unwrap();
    assert_eq!(code(&o), 2);
}

#[test]
fn transcript_verify_exits_1_naming_the_fault() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("x.jsonl");
    std::fs::write(
        &f,
        format!(
            "{{\"hotline_export\":1,\"channel\":\"{}\",\"identities\":[\"a\",\"b\"],\"exported_by\":0,\"exported_at\":0,\"entries\":0}}\n",
            "0".repeat(64)
        ),
    )
    .unwrap();
    let o = Command::new(BIN)
        .args(["transcript", "verify", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    assert!(text(&o).contains("holds no entry"), "{}", text(&o));
    let o = Command::new(BIN)
        .args(["transcript", "verify", "/nonexistent/file"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
}

/// Answers every request on `listener` with `200` and `body`, as a station
/// of another version (or something else on its port) might.
fn answer_with(listener: std::net::TcpListener, body: &'static str) {
    use std::io::{BufRead, BufReader, Read, Write};
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut request_body = vec![0; length];
            let _ = reader.read_exact(&mut request_body);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

#[test]
fn an_answer_that_does_not_fit_its_type_is_exit_5_never_a_default() {
    let t = tempfile::tempdir().unwrap();
    for (args, body) in [
        (&["peer", "list"][..], r#"{"peers":[{"name":1}]}"#),
        // Once printed an empty line and exited 0.
        (&["send", &"ab".repeat(32), "hello"][..], r#"{"seq":1}"#),
        (&["channel", "show", &"ab".repeat(32)][..], r#"{"id":"x"}"#),
    ] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let api = listener.local_addr().unwrap().to_string();
        answer_with(listener, body);
        let d = t.path().join(args[0]);
        assert_eq!(code(&run(&d, &["init", "--name", "a", "--api", &api])), 0);
        let o = run(&d, args);
        assert_eq!(code(&o), 5, "{args:?}: {}", text(&o));
        assert!(
            text(&o).contains("is not what this hotline expects"),
            "{args:?}: {}",
            text(&o)
        );
        assert!(o.stdout.is_empty(), "{args:?} printed {:?}", o.stdout);
    }
}

/// The deliberately broken variants (acknowledge before commit, no fsync) are
/// compiled into test builds only: the `hotline` a release build makes, from
/// its normal dependencies, has no `broken-variants` feature, so no
/// environment variable can turn a production station into one that loses
/// acknowledged messages. (The query finds the feature through the
/// dev-dependency edge, so it would find it on the normal one.)
#[test]
fn release_builds_have_no_broken_variants() {
    let tree = |edges: &str| {
        let o = Command::new(env!("CARGO"))
            .args(["tree", "--offline", "-p", "hotline-cli", "-e", edges])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    assert!(
        !tree("normal,features").contains("broken-variants"),
        "a release build of hotline would honour HOTLINE_UNSAFE_* variables"
    );
    assert!(tree("normal,dev,features").contains("hotline-station feature \"broken-variants\""));
}

/// Every string anywhere in a JSON value.
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn counterpart_text_is_shown_escaped_on_one_line_and_exact_in_json() {
    let t = tempfile::tempdir().unwrap();
    let mut a = station::St::new(&t.path().join("a"), "a");
    let mut b = station::St::new(&t.path().join("b"), "b");
    a.serve(&[]);
    b.serve(&[]);
    let ch = station::pair(&a, &b);
    // A line that would pass for another message in b's inbox, and a
    // right-to-left override that would show "attack" as "kcatta".
    let subject = "status\u{1b}[2K";
    let text = "all quiet\nFLASH     0000  1s ago  [delivered]  evacuate\u{202e}kcatta";
    a.cli(&["send", &ch, "--subject", subject, text]);
    let start = std::time::Instant::now();
    let shown = loop {
        let o = b.cli(&["inbox"]);
        if o.contains("all quiet") {
            break o;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "the message did not reach b: {o}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        shown.lines().any(|l| l.trim()
            == "all quiet\\nFLASH     0000  1s ago  [delivered]  evacuate\\u{202e}kcatta"),
        "{shown}"
    );
    assert!(shown.contains("status\\u{1b}[2K"), "{shown}");
    assert!(!shown.lines().any(|l| l.starts_with("FLASH")), "{shown}");
    assert!(!shown.contains(['\u{1b}', '\u{202e}', '\r']), "{shown:?}");
    // --json is exact: serde's escapes, read back as sent.
    let json: serde_json::Value = serde_json::from_str(&b.cli(&["inbox", "--json"])).unwrap();
    let mut all = Vec::new();
    strings(&json, &mut all);
    assert!(all.iter().any(|s| s == text), "{json}");
    assert!(all.iter().any(|s| s == subject), "{json}");
}

#[cfg(unix)]
#[test]
fn a_serving_station_and_its_exports_are_private_files() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    // The umask most systems start with, so that the outcome does not depend
    // on the one the tests run under; the commands below inherit it.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let t = tempfile::tempdir().unwrap();
    let mut a = station::St::new(&t.path().join("a"), "a");
    a.serve(&[]);
    assert_eq!(mode(&a.dir), 0o700, "the data directory");
    for f in ["hotline.db", "hotline.db-wal", "hotline.db-shm"] {
        assert_eq!(mode(&a.dir.join(f)), 0o600, "{f}");
    }
    let out = t.path().join("audit.jsonl");
    // An earlier export the operator left readable is replaced by a private one.
    std::fs::write(&out, "old").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    a.cli(&["audit", "export", "-o", out.to_str().unwrap()]);
    assert_eq!(mode(&out), 0o600);
    assert_ne!(std::fs::read_to_string(&out).unwrap(), "old");
    // Nothing is left beside it under a temporary name.
    let names: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("audit") || n.starts_with('.'))
        .collect();
    assert_eq!(names, ["audit.jsonl"]);
}

/// `hotline evidence`: what stands behind an `equivocation` alert, every
/// channel's or one's, in words or as JSON; an unknown channel is an error.
#[test]
fn evidence_lists_in_words_and_json_and_refuses_an_unknown_channel() {
    let t = tempfile::tempdir().unwrap();
    let mut a = station::St::new(&t.path().join("a"), "a");
    let mut b = station::St::new(&t.path().join("b"), "b");
    a.serve(&[]);
    b.serve(&[]);
    let ch = station::pair(&a, &b);
    assert_eq!(a.cli(&["evidence"]).trim(), "no equivocation evidence");
    let json: serde_json::Value =
        serde_json::from_str(&a.cli(&["evidence", &ch, "--json"])).unwrap();
    assert_eq!(json, serde_json::json!([]));
    let o = run(&a.dir, &["evidence", &"0".repeat(64)]);
    assert_ne!(code(&o), 0);
    assert!(
        text(&o).contains("not found") || text(&o).contains("no channel"),
        "{}",
        text(&o)
    );
    let o = run(&a.dir, &["evidence", "zz"]);
    assert_ne!(code(&o), 0);
    assert!(text(&o).contains("64 hex"), "{}", text(&o));
    a.kill9();
    b.kill9();
}

/// Shell completions and man pages come from the parser's own definitions:
/// every shell gets a script, and `dist/man/` is exactly what `hotline man`
/// writes today (run `hotline man dist/man` after changing a command).
#[test]
fn completions_and_man_pages_are_generated_from_the_commands() {
    for (shell, marker) in [
        ("bash", "complete -F _hotline"),
        ("zsh", "#compdef hotline"),
        ("fish", "complete -c hotline"),
    ] {
        let o = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(marker),
            "{shell}"
        );
    }
    let t = tempfile::tempdir().unwrap();
    let o = Command::new(BIN).arg("man").arg(t.path()).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/man");
    let names = |d: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(t.path()),
        names(&committed),
        "run `hotline man dist/man`"
    );
    for n in names(t.path()) {
        assert_eq!(
            std::fs::read(t.path().join(&n)).unwrap(),
            std::fs::read(committed.join(&n)).unwrap(),
            "dist/man/{n} is stale: run `hotline man dist/man`"
        );
    }
    assert!(names(t.path()).contains(&"hotline-peer-add.1".to_owned()));
}

/// A log written to a file (or the journal) carries no terminal colour codes.
#[test]
fn a_redirected_log_has_no_escape_codes() {
    let t = tempfile::tempdir().unwrap();
    let mut a = station::St::new(&t.path().join("a"), "a");
    a.serve(&[("HOTLINE_LOG", "info")]);
    // The API may answer before the start-up line is written.
    let t0 = std::time::Instant::now();
    while !a.log_text().contains("INFO") && t0.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    a.kill9();
    let log = a.log_text();
    assert!(log.contains("INFO"), "nothing was logged at info: {log}");
    assert!(
        !log.contains('\u{1b}'),
        "escape codes in a redirected log: {log:?}"
    );
}

/// `/metrics` follows Prometheus conventions, as `promtool check metrics`
/// (Debian's `prometheus` package, installed by `.ci/run`) judges them.
#[test]
fn metrics_pass_promtool() {
    if Command::new("promtool").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "promtool is needed for this test in CI (see .ci/run)"
        );
        eprintln!("SKIPPED: promtool is not installed here; this test runs in CI");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let mut a = station::St::new(&t.path().join("a"), "a");
    a.serve(&[]);
    let text = reqwest::blocking::Client::new()
        .get(format!("http://{}/metrics", a.api))
        .bearer_auth(&a.admin)
        .send()
        .unwrap()
        .text()
        .unwrap();
    a.kill9();
    assert!(
        text.contains("hotline_delivery_latency_seconds_bucket"),
        "{text}"
    );
    use std::io::Write;
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let o = p.wait_with_output().unwrap();
    assert!(o.status.success(), "promtool: {}\n{text}", self::text(&o));
}

/// `--log-format json` writes one JSON object a line, for log shippers.
#[test]
fn the_log_can_be_json_one_object_a_line() {
    let t = tempfile::tempdir().unwrap();
    let mut a = station::St::new(&t.path().join("a"), "a");
    a.serve(&[("HOTLINE_LOG", "info"), ("HOTLINE_LOG_FORMAT", "json")]);
    a.kill9();
    let log = a.log_text();
    // The lines `serve` prints itself are for people; tracing's are JSON.
    let json: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        json.iter()
            .any(|v| v["level"] == "INFO" && v["fields"]["message"].is_string()),
        "{log}"
    );
    assert!(!log.contains('\u{1b}'));
}

/// `hotline login` makes the CLI act as a user of one's own, `logout` as the
/// admin again; rotating the CLI's own token rewrites the file it came from.
#[test]
fn login_logout_and_rotating_ones_own_token() {
    let t = tempfile::tempdir().unwrap();
    let mut a = station::St::new(&t.path().join("a"), "a");
    a.serve(&[]);
    let alice = a.cli(&["user", "add", "alice", "--role", "operator"]);
    let login = |input: &str| {
        use std::io::Write;
        let mut p = Command::new(BIN)
            .arg("--data")
            .arg(&a.dir)
            .arg("login")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        p.wait_with_output().unwrap()
    };
    let o = login("hlt_not_a_token\n");
    assert_ne!(code(&o), 0, "a wrong token is not kept");
    assert!(!a.dir.join("login.token").exists());
    let o = login(&alice);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains("signed in as alice (operator)"),
        "{}",
        text(&o)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(a.dir.join("login.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Acting as alice: listing users is the admin's.
    let o = run(&a.dir, &["user", "list"]);
    assert_eq!(code(&o), 4, "{}", text(&o));
    a.cli(&["logout"]);
    a.cli(&["user", "list"]);
    // The admin rotates its own token: admin.token follows, the CLI still works.
    let before = std::fs::read_to_string(a.dir.join("admin.token")).unwrap();
    a.cli(&["user", "rotate", "admin"]);
    let after = std::fs::read_to_string(a.dir.join("admin.token")).unwrap();
    assert_ne!(before, after);
    assert!(a.cli(&["user", "list"]).contains("alice"));
    a.kill9();
}

/// `peer repin` pins a new key unverified under the same name; `peer
/// remove` unpins; each says what it did, and a wrong one exits non-zero.
#[test]
fn a_peer_is_repinned_then_removed_from_the_command_line() {
    let t = tempfile::tempdir().unwrap();
    let mut a = station::St::new(&t.path().join("a"), "a");
    let b = station::St::new(&t.path().join("b"), "b");
    let b2 = station::St::new(&t.path().join("b2"), "b2");
    a.serve(&[]);
    a.cli(&[
        "peer", "add", "bravo", "--key", &b.token, "--addr", &b.listen,
    ]);
    let o = run(&a.dir, &["peer", "repin", "bravo", "--key", &b.token]);
    assert_eq!(code(&o), 4, "same key: {}", text(&o));
    let out = a.cli(&["peer", "repin", "bravo", "--key", &b2.token]);
    assert!(out.contains("new key pinned (unverified)"), "{out}");
    let listed = a.cli(&["peer", "list", "--json"]);
    assert!(
        listed.contains(&b2.token) && !listed.contains(&b.token),
        "{listed}"
    );
    let out = a.cli(&["peer", "remove", "bravo"]);
    assert!(out.contains("bravo removed"), "{out}");
    assert!(!a.cli(&["peer", "list", "--json"]).contains("bravo"));
    let o = run(&a.dir, &["peer", "remove", "bravo"]);
    assert_eq!(code(&o), 4, "gone: {}", text(&o));
    a.kill9();
}

/// `hotline bench --json` prints one object with every figure and ceiling
/// the performance issue names (a tiny run: the figures are not judged here).
#[test]
fn bench_json_prints_every_figure_and_ceiling() {
    let o = Command::new(BIN)
        .args([
            "bench",
            "--json",
            "--messages",
            "200",
            "--concurrency",
            "4",
            "--latency-samples",
            "20",
            "--inflight-messages",
            "20",
            "--ceiling-ms",
            "30",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in [
        "throughput_msgs_per_s",
        "inflight1_msgs_per_s",
        "both_directions_msgs_per_s",
        "p50_ms",
        "p99_ms",
        "p999_ms",
        "verify_entries_per_s",
    ] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {v}");
    }
    for k in [
        "sign",
        "verify_strict",
        "verify_batch",
        "pair",
        "sqlite_commits",
        "fsync_ms",
        "rtt_ms",
        "http_requests",
    ] {
        assert!(
            v["ceilings"][k].as_f64().is_some_and(|x| x > 0.0),
            "{k}: {v}"
        );
    }
    assert!(v["exported_entries"].as_u64().unwrap() >= 200 + 20 + 20);
    // Each station's CPU a message: there for both phases (a tiny run may
    // spend less than one 10 ms tick, so only its presence is judged).
    for k in ["inflight1_a", "inflight1_b", "throughput_a", "throughput_b"] {
        assert!(
            v["cpu_us_per_message"][k]
                .as_f64()
                .is_some_and(|x| x >= 0.0 && x.is_finite()),
            "{k}: {v}"
        );
        // Every message wakes each station's threads at least once (A's
        // writer commits it, B's takes it): a count of none would be a
        // reading of the wrong process or none at all.
        assert!(
            v["context_switches_per_message"][k]
                .as_f64()
                .is_some_and(|x| x > 0.0 && x.is_finite()),
            "{k}: {v}"
        );
        // The kernel's part is part of the whole.
        let kernel = v["kernel_us_per_message"][k].as_f64().unwrap();
        let cpu = v["cpu_us_per_message"][k].as_f64().unwrap();
        assert!((0.0..=cpu).contains(&kernel), "{k}: {v}");
    }
    for k in ["inflight1", "throughput"] {
        assert!(
            v["clients_cpu_us_per_message"][k]
                .as_f64()
                .is_some_and(|x| x >= 0.0 && x.is_finite()),
            "{k}: {v}"
        );
    }
    // Two commit loops at once measured; the bare server's CPU there (a
    // tiny run may spend less than one 10 ms tick on it); the floors
    // finite and positive.
    let c = &v["ceilings"];
    assert!(
        c["http_server_us"]
            .as_f64()
            .is_some_and(|x| x >= 0.0 && x.is_finite()),
        "{v}"
    );
    assert!(c["sqlite_commits_both"].as_f64().unwrap() > 0.0, "{v}");
    for k in [
        "throughput_msgs_per_s",
        "inflight1_msgs_per_s",
        "send_commit_ms",
    ] {
        assert!(
            v["floors"][k]
                .as_f64()
                .is_some_and(|x| x > 0.0 && x.is_finite()),
            "{k}: {v}"
        );
    }
    // The send→commit floor holds two durable commits: never less than
    // two of the run's single-row commits.
    let commit_ms = 1e3 / c["sqlite_commits"].as_f64().unwrap();
    assert!(v["floors"]["send_commit_ms"].as_f64().unwrap() > 2.0 * commit_ms);
}

/// `hotline bench --scale-channels N --json`: N channels open, memory per
/// idle channel, CPU and send→commit under 10 messages a minute on each
/// (a tiny run: the figures are not judged here, only that they are there
/// and every message sent reached B).
#[test]
fn bench_scale_json_measures_many_channels() {
    let o = Command::new(BIN)
        .args([
            "bench",
            "--json",
            "--scale-channels",
            "12",
            "--scale-seconds",
            "3",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["channels"], 12);
    assert!(v["rss_all_kib"].as_u64().unwrap() > 0);
    // 12 channels × 10/min for 3 s: one message every 0.5 s.
    assert!(v["sent"].as_u64().unwrap() >= 5, "{v}");
    for k in [
        "kib_per_idle_channel",
        "anon_kib_per_idle_channel",
        "cpu_a_pct",
        "cpu_b_pct",
    ] {
        assert!(v[k].as_f64().is_some_and(|x| x >= 0.0), "{k}: {v}");
    }
    // The anonymous part of the resident set is part of it.
    assert!(v["anon_all_kib"].as_u64().unwrap() > 0, "{v}");
    assert!(
        v["anon_all_kib"].as_u64() <= v["rss_all_kib"].as_u64(),
        "{v}"
    );
    for k in ["p50_ms", "p99_ms"] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {v}");
    }
}

/// `hotline bench --startup-entries N --startup-replay --json`: a station
/// holding N entries starts from its start-up snapshot, and the same
/// channel rebuilt from every entry is measured beside it (a small run:
/// only that the snapshot covered what it should and both were measured).
#[test]
fn bench_startup_json_measures_the_snapshot_and_the_replay() {
    let o = Command::new(BIN)
        .args([
            "bench",
            "--json",
            "--startup-entries",
            "5000",
            "--startup-replay",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = v["entries"].as_u64().unwrap();
    assert!(entries >= 5000, "{v}");
    // One snapshot every 4,096 entries: the newest covers all but the tail.
    let covers = v["snapshot_covers"].as_u64().unwrap();
    assert!((4096..=entries).contains(&covers), "{v}");
    assert!(entries - covers < 4096, "{v}");
    for k in ["startup_ms", "restore_ms", "restore_replay_ms"] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {v}");
    }
}

/// `hotline bench --hot-path N --json`: both halves of the hot path timed.
#[test]
fn bench_hot_path_times_both_halves() {
    let o = Command::new(BIN)
        .args(["bench", "--json", "--hot-path", "20"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["messages"], 20);
    for k in ["author_us", "receive_us"] {
        assert!(v[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {v}");
    }
}

/// Under systemd the journal stamps each line itself (JOURNAL_STREAM is
/// set): the log then carries no timestamp of its own, and no colour.
#[test]
fn under_the_journal_the_log_has_no_timestamp_of_its_own() {
    let t = tempfile::tempdir().unwrap();
    let mut a = station::St::new(&t.path().join("a"), "a");
    a.serve(&[("HOTLINE_LOG", "info"), ("JOURNAL_STREAM", "8:4242")]);
    // The API may answer before the start-up line is written.
    station::until("the start-up line in the log", 20, || {
        a.log_text().contains("station up")
    });
    a.kill9();
    let log = a.log_text();
    let up = log
        .lines()
        .find(|l| l.contains("station up"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(up.trim_start().starts_with("INFO"), "{up}");
    assert!(!log.contains('\u{1b}'));
}

/// A partner's report shows in `inbox` after the messages, with its
/// marking and title.
#[test]
fn a_received_report_shows_in_the_inbox() {
    let t = tempfile::tempdir().unwrap();
    let mut a = station::St::new(&t.path().join("a"), "alpha");
    let mut b = station::St::new(&t.path().join("b"), "bravo");
    a.serve(&[]);
    b.serve(&[]);
    let ch = station::pair(&a, &b);
    let t0 = std::time::Instant::now();
    while a
        .get(&format!("/v1/channels/{ch}"))
        .is_none_or(|v| v["state"] != "active")
    {
        assert!(t0.elapsed() < std::time::Duration::from_secs(20));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    a.cli(&["peer", "set", "bravo", "--rel", "UKR"]);
    let f = t.path().join("note.md");
    std::fs::write(&f, "# Situation\nAll quiet.").unwrap();
    let out = a.cli(&[
        "share",
        "publish",
        "--rel-to",
        "UKR",
        "--tlp",
        "green",
        "--title",
        "Daily note",
        f.to_str().unwrap(),
    ]);
    assert!(out.contains("released to bravo"), "{out}");
    let t0 = std::time::Instant::now();
    loop {
        let inbox = b.cli(&["inbox"]);
        if inbox.contains("Daily note") {
            assert!(
                inbox.contains("REPORT") && inbox.contains("TLP:GREEN"),
                "{inbox}"
            );
            break;
        }
        assert!(t0.elapsed() < std::time::Duration::from_secs(20), "{inbox}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    a.kill9();
    b.kill9();
}
