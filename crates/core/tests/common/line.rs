//! Two station machines on one line, driven directly with an injected clock
//! and no storage, and what the tests read off their steps. Shared by the
//! machine's test files (`#[path]`).

#![allow(dead_code, unused_imports)]

use hotline_core::machine::{
    self, Channel, CheckpointFault, Durable, Effect, Fault, OpenRefusal, Outbound, Peer, Step,
    BATCH_BYTES, BATCH_ENTRIES, WINDOW,
};
use hotline_core::policy::AlertKind;
use hotline_core::Reject;
use hotline_proto::{
    Body, ContactSchedule, Entry, Envelope, Hash, Kind, LinkMsg, OnMiss, Precedence, SecretKeys,
    Terms,
};

pub const T0: u64 = 1_800_000_000_000;
pub const MIN: u64 = 60_000;

pub fn keys(n: u8) -> SecretKeys {
    SecretKeys::from_bytes(&[n; 96]).unwrap()
}

pub fn peer(id: i64, name: &str, k: &SecretKeys, verified: bool) -> Peer {
    Peer {
        id,
        name: name.into(),
        identity: k.identity(),
        verified,
        earlier: Vec::new(),
        retired: Vec::new(),
    }
}

pub fn msg(p: Precedence, text: &str) -> Body {
    Body::Message {
        precedence: p,
        subject: String::new(),
        text: text.into(),
        labels: vec![],
        reply_to: None,
    }
}

/// The envelopes a step writes, as a link would carry them.
pub fn envelopes(step: &Step) -> Vec<Vec<u8>> {
    step.entries()
        .map(|v| v.envelope().bytes().to_vec())
        .collect()
}

pub fn reply(step: &Step) -> Option<&LinkMsg> {
    step.after.iter().find_map(|e| match e {
        Effect::Reply(m) => Some(m),
        _ => None,
    })
}

pub fn checkpoint_reply(step: &Step) -> Vec<u8> {
    match reply(step) {
        Some(LinkMsg::Checkpoint { envelope }) => envelope.clone(),
        other => panic!("expected a checkpoint reply, got {other:?}"),
    }
}

pub fn raised(step: &Step) -> Vec<(AlertKind, String)> {
    step.writes
        .iter()
        .filter_map(|w| match w {
            Durable::RaiseAlert { kind, key, .. } => Some((*kind, key.clone())),
            _ => None,
        })
        .collect()
}

pub fn cleared(step: &Step) -> Vec<String> {
    step.writes
        .iter()
        .filter_map(|w| match w {
            Durable::ClearAlert { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect()
}

/// Alpha (author 0, row 1 at bravo) and bravo (author 1, row 2 at alpha), both verified.
pub struct Line {
    pub ka: SecretKeys,
    pub kb: SecretKeys,
    /// Bravo as pinned at alpha.
    pub pb: Peer,
    /// Alpha as pinned at bravo.
    pub pa: Peer,
    pub a: Channel,
    pub b: Channel,
}

pub fn line(terms: Terms) -> Line {
    let (ka, kb) = (keys(1), keys(2));
    let pb = peer(2, "bravo", &kb, true);
    let pa = peer(1, "alpha", &ka, true);
    let (a, open) = Channel::open(&ka, &pb, terms, None, "ops", T0).unwrap();
    let (b, step) = machine::receive_proposal(&kb, &pa, a.id(), envelopes(&open), 0, T0);
    let mut l = Line {
        ka,
        kb,
        pb,
        pa,
        a,
        b: b.expect("the proposal is accepted"),
    };
    assert_eq!(step.fault, None);
    let th = l.b.book().terms().hash();
    let acc = l.b_says(Body::Accept { terms_hash: th }, T0);
    assert_eq!(acc.fault, None);
    l
}

impl Line {
    /// Bravo authors; alpha receives and answers; bravo takes the checkpoint.
    pub fn b_says(&mut self, body: Body, t: u64) -> Step {
        let (_, s) = self.b.author(&self.kb, &self.pa, body, "b", t).unwrap();
        let r = self.a.receive(&self.ka, &self.pb, envelopes(&s), t);
        if r.fault.is_none() {
            let ck = checkpoint_reply(&r);
            let _ = self.b.receive_checkpoint(&self.pa, &ck, t);
        }
        r
    }
    /// Alpha authors; bravo receives and answers; alpha takes the checkpoint.
    pub fn a_says(&mut self, body: Body, t: u64) -> Step {
        let (_, s) = self.a.author(&self.ka, &self.pb, body, "a", t).unwrap();
        let r = self.b.receive(&self.kb, &self.pa, envelopes(&s), t);
        if r.fault.is_none() {
            let ck = checkpoint_reply(&r);
            let _ = self.a.receive_checkpoint(&self.pb, &ck, t);
        }
        r
    }
}
