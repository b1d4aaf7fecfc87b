//! What keeps the local API standing against a hostile web page or a noisy
//! client: a web page may make the operator's browser send requests to the
//! API under a name the page's owner controls (DNS rebinding), so only
//! requests addressed to an IP address, `localhost` or a configured name are
//! served; failed sign-ins are audited in batches, not one fsync each; live
//! event streams are capped.

use super::Api;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// An event-stream ticket is good for this long, once.
pub const TICKET_LIFE: Duration = Duration::from_secs(30);
/// Tickets outstanding at once; the oldest make room.
const TICKETS: usize = 256;

/// Live event streams at once; more are refused with 503.
pub const STREAMS: usize = 32;
/// Refused sign-ins (401) are written to the audit log at most this often,
/// each line counting those since the last.
pub const UNAUTHORIZED_EVERY: Duration = Duration::from_secs(10);

/// Whether a `Host` header names this API as a browser may honestly reach
/// it: an IP address, `localhost`, or one of `names` (the `api_hosts`
/// setting); with or without a port. A missing header (HTTP/1.0 tools) is
/// allowed: browsers always send one.
pub fn host_allowed(host: Option<&str>, names: &[String]) -> bool {
    let Some(host) = host else { return true };
    // Every request passes here: compared without case, nothing copied.
    let host = host.trim();
    // [v6]:port, [v6], v4:port, name:port, v4, name.
    let bare = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, tail)) if tail.is_empty() || tail.strip_prefix(':').is_some_and(is_port) => {
                return v6.parse::<std::net::Ipv6Addr>().is_ok();
            }
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) if is_port(p) => h,
            Some(_) => return false,
            None => host,
        }
    };
    bare.parse::<std::net::Ipv4Addr>().is_ok()
        || bare.eq_ignore_ascii_case("localhost")
        || names.iter().any(|n| n.eq_ignore_ascii_case(bare))
}

/// A port's digits (after the colon).
fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// The refusal (421) of a request addressed to a name this API does not
/// answer to; `None` for one it does.
pub(super) fn misdirected(api: &Api, req: &Request) -> Option<Response> {
    let host = req
        .headers()
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{fffd}"));
    if host_allowed(host, &api.guard.hosts.read().unwrap()) {
        return None;
    }
    Some(
        (
            StatusCode::MISDIRECTED_REQUEST,
            "this station's API answers only to an IP address, localhost, or a name in its api_hosts setting\n",
        )
            .into_response(),
    )
}

/// The API's guards' state, shared by every request.
#[derive(Clone)]
pub struct Guard {
    /// Extra names the API answers to (`api_hosts`); replaced on reload.
    pub hosts: Arc<RwLock<Vec<String>>>,
    /// Places for live event streams.
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Refused sign-ins not yet written to the audit log, and when the last
    /// line about them was.
    unauthorized: Arc<Mutex<(u64, Option<Instant>)>>,
    /// Event-stream tickets: ticket → (the token hash it stands for, when issued).
    tickets: Arc<Mutex<std::collections::HashMap<String, (hotline_proto::Hash, Instant)>>>,
}

impl Guard {
    /// The guards for an API that also answers to `hosts`.
    pub fn new(hosts: Vec<String>) -> Guard {
        Guard {
            hosts: Arc::new(RwLock::new(hosts)),
            streams: Arc::new(tokio::sync::Semaphore::new(STREAMS)),
            unauthorized: Default::default(),
            tickets: Default::default(),
        }
    }

    /// Replaces the extra names the API answers to (a configuration reload).
    pub fn set_hosts(&self, hosts: Vec<String>) {
        *self.hosts.write().unwrap() = hosts;
    }

    /// Issues a single-use event-stream ticket standing for a token (by its
    /// hash): what a browser's `EventSource`, which cannot send headers, puts
    /// in the URL instead of the token itself.
    pub fn issue_ticket(&self, token_hash: hotline_proto::Hash) -> String {
        let mut b = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
        let ticket = hotline_proto::hex(&b);
        let mut t = self.tickets.lock().unwrap();
        t.retain(|_, (_, at)| at.elapsed() < TICKET_LIFE);
        if t.len() >= TICKETS {
            if let Some(oldest) = t
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone())
            {
                t.remove(&oldest);
            }
        }
        t.insert(ticket.clone(), (token_hash, Instant::now()));
        ticket
    }

    /// Takes a ticket (once): the token hash it stands for, if it is fresh.
    pub fn redeem_ticket(&self, ticket: &str) -> Option<hotline_proto::Hash> {
        let (h, at) = self.tickets.lock().unwrap().remove(ticket)?;
        (at.elapsed() < TICKET_LIFE).then_some(h)
    }

    /// Counts a refused sign-in and says when to write it to the audit log.
    pub fn unauthorized(&self) -> Refused {
        let mut u = self.unauthorized.lock().unwrap();
        u.0 += 1;
        if u.1.is_some_and(|t| t.elapsed() < UNAUTHORIZED_EVERY) {
            return Refused::Later { first: u.0 == 1 };
        }
        let n = std::mem::take(&mut u.0);
        u.1 = Some(Instant::now());
        Refused::Now(n)
    }

    /// Takes the refused sign-ins held back since the last line (the flush
    /// an interval after the first of them).
    pub fn held_back(&self) -> u64 {
        let mut u = self.unauthorized.lock().unwrap();
        u.1 = Some(Instant::now());
        std::mem::take(&mut u.0)
    }
}

/// When a refused sign-in goes into the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Now, in one line counting this many (this one and those held back).
    Now(u64),
    /// With the next line; `first` when it is the first held back since the
    /// last line, so the caller arranges for that line to be written.
    Later {
        /// The first held back: flush after [`UNAUTHORIZED_EVERY`].
        first: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_an_honest_browser_uses_are_allowed_and_others_are_not() {
        let names = vec!["hotline.example.org".to_owned()];
        for ok in [
            "127.0.0.1:7811",
            "127.0.0.1",
            "10.1.2.3:80",
            "[::1]:7811",
            "[::1]",
            "localhost:7811",
            "LOCALHOST",
            "LocalHost:80",
            "[::ABCD]:7811",
            "hotline.example.org:443",
            "Hotline.Example.ORG",
        ] {
            assert!(host_allowed(Some(ok), &names), "{ok}");
        }
        assert!(host_allowed(None, &names));
        for bad in [
            "evil.example.com:7811",
            "evil.example.com",
            "127.0.0.1.evil.example.com",
            "localhost.evil.example.com:7811",
            "[::1]x",
            "[evil]:80",
            "127.0.0.1:port",
            "",
            "\u{fffd}",
        ] {
            assert!(!host_allowed(Some(bad), &names), "{bad}");
        }
    }

    #[test]
    fn refused_sign_ins_are_written_in_batches() {
        let g = Guard::new(vec![]);
        assert_eq!(g.unauthorized(), Refused::Now(1));
        assert_eq!(g.unauthorized(), Refused::Later { first: true });
        for _ in 0..999 {
            assert_eq!(g.unauthorized(), Refused::Later { first: false });
        }
        g.unauthorized.lock().unwrap().1 = Some(Instant::now() - UNAUTHORIZED_EVERY);
        assert_eq!(g.unauthorized(), Refused::Now(1001));
        // Held back with no later refusal: the flush takes them.
        assert_eq!(g.unauthorized(), Refused::Later { first: true });
        assert_eq!(g.held_back(), 1);
        assert_eq!(g.held_back(), 0);
    }
}
