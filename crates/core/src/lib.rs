//! hotline's pure core: transcript validation, the channel-state fold, the
//! policy engine, and the offline export verifier.
//!
//! Nothing here performs I/O, reads a clock or draws randomness: time comes in
//! as an argument and effects go out as values (SPEC §1, principle 2).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod book;
pub mod export;
pub mod machine;
pub mod notice;
pub mod policy;
pub mod state;
pub mod stix;
pub mod tlog;

pub use book::{ChannelBook, Outcome, Refusal, Reject, VerifiedEntry};
pub use state::{ChannelState, Forbidden, Phase};
