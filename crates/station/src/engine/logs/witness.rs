//! Each log's checkpoints brought to the witnesses configured (C2SP
//! `tlog-witness`, docs/WITNESS.md): one `add-checkpoint` request per log
//! that grew, with a consistency proof from the size the witness last
//! cosigned, and its cosignature merged into the note kept.

use super::{newest, ChannelLogs, Facts, WitnessRow, MAX_ANSWER, WITNESS_TIMEOUT};
use crate::engine::{now_ms, Engine};
use crate::error::StationError;
use hotline_core::policy::AlertKind;
use hotline_core::tlog::{self, WitnessVerifier};
use hotline_proto::{hex, Hash};

/// A witness's answer to `add-checkpoint`.
enum Answer {
    /// 200: its cosignature line.
    Cosigned(String),
    /// 409 with the size it holds of the log.
    Holds(u64),
    /// Anything else.
    Refused(u16, String),
}

impl Engine {
    /// Brings one witness up to the newest checkpoint of our log in a channel.
    pub(super) async fn submit_to_witness(
        &self,
        id: &Hash,
        arc: &tokio::sync::Mutex<ChannelLogs>,
        f: &Facts,
        w: &WitnessRow,
    ) {
        let Some(v) = WitnessVerifier::parse(&w.key) else {
            return;
        };
        let me = f.me;
        let (note, mut old) = {
            let cl = arc.lock().await;
            let Some(note) = newest(&cl.notes, me) else {
                return;
            };
            let old = cl
                .notes
                .iter()
                .filter(|(a, n)| *a == me && v.cosigned(n).is_some())
                .filter_map(|(_, n)| tlog::note_size(n))
                .max()
                .unwrap_or(0);
            (note, old)
        };
        let Some(size) = tlog::note_size(&note) else {
            return;
        };
        if old >= size {
            return;
        }
        let origin = tlog::note_origin(&note).unwrap_or_default();
        let mut tries = 0;
        let result = loop {
            tries += 1;
            let proof = arc.lock().await.trees[me as usize].consistency(old, size);
            let Some(proof) = proof else {
                break Err(format!("no consistency proof from size {old} to {size}"));
            };
            match self.add_checkpoint(w, old, &proof, &note).await {
                Ok(Answer::Cosigned(line)) => break Ok(line),
                Ok(Answer::Holds(held)) if held > size => {
                    break Err(format!(
                        "holds size {held} of {origin}, this station's log is at {size}: the witness saw a longer log than this station holds (restored from an older backup?)"
                    ))
                }
                Ok(Answer::Holds(held)) if held == old => {
                    break Err(format!(
                        "refused our checkpoint of {origin} at size {size}: it holds another tree at that size (a fork of this station's log)"
                    ))
                }
                Ok(Answer::Holds(held)) if tries < 3 => old = held,
                Ok(Answer::Holds(held)) => {
                    break Err(format!("answered size {held} again after three tries"))
                }
                Ok(Answer::Refused(status, text)) => {
                    break Err(format!("{status}: {}", text.trim()))
                }
                Err(e) => break Err(e),
            }
        };
        let alert_key = format!("witness:{}:{}", w.name, hex(id));
        match result {
            Ok(line) => {
                let mut signed = note.to_vec();
                signed.extend_from_slice(line.as_bytes());
                if v.cosigned(&signed).is_none() {
                    self.witness_failed(
                        w,
                        "its answer is not a valid cosignature of the checkpoint sent".into(),
                    );
                    return;
                }
                let merged = match f.keys[me as usize].iter().find_map(|k| {
                    let known = [v.clone()];
                    tlog::verified_signatures(&signed, k, &known).ok()
                }) {
                    Some(checked) => {
                        let mut cl = arc.lock().await;
                        self.merge_note(id, &mut cl, f, me, checked, None).await
                    }
                    None => Err(StationError::Storage(
                        "this station's checkpoint no longer verifies".into(),
                    )),
                };
                if let Err(e) = merged {
                    tracing::warn!("witness {}: {e}", w.name);
                }
                {
                    let mut st = self.logs.status.lock().unwrap();
                    let s = st.entry(w.name.clone()).or_default();
                    s.last_cosigned_at = Some(now_ms());
                    s.last_error = None;
                }
                if self.fork_log {
                    self.submit_fork(id, &origin, size, w).await;
                }
            }
            Err(e) if e.contains("fork") || e.contains("longer log") => {
                self.witness_failed(w, e.clone());
                self.raise_alert(
                    AlertKind::Equivocation,
                    alert_key,
                    format!("witness {}: {e}", w.name),
                )
                .await;
            }
            Err(e) => self.witness_failed(w, e),
        }
    }

    /// The test-only fork (see [`crate::variants::FORK_LOG`]): another
    /// checkpoint at the size the witness just cosigned, another root.
    async fn submit_fork(&self, id: &Hash, origin: &str, size: u64, w: &WitnessRow) {
        let keys = self.keyring().current_shared();
        let fake = tlog::TreeHash(hotline_proto::sha256(origin.as_bytes()));
        let note = tlog::sign_checkpoint(origin, size, fake, &keys);
        tracing::warn!(
            "{}: submitting a forked checkpoint of {origin} at size {size}",
            crate::variants::FORK_LOG
        );
        let answer = self.add_checkpoint(w, size, &[], &note).await;
        if let Ok(Answer::Holds(held)) = answer {
            if held == size {
                let cause = format!(
                    "witness {}: refused our checkpoint of {origin} at size {size}: it holds another tree at that size (a fork of this station's log)",
                    w.name
                );
                self.witness_failed(w, cause.clone());
                self.raise_alert(
                    AlertKind::Equivocation,
                    format!("witness:{}:{}", w.name, hex(id)),
                    cause,
                )
                .await;
            }
        }
    }

    fn witness_failed(&self, w: &WitnessRow, e: String) {
        tracing::warn!("witness {}: {e}", w.name);
        self.logs
            .status
            .lock()
            .unwrap()
            .entry(w.name.clone())
            .or_default()
            .last_error = Some(e);
    }

    /// One C2SP `add-checkpoint` request.
    async fn add_checkpoint(
        &self,
        w: &WitnessRow,
        old: u64,
        proof: &[tlog::TreeHash],
        note: &[u8],
    ) -> Result<Answer, String> {
        let mut body = format!("old {old}\n");
        for h in proof {
            body.push_str(&tlog::b64(h));
            body.push('\n');
        }
        body.push('\n');
        let mut body = body.into_bytes();
        body.extend_from_slice(note);
        let client = self.logs.http.get_or_init(reqwest::Client::new);
        let r = client
            .post(format!("{}/add-checkpoint", w.url))
            .header(crate::witness::IDENTITY_HEADER, self.identity().token())
            .body(body)
            .timeout(WITNESS_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("{}: {e}", w.url))?;
        let status = r.status();
        // A witness is a stranger too: its answer is read bounded.
        let mut r = r;
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_ANSWER {
                return Err(format!("an answer over {} KiB", MAX_ANSWER / 1024));
            }
        }
        let text = String::from_utf8_lossy(&body).into_owned();
        Ok(match status.as_u16() {
            200 => Answer::Cosigned(text),
            409 => match text
                .lines()
                .next()
                .and_then(|l| l.trim().parse::<u64>().ok())
            {
                Some(held) => Answer::Holds(held),
                None => Answer::Refused(status.as_u16(), text),
            },
            s => Answer::Refused(s, text),
        })
    }
}
