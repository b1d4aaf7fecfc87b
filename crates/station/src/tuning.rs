//! The `[tuning]` table of the config: the timings and caps operators ask
//! to change, each with bounds that keep a station working. Left out, a key
//! takes the value the station has always used (the constants in `net`,
//! `gate`, `hook` and the crate root), so a config without the table runs
//! exactly as before. `docs/CONFIG.md` explains each key.

use crate::{gate, hook, net};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Timings and caps of the link, the alert hook and the link-down alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tuning {
    /// How often the dialer pings a peer; three unanswered pings take the
    /// link down (SPEC §3: 500 ms by default).
    #[serde(with = "human")]
    ping_every: Duration,
    /// Time allowed for a TCP connect plus the Noise handshake, and for the
    /// peer's first message after it.
    #[serde(with = "human")]
    handshake_timeout: Duration,
    /// An inbound session with no message for this long is closed; it must
    /// outlast several of the peer's pings.
    #[serde(with = "human")]
    idle_timeout: Duration,
    /// A link down this long raises `link-down`.
    #[serde(with = "human")]
    link_down_after: Duration,
    /// An outbound session this old is closed and dialled again: a fresh
    /// hybrid handshake, new keys and a ratchet of the stored key.
    #[serde(with = "human")]
    rekey_every: Duration,
    /// Sustained link messages per second accepted from one peer
    /// connection (bursts of twice as many pass).
    inbound_rate_per_sec: u64,
    /// An alert hook run that takes longer is killed.
    #[serde(with = "human")]
    hook_timeout: Duration,
    /// Link connections open at once, handshaken or not.
    max_connections: usize,
    /// Link connections still in their handshake at once.
    max_pending: usize,
    /// Link connections in their handshake from one source address.
    max_pending_per_addr: usize,
    /// How often a channel whose own chain grew gets a fresh checkpoint of
    /// its log, sent to the counterpart and to the witnesses (SPEC §5 v2).
    #[serde(with = "human")]
    log_checkpoint_every: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            ping_every: net::PING_EVERY,
            handshake_timeout: net::HANDSHAKE_TIMEOUT,
            idle_timeout: net::IDLE_TIMEOUT,
            link_down_after: Duration::from_millis(crate::LINK_DOWN_AFTER_MS),
            rekey_every: net::REKEY_EVERY,
            inbound_rate_per_sec: net::RATE_PER_SEC,
            hook_timeout: hook::TIMEOUT,
            max_connections: gate::CONNECTIONS,
            max_pending: gate::PENDING,
            max_pending_per_addr: gate::PENDING_PER_ADDR,
            log_checkpoint_every: crate::engine::LOG_CHECKPOINT_EVERY,
        }
    }
}

/// Each duration key with its bounds, inclusive.
const DURATIONS: [(&str, Duration, Duration); 7] = [
    ("ping_every", ms(100), ms(10_000)),
    ("handshake_timeout", ms(500), ms(60_000)),
    ("idle_timeout", ms(1_000), ms(600_000)),
    ("link_down_after", ms(1_000), ms(3_600_000)),
    ("rekey_every", ms(10_000), ms(86_400_000)),
    ("hook_timeout", ms(1_000), ms(3_600_000)),
    ("log_checkpoint_every", ms(1_000), ms(3_600_000)),
];

/// Bounds of `inbound_rate_per_sec`: below 50 a busy line (pings, batches,
/// checkpoints) would be cut off; above 100,000 the cap protects nothing.
const RATE: (u64, u64) = (50, 100_000);
/// Bounds of `max_connections`: at least a few peers and their retries;
/// at most what a raised open-file limit (`LimitNOFILE=8192` in the unit)
/// leaves room for beside the database and the API.
const CONNECTIONS: (usize, usize) = (16, 4096);

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Tuning {
    /// The dialer's ping interval.
    pub fn ping_every(&self) -> Duration {
        self.ping_every
    }
    /// Time allowed for connect plus handshake, and for the first message after it.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }
    /// How long an inbound session may stay silent.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }
    /// How long a link may be down before `link-down` is raised.
    pub fn link_down_after(&self) -> Duration {
        self.link_down_after
    }
    /// How long an outbound session lives before a fresh handshake.
    pub fn rekey_every(&self) -> Duration {
        self.rekey_every
    }
    /// Sustained inbound link messages per second per connection.
    pub fn inbound_rate_per_sec(&self) -> u64 {
        self.inbound_rate_per_sec
    }
    /// How long one alert hook run may take.
    pub fn hook_timeout(&self) -> Duration {
        self.hook_timeout
    }
    /// How often a grown log gets a fresh checkpoint.
    pub fn log_checkpoint_every(&self) -> Duration {
        self.log_checkpoint_every
    }
    /// Caps on link connections: open, in their handshake, in their
    /// handshake from one address.
    pub(crate) fn caps(&self) -> gate::Caps {
        gate::Caps {
            connections: self.max_connections,
            pending: self.max_pending,
            pending_per_addr: self.max_pending_per_addr,
        }
    }

    /// Whether every key has its default (so the config file may leave the table out).
    pub fn is_default(&self) -> bool {
        *self == Tuning::default()
    }

    /// Checks every key against its bounds. On error: the key (as written
    /// in the table) and what is wrong with its value.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        for (key, min, max) in DURATIONS {
            let v = self.duration(key);
            if v < min || v > max {
                return Err((
                    key,
                    format!(
                        "{} is out of bounds: give a duration from {} to {}",
                        human::show(v),
                        human::show(min),
                        human::show(max)
                    ),
                ));
            }
        }
        // The peer pings at its own interval, usually this station's: an
        // idle timeout within three of them would close healthy sessions.
        if self.idle_timeout < self.ping_every * 3 {
            return Err((
                "idle_timeout",
                format!(
                    "{} is too short for ping_every = {}: give at least three ping intervals ({})",
                    human::show(self.idle_timeout),
                    human::show(self.ping_every),
                    human::show(self.ping_every * 3)
                ),
            ));
        }
        let rate = self.inbound_rate_per_sec;
        if !(RATE.0..=RATE.1).contains(&rate) {
            return Err((
                "inbound_rate_per_sec",
                format!(
                    "{rate} is out of bounds: give {} to {} messages per second",
                    RATE.0, RATE.1
                ),
            ));
        }
        let counts = [
            (
                "max_connections",
                self.max_connections,
                CONNECTIONS.0,
                CONNECTIONS.1,
            ),
            ("max_pending", self.max_pending, 1, self.max_connections),
            (
                "max_pending_per_addr",
                self.max_pending_per_addr,
                1,
                self.max_pending,
            ),
        ];
        for (key, v, min, max) in counts {
            if !(min..=max).contains(&v) {
                let why = match key {
                    "max_connections" => String::new(),
                    "max_pending" => " (at most max_connections)".into(),
                    _ => " (at most max_pending)".into(),
                };
                return Err((
                    key,
                    format!("{v} is out of bounds: give {min} to {max}{why}"),
                ));
            }
        }
        Ok(())
    }

    fn duration(&self, key: &str) -> Duration {
        match key {
            "ping_every" => self.ping_every,
            "handshake_timeout" => self.handshake_timeout,
            "idle_timeout" => self.idle_timeout,
            "link_down_after" => self.link_down_after,
            "rekey_every" => self.rekey_every,
            "hook_timeout" => self.hook_timeout,
            "log_checkpoint_every" => self.log_checkpoint_every,
            _ => unreachable!("DURATIONS names only duration keys"),
        }
    }
}

/// Durations as people write them (`500ms`, `3s`, `1m 30s`), read and
/// written with `humantime`.
mod human {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// How a duration is written back and shown in messages.
    pub fn show(d: Duration) -> String {
        humantime::format_duration(d).to_string()
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&show(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration like \"500ms\", \"3s\" or \"1m\" ({e})"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Tuning, String> {
        toml::from_str::<Tuning>(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn defaults_are_todays_constants_and_within_bounds() {
        let t = Tuning::default();
        assert_eq!(t.ping_every(), Duration::from_millis(500));
        assert_eq!(t.handshake_timeout(), Duration::from_secs(3));
        assert_eq!(t.idle_timeout(), Duration::from_secs(10));
        assert_eq!(t.link_down_after(), Duration::from_secs(3));
        assert_eq!(t.inbound_rate_per_sec(), 500);
        assert_eq!(t.hook_timeout(), Duration::from_secs(30));
        assert_eq!(t.caps(), gate::Caps::default());
        assert_eq!(t.check(), Ok(()));
        assert_eq!(parse("").unwrap(), t);
    }

    #[test]
    fn durations_read_as_people_write_them_and_write_back_the_same() {
        let t = parse("ping_every = \"250ms\"\nhook_timeout = \"1m 30s\"").unwrap();
        assert_eq!(t.ping_every(), Duration::from_millis(250));
        assert_eq!(t.hook_timeout(), Duration::from_secs(90));
        let text = toml::to_string(&t).unwrap();
        assert!(text.contains("ping_every = \"250ms\""), "{text}");
        assert_eq!(parse(&text).unwrap(), t);
        let bad = parse("ping_every = \"soon\"").unwrap_err();
        assert!(bad.contains("\"soon\" is not a duration"), "{bad}");
        assert!(parse("ping_every = 500").is_err());
    }

    #[test]
    fn bounds_name_the_key_and_say_what_to_give() {
        let err = |text: &str| parse(text).unwrap().check().unwrap_err();
        let (k, why) = err("ping_every = \"10ms\"");
        assert_eq!(k, "ping_every");
        assert!(why.contains("from 100ms to 10s"), "{why}");
        assert_eq!(err("handshake_timeout = \"2h\"").0, "handshake_timeout");
        assert_eq!(err("ping_every = \"5s\"").0, "idle_timeout");
        assert_eq!(err("inbound_rate_per_sec = 10").0, "inbound_rate_per_sec");
        assert_eq!(err("max_connections = 100000").0, "max_connections");
        assert_eq!(err("max_pending = 300").0, "max_pending");
        assert_eq!(err("max_pending_per_addr = 0").0, "max_pending_per_addr");
        assert_eq!(err("link_down_after = \"500ms\"").0, "link_down_after");
        assert_eq!(err("hook_timeout = \"2h\"").0, "hook_timeout");
        assert!(parse("ping_every = \"1s\"\nidle_timeout = \"3s\"")
            .unwrap()
            .check()
            .is_ok());
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let e = parse("ping_evry = \"1s\"").unwrap_err();
        assert!(e.contains("ping_evry"), "{e}");
    }
}
