//! Two stations in one process on loopback: the fixture the line tests share.
#![allow(dead_code)] // each test file uses part of it

use hotline_proto::{Body, Hash, Precedence, Terms};
use hotline_station::engine::Engine;
use hotline_station::{init, Initialized, Station};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub struct Side {
    pub dir: PathBuf,
    pub id: Initialized,
    pub st: Option<Station>,
    pub hook: Option<String>,
}

impl Side {
    pub fn engine(&self) -> Arc<Engine> {
        self.st.as_ref().unwrap().engine.clone()
    }
    pub async fn stop(&mut self) {
        if let Some(s) = self.st.take() {
            s.stop().await;
        }
    }
    pub async fn start(&mut self) {
        self.st = Some(Station::start(&self.dir, self.hook.clone()).await.unwrap());
    }
}

// `free_port`: a port outside the kernel's ephemeral range, held for this test
// process, so a restarted station finds its port free where its peer expects it.
include!("../../../cli/tests/common/ports.rs");

pub async fn side(root: &std::path::Path, name: &str, hook: Option<String>) -> Side {
    let dir = root.join(name);
    // Fixed ports, so a restarted station is found where its peer expects it.
    let id = init(
        &dir,
        name,
        &format!("127.0.0.1:{}", free_port()),
        "127.0.0.1:0",
    )
    .unwrap();
    let mut s = Side {
        dir,
        id,
        st: None,
        hook,
    };
    s.start().await;
    s
}

pub async fn until<F: FnMut() -> bool>(what: &str, secs: u64, mut f: F) {
    for _ in 0..secs * 50 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out after {secs} s waiting for {what}");
}

/// The channel's state word as its lock holder leaves it: waits for the lock,
/// so a task busy on the channel (a sweep, a checkpoint round after start-up)
/// cannot make the answer empty.
pub async fn state_now(e: &Engine, ch: &Hash) -> String {
    let c = e.channel(ch).unwrap();
    let c = c.lock().await;
    c.book().state().word().to_owned()
}

/// The channel's state word if its lock is free this instant, else "": for
/// polling in `until`, which asks again.
pub fn state(e: &Engine, ch: &Hash) -> String {
    e.channel(ch)
        .ok()
        .and_then(|c| {
            c.try_lock()
                .ok()
                .map(|c| c.book().state().word().to_owned())
        })
        .unwrap_or_default()
}

pub async fn count(e: &Engine, ch: &Hash, kind: hotline_proto::Kind) -> usize {
    let c = e.channel(ch).unwrap();
    let c = c.lock().await;
    (0..2u8)
        .map(|a| {
            (1..=c.book().len(a))
                .filter(|s| c.book().meta(a, *s).unwrap().kind == kind)
                .count()
        })
        .sum()
}

pub async fn line(a: &Side, b: &Side, terms: Terms) -> Hash {
    link(a, "b", None, b, "a", terms).await
}

/// Pins `b` at `a` as `b_name` (with releasability code `rel`) and `a` at
/// `b` as `a_name`, verifies both, and opens an active channel from `a`.
pub async fn link(
    a: &Side,
    b_name: &str,
    rel: Option<&str>,
    b: &Side,
    a_name: &str,
    terms: Terms,
) -> Hash {
    let (ea, eb) = (a.engine(), b.engine());
    let addr = |s: &Side| vec![s.st.as_ref().unwrap().link_addr().to_string()];
    ea.add_peer(b_name, &b.id.token, addr(b), rel.map(Into::into))
        .await
        .unwrap();
    eb.add_peer(a_name, &a.id.token, addr(a), None)
        .await
        .unwrap();
    assert!(ea.verify_peer(b_name, &b.id.fingerprint).await.unwrap());
    assert!(eb.verify_peer(a_name, &a.id.fingerprint).await.unwrap());
    let th = terms.hash();
    let ch = ea.open_channel(b_name, terms, None, "a").await.unwrap();
    until("the proposal", 10, || eb.channel(&ch).is_ok()).await;
    eb.author(&ch, Body::Accept { terms_hash: th }, "b")
        .await
        .unwrap();
    until("active at a", 10, || state(&ea, &ch) == "active").await;
    ch
}

pub fn msg(p: Precedence, t: &str) -> Body {
    Body::Message {
        precedence: p,
        subject: String::new(),
        text: t.into(),
        labels: vec![],
        reply_to: None,
    }
}
