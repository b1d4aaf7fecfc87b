//! The station's procedures, each the same shell around one machine call:
//! lock, step, submit, unlock, wait for the commit, perform.

use super::commit::{Answer, CheckpointTaken, Riding};
use super::{now_ms, Engine, PeerRt};
use crate::error::StationError;
use hotline_core::book::Refusal;
use hotline_core::machine::{self, Channel, Fault};
use hotline_core::VerifiedEntry;
use hotline_proto::{Body, Hash, Terms};
use std::sync::atomic::Ordering;

impl Engine {
    /// Opens a channel to a peer; returns its id after the `Open` is committed.
    pub async fn open_channel(
        &self,
        peer: &str,
        terms: Terms,
        reopens: Option<Hash>,
        by: &str,
    ) -> Result<Hash, StationError> {
        let p = self.peer_by_name(peer)?;
        let keys = self.own_keys_with(p.row.id).await;
        machine::may_propose(&self.keyring(), keys)
            .map_err(|r| StationError::Conflict(r.to_string()))?;
        let now = now_ms();
        let (ch, step) = match reopens {
            Some(old) => {
                let arc = self.channel(&old)?;
                let old_ch = arc.lock().await;
                let mut mp = p.machine();
                mp.earlier = self.earlier_pins(p.row.id);
                Channel::open(&*self.keyring(), &mp, terms, Some((old, &old_ch)), by, now)
            }
            None => Channel::open(&*self.keyring(), &p.machine(), terms, None, by, now),
        }
        .map_err(|r| match r {
            machine::OpenRefusal::ReopenOtherPeer
            | machine::OpenRefusal::Terms(_)
            | machine::OpenRefusal::Notice(_) => StationError::BadRequest(r.to_string()),
            r => StationError::Conflict(r.to_string()),
        })?;
        let id = ch.id();
        // Registered (locked) before its writes are queued, so that the events
        // that follow the commit name a channel that is there; the Open is
        // queued before anything another task could write on it.
        let submitted = match self.insert_channel(ch) {
            Ok(_locked) => self.submit(step),
            Err(_) => {
                return Err(StationError::Conflict(
                    "a channel with this id already exists".into(),
                ))
            }
        };
        self.finish(submitted).await?;
        Ok(id)
    }

    /// Authors an entry on a channel for a local user; returns it once committed.
    pub async fn author(
        &self,
        channel: &Hash,
        body: Body,
        by: &str,
    ) -> Result<VerifiedEntry, StationError> {
        let arc = self.channel(channel)?;
        let (v, submitted) = {
            let mut ch = arc.lock().await;
            let peer = match self.peer_machine(ch.peer_id()) {
                Ok(p) => p,
                // A channel whose peer was removed, or whose key was
                // replaced, can still be closed in the record: this
                // station's own `Terminate`, which is never sent.
                Err(_) if matches!(body, Body::Terminate { .. }) => {
                    self.peer_on_record(ch.peer_id())?.machine()
                }
                Err(e) => return Err(e),
            };
            // A chain behind the station's keys is rotated first: a retired
            // key signs nothing new.
            let mut step = self.rotate_first(&mut ch);
            let (v, authored) = ch
                .author(&*self.keyring(), &peer, body, by, now_ms())
                .map_err(|r| self.explain(&ch, r, &peer.name))?;
            step.extend(authored);
            // An `Accept` puts the peer's terms in force, its entry size included.
            if matches!(v.entry().body, Body::Accept { .. }) {
                self.refresh_slot(&ch);
            }
            self.touch(channel);
            (v, self.submit(step))
        };
        if self.unsafe_ack_before_commit {
            // Deliberately broken variant (tests only): report before the commit.
            self.report_early(submitted);
            return Ok(v);
        }
        self.finish(submitted).await?;
        Ok(v)
    }

    /// Turns a refusal into a sentence naming the state and who caused it.
    fn explain(&self, ch: &Channel, r: Refusal, peer: &str) -> StationError {
        match r {
            Refusal::Forbidden(f) => {
                let st = f.state;
                let me = ch.book().me() as usize;
                let who = |a: usize| {
                    if a == me {
                        format!("this station ({})", self.name)
                    } else {
                        format!("{} (the counterpart)", peer)
                    }
                };
                let why = if st.is_suspended() {
                    let by: Vec<String> = (0..2).filter(|a| st.suspended[*a]).map(who).collect();
                    format!("the channel is suspended by {}", by.join(" and "))
                } else if let Some(t) = st.terminated_by {
                    format!("the channel was terminated by {}", who(t as usize))
                } else {
                    format!("the channel is {}", st.word())
                };
                StationError::Conflict(format!("{} is not allowed: {why}", f.kind.name()))
            }
            Refusal::Reference(what) => StationError::BadRequest(what.to_string()),
            Refusal::Notice(fault) => StationError::BadRequest(fault.to_string()),
            other => StationError::Conflict(other.to_string()),
        }
    }

    /// The peer's `Hello`: per channel shared with it, what it holds. A
    /// channel restored from a backup learns here whether the peer holds
    /// more of its own chain, and writes nothing until that is back.
    pub async fn hello(&self, peer: &PeerRt, heads: &[hotline_proto::link::ChannelHeads]) {
        let theirs: std::collections::HashMap<Hash, [(u64, Hash); 2]> =
            heads.iter().map(|h| (h.channel, h.heads)).collect();
        for (id, arc) in self.channels_of(peer.row.id) {
            let submitted = {
                let mut ch = arc.lock().await;
                let step = ch.hello(theirs.get(&id).copied(), now_ms());
                if step.is_empty() {
                    continue;
                }
                self.touch(&id);
                self.submit(step)
            };
            if self.finish(submitted).await.is_err() {
                return;
            }
        }
    }

    /// Whether a peer is still pinned (not removed, its key not replaced).
    fn pinned(&self, peer_id: i64) -> bool {
        self.peers.read().unwrap().contains_key(&peer_id)
    }

    /// The answer to a peer removed while its session was live: nothing
    /// taken, the link closes.
    fn removed() -> Answer {
        Answer {
            close: true,
            ..Answer::default()
        }
    }

    /// Handles an `Entries` batch from a peer: the machine validates and
    /// applies it, the valid entries are committed with our checkpoint over
    /// them, and the answer (checkpoint, or `Error` and close) goes back.
    pub async fn receive(
        &self,
        peer: &PeerRt,
        channel: Hash,
        envelopes: Vec<Vec<u8>>,
    ) -> Result<Answer, StationError> {
        // As pinned now, not as when the session began: a rotation on an
        // earlier batch may have moved the pin.
        let p = self
            .peer(peer.row.id)
            .map_or_else(|_| peer.machine(), |r| r.machine());
        let now = now_ms();
        if !self.pinned(peer.row.id) {
            return Ok(Self::removed());
        }
        let existing = self.channel(&channel).ok();
        let submitted = match existing {
            Some(arc) => {
                let mut ch = arc.lock().await;
                // Checked again under the lock: a removal waits for the
                // locks of the peer's channels once it has retired the peer.
                if !self.pinned(peer.row.id) {
                    return Ok(Self::removed());
                }
                self.touch(&channel);
                self.submit(ch.receive(&*self.keyring(), &p, envelopes, now))
            }
            None => {
                let pending = self.pending_proposals(peer.row.id).await;
                let (new, step) = machine::receive_proposal(
                    &*self.keyring(),
                    &p,
                    channel,
                    envelopes.clone(),
                    pending,
                    now,
                );
                // A proposal to a key we rotated away from: the tick
                // rotates the new channel before anything else is signed.
                if new
                    .as_ref()
                    .is_some_and(|c| c.rotation_due(&self.keyring().identity()))
                {
                    self.rotation_pending.store(true, Ordering::Relaxed);
                }
                match new {
                    None => self.submit(step),
                    Some(ch) => match self.insert_channel(ch) {
                        // Queued while the new channel is still locked: its row and Open come first.
                        Ok(_locked) => self.submit(step),
                        Err(arc) => {
                            // Another batch registered the channel first: this one is a batch for it.
                            let mut ch = arc.lock().await;
                            self.touch(&channel);
                            self.submit(ch.receive(&*self.keyring(), &p, envelopes, now))
                        }
                    },
                }
            }
        };
        let done = self.finish(submitted).await?;
        if done.answer.fault.as_ref().is_some_and(Fault::is_peer_fault) {
            self.metrics
                .entries_rejected
                .fetch_add(1, Ordering::Relaxed);
            if let Some(f) = &done.answer.fault {
                tracing::warn!(peer = %peer.row.name, "rejected input: {f}");
            }
        }
        Ok(done.answer)
    }

    /// The peer's proposals waiting for our acceptance (looked at only when
    /// a new one comes, which is rare).
    async fn pending_proposals(&self, peer_id: i64) -> usize {
        let mut n = 0;
        for (_, c) in self.channels_of(peer_id) {
            n += usize::from(c.lock().await.awaits_acceptance());
        }
        n
    }

    /// Handles a checkpoint from a peer: verify, check against our chain, store if newer.
    pub async fn receive_checkpoint(
        &self,
        peer: &PeerRt,
        bytes: &[u8],
    ) -> Result<Answer, StationError> {
        match self.checkpoint_in(peer, bytes, false).await? {
            CheckpointTaken::Done(a) => Ok(a),
            CheckpointTaken::Riding(r) => self.finish_riding(r).await,
        }
    }

    /// [`Engine::receive_checkpoint`] for a session reading the link: a
    /// checkpoint kept rides with the next commit ([`crate::db::Db::ride`])
    /// and is handed back to be finished once that commits, so that the
    /// session reads on meanwhile. The checkpoint's state moves in memory
    /// at once, as for any step; what it reports (the delivery) waits for
    /// the commit.
    pub async fn take_checkpoint(
        &self,
        peer: &PeerRt,
        bytes: &[u8],
    ) -> Result<CheckpointTaken, StationError> {
        self.checkpoint_in(peer, bytes, true).await
    }

    async fn checkpoint_in(
        &self,
        peer: &PeerRt,
        bytes: &[u8],
        ride: bool,
    ) -> Result<CheckpointTaken, StationError> {
        let p = self
            .peer(peer.row.id)
            .map_or_else(|_| peer.machine(), |r| r.machine());
        let now = now_ms();
        // Verified once, here, to route it; the channel checks the rest.
        let step = match machine::open_checkpoint(&p, bytes) {
            Err(f) => machine::reject(&p, None, Fault::Checkpoint(f), now),
            Ok(opened) => match self.channel(&opened.channel()) {
                Err(_) => machine::reject(
                    &p,
                    None,
                    Fault::Checkpoint(machine::CheckpointFault::UnknownChannel),
                    now,
                ),
                Ok(arc) => {
                    let mut ch = arc.lock().await;
                    if !self.pinned(peer.row.id) {
                        return Ok(CheckpointTaken::Done(Self::removed()));
                    }
                    self.touch(&ch.id());
                    let mut s = self.submit_as(ch.receive_opened_checkpoint(&p, opened, now), ride);
                    drop(ch);
                    if ride {
                        self.open_window_early(&mut s);
                    }
                    return Ok(CheckpointTaken::Riding(Riding::from(s)));
                }
            },
        };
        Ok(CheckpointTaken::Done(self.run(step).await?.answer))
    }

    /// Raises `bad-input` about a peer for a fault the link itself found
    /// (undecodable message, too fast, too large); `reply` is the `Error` code
    /// to answer with, if any. Returns what to send.
    pub async fn bad_input(&self, peer: &PeerRt, what: &str, reply: Option<u64>) -> Answer {
        tracing::warn!(peer = %peer.row.name, "rejected input: {what}");
        let step = machine::bad_input(&peer.machine(), None, what, reply, now_ms());
        // Closing the link does not wait on the alert's commit: if storage
        // failed, the link closes all the same.
        self.run(step).await.map(|d| d.answer).unwrap_or(Answer {
            close: true,
            ..Answer::default()
        })
    }

    /// A handshake from a key that is not pinned: counted; the one alert for
    /// all strangers is raised or brought up to date only now and then.
    pub async fn unpinned(&self, dh_pk: &[u8; 32], from: &str) {
        self.metrics
            .unpinned_handshakes
            .fetch_add(1, Ordering::Relaxed);
        let step = self.strangers.lock().unwrap().knock(dh_pk, from, now_ms());
        if !step.is_empty() {
            let _ = self.run(step).await;
        }
    }

    /// One policy tick over the channels that are due (`policy::next_due`),
    /// not every channel: each is evaluated, then scheduled again for when
    /// its policy could next act. Whatever happens on a channel between
    /// ticks makes it due at once ([`Engine::touch`]).
    pub async fn tick(&self) {
        let now = now_ms();
        let due = self.due.lock().unwrap().take(now);
        for id in due {
            let Ok(arc) = self.channel(&id) else {
                continue;
            };
            let submitted = {
                let mut ch = arc.lock().await;
                // A channel whose peer was removed keeps no clock.
                let Ok(peer) = self.peer(ch.peer_id()) else {
                    continue;
                };
                let now = now_ms();
                let mut step = self.rotate_first(&mut ch);
                step.extend(ch.tick(&*self.keyring(), &peer.machine(), now));
                self.due.lock().unwrap().set(id, ch.next_due(now));
                if step.is_empty() {
                    continue;
                }
                self.submit(step)
            };
            match self.finish(submitted).await {
                Ok(d) => {
                    if let Some(f) = d.answer.fault {
                        tracing::error!("policy: {f}");
                    }
                }
                Err(_) => return,
            }
        }
    }

    /// Raises or clears `link-down` for peers whose link has been down past the threshold.
    pub async fn check_links(&self, threshold_ms: u64) {
        let now = now_ms();
        for p in self.peers() {
            let h = self.link_health(p.row.id);
            let mut live = false;
            for (_, c) in self.channels_of(p.row.id) {
                live |= c.lock().await.is_live();
            }
            let since = if h.since == 0 {
                self.started_at
            } else {
                h.since
            };
            let key = format!("link-down:{}", p.row.name);
            let open = self.link_down_open.lock().unwrap().contains(&key);
            let step =
                machine::link_check(&p.machine(), open, h.up, since, live, threshold_ms, now);
            if step.is_empty() {
                continue;
            }
            {
                let mut set = self.link_down_open.lock().unwrap();
                if open {
                    set.remove(&key);
                } else {
                    set.insert(key);
                }
            }
            let _ = self.run(step).await;
        }
    }

    /// The oversight export of a channel (SPEC §9), with a fresh checkpoint of ours.
    pub async fn export(&self, id: &Hash) -> Result<String, StationError> {
        let arc = self.channel(id)?;
        let submitted = {
            let mut ch = arc.lock().await;
            self.submit(ch.export_checkpoint(&*self.keyring(), now_ms()))
        };
        let plan =
            self.finish(submitted).await?.export.ok_or_else(|| {
                StationError::Storage("the export checkpoint was not written".into())
            })?;
        self.db
            .read(move |s| Ok(hotline_store::export_text(s, &plan)))
            .await?
            .map_err(StationError::Storage)
    }
}
