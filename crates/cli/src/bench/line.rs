//! One channel between this station's keys and a counterpart whose keys the
//! bench holds, driven through the station machine in this process: what
//! the start-up and hot-path measurements build on.

use hotline_core::machine::{self, Channel, Durable, Effect, Peer, Step};
use hotline_proto::{Body, Keyring, LinkMsg, Precedence, SecretKeys, Signers, Terms};
use hotline_store::{SqliteStore, Store, WriteOp};

/// The two ends: `a` is this station's channel, `b` the counterpart's.
pub(super) struct Line {
    pub mine: Keyring,
    pub theirs: Keyring,
    /// This station as the counterpart pins it.
    pub alpha: Peer,
    /// The counterpart as this station pins it.
    pub bravo: Peer,
    pub a: Channel,
    pub b: Channel,
}

pub(super) fn envelopes(step: &Step) -> Vec<Vec<u8>> {
    step.entries()
        .map(|v| v.envelope().bytes().to_vec())
        .collect()
}

/// The checkpoint a receive step answers with.
pub(super) fn checkpoint(step: &Step) -> anyhow::Result<Vec<u8>> {
    step.after
        .iter()
        .find_map(|e| match e {
            Effect::Reply(LinkMsg::Checkpoint { envelope }) => Some(envelope.clone()),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no checkpoint: {:?}", step.fault))
}

/// A step's writes, as the station's engine commits them (snapshots sealed).
pub(super) fn ops(step: Step, keys: &Keyring, into: &mut Vec<WriteOp>) -> anyhow::Result<()> {
    anyhow::ensure!(step.fault.is_none(), "refused: {:?}", step.fault);
    for mut w in step.writes {
        if let Durable::Snapshot(s) = &mut w {
            s.seal(keys.current());
        }
        into.push(WriteOp::from(w));
    }
    Ok(())
}

/// A ROUTINE message.
pub(super) fn message(text: String) -> Body {
    Body::Message {
        precedence: Precedence::Routine,
        subject: String::new(),
        text,
        labels: vec![],
        reply_to: None,
    }
}

fn pin(store: &mut SqliteStore, name: &str, keys: &Keyring, now: u64) -> anyhow::Result<Peer> {
    let row = store.add_peer(
        name,
        &keys.identity().token(),
        &["127.0.0.1:9".into()],
        None,
        now,
    )?;
    store.set_verified(row.id, true)?;
    Ok(Peer {
        id: row.id,
        name: name.into(),
        identity: keys.identity(),
        verified: true,
        earlier: vec![],
        retired: vec![],
    })
}

impl Line {
    /// Opens an accepted channel from `mine` to fresh keys; this station's
    /// writes go to `store`, the counterpart's to `theirs_store` if given.
    pub fn open(
        mine: Keyring,
        store: &mut SqliteStore,
        mut theirs_store: Option<&mut SqliteStore>,
    ) -> anyhow::Result<Line> {
        let (dh, dh_pub) = hotline_link::generate_keypair();
        let theirs = Keyring::new(SecretKeys::generate(*dh.as_bytes(), dh_pub));
        let now = hotline_station::engine::now_ms();
        let bravo = pin(store, "bravo", &theirs, now)?;
        let alpha = match theirs_store.as_deref_mut() {
            Some(s) => pin(s, "alpha", &mine, now)?,
            None => Peer {
                id: 0,
                name: "alpha".into(),
                identity: mine.identity(),
                verified: true,
                earlier: vec![],
                retired: vec![],
            },
        };
        let (mut wa, mut wb) = (Vec::new(), Vec::new());
        let (mut a, open) = Channel::open(&mine, &bravo, Terms::default(), None, "bench", now)?;
        let sent = envelopes(&open);
        ops(open, &mine, &mut wa)?;
        let (b, got) = machine::receive_proposal(&theirs, &alpha, a.id(), sent, 0, now);
        let mut b = b.ok_or_else(|| anyhow::anyhow!("the proposal was refused"))?;
        let ckpt = checkpoint(&got)?;
        ops(got, &theirs, &mut wb)?;
        ops(a.receive_checkpoint(&bravo, &ckpt, now), &mine, &mut wa)?;
        let terms_hash = b.book().terms().hash();
        let (_, accept) = b.author(&theirs, &alpha, Body::Accept { terms_hash }, "bench", now)?;
        let sent = envelopes(&accept);
        ops(accept, &theirs, &mut wb)?;
        let taken = a.receive(&mine, &bravo, sent, now);
        let ckpt = checkpoint(&taken)?;
        ops(taken, &mine, &mut wa)?;
        ops(b.receive_checkpoint(&alpha, &ckpt, now), &theirs, &mut wb)?;
        store.write(&wa)?;
        if let Some(s) = theirs_store {
            s.write(&wb)?;
        }
        Ok(Line {
            mine,
            theirs,
            alpha,
            bravo,
            a,
            b,
        })
    }
}
