//! The CLI's HTTP client for the station's API, and the failures that map to exit codes.
//!
//! Every answer is decoded into its type from `hotline-api-types`: an answer
//! that does not fit is a failure of its own (exit 5), never a silent default.

use hotline_api_types::{ApiError, Entries, Entry};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// A failure with a defined exit code.
#[derive(Debug)]
pub enum Failure {
    /// A check failed (exit 1).
    Check(String),
    /// Bad usage (exit 2).
    Usage(String),
    /// The station is not reachable (exit 3).
    Unreachable(String),
    /// The station refused (exit 4).
    Refused(String),
    /// The station answered with something this command cannot read (exit 5).
    BadAnswer(String),
}

impl std::error::Error for Failure {}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Check(m)
            | Failure::Usage(m)
            | Failure::Unreachable(m)
            | Failure::Refused(m)
            | Failure::BadAnswer(m) => f.write_str(m),
        }
    }
}

impl Failure {
    /// The exit code.
    pub fn code(&self) -> i32 {
        match self {
            Failure::Check(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Unreachable(_) => 3,
            Failure::Refused(_) => 4,
            Failure::BadAnswer(_) => 5,
        }
    }
}

/// Talks to one station.
pub struct Client {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Client {
    /// Reads the API address from the config (`--config FILE`, else
    /// DATA/config.toml), and the token from the flag (or HOTLINE_TOKEN),
    /// else DATA/login.token (`hotline login`), else DATA/admin.token.
    pub fn new(
        data: &Path,
        config: Option<&Path>,
        token: Option<String>,
    ) -> anyhow::Result<Client> {
        let d = hotline_station::DataDir(data.to_owned());
        let cfg = d
            .load_config_from(config)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        Client::at(&cfg.api, token_for(data, token)?)
    }

    /// The token this client acts with.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A client of the API at `addr` (HOST:PORT), acting with `token`.
    pub fn at(addr: &str, token: String) -> anyhow::Result<Client> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Client {
            base: format!("http://{addr}"),
            token,
            http,
        })
    }

    fn send(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> anyhow::Result<reqwest::blocking::Response> {
        let r = req.bearer_auth(&self.token).send().map_err(|e| {
            Failure::Unreachable(format!(
                "the station at {} is not reachable ({e}); is `hotline serve` running for this --data directory?",
                self.base
            ))
        })?;
        let status = r.status();
        if status.is_success() {
            return Ok(r);
        }
        let text = r.text().unwrap_or_default();
        // A refusal without the station's error body (a proxy, an older
        // station) is shown as it came.
        let msg = serde_json::from_str::<ApiError>(&text)
            .map(|e| e.error)
            .unwrap_or(text);
        if status.is_client_error() {
            Err(Failure::Refused(format!("{msg} (HTTP {})", status.as_u16())).into())
        } else {
            Err(anyhow::anyhow!(
                "the station failed: {msg} (HTTP {})",
                status.as_u16()
            ))
        }
    }

    /// Decodes an answer into the type the API promises for it.
    fn decode<T: DeserializeOwned>(
        &self,
        what: &str,
        r: reqwest::blocking::Response,
    ) -> anyhow::Result<T> {
        let text = r.text()?;
        serde_json::from_str(&text).map_err(|e| {
            Failure::BadAnswer(format!(
                "the station's answer to {what} is not what this hotline expects ({e}); are the station and this command the same version?"
            ))
            .into()
        })
    }

    /// GET, decoding the answer into the type the API promises for `path`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let r = self.send(self.http.get(format!("{}{path}", self.base)))?;
        self.decode(&format!("GET {path}"), r)
    }

    /// GET of a non-JSON answer (an export), as text.
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        Ok(self
            .send(self.http.get(format!("{}{path}", self.base)))?
            .text()?)
    }

    /// POST of a JSON body, decoding the answer into the type the API promises.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let r = self.send(self.http.post(format!("{}{path}", self.base)).json(body))?;
        self.decode(&format!("POST {path}"), r)
    }

    /// POST of a JSON body whose answer is bytes: the body and the answer's headers.
    pub fn post_for_bytes<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<(Vec<u8>, reqwest::header::HeaderMap)> {
        let r = self.send(self.http.post(format!("{}{path}", self.base)).json(body))?;
        let headers = r.headers().clone();
        Ok((r.bytes()?.to_vec(), headers))
    }

    /// POST of raw bytes, decoding the answer into the type the API promises.
    pub fn post_bytes<T: DeserializeOwned>(&self, path: &str, body: Vec<u8>) -> anyhow::Result<T> {
        let r = self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(body),
        )?;
        self.decode(&format!("POST {path}"), r)
    }

    /// Every entry of a channel, paging by cursor.
    pub fn all_entries(&self, channel: &str) -> anyhow::Result<Vec<Entry>> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page: Entries = self.get(&format!(
                "/v1/channels/{channel}/entries?after={after}&limit=1000"
            ))?;
            let Some(last) = page.entries.last() else {
                return Ok(out);
            };
            after = last.cursor;
            out.extend(page.entries);
        }
    }
}

/// The token to act with: `token` (the flag, or HOTLINE_TOKEN), else
/// DATA/login.token (`hotline login`), else DATA/admin.token.
pub fn token_for(data: &Path, token: Option<String>) -> anyhow::Result<String> {
    if let Some(t) = token {
        return Ok(t);
    }
    if let Ok(t) = std::fs::read_to_string(login_token(data)) {
        return Ok(t.trim().to_owned());
    }
    let d = hotline_station::DataDir(data.to_owned());
    Ok(d.load_admin_token().map_err(|e| {
        Failure::Usage(format!(
            "{e}; pass --token, set HOTLINE_TOKEN, or run `hotline login`"
        ))
    })?)
}

/// Where `hotline login` keeps a user's token for the CLI (mode 0600).
pub fn login_token(data: &Path) -> std::path::PathBuf {
    data.join("login.token")
}
