//! A station as a real `hotline` process, for the tests that drive the binary
//! from outside (crash, storage faults).

#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_hotline");

// `free_port`: shared with the station crate's in-process tests.
include!("ports.rs");

/// Waits until `f` holds, polling every 50 ms; fails the test naming `what`
/// after `secs` seconds.
pub fn until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(secs), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `hotline --data DIR ARGS…`.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data")
        .arg(dir)
        .args(args)
        .output()
        .unwrap()
}

/// One station: its data directory, addresses, tokens and (when serving) its process.
pub struct St {
    pub name: String,
    pub dir: PathBuf,
    pub api: String,
    pub listen: String,
    /// Identity token.
    pub token: String,
    /// Admin API token.
    pub admin: String,
    pub child: Option<Child>,
    /// stderr of every `serve`, appended.
    pub log: PathBuf,
}

impl St {
    /// `hotline init` in `dir` with loopback ports.
    pub fn new(dir: &Path, name: &str) -> St {
        St::new_with(dir, name, &[])
    }

    /// `hotline init ARGS…` in `dir` with loopback ports.
    pub fn new_with(dir: &Path, name: &str, args: &[&str]) -> St {
        let listen = format!("127.0.0.1:{}", free_port());
        let api = format!("127.0.0.1:{}", free_port());
        let mut all = vec!["init", "--name", name, "--listen", &listen, "--api", &api];
        all.extend_from_slice(args);
        let o = run(dir, &all);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let token = String::from_utf8(o.stdout).unwrap().trim().to_owned();
        let admin = std::fs::read_to_string(dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_owned();
        St {
            name: name.into(),
            dir: dir.to_owned(),
            api,
            listen,
            token,
            admin,
            child: None,
            log: dir.with_extension("log"),
        }
    }

    /// `hotline init` in `root/name`, its logs checkpointed every second
    /// (`tuning.log_checkpoint_every`), served with extra environment.
    pub fn logging_every_second(root: &Path, name: &str, env: &[(&str, &str)]) -> St {
        let mut s = St::new(&root.join(name), name);
        let config = s.dir.join("config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            format!("{text}\n[tuning]\nlog_checkpoint_every = \"1s\"\n"),
        )
        .unwrap();
        s.serve(env);
        s
    }

    /// Starts `hotline serve` with extra environment and waits for its API.
    pub fn serve(&mut self, env: &[(&str, &str)]) {
        self.serve_with(env, &[], None);
    }

    /// Starts `hotline serve ARGS…` with extra environment, under an
    /// open-file limit if given (through the shell's `ulimit`), and waits
    /// for its API.
    pub fn serve_with(&mut self, env: &[(&str, &str)], args: &[&str], nofile: Option<u64>) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = match nofile {
            None => Command::new(BIN),
            Some(n) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), BIN]);
                c
            }
        };
        self.child = Some(
            cmd.arg("--data")
                .arg(&self.dir)
                .arg("serve")
                .args(args)
                .env("HOTLINE_LOG", "warn")
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        self.wait_up();
    }

    /// Waits until the API answers `/v1/health`.
    pub fn wait_up(&self) {
        let t = Instant::now();
        while self.get("/v1/health").is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "{} did not come up; log:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// What the station wrote to stderr (a line being written may end half-way).
    pub fn log_text(&self) -> String {
        String::from_utf8_lossy(&self.log_bytes()).into_owned()
    }

    /// What the station wrote to stderr, as bytes: the log only grows, so what
    /// was written since an earlier read starts at that read's length.
    pub fn log_bytes(&self) -> Vec<u8> {
        std::fs::read(&self.log).unwrap_or_default()
    }

    /// Runs a CLI command against this station, which must succeed; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let o = run(&self.dir, args);
        assert!(
            o.status.success(),
            "hotline {args:?} at {}: {}",
            self.name,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// POST JSON with the admin token: `(status, body)`, or the transport error.
    pub fn post(&self, path: &str, body: Value) -> Result<(u16, Value), String> {
        let c = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let r = c
            .post(format!("http://{}{path}", self.api))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .map_err(|e| e.to_string())?;
        let s = r.status().as_u16();
        Ok((s, r.json().unwrap_or(Value::Null)))
    }

    /// GET with the admin token; None when unreachable or not JSON.
    pub fn get(&self, path: &str) -> Option<Value> {
        let c = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        c.get(format!("http://{}{path}", self.api))
            .bearer_auth(&self.admin)
            .send()
            .ok()?
            .json()
            .ok()
    }

    /// Exports a channel's transcript next to `root` and checks it verifies offline.
    pub fn verify_export(&self, ch: &str, root: &Path) {
        let f = root.join(format!("{}.jsonl", self.name));
        self.cli(&["transcript", "export", ch, "-o", f.to_str().unwrap()]);
        let o = Command::new(BIN)
            .args(["transcript", "verify", f.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "export of {} does not verify: {}",
            self.name,
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

/// `hotline transcript compare` of the exports `verify_export` left in
/// `root` for stations `a` and `b`, which must agree.
pub fn compare_exports(root: &Path, a: &str, b: &str) {
    let o = Command::new(BIN)
        .args(["transcript", "compare"])
        .arg(root.join(format!("{a}.jsonl")))
        .arg(root.join(format!("{b}.jsonl")))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

impl Drop for St {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Pins and verifies `a` and `b` both ways, opens a channel a→b, accepts it
/// at b, and waits until it is active at both.
pub fn pair(a: &St, b: &St) -> String {
    a.cli(&[
        "peer", "add", &b.name, "--key", &b.token, "--addr", &b.listen,
    ]);
    b.cli(&[
        "peer", "add", &a.name, "--key", &a.token, "--addr", &a.listen,
    ]);
    let fa = a.cli(&["id", "--fingerprint"]);
    let fb = b.cli(&["id", "--fingerprint"]);
    a.cli(&["peer", "verify", &b.name, "--fingerprint", fb.trim()]);
    b.cli(&["peer", "verify", &a.name, "--fingerprint", fa.trim()]);
    let ch = a
        .cli(&["channel", "open", &b.name])
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let t = Instant::now();
    while !run(&b.dir, &["channel", "accept", &ch]).status.success() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the proposal did not reach {}",
            b.name
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Active at `a` only once b's Accept has come back over the link and
    // been committed there: until then `a` refuses a message as 409.
    until("the channel active at the opener", 20, || {
        a.get(&format!("/v1/channels/{ch}"))
            .is_some_and(|v| v["state"] == "active")
    });
    ch
}

/// Entries of a channel as `s` holds them: (its own, the peer's).
pub fn counts(s: &St, ch: &str) -> Option<(u64, u64)> {
    let v = s.get(&format!("/v1/channels/{ch}"))?;
    Some((
        v["entries"]["ours"].as_u64()?,
        v["entries"]["theirs"].as_u64()?,
    ))
}

/// Whether an alert of `kind` is open at `s`.
pub fn open_alert(s: &St, kind: &str) -> bool {
    s.get("/v1/alerts?open=true").is_some_and(|v| {
        v["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["kind"] == kind))
    })
}

/// Whether an alert of `kind` was raised, open or cleared since.
pub fn any_alert(s: &St, kind: &str) -> bool {
    s.get("/v1/alerts").is_some_and(|v| {
        v["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["kind"] == kind))
    })
}

/// Sends from `s` until told to stop; the hashes of what it acknowledged (201).
pub fn load(s: &St, ch: &str, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<String>> {
    let (api, token, ch) = (s.api.clone(), s.admin.clone(), ch.to_owned());
    std::thread::spawn(move || {
        let h = reqwest::blocking::Client::new();
        let mut acked = vec![];
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let r = h
                .post(format!("http://{api}/v1/channels/{ch}/messages"))
                .bearer_auth(&token)
                .json(&json!({"text": format!("m{i}")}))
                .send();
            if let Ok(r) = r {
                if r.status().as_u16() == 201 {
                    let v: Value = r.json().unwrap();
                    acked.push(v["hash"].as_str().unwrap().to_owned());
                }
            }
        }
        acked
    })
}
