//! The bare HTTP ceiling: the libraries the station's API is made of
//! (axum on hyper, a multi-threaded tokio runtime of the same size),
//! answering the bench's own clients as the station is asked, with no
//! hotline in between. Each request carries the same JSON message the
//! 32-client phase posts; the handler checks the bearer token, decodes
//! the body and answers 201 with the same JSON a station answers. What a
//! request costs this server is what any HTTP front of the line pays
//! before the line does anything.

use super::http::Lean;
use super::scale::{stat_times, TICK_US};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use hotline_api_types::{Created, NewMessage};
use std::time::{Duration, Instant};

/// The name of the bare server's runtime threads, by which their CPU
/// time is told from the clients'.
const THREADS: &str = "bare-http";
const TOKEN: &str = "bare";

/// What the bare server did.
pub(super) struct BareHttp {
    /// Requests answered a second.
    pub requests: f64,
    /// The server's CPU (user + system) a request, µs.
    pub server_us: f64,
}

/// Answers POST /v1/channels/{ch}/messages from `clients` clients for
/// about `budget`.
pub(super) fn measure(budget: Duration, clients: usize) -> anyhow::Result<BareHttp> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(THREADS)
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?.to_string();
    let app = Router::new().route("/v1/channels/{ch}/messages", post(created));
    rt.spawn(async move { axum::serve(listener, app).await });
    let conns = (0..clients.max(1))
        .map(|_| Lean::connect(&addr, TOKEN))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (t0, ticks0) = (Instant::now(), server_ticks()?);
    let stop = t0 + budget;
    let counts = std::thread::scope(|s| {
        let each: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(t, mut c)| {
                s.spawn(move || -> anyhow::Result<usize> {
                    let mut n = 0;
                    while Instant::now() < stop {
                        let _: Created = c.post(
                            "/v1/channels/bare/messages",
                            &super::text(format!("bulk {t}-{n}")),
                        )?;
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        each.into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("a client panicked"))?)
            .collect::<anyhow::Result<Vec<usize>>>()
    })?;
    let (took, ticks) = (t0.elapsed(), server_ticks()? - ticks0);
    rt.shutdown_background();
    let n = counts.iter().sum::<usize>().max(1) as f64;
    Ok(BareHttp {
        requests: n / took.as_secs_f64(),
        server_us: ticks as f64 * TICK_US / n,
    })
}

async fn created(
    Path(_ch): Path<String>,
    headers: HeaderMap,
    Json(m): Json<NewMessage>,
) -> Result<(StatusCode, Json<Created>), StatusCode> {
    if headers.get("authorization").map(|v| v.as_bytes()) != Some(b"Bearer bare") {
        return Err(StatusCode::UNAUTHORIZED);
    }
    Ok((
        StatusCode::CREATED,
        Json(Created {
            delivered: None,
            hash: hotline_proto::hex(&hotline_proto::sha256(m.text.as_bytes())),
            kind: "message".into(),
            lamport: 1,
            seq: 1,
        }),
    ))
}

/// CPU ticks so far of this process's threads named [`THREADS`].
fn server_ticks() -> anyhow::Result<u64> {
    let mut sum = 0;
    for t in std::fs::read_dir("/proc/self/task")? {
        // A thread may end while it is read: it is left out.
        let Ok(stat) = std::fs::read_to_string(t?.path().join("stat")) else {
            continue;
        };
        match stat_times(&stat) {
            Some((name, user, system)) if name == THREADS => sum += user + system,
            _ => {}
        }
    }
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server's CPU is read from its threads by name: a thread so
    /// named that works is counted while it lives.
    #[test]
    fn the_server_threads_are_found_by_their_name() {
        let before = server_ticks().unwrap();
        let busy = std::thread::Builder::new()
            .name(THREADS.into())
            .spawn(move || {
                let t = Instant::now();
                loop {
                    let now = server_ticks().unwrap();
                    if now != before || t.elapsed() > Duration::from_secs(20) {
                        return now;
                    }
                }
            })
            .unwrap();
        assert!(busy.join().unwrap() > before, "no tick counted in 20 s");
    }
}
