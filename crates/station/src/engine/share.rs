//! Partner sharing (SPEC §7): publishing, explicit release, pause and
//! resume. Every release passes through the machine's guard
//! (`machine::guard`, inside `Channel::release`); every disposition is
//! stored and written to the audit log with the report and the partner.

use super::{now_ms, Engine, PeerRt};
use crate::error::StationError;
use hotline_core::machine::{self, Disposition, Partner, Report, Step, Withheld};
use hotline_proto::{hex, Body, Hash, Marking};
use serde_json::json;

/// What publishing did, partner by partner.
#[derive(Debug, Clone, Default)]
pub struct Published {
    /// The report's id.
    pub id: Hash,
    /// Partners it was written to.
    pub released_to: Vec<String>,
    /// Partners it is held for (sharing paused).
    pub held_for: Vec<String>,
    /// Partners it does not go to, and why.
    pub withheld: Vec<(String, String)>,
}

impl Engine {
    /// Partners sharing with whom is paused.
    async fn paused_peers(&self) -> Result<Vec<i64>, StationError> {
        let rows = self.db.read(|s| s.sharing()).await?;
        Ok(rows
            .into_iter()
            .filter(|r| r.paused)
            .map(|r| r.peer_id)
            .collect())
    }

    /// A report by id.
    pub async fn report(&self, id: &Hash) -> Result<Report, StationError> {
        let id = *id;
        self.db
            .read(move |s| s.report(&id))
            .await?
            .ok_or_else(|| StationError::NotFound(format!("no report {} here", hex(&id))))
    }

    /// Writes a line of the audit log about sharing and waits for it.
    async fn share_audit(
        &self,
        by: &str,
        action: &str,
        report: Option<&Hash>,
        result: &str,
    ) -> Result<(), StationError> {
        let target = report.map(|r| hex(r)).unwrap_or_default();
        self.audit(by, action, &target, result)
            .wait()
            .await
            .map(|_| ())
    }

    /// Offers a report to one partner on each of its channels, through the
    /// guard; records and logs what became of it. `Ok(None)`: the partner
    /// is not offered it (no channel that carries reports, not verified).
    async fn offer(
        &self,
        report: &Report,
        p: &PeerRt,
        paused: bool,
        explicit: bool,
        by: &str,
    ) -> Result<Result<Disposition, Withheld>, StationError> {
        let peer = p.machine();
        let to = Partner {
            peer: &peer,
            rel: p.row.rel.as_deref(),
            paused,
        };
        let mut outcome: Option<Result<Disposition, Withheld>> = None;
        for (id, arc) in self.channels_of(p.row.id) {
            let submitted = {
                let mut ch = arc.lock().await;
                match ch.release(&*self.keyring(), to, report, explicit, now_ms()) {
                    Ok((_, step)) => {
                        self.touch(&id);
                        self.submit(step)
                    }
                    Err(w) => {
                        // Of several channels, one that carries it decides.
                        if !matches!(outcome, Some(Ok(_))) {
                            outcome = Some(Err(w));
                        }
                        continue;
                    }
                }
            };
            self.finish(submitted).await?;
            outcome = Some(Ok(Disposition::Released));
            self.share_audit(
                by,
                "share released",
                Some(&report.id),
                &format!("{}: released on channel {}", p.row.name, hex(&id)),
            )
            .await?;
        }
        let outcome = outcome.unwrap_or_else(|| Err(Withheld::NotActive("no channel".into())));
        if let Err(w) = &outcome {
            if let Some(d) = w.disposition() {
                let mut step = Step::default();
                step.writes
                    .push(machine::disposition(&report.id, &peer, d, None, now_ms()));
                self.run(step).await?;
                self.share_audit(
                    by,
                    &format!("share {}", d.word()),
                    Some(&report.id),
                    &format!("{}: {} ({w})", p.row.name, d.word()),
                )
                .await?;
            }
        }
        Ok(outcome)
    }

    /// Publishes a report to every partner the guard lets it go to.
    pub async fn publish(&self, report: Report) -> Result<Published, StationError> {
        let id = report.id;
        if self.report(&id).await.is_ok() {
            return Err(StationError::Conflict(format!(
                "this report was published already as {}",
                hex(&id)
            )));
        }
        let by = report.by.clone();
        let mut step = Step::default();
        step.writes
            .push(machine::Durable::Report(Box::new(report.clone())));
        self.run(step).await?;
        self.share_audit(&by, "share publish", Some(&id), &report.title)
            .await?;
        let paused = self.paused_peers().await?;
        let mut out = Published {
            id,
            ..Published::default()
        };
        let mut peers = self.peers();
        peers.sort_by(|a, b| a.row.name.cmp(&b.row.name));
        for p in peers {
            let name = p.row.name.clone();
            match self
                .offer(&report, &p, paused.contains(&p.row.id), false, &by)
                .await?
            {
                Ok(_) => out.released_to.push(name),
                Err(Withheld::Paused) => out.held_for.push(name),
                Err(w) => out.withheld.push((name, w.to_string())),
            }
        }
        self.emit(json!({"type": "report", "report": hex(&id)}));
        Ok(out)
    }

    /// Releases a report explicitly to one partner (the only way for
    /// TLP:RED); the guard still refuses one outside `rel_to`.
    pub async fn release_report(&self, id: &Hash, to: &str, by: &str) -> Result<(), StationError> {
        let report = self.report(id).await?;
        let p = self.peer_by_name(to)?;
        let paused = self.paused_peers().await?.contains(&p.row.id);
        match self.offer(&report, &p, paused, true, by).await? {
            Ok(_) => {
                self.emit(json!({"type": "report", "report": hex(id)}));
                Ok(())
            }
            Err(w) => Err(StationError::Conflict(format!(
                "report {} is not released to {to}: {w}",
                hex(id)
            ))),
        }
    }

    /// Writes `body` on each of a partner's channels that allows it.
    async fn on_channels(&self, p: &PeerRt, body: Body, by: &str) -> Result<usize, StationError> {
        let mut n = 0;
        for (id, arc) in self.channels_of(p.row.id) {
            let writable = {
                let ch = arc.lock().await;
                let b = ch.book();
                b.state().check(b.me(), body.kind()).is_ok()
            };
            if writable {
                self.author(&id, body.clone(), by).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Pauses sharing with a partner: new reports for it are held.
    pub async fn pause_sharing(
        &self,
        peer: &str,
        reason: &str,
        by: &str,
    ) -> Result<(), StationError> {
        let p = self.peer_by_name(peer)?;
        if self.paused_peers().await?.contains(&p.row.id) {
            return Err(StationError::Conflict(format!(
                "sharing with {peer} is paused already"
            )));
        }
        self.set_sharing(&p, true, reason, by).await?;
        let body = Body::SharingPause {
            reason: reason.to_owned(),
        };
        self.on_channels(&p, body, by).await?;
        self.share_audit(
            by,
            "share pause",
            None,
            &format!("{peer}: paused ({reason})"),
        )
        .await?;
        // Consoles showing the sharing view redraw the partner's state.
        self.emit(json!({"type": "sharing", "peer": peer}));
        Ok(())
    }

    /// Resumes sharing with a partner: the reports held meanwhile are
    /// released in publication order with `backfill`, dropped without.
    pub async fn resume_sharing(
        &self,
        peer: &str,
        backfill: bool,
        by: &str,
    ) -> Result<(), StationError> {
        let p = self.peer_by_name(peer)?;
        if !self.paused_peers().await?.contains(&p.row.id) {
            return Err(StationError::Conflict(format!(
                "sharing with {peer} is not paused"
            )));
        }
        self.set_sharing(&p, false, "", by).await?;
        self.on_channels(&p, Body::SharingResume { backfill }, by)
            .await?;
        self.share_audit(
            by,
            "share resume",
            None,
            &format!("{peer}: resumed, backfill {backfill}"),
        )
        .await?;
        let pid = p.row.id;
        let held: Vec<Hash> = self
            .db
            .read(move |s| s.dispositions(None))
            .await?
            .into_iter()
            .filter(|d| d.peer_id == pid && d.disposition == Disposition::Held.word())
            .map(|d| d.report)
            .collect();
        for id in held {
            let report = self.report(&id).await?;
            if backfill {
                // One the guard still refuses (the channel suspended, say) stays held.
                let _ = self.offer(&report, &p, false, false, by).await?;
            } else {
                let mut step = Step::default();
                step.writes.push(machine::disposition(
                    &id,
                    &p.machine(),
                    Disposition::Dropped,
                    None,
                    now_ms(),
                ));
                self.run(step).await?;
                self.share_audit(
                    by,
                    "share dropped",
                    Some(&id),
                    &format!("{peer}: dropped (held while paused; resumed without backfill)"),
                )
                .await?;
            }
        }
        self.emit(json!({"type": "sharing", "peer": peer}));
        Ok(())
    }

    async fn set_sharing(
        &self,
        p: &PeerRt,
        paused: bool,
        reason: &str,
        by: &str,
    ) -> Result<(), StationError> {
        let mut step = Step::default();
        step.writes.push(machine::Durable::Sharing {
            peer: p.row.id,
            paused,
            by: by.to_owned(),
            reason: reason.to_owned(),
            at: now_ms(),
        });
        self.run(step).await.map(|_| ())
    }
}

/// The content type a report is stored with, from its long or short name,
/// and its content checked: a STIX bundle must be one (and carries the
/// report's TLP marking), Markdown must be text.
pub fn content(
    content_type: &str,
    content: Vec<u8>,
    marking: Marking,
) -> Result<(String, Vec<u8>), StationError> {
    use hotline_core::stix;
    match content_type.trim() {
        "stix" | STIX => {
            let bundle = stix::validate_bundle(&content).map_err(|e| {
                StationError::BadRequest(format!("the STIX bundle is not valid: {e}"))
            })?;
            Ok((STIX.into(), stix::apply_tlp(bundle, marking).to_vec()))
        }
        "markdown" | "text/markdown" => {
            if std::str::from_utf8(&content).is_err() {
                return Err(StationError::BadRequest(
                    "Markdown content must be UTF-8 text".into(),
                ));
            }
            Ok(("text/markdown".into(), content))
        }
        other => Err(StationError::BadRequest(format!(
            "content type {other:?}: give stix ({STIX}) or markdown (text/markdown)"
        ))),
    }
}

/// The STIX 2.1 media type.
pub const STIX: &str = "application/stix+json;version=2.1";

/// Parses a TLP word for a report (`amber`, `TLP:AMBER`, `amber+strict`).
pub fn marking(s: &str) -> Result<Marking, StationError> {
    Marking::parse(s).map_err(|_| {
        StationError::BadRequest(format!(
            "tlp {s:?}: give clear, green, amber, amber+strict or red"
        ))
    })
}
