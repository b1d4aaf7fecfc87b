//! The courier transport (SPEC §5 v2): a peer's share of this station's
//! transcript written to a file sealed to that peer (`hotline bundle
//! export`), and such a file from a peer taken in exactly as the link takes
//! what it carries (`hotline bundle import`).
//!
//! A bundle's contents are link messages, each a u32 big-endian length and
//! the message's bytes: a `Hello` with what the sender holds of each
//! channel, then per channel the sender's own entries above what the peer
//! has proven it holds (its latest checkpoint), in `Entries` batches, then
//! a fresh checkpoint of the sender's over each channel. Every bundle thus
//! carries everything the last one did that is still unconfirmed: one lost
//! on the way is made good by the next, one taken twice or late adds
//! nothing, and the checkpoints in the peer's bundles are what move the
//! start of the next one on.

use super::{now_ms, Engine};
use crate::error::StationError;
use hotline_link::courier;
use hotline_proto::link::{ChannelHeads, LinkMsg, LINK_VERSION};
use hotline_proto::{hex, Envelope, Hash};
use hotline_store::WriteOp;

/// The largest bundle a station writes or takes: the whole file is held in
/// memory on both sides.
pub const BUNDLE_MAX_BYTES: u64 = 128 * 1024 * 1024;
/// Envelopes per `Entries` batch in a bundle, as on the link.
const BATCH: usize = 256;
/// Bytes of envelopes per batch, so that no message nears the link's bounds.
const BATCH_BYTES: usize = 4 * 1024 * 1024;

/// A bundle written for a peer.
pub struct BundleOut {
    /// The sealed file.
    pub bytes: Vec<u8>,
    /// How many of our entries it carries.
    pub entries: u64,
    /// SHA-256 of the file: its name.
    pub hash: Hash,
}

/// What taking a bundle in did.
#[derive(Debug, Clone, Default)]
pub struct BundleIn {
    /// The pinned peer that sealed it.
    pub peer: String,
    /// SHA-256 of the file.
    pub hash: Hash,
    /// Entries new here.
    pub new: u64,
    /// Entries it carried that were already held.
    pub duplicates: u64,
    /// Per channel it named.
    pub channels: Vec<ChannelIn>,
}

/// One channel of an imported bundle.
#[derive(Debug, Clone, Default)]
pub struct ChannelIn {
    /// The channel.
    pub channel: Hash,
    /// Entries of the peer's new here.
    pub new: u64,
    /// How many of the peer's entries this station now holds.
    pub held: u64,
    /// How many the peer held when it wrote the bundle.
    pub peer_holds: u64,
    /// Where the bundle's entries resumed when some before them were
    /// missing (a bundle written with `--since`): they wait for a bundle
    /// that carries the gap, which the peer writes once our checkpoint in
    /// our next bundle tells it where we stand.
    pub gap_from: Option<u64>,
}

impl Engine {
    /// Seals for the peer named `peer_name` our entries of every channel
    /// with it that it has not proven it holds (or, with `since`, those
    /// committed here after that cursor), with a fresh checkpoint of ours
    /// over each channel.
    pub async fn bundle_export(
        &self,
        peer_name: &str,
        since: Option<u64>,
    ) -> Result<BundleOut, StationError> {
        let peer = self.peer_by_name(peer_name)?;
        let mut chans = self.channels_of(peer.row.id);
        chans.sort_by_key(|(id, _)| *id);
        let mut heads = Vec::with_capacity(chans.len());
        let mut body: Vec<LinkMsg> = Vec::new();
        let mut checkpoints = Vec::with_capacity(chans.len());
        let mut entries = 0u64;
        let mut size = 0usize;
        for (id, arc) in chans {
            let (me, from, submitted) = {
                let mut ch = arc.lock().await;
                heads.push(ChannelHeads {
                    channel: id,
                    heads: ch.heads(),
                });
                let from = if since.is_some() {
                    1
                } else {
                    ch.delivered_upto() + 1
                };
                let step = ch.export_checkpoint(&*self.keyring(), now_ms());
                (ch.book().me(), from, self.submit(step))
            };
            let plan = self.finish(submitted).await?.export.ok_or_else(|| {
                StationError::Storage("the bundle's checkpoint was not written".into())
            })?;
            let mut next = from;
            let mut batch: Vec<Vec<u8>> = Vec::new();
            let mut batch_bytes = 0usize;
            loop {
                let rows = self
                    .db
                    .read(move |s| s.chain_from(&id, me, next, BATCH))
                    .await?;
                let Some(last) = rows.last() else { break };
                next = last.seq + 1;
                for r in rows {
                    if since.is_some_and(|c| r.cursor <= c) {
                        continue;
                    }
                    if batch.len() == BATCH || batch_bytes + r.envelope.len() > BATCH_BYTES {
                        body.push(LinkMsg::Entries {
                            channel: id,
                            envelopes: std::mem::take(&mut batch),
                        });
                        batch_bytes = 0;
                    }
                    size += r.envelope.len();
                    if size as u64 > BUNDLE_MAX_BYTES {
                        return Err(StationError::Conflict(format!(
                            "the bundle would be over {} MiB: write it in parts with --since CURSOR (the cursor of the last entry the previous part carried, in GET /v1/channels/ID/entries)",
                            BUNDLE_MAX_BYTES >> 20
                        )));
                    }
                    batch_bytes += r.envelope.len();
                    batch.push(r.envelope);
                    entries += 1;
                }
            }
            if !batch.is_empty() {
                body.push(LinkMsg::Entries {
                    channel: id,
                    envelopes: batch,
                });
            }
            if let Some(ours) = plan.checkpoints.last() {
                checkpoints.push(LinkMsg::Checkpoint {
                    envelope: ours.clone(),
                });
            }
            // The newest checkpoint notes of both logs, as the link sends
            // them (docs/WITNESS.md): cosigned there, and back in ours.
            for note in self.newest_log_notes(&id).await? {
                checkpoints.push(LinkMsg::LogNote { channel: id, note });
            }
        }
        let mut contents = Vec::with_capacity(size + 4096);
        let hello = LinkMsg::Hello {
            version: LINK_VERSION,
            heads,
        };
        for m in std::iter::once(&hello).chain(&body).chain(&checkpoints) {
            let b = m.to_bytes();
            contents.extend_from_slice(&(b.len() as u32).to_be_bytes());
            contents.extend_from_slice(&b);
        }
        let secret = self.dial_secret(peer.row.id).await;
        let bytes = courier::seal(&secret, &peer.identity.dh_pk, &contents);
        let hash = hotline_proto::sha256(&bytes);
        Ok(BundleOut {
            bytes,
            entries,
            hash,
        })
    }

    /// Takes in a bundle sealed to this station by a pinned peer: its
    /// entries go through the same validation, commit and alerts as the
    /// link's, then its checkpoints. Taking the same bundle again, or an
    /// older one, changes nothing.
    pub async fn bundle_import(&self, bytes: &[u8]) -> Result<BundleIn, StationError> {
        let secrets = self.link_secrets();
        let refs: Vec<&hotline_link::StaticSecret> = secrets.iter().collect();
        let opened = courier::open(&refs, bytes, BUNDLE_MAX_BYTES)
            .map_err(|e| StationError::BadRequest(e.to_string()))?;
        let peer = self.peer_by_dh(&opened.sender).ok_or_else(|| {
            StationError::BadRequest(format!(
                "the bundle was sealed by a station not pinned here (X25519 key {})",
                hex(&opened.sender)
            ))
        })?;
        // Read whole before anything is applied: a malformed bundle from a
        // pinned peer is hostile input, refused whole with an alert.
        let msgs = match messages(&opened.contents) {
            Ok(m) => m,
            Err(why) => {
                self.bad_input(&peer, &format!("bundle: {why}"), None).await;
                return Err(StationError::BadRequest(format!(
                    "the bundle from {} is malformed: {why}",
                    peer.row.name
                )));
            }
        };
        // The request's held audit lines go first: a bundle of checkpoints
        // alone is written relaxed, and a relaxed batch takes none
        // (`Db::submit_relaxed`), so they would follow the change.
        let _ = self.db().flush_deferred();
        let mut report = BundleIn {
            peer: peer.row.name.clone(),
            hash: hotline_proto::sha256(bytes),
            ..BundleIn::default()
        };
        let mut peer_holds = std::collections::BTreeMap::new();
        for m in msgs {
            match m {
                LinkMsg::Hello { heads, .. } => {
                    for h in heads {
                        peer_holds.insert(h.channel, h.heads);
                    }
                }
                LinkMsg::Entries { channel, envelopes } => {
                    let c = self
                        .import_entries(&peer, channel, envelopes, &report.hash)
                        .await?;
                    report.new += c.new;
                    report.duplicates += c.duplicates;
                    merge(&mut report.channels, c.report);
                }
                LinkMsg::Checkpoint { envelope } => {
                    let a = self.receive_checkpoint(&peer, &envelope).await?;
                    if let Some(f) = a.fault {
                        return Err(StationError::BadRequest(format!(
                            "a checkpoint in the bundle from {} was refused: {f}",
                            peer.row.name
                        )));
                    }
                }
                // Checked as from the link: kept and cosigned, or an alert.
                LinkMsg::LogNote { channel, note } => {
                    self.receive_log_note(peer.row.id, channel, note).await
                }
                _ => {}
            }
        }
        // Every channel the bundle names, with how much of the peer's
        // chain it held then and this station holds now.
        for (channel, heads) in peer_holds {
            let held = match self.channel(&channel) {
                Ok(arc) => {
                    let ch = arc.lock().await;
                    Some((ch.book().peer(), ch.book().len(ch.book().peer())))
                }
                Err(_) => None,
            };
            let Some((author, held)) = held else { continue };
            merge(
                &mut report.channels,
                ChannelIn {
                    channel,
                    new: 0,
                    held,
                    peer_holds: heads[author as usize].0,
                    gap_from: None,
                },
            );
        }
        Ok(report)
    }

    /// One `Entries` batch of a bundle, through the link's receive path.
    async fn import_entries(
        &self,
        peer: &super::PeerRt,
        channel: Hash,
        envelopes: Vec<Vec<u8>>,
        bundle: &Hash,
    ) -> Result<Imported, StationError> {
        let before = match self.channel(&channel) {
            Ok(arc) => {
                let ch = arc.lock().await;
                Some((ch.book().peer(), ch.book().len(ch.book().peer())))
            }
            Err(_) => None,
        };
        let total = envelopes.len() as u64;
        let (kept, gap_from) = match before {
            Some((_, held)) => contiguous(envelopes, held),
            None => (envelopes, None),
        };
        let answer = self.receive(peer, channel, kept).await?;
        if let Some(f) = answer.fault {
            return Err(StationError::BadRequest(format!(
                "the bundle from {} was refused at channel {}: {f}",
                peer.row.name,
                hex(&channel)
            )));
        }
        let held_before = before.map_or(0, |(_, h)| h);
        let held = match self.channel(&channel) {
            Ok(arc) => {
                let ch = arc.lock().await;
                ch.book().len(ch.book().peer())
            }
            Err(_) => 0,
        };
        let new = held.saturating_sub(held_before);
        if new > 0 {
            // Which entries came by courier, for the console: those this
            // import added (one the link delivered in the same instant
            // would be counted with them).
            let author = match self.channel(&channel) {
                Ok(arc) => arc.lock().await.book().peer(),
                Err(_) => 0,
            };
            let op = WriteOp::Courier {
                channel,
                author,
                first: held_before + 1,
                last: held,
                bundle: *bundle,
                at: now_ms(),
            };
            if let Err(e) = self.db.write(vec![op]).await {
                self.storage_failure(&e);
                return Err(e);
            }
        }
        Ok(Imported {
            new,
            duplicates: total.saturating_sub(new),
            report: ChannelIn {
                channel,
                new,
                held,
                peer_holds: 0,
                gap_from,
            },
        })
    }
}

struct Imported {
    new: u64,
    duplicates: u64,
    report: ChannelIn,
}

/// Adds a batch's report to the channel's.
fn merge(all: &mut Vec<ChannelIn>, c: ChannelIn) {
    match all.iter_mut().find(|x| x.channel == c.channel) {
        Some(x) => {
            x.new += c.new;
            x.held = c.held;
            x.gap_from = x.gap_from.or(c.gap_from);
            x.peer_holds = x.peer_holds.max(c.peer_holds);
        }
        None => all.push(c),
    }
}

/// The envelopes up to the first gap after `held` of the peer's chain:
/// those at or below it go on (the machine finds duplicates and forks),
/// those from a gap on wait for a bundle that fills it. An envelope that
/// does not even decode is kept, for the machine to refuse.
fn contiguous(envelopes: Vec<Vec<u8>>, held: u64) -> (Vec<Vec<u8>>, Option<u64>) {
    let mut next = held + 1;
    let mut kept = Vec::with_capacity(envelopes.len());
    for e in envelopes {
        let seq = Envelope::decode(&e, e.len())
            .and_then(|env| env.peek())
            .map(|entry| entry.seq);
        match seq {
            Ok(s) if s > next => return (kept, Some(s)),
            Ok(s) if s == next => next += 1,
            _ => {}
        }
        kept.push(e);
    }
    (kept, None)
}

/// The link messages of a bundle's contents, each checked as the link
/// checks it; the first must be a `Hello` of this link version and only
/// `Entries`, `Checkpoint` and `LogNote` may follow.
fn messages(contents: &[u8]) -> Result<Vec<LinkMsg>, String> {
    let mut rest = contents;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let [a, b, c, d, tail @ ..] = rest else {
            return Err("a length prefix is cut".into());
        };
        let n = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
        if tail.len() < n {
            return Err("a message is cut".into());
        }
        let (m, tail) = tail.split_at(n);
        rest = tail;
        let msg = LinkMsg::from_bytes(m).map_err(|e| e.to_string())?;
        match (&msg, out.is_empty()) {
            (LinkMsg::Hello { version, .. }, true) if *version == LINK_VERSION => {}
            (LinkMsg::Hello { version, .. }, true) => {
                return Err(format!(
                    "link version {version}, this station speaks {LINK_VERSION}"
                ))
            }
            (_, true) => return Err("it does not start with a Hello".into()),
            (
                LinkMsg::Entries { .. } | LinkMsg::Checkpoint { .. } | LinkMsg::LogNote { .. },
                false,
            ) => {}
            (_, false) => {
                return Err("a message other than entries, a checkpoint or a log note".into())
            }
        }
        out.push(msg);
    }
    if out.is_empty() {
        return Err("it is empty".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contents_are_a_hello_then_entries_and_checkpoints_only() {
        let frame = |m: &LinkMsg| {
            let b = m.to_bytes();
            let mut v = (b.len() as u32).to_be_bytes().to_vec();
            v.extend_from_slice(&b);
            v
        };
        let hello = frame(&LinkMsg::Hello {
            version: LINK_VERSION,
            heads: vec![],
        });
        let entries = frame(&LinkMsg::Entries {
            channel: [1; 32],
            envelopes: vec![vec![1, 2, 3]],
        });
        let ping = frame(&LinkMsg::Ping { n: 1 });
        assert!(messages(&[hello.clone(), entries.clone()].concat()).is_ok());
        assert!(messages(&entries).is_err(), "no Hello first");
        assert!(messages(&[hello.clone(), ping].concat()).is_err());
        assert!(messages(&[hello.clone(), hello.clone()].concat()).is_err());
        assert!(messages(&hello[..hello.len() - 1]).is_err(), "cut");
        assert!(messages(&[]).is_err());
        let old = frame(&LinkMsg::Hello {
            version: LINK_VERSION + 1,
            heads: vec![],
        });
        assert!(messages(&old).is_err());
    }
}
