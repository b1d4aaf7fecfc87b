//! Partner sharing (SPEC §7): the release guard, through which every
//! release of a report passes, and the dispositions it leaves per report
//! and partner.

use super::{Channel, Durable, Peer, Step};
use crate::book::{Refusal, VerifiedEntry};
use hotline_proto::{Body, Hash, Kind, Marking, Signers};

/// What became of a report for one partner (SPEC §7 v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Written on the partner's channel.
    Released,
    /// Kept back while sharing with the partner is paused.
    Held,
    /// Held, then dropped by a resume without backfill.
    Dropped,
    /// The partner's releasability code is not in the report's `rel_to`.
    WithheldRel,
    /// TLP:RED, released only by an explicit release.
    WithheldRed,
}

impl Disposition {
    /// The word the API, the CLI and the audit log use.
    pub fn word(self) -> &'static str {
        match self {
            Disposition::Released => "released",
            Disposition::Held => "held",
            Disposition::Dropped => "dropped",
            Disposition::WithheldRel => "withheld-rel",
            Disposition::WithheldRed => "withheld-red",
        }
    }

    /// Parses a word.
    pub fn parse(s: &str) -> Option<Disposition> {
        use Disposition::*;
        [Released, Held, Dropped, WithheldRel, WithheldRed]
            .into_iter()
            .find(|d| d.word() == s)
    }
}

/// A report as its publisher keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// [`Body::report_id`].
    pub id: Hash,
    /// Title.
    pub title: String,
    /// TLP 2.0 marking.
    pub marking: Marking,
    /// Releasability codes it may go to.
    pub rel_to: Vec<String>,
    /// Media type of the content.
    pub content_type: String,
    /// The content (a STIX bundle with its marking applied, or text).
    pub content: Vec<u8>,
    /// When it was published (Unix ms).
    pub published_at: u64,
    /// Who published it.
    pub by: String,
}

impl Report {
    /// A report; its id is computed from what it carries.
    pub fn new(
        title: String,
        marking: Marking,
        rel_to: Vec<String>,
        content_type: String,
        content: Vec<u8>,
        published_at: u64,
        by: String,
    ) -> Report {
        let mut r = Report {
            id: [0; 32],
            title,
            marking,
            rel_to,
            content_type,
            content,
            published_at,
            by,
        };
        r.id = r.body().report_id().expect("a report body");
        r
    }

    /// The entry body that carries it.
    pub fn body(&self) -> Body {
        Body::Report {
            title: self.title.clone(),
            marking: self.marking,
            rel_to: self.rel_to.clone(),
            content_type: self.content_type.clone(),
            content: self.content.clone(),
        }
    }
}

/// Why the guard does not release a report to a partner now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Withheld {
    /// The partner's code is not in `rel_to` (or it has none).
    #[error("its releasability code is not in the report's rel_to")]
    OutsideRelTo,
    /// TLP:RED goes only by an explicit release.
    #[error("TLP:RED is released only by an explicit release to one named partner")]
    Red,
    /// Sharing with the partner is paused.
    #[error("sharing with it is paused")]
    Paused,
    /// The partner's fingerprint is not verified here.
    #[error("its fingerprint is not verified")]
    Unverified,
    /// The channel does not carry reports now (not active, or suspended).
    #[error("the channel does not carry reports now ({0})")]
    NotActive(String),
    /// The channel refused the entry.
    #[error("{0}")]
    Refused(Refusal),
}

impl Withheld {
    /// The disposition it leaves, when it leaves one: a partner whose
    /// channel is not active or not verified is not offered the report.
    pub fn disposition(&self) -> Option<Disposition> {
        match self {
            Withheld::OutsideRelTo => Some(Disposition::WithheldRel),
            Withheld::Red => Some(Disposition::WithheldRed),
            Withheld::Paused => Some(Disposition::Held),
            _ => None,
        }
    }
}

/// A partner as the guard sees it.
#[derive(Debug, Clone, Copy)]
pub struct Partner<'a> {
    /// The peer.
    pub peer: &'a Peer,
    /// Its releasability code.
    pub rel: Option<&'a str>,
    /// Whether sharing with it is paused.
    pub paused: bool,
}

/// The release guard (SPEC §7): never to a partner outside `rel_to`, never
/// TLP:RED unless `explicit`, never while sharing with it is paused, never
/// to a partner not verified or on a channel that does not carry reports.
pub fn guard(
    report: &Report,
    to: Partner<'_>,
    channel: &Channel,
    explicit: bool,
) -> Result<(), Withheld> {
    if !to
        .rel
        .is_some_and(|code| report.rel_to.iter().any(|r| r == code))
    {
        return Err(Withheld::OutsideRelTo);
    }
    if report.marking == Marking::Red && !explicit {
        return Err(Withheld::Red);
    }
    if to.paused {
        return Err(Withheld::Paused);
    }
    if !to.peer.verified {
        return Err(Withheld::Unverified);
    }
    let book = channel.book();
    if book.state().check(book.me(), Kind::Report).is_err() {
        return Err(Withheld::NotActive(book.state().word().into()));
    }
    Ok(())
}

/// The write that records a disposition.
pub fn disposition(
    report: &Hash,
    peer: &Peer,
    d: Disposition,
    entry: Option<Hash>,
    now: u64,
) -> Durable {
    Durable::Disposition {
        report: *report,
        peer: peer.id,
        disposition: d.word(),
        entry,
        at: now,
    }
}

impl Channel {
    /// Releases a report on this channel, through the guard: the entry and
    /// its `released` disposition commit in one step.
    pub fn release(
        &mut self,
        keys: &impl Signers,
        to: Partner<'_>,
        report: &Report,
        explicit: bool,
        now: u64,
    ) -> Result<(VerifiedEntry, Step), Withheld> {
        guard(report, to, self, explicit)?;
        let (v, mut step) = self
            .author(keys, to.peer, report.body(), &report.by, now)
            .map_err(Withheld::Refused)?;
        step.writes.push(disposition(
            &report.id,
            to.peer,
            Disposition::Released,
            Some(v.hash()),
            now,
        ));
        Ok((v, step))
    }
}
