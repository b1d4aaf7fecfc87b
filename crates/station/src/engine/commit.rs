//! The commit pipeline: a machine step's writes go to the group-commit
//! writer; only after the commit returned are its effects performed (SPEC §1
//! principle 3: durable before acknowledged). A failed commit marks this
//! station failed: nothing more is reported from its memory, and its
//! supervisor restarts it from what is on disk.

use super::Engine;
use crate::db::Pending;
use crate::error::StationError;
use crate::views::alert_json;
use hotline_core::machine::{Durable, Effect, ExportPlan, Fault, Step};
use hotline_core::policy::AlertKind;
use hotline_proto::{hex, Hash, LinkMsg};
use hotline_store::{AlertRow, WriteOp, WriteResult};
use serde_json::json;
use std::sync::atomic::Ordering;

/// What the link that carried some input gets back once it is committed.
#[derive(Debug, Default)]
pub struct Answer {
    /// Messages to send back on that link, in order.
    pub replies: Vec<LinkMsg>,
    /// Whether to close that link after the replies.
    pub close: bool,
    /// Why the input was rejected, if it was.
    pub fault: Option<Fault>,
}

/// A step whose writes are queued: what to do once they are committed.
pub(super) struct Submitted {
    /// The writer's answer, if there was anything to write.
    pending: Option<Pending>,
    /// Effects to perform after the commit.
    after: Vec<Effect>,
    /// The step's fault, handed back in the [`Answer`].
    fault: Option<Fault>,
    /// Own entries written, `(channel, seq, envelope)`: held for the link
    /// once committed.
    own: Vec<(Hash, u64, Vec<u8>)>,
}

/// A step taken off the link whose writes ride with a later commit
/// ([`Engine::take_checkpoint`]): its effects wait for that commit
/// ([`Engine::finish_riding`]).
pub struct Riding(Submitted);

impl From<Submitted> for Riding {
    fn from(s: Submitted) -> Riding {
        Riding(s)
    }
}

/// What a checkpoint taken off the link left to do.
pub enum CheckpointTaken {
    /// Done: what to send back.
    Done(Answer),
    /// Kept, its commit to come: finish it, in order, once committed.
    Riding(Riding),
}

/// What performing a step produced for its caller.
pub(super) struct Performed {
    /// For the link the input came on.
    pub answer: Answer,
    /// An export whose checkpoint is now durable.
    pub export: Option<ExportPlan>,
}

impl Engine {
    /// Queues a step's writes. Call it while holding the channel's lock, so
    /// that the commit order is the order in which the machine decided.
    pub(super) fn submit(&self, step: Step) -> Submitted {
        self.submit_as(step, false)
    }

    /// [`Engine::submit`]; `ride`: a relaxed step's writes ride with the
    /// next batch queued ([`crate::db::Db::ride`]) rather than make a
    /// commit of their own, for a caller that does not wait for it at once.
    pub(super) fn submit_as(&self, mut step: Step, ride: bool) -> Submitted {
        // A counterpart's pin moves in memory as the machine decides, as its
        // books do: the next batch is checked against it even before this
        // commit returns (a failed commit stops the station).
        for w in &mut step.writes {
            match w {
                Durable::PeerRotated(m) => self.move_pin(m),
                Durable::Snapshot(s) => s.seal(hotline_proto::Signers::current(&*self.keyring())),
                _ => {}
            }
        }
        let own = step
            .after
            .iter()
            .filter_map(|e| match e {
                Effect::Committed {
                    channel,
                    write,
                    seq,
                    own: true,
                    ..
                } => match step.writes.get(*write) {
                    Some(Durable::Entry { entry, .. }) => {
                        Some((*channel, *seq, entry.envelope().bytes().to_vec()))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let relaxed = step.relaxed;
        let pending = (!step.writes.is_empty()).then(|| {
            let ops = step.writes.into_iter().map(WriteOp::from).collect();
            if relaxed && ride {
                self.db.ride(ops)
            } else if relaxed {
                self.db.submit_relaxed(ops)
            } else {
                self.db.submit(ops)
            }
        });
        Submitted {
            pending,
            after: step.after,
            fault: step.fault,
            own,
        }
    }

    /// For a riding step: wakes the session at once to send what the
    /// peer's window now allows, rather than after the commit. The window
    /// moved in memory as the machine decided, and what it lets go is our
    /// own entries, committed before; the delivery is still reported only
    /// after the commit.
    pub(super) fn open_window_early(&self, s: &mut Submitted) {
        s.after.retain(|e| match e {
            Effect::Wake { peer } => {
                self.wake_peer(*peer);
                false
            }
            Effect::Delivered { channel, .. } => {
                self.mark_outbound(channel);
                true
            }
            _ => true,
        });
    }

    /// Waits for a riding step's commit, then performs its effects;
    /// returns what to send back.
    pub async fn finish_riding(&self, r: Riding) -> Result<Answer, StationError> {
        Ok(self.finish(r.0).await?.answer)
    }

    /// Waits for the commit, then performs the effects.
    pub(super) async fn finish(&self, s: Submitted) -> Result<Performed, StationError> {
        let results = match s.pending {
            Some(p) => match p.wait().await {
                Ok(r) => r,
                Err(e) => {
                    self.storage_failure(&e);
                    return Err(StationError::Storage(format!(
                        "not accepted: {e}; the station is restarting from what is on disk, retry shortly"
                    )));
                }
            },
            None => vec![],
        };
        // Committed: the link may send these without reading them back.
        for (channel, seq, envelope) in s.own {
            self.outbox.put(channel, seq, envelope);
        }
        let mut out = Performed {
            answer: Answer {
                fault: s.fault,
                ..Answer::default()
            },
            export: None,
        };
        for e in s.after {
            self.perform(e, &results, &mut out);
        }
        Ok(out)
    }

    /// The deliberately broken variant: the commit goes on in the background
    /// while the caller reports success at once; only the sender is woken.
    pub(super) fn report_early(&self, s: Submitted) {
        if let Some(p) = s.pending {
            tokio::spawn(async move {
                let _ = p.wait().await;
            });
        }
        for e in s.after {
            match e {
                Effect::Committed {
                    channel, own: true, ..
                } => self.mark_outbound(&channel),
                Effect::Wake { peer } => self.wake_peer(peer),
                _ => {}
            }
        }
    }

    /// Commits a step and performs it: for steps that need no channel lock.
    pub(super) async fn run(&self, step: Step) -> Result<Performed, StationError> {
        let s = self.submit(step);
        self.finish(s).await
    }

    fn perform(&self, e: Effect, results: &[WriteResult], out: &mut Performed) {
        match e {
            Effect::Committed {
                channel,
                write,
                hash,
                author,
                seq: _,
                kind,
                own,
            } => {
                if own {
                    self.mark_outbound(&channel);
                }
                let dir = if own { "sent" } else { "received" };
                *self
                    .metrics
                    .entries
                    .lock()
                    .unwrap()
                    .entry((dir, kind.name()))
                    .or_default() += 1;
                let cursor = match results.get(write) {
                    Some(WriteResult::Cursor(c)) => *c,
                    _ => 0,
                };
                self.emit_watched(|| {
                    json!({
                        "type": "entry",
                        "channel": hex(&channel),
                        "cursor": cursor,
                        "hash": hex(&hash),
                        "author": author,
                        "own": own,
                        "kind": kind.name(),
                    })
                });
            }
            Effect::ChannelCreated { channel } => {
                self.emit(json!({"type": "channel", "channel": hex(&channel), "state": "proposed"}))
            }
            Effect::StateChanged { channel } => {
                self.emit(json!({"type": "state", "channel": hex(&channel)}))
            }
            Effect::Alert { write } => {
                if let Some(WriteResult::Alert(Some(a))) = results.get(write) {
                    self.announce_alert(a);
                }
            }
            Effect::Reply(m) => out.answer.replies.push(m),
            Effect::Close => out.answer.close = true,
            Effect::Delivered {
                channel,
                upto,
                latencies,
            } => {
                // The window may have opened: more to send.
                self.mark_outbound(&channel);
                for l in latencies {
                    self.metrics.delivery_ms.observe(l);
                }
                self.metrics
                    .checkpoints_received
                    .fetch_add(1, Ordering::Relaxed);
                self.emit_watched(
                    || json!({"type": "delivery", "channel": hex(&channel), "delivered_upto": upto}),
                );
            }
            Effect::Wake { peer } => self.wake_peer(peer),
            Effect::Export(plan) => out.export = Some(plan),
            Effect::PeerRotated(m) => self.announce_rotation(m),
        }
    }

    /// Streams an alert that opened or closed, and hands a new one to the hook.
    fn announce_alert(&self, a: &AlertRow) {
        let cleared = a.cleared_at.is_some();
        let v = alert_json(a);
        self.emit(json!({"type": "alert", "cleared": cleared, "alert": v}));
        if !cleared {
            tracing::warn!(kind = %a.kind, "alert: {}", a.cause);
            if let Some(hook) = self.alert_hook() {
                hook.run(v, &self.metrics.hook_dropped);
            }
        }
    }

    /// Raises an alert unless the same key is open (for the shell's own
    /// alerts; the machine's come with its steps).
    pub async fn raise_alert(&self, kind: AlertKind, key: String, cause: String) {
        let mut step = Step::default();
        step.writes.push(Durable::RaiseAlert {
            kind,
            channel: None,
            key,
            cause,
            at: super::now_ms(),
        });
        step.after.push(Effect::Alert { write: 0 });
        let _ = self.run(step).await;
    }

    /// Clears the open alert with this key, if any.
    pub async fn clear_alert(&self, channel: Option<Hash>, key: &str) {
        let mut step = Step::default();
        step.writes.push(Durable::ClearAlert {
            channel,
            key: key.to_owned(),
            at: super::now_ms(),
        });
        step.after.push(Effect::Alert { write: 0 });
        let _ = self.run(step).await;
    }

    /// Records a failed commit: this station reports nothing more, and its
    /// supervisor restarts it from disk.
    pub(crate) fn storage_failure(&self, e: &StationError) {
        if !self.failed.swap(true, Ordering::SeqCst) {
            tracing::error!(
                "storage failure: {e}; nothing more is acknowledged until the station restarts from disk"
            );
        }
        self.failed_notify.notify_waiters();
    }

    /// Whether a commit of this station has failed.
    pub fn storage_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Resolves once a commit of this station has failed.
    pub async fn failed(&self) {
        loop {
            let notified = self.failed_notify.notified();
            tokio::pin!(notified);
            // Register before looking, so a failure between the look and the wait is not missed.
            notified.as_mut().enable();
            if self.storage_failed() {
                return;
            }
            notified.await;
        }
    }
}
