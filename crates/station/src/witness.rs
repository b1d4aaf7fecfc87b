//! `hotline witness`: a small C2SP `tlog-witness` for hotline logs (SPEC §5
//! v2). It keeps, per log it follows, the size and root of the latest
//! checkpoint it cosigned, and cosigns a new checkpoint only when a
//! consistency proof shows the old tree a prefix of the new one; two
//! checkpoints of one log at one size with different roots are refused
//! with 409 and kept as evidence.
//!
//! A hotline log names its author in its origin
//! (`hotline/<channel>/<fingerprint digits>`): the first checkpoint of an
//! origin comes with the author's identity token (header
//! `hotline-identity`), which must be the one the origin names, and from
//! then on only that key's signature counts.
//!
//! Files in the witness's data directory: `witness.toml` (name, listen),
//! `witness.key` (the Ed25519 seed, mode 0600), `witness-state.json` (per
//! origin: token, size, root; replaced whole and synced before a
//! cosignature is answered) and `witness-evidence.jsonl` (conflicts).

use crate::config::{replace_secret, write_secret};
use crate::error::StationError;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hotline_core::tlog::{self, WitnessKey};
use hotline_proto::Identity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Mutex;

/// The largest `add-checkpoint` body: a note and a proof of some 64 hashes.
const MAX_REQUEST: usize = 64 * 1024;
/// The header that names a log's author the first time its origin comes.
pub const IDENTITY_HEADER: &str = "hotline-identity";

/// `witness.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WitnessConfig {
    /// The witness's name: its cosignatures' key name.
    pub name: String,
    /// Where it listens for `add-checkpoint` (HOST:PORT).
    pub listen: String,
}

/// What the witness holds of one log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Followed {
    /// The author's identity token, bound to the origin.
    token: String,
    /// The size of the latest checkpoint cosigned.
    size: u64,
    /// Its root, base64.
    root: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct WitnessState {
    logs: BTreeMap<String, Followed>,
}

/// A conflict kept as evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Conflict {
    /// When (Unix seconds).
    pub at: u64,
    /// The log.
    pub origin: String,
    /// The size both checkpoints claim.
    pub size: u64,
    /// The root cosigned before, base64.
    pub cosigned_root: String,
    /// The other root offered for that size, base64.
    pub offered_root: String,
    /// The offered checkpoint note, as sent.
    pub note: String,
}

fn files(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    (
        dir.join("witness.toml"),
        dir.join("witness.key"),
        dir.join("witness-state.json"),
        dir.join("witness-evidence.jsonl"),
    )
}

fn setup(e: impl std::fmt::Display) -> StationError {
    StationError::Setup(e.to_string())
}

/// `hotline witness init`: a new witness key and config in `dir`; returns
/// the witness's verifier key (C2SP note vkey).
pub fn init(dir: &Path, name: &str, listen: &str) -> Result<String, StationError> {
    if !signed_note::is_key_name_valid(name) {
        return Err(setup(format!(
            "witness name {name:?}: a key name has no spaces and no '+', e.g. witness.example.org"
        )));
    }
    listen.parse::<std::net::SocketAddr>().map_err(|_| {
        setup(format!(
            "--listen {listen:?}: use HOST:PORT, e.g. 0.0.0.0:7830"
        ))
    })?;
    let (cfg, key, _, _) = files(dir);
    if key.exists() {
        return Err(setup(format!(
            "{} exists: this directory already holds a witness",
            key.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| setup(format!("{}: {e}", dir.display())))?;
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    write_secret(&key, &seed)?;
    let text = toml::to_string(&WitnessConfig {
        name: name.to_owned(),
        listen: listen.to_owned(),
    })
    .map_err(setup)?;
    std::fs::write(&cfg, text).map_err(|e| setup(format!("{}: {e}", cfg.display())))?;
    Ok(WitnessKey::from_seed(name, &seed).vkey())
}

/// A witness loaded from its directory.
pub struct Witness {
    config: WitnessConfig,
    key: WitnessKey,
    state_file: PathBuf,
    evidence_file: PathBuf,
    state: Mutex<WitnessState>,
}

impl Witness {
    /// Loads the witness in `dir` (`witness init` made it).
    pub fn load(dir: &Path) -> Result<Witness, StationError> {
        let (cfg, key, state_file, evidence_file) = files(dir);
        let config: WitnessConfig =
            toml::from_str(&std::fs::read_to_string(&cfg).map_err(|e| {
                setup(format!(
                    "{}: {e} (run `hotline witness init` first)",
                    cfg.display()
                ))
            })?)
            .map_err(|e| setup(format!("{}: {e}", cfg.display())))?;
        let seed: [u8; 32] = std::fs::read(&key)
            .map_err(|e| setup(format!("{}: {e}", key.display())))?
            .try_into()
            .map_err(|_| setup(format!("{}: not a 32-byte key", key.display())))?;
        let state = match std::fs::read(&state_file) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| setup(format!("{}: {e}", state_file.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => WitnessState::default(),
            Err(e) => return Err(setup(format!("{}: {e}", state_file.display()))),
        };
        Ok(Witness {
            key: WitnessKey::from_seed(&config.name, &seed),
            config,
            state_file,
            evidence_file,
            state: Mutex::new(state),
        })
    }

    /// Where it listens.
    pub fn listen(&self) -> &str {
        &self.config.listen
    }

    /// Its verifier key.
    pub fn vkey(&self) -> String {
        self.key.vkey()
    }

    /// The HTTP routes: `POST /add-checkpoint` (C2SP tlog-witness) and
    /// `GET /hotline/evidence` (the conflicts kept, as JSON).
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/add-checkpoint", post(add_checkpoint))
            .route("/hotline/evidence", get(evidence))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST))
            .with_state(self)
    }

    /// One `add-checkpoint` request: the answer's status and body.
    pub async fn add(&self, identity: Option<&str>, body: &[u8]) -> (StatusCode, String) {
        let Some((old, proof, note)) = parse_request(body) else {
            return (
                StatusCode::BAD_REQUEST,
                "malformed add-checkpoint request\n".into(),
            );
        };
        let Ok(n) = signed_note::Note::from_bytes(note) else {
            return (StatusCode::BAD_REQUEST, "not a signed note\n".into());
        };
        let Ok(cp) = tlog_tiles::Checkpoint::from_bytes(n.text()) else {
            return (
                StatusCode::BAD_REQUEST,
                "the note is not a checkpoint\n".into(),
            );
        };
        let origin = cp.origin().to_owned();
        let mut st = self.state.lock().await;
        let known = st.logs.get(&origin).cloned();
        // The author: as bound at first sight, else the one the request names.
        let token = match (&known, identity) {
            (Some(k), _) => k.token.clone(),
            (None, Some(t)) => t.to_owned(),
            (None, None) => {
                return (
                    StatusCode::NOT_FOUND,
                    format!("unknown log {origin}: its first checkpoint comes with the {IDENTITY_HEADER} header\n"),
                )
            }
        };
        let Ok(author) = Identity::parse(&token) else {
            return (StatusCode::FORBIDDEN, "not an identity token\n".into());
        };
        if !tlog::origin_is_of(&origin, &author) {
            return (
                StatusCode::FORBIDDEN,
                format!("{origin} is not a log of that identity\n"),
            );
        }
        let Ok(c) = tlog::open_checkpoint(note, &author) else {
            return (
                StatusCode::FORBIDDEN,
                format!("the checkpoint is not signed by the author of {origin}\n"),
            );
        };
        let (held_size, held_root) = match &known {
            Some(k) => (k.size, tlog::from_b64(&k.root)),
            None => (0, None),
        };
        if old != held_size {
            return (StatusCode::CONFLICT, format!("{held_size}\n"));
        }
        if c.size < old {
            return (
                StatusCode::BAD_REQUEST,
                "the checkpoint is smaller than the old size\n".into(),
            );
        }
        if let (true, Some(held)) = (c.size == held_size, held_root) {
            if held != c.root {
                let conflict = Conflict {
                    at: now_s(),
                    origin: origin.clone(),
                    size: c.size,
                    cosigned_root: tlog::b64(&held),
                    offered_root: tlog::b64(&c.root),
                    note: String::from_utf8_lossy(note).into_owned(),
                };
                let kept = self.keep_evidence(&conflict);
                tracing::warn!(origin = %origin, size = c.size, "two checkpoints of one size with different roots: refused, evidence kept");
                return (
                    StatusCode::CONFLICT,
                    format!(
                        "{held_size}\n# equivocation: {origin} at size {} has root {} cosigned here, not {}{}\n",
                        c.size,
                        conflict.cosigned_root,
                        conflict.offered_root,
                        if kept { "; evidence kept" } else { "" }
                    ),
                );
            }
        }
        if c.size > old {
            let consistent = match held_root {
                None => old == 0,
                Some(h) => tlog::check_consistency(&proof, old, h, c.size, c.root),
            };
            if !consistent {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "the consistency proof does not hold\n".into(),
                );
            }
            st.logs.insert(
                origin.clone(),
                Followed {
                    token,
                    size: c.size,
                    root: tlog::b64(&c.root),
                },
            );
            // Durable before the cosignature is answered: it commits the
            // witness never to cosign a conflicting tree.
            let text = match serde_json::to_vec_pretty(&*st) {
                Ok(t) => t,
                Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
            };
            if let Err(e) = replace_secret(&self.state_file, &text) {
                st.logs.remove(&origin);
                if let Some(k) = known {
                    st.logs.insert(origin, k);
                }
                return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"));
            }
        }
        let line = self.key.cosign(&c.text, now_s());
        (StatusCode::OK, String::from_utf8_lossy(&line).into_owned())
    }

    /// Appends a conflict to the evidence file, synced.
    fn keep_evidence(&self, c: &Conflict) -> bool {
        use std::io::Write as _;
        let Ok(mut line) = serde_json::to_vec(c) else {
            return false;
        };
        line.push(b'\n');
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.evidence_file)
            .and_then(|mut f| f.write_all(&line).and_then(|_| f.sync_all()))
            .is_ok()
    }

    /// The conflicts kept, oldest first.
    pub fn evidence(&self) -> Vec<Conflict> {
        std::fs::read_to_string(&self.evidence_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `old N\n`, proof lines (base64 hashes), an empty line, the note.
fn parse_request(body: &[u8]) -> Option<(u64, Vec<tlog::TreeHash>, &[u8])> {
    let text = std::str::from_utf8(body).ok()?;
    let (first, mut rest) = text.split_once('\n')?;
    let old = first.strip_prefix("old ")?.parse().ok()?;
    let mut proof = Vec::new();
    loop {
        let (line, after) = rest.split_once('\n')?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if proof.len() == 63 {
            return None;
        }
        proof.push(tlog::from_b64(line)?);
    }
    Some((old, proof, rest.as_bytes()))
}

async fn add_checkpoint(
    State(w): State<Arc<Witness>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let identity = headers.get(IDENTITY_HEADER).and_then(|v| v.to_str().ok());
    let (status, text) = w.add(identity, &body).await;
    let ctype = if status == StatusCode::CONFLICT {
        "text/x.tlog.size"
    } else {
        "text/plain; charset=utf-8"
    };
    (status, [(header::CONTENT_TYPE, ctype)], text).into_response()
}

async fn evidence(State(w): State<Arc<Witness>>) -> Response {
    axum::Json(w.evidence()).into_response()
}

/// `hotline witness serve`: runs the witness in `dir` until SIGINT or SIGTERM.
pub async fn serve(dir: &Path) -> Result<(), StationError> {
    let w = Arc::new(Witness::load(dir)?);
    let listener = tokio::net::TcpListener::bind(w.listen())
        .await
        .map_err(|e| setup(format!("cannot listen on {}: {e}", w.listen())))?;
    tracing::info!(listen = %w.listen(), vkey = %w.vkey(), "witness up");
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    axum::serve(listener, w.router())
        .with_graceful_shutdown(stop)
        .await
        .map_err(|e| setup(format!("witness: {e}")))
}
