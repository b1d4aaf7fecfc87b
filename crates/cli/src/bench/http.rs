//! The bench's HTTP client: one keep-alive HTTP/1.1 connection per client
//! thread, driven on that thread (a single-threaded tokio runtime and
//! hyper's connection). The command-line client (`reqwest::blocking`) hands
//! each request to a runtime thread of its own and the answer back, two
//! thread wake-ups a request that the bench would count against the
//! station; a load generator does its I/O where it waits (docs/PERFORMANCE.md,
//! "The bench's own client").

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use tokio::runtime::Runtime;

/// One connection to a station's API.
pub struct Lean {
    rt: Runtime,
    tx: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    auth: HeaderValue,
}

impl Lean {
    /// Connects to the API of the station in `data` with its admin token.
    pub fn new(data: &Path) -> anyhow::Result<Lean> {
        let d = hotline_station::DataDir(data.to_owned());
        Lean::connect(&d.load_config()?.api, &d.load_admin_token()?)
    }

    /// Connects to the HTTP server at `api` (host:port), sending `token`
    /// as the bearer token.
    pub fn connect(api: &str, token: &str) -> anyhow::Result<Lean> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let tx = rt.block_on(async {
            let s = tokio::net::TcpStream::connect(api).await?;
            s.set_nodelay(true)?;
            let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s)).await?;
            // Runs whenever this thread waits on an answer (block_on).
            tokio::spawn(conn);
            anyhow::Ok(tx)
        })?;
        Ok(Lean {
            rt,
            tx,
            host: HeaderValue::from_str(api)?,
            auth: HeaderValue::from_str(&format!("Bearer {token}"))?,
        })
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<Request<Full<Bytes>>> {
        let mut r = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.auth.clone());
        if !body.is_empty() {
            r = r.header(CONTENT_TYPE, "application/json");
        }
        Ok(r.body(Full::new(Bytes::from(body)))?)
    }

    /// Sends one request and reads its whole answer; an error unless 2xx.
    fn call(&mut self, req: Request<Full<Bytes>>) -> anyhow::Result<Bytes> {
        let tx = &mut self.tx;
        self.rt.block_on(async {
            tx.ready().await?;
            let resp = tx.send_request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::ensure!(
                status.is_success(),
                "HTTP {}: {}",
                status.as_u16(),
                String::from_utf8_lossy(&body)
            );
            Ok(body)
        })
    }

    /// POST `body` as JSON; the answer decoded.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &mut self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let req = self.request("POST", path, serde_json::to_vec(body)?)?;
        Ok(serde_json::from_slice(&self.call(req)?)?)
    }

    /// GET `path`, and calls `line` with each line of the answer as it
    /// arrives (an event stream), until the stream ends or `line` returns
    /// false (the connection is then closed).
    pub fn stream(mut self, path: &str, mut line: impl FnMut(&str) -> bool) -> anyhow::Result<()> {
        let req = self.request("GET", path, Vec::new())?;
        let tx = &mut self.tx;
        self.rt.block_on(async {
            tx.ready().await?;
            let resp = tx.send_request(req).await?;
            anyhow::ensure!(resp.status().is_success(), "HTTP {}", resp.status());
            let mut body = resp.into_body();
            let mut pending = Vec::new();
            while let Some(frame) = body.frame().await {
                let Ok(data) = frame?.into_data() else {
                    continue;
                };
                pending.extend_from_slice(&data);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let text = String::from_utf8_lossy(&pending[..end]).into_owned();
                    pending.drain(..=end);
                    if !line(&text) {
                        return Ok(());
                    }
                }
            }
            Ok(())
        })
    }
}
