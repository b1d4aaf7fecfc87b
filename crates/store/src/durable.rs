//! The core's durable effects as the store's writes: what a step of the
//! station machine asks to keep, in the form a backend applies.

use crate::{ChannelRow, RetiredKeyRow, SharingRow, WriteOp};
use hotline_core::machine::Durable;

impl From<Durable> for WriteOp {
    fn from(d: Durable) -> WriteOp {
        match d {
            Durable::Channel {
                id,
                peer,
                me,
                created_at,
            } => WriteOp::Channel(ChannelRow {
                id,
                peer_id: peer,
                me,
                created_at,
            }),
            Durable::Entry { entry, stored_at } => WriteOp::Entry { entry, stored_at },
            Durable::Checkpoint {
                channel,
                signer,
                envelope,
                stored_at,
            } => WriteOp::Checkpoint {
                channel,
                signer,
                envelope,
                stored_at,
            },
            Durable::Evidence {
                channel,
                author,
                seq,
                conflicting,
                at,
            } => WriteOp::Evidence {
                channel,
                author,
                seq,
                conflicting,
                at,
            },
            Durable::RaiseAlert {
                kind,
                channel,
                key,
                cause,
                at,
            } => WriteOp::RaiseAlert {
                kind: kind.name().into(),
                channel,
                key,
                cause,
                at,
            },
            Durable::NoteAlert {
                channel,
                key,
                cause,
            } => WriteOp::NoteAlert {
                channel,
                key,
                cause,
            },
            Durable::ClearAlert { channel, key, at } => WriteOp::ClearAlert { channel, key, at },
            Durable::Confirmed { channel } => WriteOp::Confirmed { channel },
            Durable::Report(r) => WriteOp::Report(r),
            Durable::Disposition {
                report,
                peer,
                disposition,
                entry,
                at,
            } => WriteOp::Disposition {
                report,
                peer_id: peer,
                disposition,
                entry,
                at,
            },
            Durable::Snapshot(s) => WriteOp::Snapshot(s),
            Durable::PeerRotated(m) => WriteOp::PeerRotated(RetiredKeyRow::from(&m)),
            Durable::Sharing {
                peer,
                paused,
                by,
                reason,
                at,
            } => WriteOp::Sharing(SharingRow {
                peer_id: peer,
                paused,
                since: at,
                by,
                reason,
            }),
        }
    }
}
