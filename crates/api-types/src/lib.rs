//! The bodies of the station's HTTP API (SPEC §8), one type per JSON shape.
//!
//! The station builds these to answer and the `hotline` command reads them
//! back, so the two cannot disagree about a field without a compile error
//! on one side or a clear decoding error on the other.
//!
//! Three rules keep the wire exactly as it was when the bodies were built
//! by hand:
//!
//! * Fields of response types are declared in alphabetical order. The API's
//!   JSON used to come from sorted maps; keeping the order keeps every byte
//!   of the API's answers and of the command's `--json` output unchanged.
//! * An `Option` field is written as `null` when empty unless it is marked
//!   as present only on some endpoints (`skip_serializing_if`), which the
//!   field's comment says.
//! * Request types keep the station's own field order and reject unknown
//!   fields: the station's error messages name the expected fields in that
//!   order.
//!
//! Words whose vocabulary another crate owns (entry kinds, precedences,
//! channel states, roles) stay strings here; words the API itself defines
//! (link up or down, which side, delivery state) are enums.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alerts;
mod audit;
mod channels;
mod entries;
mod events;
mod keys;
mod peers;
mod reports;
mod station;
mod users;
mod witnesses;

pub use alerts::{AckAlert, Alert, AlertAck, Alerts, Evidence, EvidenceList};
pub use audit::{AuditHead, AuditHeadLine, AuditLine, AuditLog};
pub use channels::{
    AckWindows, Channel, ChannelHealth, Channels, Delivery, EntryCounts, NoticeTypeInfo,
    OpenChannel, OpenRequest, Side, Terms,
};
pub use entries::{
    Created, DeliveryState, Empty, Entries, Entry, MessageBody, NewAck, NewDecision, NewMessage,
    NewNotice, NewRequest, NewTranslation, Reason,
};
pub use events::{EntryEvent, Event, EventTicket, Lagged};
pub use keys::{
    ChannelRotated, KeysRotated, PeerKeyChange, RotationEntry, StationKey, StationKeys,
};
pub use peers::{
    BundleChannel, BundleImported, BundleRequest, LinkState, NewPeer, Peer, PeerPath, PeerRemoved,
    PeerVerified, Peers, RemovePeer, RepinPeer, SetPeer, VerifyPeer,
};
pub use reports::{
    NewReport, PartnerSharing, PauseSharing, Published, ReleaseReport, ReportSummary, Reports,
    ResumeSharing, Sharing, SharingDone, WithheldFrom,
};
pub use station::{ApiError, Health, StationIdentity, StoreHealth, WhoAmI};
pub use users::{NewUser, User, UserCreated, UserRevoked, Users};
pub use witnesses::{NewWitness, Witness, Witnesses};
