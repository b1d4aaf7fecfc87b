//! From a channel's entries to the objects its collection serves: the
//! counterpart's `report` entries whose content type is STIX and whose
//! bundle passes `validate_bundle`, in the order they were stored here.
//!
//! Entries never change, so a bundle is read and checked once and kept by
//! entry hash; the channel's book (in memory) says which entries are
//! reports, so a request touches storage only for reports not seen before.

use crate::api::Api;
use crate::error::StationError;
use hotline_core::stix::{validate_bundle, Bundle, Object, Timestamp};
use hotline_proto::{hex, Body, Envelope, Hash, Kind};
use hotline_store::EntryRow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Parsed bundles kept beyond one request up to about this many bytes of
/// report content; past it, only the collection just read is kept.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// What a report entry holds, as far as TAXII is concerned.
enum Parsed {
    /// A valid STIX 2.1 bundle: served.
    Stix(Arc<Bundle>),
    /// STIX by its content type, but invalid: stored, not served.
    Invalid,
    /// Another content type: not STIX, not served.
    Other,
}

/// Reports already read, by entry hash, with their content's size.
#[derive(Default)]
pub struct Cache {
    inner: Mutex<HashMap<Hash, (Parsed, usize)>>,
}

/// One served report: a valid bundle and when it was stored here.
pub struct Report {
    /// The counterpart's sequence number: orders reports stored in the same millisecond.
    seq: u64,
    /// When this station stored the entry (Unix ms): the objects' `date_added`.
    stored_at: u64,
    /// `stored_at` as a TAXII timestamp.
    date_added: Timestamp,
    /// The bundle.
    bundle: Arc<Bundle>,
}

/// Where an object sits in a collection: the `next` cursor orders by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// The report's `stored_at`.
    pub stored_at: u64,
    /// The report's sequence number.
    pub seq: u64,
    /// The object's index in its bundle.
    pub index: u64,
}

/// One version of one object in a collection.
#[derive(Clone, Copy)]
pub struct Item<'a> {
    /// The report it came in.
    report: &'a Report,
    /// The object.
    pub object: &'a Object,
    /// Its index in the report's bundle.
    index: u64,
}

impl<'a> Item<'a> {
    /// When its report was stored here.
    pub fn date_added(&self) -> &'a Timestamp {
        &self.report.date_added
    }

    /// Its version: `modified`, else `created`, else `date_added` (as the
    /// TAXII reference server has it for objects with neither).
    pub fn version(&self) -> &'a Timestamp {
        self.object.version().unwrap_or(&self.report.date_added)
    }

    /// Its place in the collection.
    pub fn pos(&self) -> Pos {
        Pos {
            stored_at: self.report.stored_at,
            seq: self.report.seq,
            index: self.index,
        }
    }
}

/// Every object version of the reports, in collection order; an object
/// version (id and version) that came again in a later report is served
/// once, as first added.
pub fn items(reports: &[Report]) -> Vec<Item<'_>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for report in reports {
        for (index, object) in report.bundle.objects().iter().enumerate() {
            let item = Item {
                report,
                object,
                index: index as u64,
            };
            if seen.insert((object.id(), item.version())) {
                out.push(item);
            }
        }
    }
    out
}

/// The served reports of a channel, oldest first.
pub async fn of_channel(api: &Api, cache: &Cache, ch: &Hash) -> Result<Vec<Report>, StationError> {
    let arc = api.engine.channel(ch)?;
    let (them, wanted) = {
        let rt = arc.lock().await;
        let b = rt.book();
        let them = b.peer();
        let wanted: Vec<(u64, Hash, u64)> = (1..=b.len(them))
            .filter_map(|seq| {
                b.meta(them, seq)
                    .filter(|m| m.kind == Kind::Report)
                    .map(|m| (seq, m.hash, m.stored_at))
            })
            .collect();
        (them, wanted)
    };
    let missing: Vec<u64> = {
        let c = cache.inner.lock().unwrap();
        wanted
            .iter()
            .filter(|(_, h, _)| !c.contains_key(h))
            .map(|(seq, _, _)| *seq)
            .collect()
    };
    let mut wanted = wanted;
    if !missing.is_empty() {
        let chan = *ch;
        let rows = api
            .engine
            .db()
            .read(move |s| {
                missing
                    .iter()
                    .map(|seq| s.entry_at(&chan, them, *seq).map(|r| (*seq, r)))
                    .collect::<hotline_store::Result<Vec<_>>>()
            })
            .await?;
        // The book knows an entry a moment before its commit is readable.
        // Commits are in sequence order, so none after the first unreadable
        // one is served yet: a client paging by `next` skips nothing.
        if let Some(first) = rows.iter().find(|(_, r)| r.is_none()).map(|(seq, _)| *seq) {
            wanted.retain(|(seq, _, _)| *seq < first);
        }
        let rows: Vec<EntryRow> = rows.into_iter().filter_map(|(_, r)| r).collect();
        // Reading a bundle of a few MiB takes milliseconds: off the async workers.
        let parsed = tokio::task::spawn_blocking(move || {
            rows.into_iter()
                .map(|r| (r.hash, parse(&r)))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| StationError::Storage(e.to_string()))?;
        let mut c = cache.inner.lock().unwrap();
        for (hash, p) in parsed {
            c.insert(hash, p?);
        }
    }
    let mut c = cache.inner.lock().unwrap();
    let reports = wanted
        .iter()
        .filter_map(|(seq, hash, stored_at)| match c.get(hash).map(|p| &p.0) {
            Some(Parsed::Stix(bundle)) => Some(Report {
                seq: *seq,
                stored_at: *stored_at,
                date_added: Timestamp::from_unix_ms(*stored_at),
                bundle: bundle.clone(),
            }),
            _ => None,
        })
        .collect();
    if c.values().map(|p| p.1).sum::<usize>() > CACHE_BYTES {
        let keep: HashSet<&Hash> = wanted.iter().map(|w| &w.1).collect();
        c.retain(|h, _| keep.contains(h));
    }
    Ok(reports)
}

/// A stored report entry as TAXII sees it, with its content's size.
fn parse(row: &EntryRow) -> Result<(Parsed, usize), StationError> {
    let env = Envelope::decode(&row.envelope, hotline_proto::MAX_ENTRY_BYTES_CAP as usize)
        .map_err(|e| StationError::Storage(e.to_string()))?;
    let entry = env
        .peek()
        .map_err(|e| StationError::Storage(e.to_string()))?;
    let Body::Report {
        content_type,
        content,
        ..
    } = &entry.body
    else {
        return Ok((Parsed::Other, 0));
    };
    let parsed = if !content_type.starts_with("application/stix+json") {
        Parsed::Other
    } else {
        match validate_bundle(content) {
            Ok(b) => Parsed::Stix(Arc::new(b)),
            Err(e) => {
                tracing::warn!(
                    entry = %hex(&row.hash),
                    "a received STIX report is not served over TAXII: {e}"
                );
                Parsed::Invalid
            }
        }
    };
    Ok((parsed, content.len()))
}
