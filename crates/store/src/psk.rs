//! The stored pre-shared keys of the hybrid handshake, one chain per peer
//! and direction (SPEC §3; the link's `PskChain`).

/// Which handshakes a chain of stored pre-shared keys serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PskDir {
    /// Handshakes the peer initiates.
    In,
    /// Handshakes this station initiates.
    Out,
}

impl PskDir {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            PskDir::In => "in",
            PskDir::Out => "out",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<PskDir> {
        match s {
            "in" => Some(PskDir::In),
            "out" => Some(PskDir::Out),
            _ => None,
        }
    }
}

/// One direction's stored pre-shared keys of a peer (the hybrid
/// handshake's chain, `hotline_link::PskChain`).
#[derive(Clone, PartialEq, Eq)]
pub struct PskRow {
    /// Peer row id.
    pub peer_id: i64,
    /// Which handshakes.
    pub dir: PskDir,
    /// The newest generation.
    pub gen: u64,
    /// Its key.
    pub key: [u8; 32],
    /// Generation `gen - 1`'s key.
    pub prev: Option<[u8; 32]>,
}

impl std::fmt::Debug for PskRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys never reach a log.
        f.debug_struct("PskRow")
            .field("peer_id", &self.peer_id)
            .field("dir", &self.dir)
            .field("gen", &self.gen)
            .finish_non_exhaustive()
    }
}
