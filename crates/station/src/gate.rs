//! Admission to the link port. Anyone who knows a station's address can open
//! TCP connections to it, so each one must earn its keep: a cap on
//! connections that have not finished their handshake (overall and per source
//! address) and on link connections in all. A connection over a cap is closed
//! at once, before it costs a handshake, a task or a file descriptor for
//! longer than the accept (SPEC §3; docs/DECISIONS.md "Strangers").

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Link connections open at once, handshaken or not: well under the common
/// 1,024 open-file limit, so that the API, the database and the dialers
/// always have descriptors left.
pub const CONNECTIONS: usize = 256;
/// Connections still in their handshake (at most 3 s each).
pub const PENDING: usize = 64;
/// Connections in their handshake from one source address.
pub const PENDING_PER_ADDR: usize = 16;

/// The caps a gate enforces: the constants above unless the config's
/// `[tuning]` table says otherwise (read at every admission, so a reload
/// takes effect with the next connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Link connections open at once.
    pub connections: usize,
    /// Connections in their handshake at once.
    pub pending: usize,
    /// Connections in their handshake from one source address.
    pub pending_per_addr: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            connections: CONNECTIONS,
            pending: PENDING,
            pending_per_addr: PENDING_PER_ADDR,
        }
    }
}

#[derive(Default)]
struct Counts {
    open: usize,
    pending: usize,
    per_addr: HashMap<IpAddr, usize>,
}

/// The link port's admission counts.
#[derive(Clone, Default)]
pub struct Gate(Arc<Mutex<Counts>>);

/// Why a connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// [`Caps::connections`] are open.
    Connections,
    /// [`Caps::pending`] are in their handshake.
    Pending,
    /// [`Caps::pending_per_addr`] from this address are in their handshake.
    Address,
}

/// A connection let in, still in its handshake; dropping it closes its place.
pub struct Admitted {
    gate: Gate,
    addr: IpAddr,
    pending: bool,
}

impl Gate {
    /// Lets a new connection from `addr` in, or says which cap is reached.
    pub fn admit(&self, addr: IpAddr, caps: Caps) -> Result<Admitted, Full> {
        let mut c = self.0.lock().unwrap();
        if c.open >= caps.connections {
            return Err(Full::Connections);
        }
        if c.pending >= caps.pending {
            return Err(Full::Pending);
        }
        let n = c.per_addr.entry(addr).or_insert(0);
        if *n >= caps.pending_per_addr {
            return Err(Full::Address);
        }
        *n += 1;
        c.pending += 1;
        c.open += 1;
        Ok(Admitted {
            gate: self.clone(),
            addr,
            pending: true,
        })
    }
}

impl Admitted {
    /// The handshake is done: the connection keeps its place among the open
    /// ones and frees its place among those in a handshake.
    pub fn handshaken(&mut self) {
        if std::mem::replace(&mut self.pending, false) {
            self.gate.leave_pending(self.addr);
        }
    }
}

impl Gate {
    fn leave_pending(&self, addr: IpAddr) {
        let mut c = self.0.lock().unwrap();
        c.pending -= 1;
        if let Some(n) = c.per_addr.get_mut(&addr) {
            *n -= 1;
            if *n == 0 {
                c.per_addr.remove(&addr);
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.handshaken();
        self.gate.0.lock().unwrap().open -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_and_places_come_back() {
        let g = Gate::default();
        let caps = Caps::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let mut from_a: Vec<_> = (0..PENDING_PER_ADDR)
            .map(|_| g.admit(a, caps).unwrap())
            .collect();
        assert_eq!(g.admit(a, caps).err(), Some(Full::Address));
        // Another address still gets in.
        let other = g.admit(b, caps).unwrap();
        // A handshake done frees a pending place of its address.
        from_a[0].handshaken();
        let again = g.admit(a, caps).unwrap();
        drop((other, again));
        // Pending cap over all addresses.
        let mut many = vec![];
        for i in 0..PENDING {
            match g.admit(
                IpAddr::from([10, 1, (i / 200) as u8, (i % 200) as u8]),
                caps,
            ) {
                Ok(x) => many.push(x),
                Err(e) => {
                    assert_eq!(e, Full::Pending);
                    break;
                }
            }
        }
        assert_eq!(
            g.admit("10.9.9.9".parse().unwrap(), caps).err(),
            Some(Full::Pending)
        );
        drop(many);
        from_a.clear();
        // Open cap: handshaken connections keep their place.
        let mut open = vec![];
        for i in 0..CONNECTIONS {
            let mut x = g
                .admit(
                    IpAddr::from([10, 2, (i / 200) as u8, (i % 200) as u8]),
                    caps,
                )
                .unwrap();
            x.handshaken();
            open.push(x);
        }
        assert_eq!(
            g.admit("10.9.9.9".parse().unwrap(), caps).err(),
            Some(Full::Connections)
        );
        open.pop();
        assert!(g.admit("10.9.9.9".parse().unwrap(), caps).is_ok());
        drop(open);
        let c = g.0.lock().unwrap();
        assert_eq!((c.open, c.pending, c.per_addr.len()), (0, 0, 0));
    }

    #[test]
    fn caps_lowered_while_running_hold_from_the_next_admission() {
        let g = Gate::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let held: Vec<_> = (0..3)
            .map(|_| g.admit(a, Caps::default()).unwrap())
            .collect();
        let lower = Caps {
            connections: 16,
            pending: 8,
            pending_per_addr: 2,
        };
        // Three in their handshake from one address: over the new cap of two.
        assert_eq!(g.admit(a, lower).err(), Some(Full::Address));
        assert!(g.admit("10.0.0.2".parse().unwrap(), lower).is_ok());
        drop(held);
        assert!(g.admit(a, lower).is_ok());
    }
}
