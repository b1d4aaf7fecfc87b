//! The CLI's HTTP client for the station's API, and the failures that map to exit codes.

use serde_json::Value;
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
}

impl std::error::Error for Failure {}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Check(m)
            | Failure::Usage(m)
            | Failure::Unreachable(m)
            | Failure::Refused(m) => f.write_str(m),
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
    /// Reads the API address from DATA/config.toml and the token from the flag or DATA/admin.token.
    pub fn new(data: &Path, token: Option<String>) -> anyhow::Result<Client> {
        let d = hotline_station::DataDir(data.to_owned());
        let cfg = d.load_config().map_err(|e| Failure::Usage(e.to_string()))?;
        let token = match token {
            Some(t) => t,
            None => d
                .load_admin_token()
                .map_err(|e| Failure::Usage(format!("{e}; pass --token or set HOTLINE_TOKEN")))?,
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Client {
            base: format!("http://{}", cfg.api),
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
        let msg = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(String::from))
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

    /// GET returning JSON.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .send(self.http.get(format!("{}{path}", self.base)))?
            .json()?)
    }

    /// GET returning text.
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        Ok(self
            .send(self.http.get(format!("{}{path}", self.base)))?
            .text()?)
    }

    /// POST JSON returning JSON.
    pub fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        Ok(self
            .send(self.http.post(format!("{}{path}", self.base)).json(&body))?
            .json()?)
    }

    /// Every entry of a channel, paging by cursor.
    pub fn all_entries(&self, channel: &str) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let r = self.get(&format!(
                "/v1/channels/{channel}/entries?after={after}&limit=1000"
            ))?;
            let batch = r["entries"].as_array().cloned().unwrap_or_default();
            if batch.is_empty() {
                return Ok(out);
            }
            after = batch
                .last()
                .and_then(|e| e["cursor"].as_u64())
                .unwrap_or(after);
            out.extend(batch);
        }
    }
}
