//! A short line between two stations, driven through the station machine in
//! memory with an injected clock, and each end's oversight export of it as the
//! station writes one. Shared by the core's record tests and the CLI's
//! transcript tests (`#[path]`), so both check the same files.

#![allow(dead_code)]

use hotline_core::book::BookSnapshot;
use hotline_core::machine::{self, Channel, Durable, Effect, Peer, Step};
use hotline_proto::{Body, Keyring, LinkMsg, Precedence, SecretKeys, Signers, Terms};

/// A stored entry as start-up reads it: `(author, seq, envelope, stored_at)`.
pub type StoredRow = (u8, u64, Vec<u8>, u64);

/// The line's first instant, Unix milliseconds.
pub const T0: u64 = 1_800_000_000_000;

/// A station's keys from one seed byte: the same seed, the same station.
pub fn keys(seed: u8) -> SecretKeys {
    SecretKeys::from_bytes(&[seed; 96]).unwrap()
}

/// Two stations holding one channel: index 0 opened it, index 1 accepted.
pub struct Ends {
    keys: [Keyring; 2],
    /// `pinned[i]`: station `i` as the other station pinned it.
    pinned: [Peer; 2],
    chans: [Channel; 2],
    /// Every entry either station wrote, `(author, seq, envelope)`: an export
    /// keeps those its checkpoint covers.
    rows: Vec<(u8, u64, Vec<u8>)>,
    /// The clock both stations read, one millisecond per event.
    now: u64,
    /// What each station wrote to its storage: entries `(author, seq,
    /// envelope, stored_at)` in commit order, and its start-up snapshots.
    pub stored: [Vec<StoredRow>; 2],
    /// Each station's start-up snapshots, oldest first.
    pub snapshots: [Vec<BookSnapshot>; 2],
}

fn envelopes(step: &Step) -> Vec<Vec<u8>> {
    step.entries()
        .map(|v| v.envelope().bytes().to_vec())
        .collect()
}

fn checkpoint_reply(step: &Step) -> Vec<u8> {
    for e in &step.after {
        if let Effect::Reply(LinkMsg::Checkpoint { envelope }) = e {
            return envelope.clone();
        }
    }
    panic!("no checkpoint in reply: {:?}", step.fault)
}

impl Ends {
    /// The station of seed `seeds[0]` opens a channel to that of `seeds[1]`,
    /// which accepts; each answers the other's entries with a checkpoint.
    pub fn open(seeds: [u8; 2]) -> Ends {
        Ends::open_at(seeds, T0)
    }

    /// As [`Ends::open`], with the `Open` written at `start`: the same two
    /// stations opening at another time open another channel.
    pub fn open_at(seeds: [u8; 2], start: u64) -> Ends {
        let keys = seeds.map(|s| Keyring::new(keys(s)));
        let pinned = [0, 1].map(|i| Peer {
            id: i as i64 + 1,
            name: ["alpha", "bravo"][i].into(),
            identity: keys[i].identity(),
            verified: true,
            earlier: Vec::new(),
            retired: Vec::new(),
        });
        let (a, open) = Channel::open(&keys[0], &pinned[1], Terms::default(), None, "ops", start)
            .expect("open");
        // No other proposal of the peer is waiting here.
        let (b, got) =
            machine::receive_proposal(&keys[1], &pinned[0], a.id(), envelopes(&open), 0, start);
        let mut ends = Ends {
            rows: vec![],
            chans: [a, b.expect("the proposal is taken")],
            keys,
            pinned,
            now: start,
            stored: Default::default(),
            snapshots: Default::default(),
        };
        ends.record(0, &open);
        ends.record(1, &got);
        ends.keep(&open);
        let _ = ends.chans[0].receive_checkpoint(&ends.pinned[1], &checkpoint_reply(&got), start);
        let terms_hash = ends.chans[1].book().terms().hash();
        ends.says(1, Body::Accept { terms_hash });
        ends
    }

    /// Lets `ms` pass with nothing on the line.
    pub fn wait(&mut self, ms: u64) {
        self.now += ms;
    }

    fn tick(&mut self) -> u64 {
        self.now += 1;
        self.now
    }

    /// Station `who`'s writes in `step`, as its storage would hold them.
    fn record(&mut self, who: usize, step: &Step) {
        for w in &step.writes {
            match w {
                Durable::Entry { entry, stored_at } => {
                    let e = entry.entry();
                    self.stored[who].push((
                        e.author,
                        e.seq,
                        entry.envelope().bytes().to_vec(),
                        *stored_at,
                    ));
                }
                Durable::Snapshot(s) => self.snapshots[who].push((**s).clone()),
                _ => {}
            }
        }
    }

    /// Station `who`'s channel.
    pub fn channel(&self, who: u8) -> &Channel {
        &self.chans[who as usize]
    }

    fn keep(&mut self, step: &Step) {
        for v in step.entries() {
            let e = v.entry();
            self.rows
                .push((e.author, e.seq, v.envelope().bytes().to_vec()));
        }
    }

    /// Station `who` writes `body`, then `deliver`s it.
    pub fn says(&mut self, who: u8, body: Body) {
        let me = who as usize;
        let t = self.tick();
        let (_, step) = self.chans[me]
            .author(&self.keys[me], &self.pinned[1 - me], body, "ops", t)
            .expect("authored");
        self.record(me, &step);
        self.keep(&step);
        self.deliver(who, envelopes(&step));
    }

    /// The other station takes `who`'s entries and answers with a checkpoint.
    fn deliver(&mut self, who: u8, envs: Vec<Vec<u8>>) {
        let (me, other) = (who as usize, 1 - who as usize);
        let t = self.tick();
        let got = self.chans[other].receive(&self.keys[other], &self.pinned[me], envs, t);
        assert_eq!(got.fault, None);
        self.record(other, &got);
        // A rotation moves the pin once its move is durable (here: at once).
        for e in &got.after {
            if let Effect::PeerRotated(m) = e {
                let p = &mut self.pinned[me];
                p.retired.push(p.identity);
                p.identity = m.new;
            }
        }
        let t = self.tick();
        let _ = self.chans[me].receive_checkpoint(&self.pinned[other], &checkpoint_reply(&got), t);
    }

    /// Station `who` sends a routine message.
    pub fn message(&mut self, who: u8, text: &str) {
        self.says(who, message(text));
    }

    /// Both stations write a message before seeing the other's, then both are delivered.
    pub fn crossing(&mut self, text: &str) {
        let mut sent = vec![];
        for me in 0..2 {
            let t = self.tick();
            let (_, step) = self.chans[me]
                .author(
                    &self.keys[me],
                    &self.pinned[1 - me],
                    message(text),
                    "ops",
                    t,
                )
                .expect("authored");
            self.record(me, &step);
            self.keep(&step);
            sent.push(envelopes(&step));
        }
        for (who, envs) in sent.into_iter().enumerate() {
            self.deliver(who as u8, envs);
        }
    }

    /// Station `who`'s export, as `hotline transcript export` writes it: a
    /// fresh checkpoint over everything it holds, the counterpart's latest.
    pub fn export(&mut self, who: u8) -> String {
        self.export_with(who, &[])
    }

    /// Station `who`'s export carrying `evidence`.
    pub fn export_with(&mut self, who: u8, evidence: &[hotline_core::export::Evidence]) -> String {
        let me = who as usize;
        let t = self.tick();
        let step = self.chans[me].export_checkpoint(&self.keys[me], t);
        let plan = step
            .after
            .iter()
            .find_map(|e| match e {
                Effect::Export(p) => Some(p),
                _ => None,
            })
            .expect("an export plan");
        plan.write(self.rows.iter().cloned(), evidence, &[])
            .expect("export written")
    }

    /// Entry `seq` of `author` as held, and a second, different entry with
    /// the same seq signed by station `signer`'s key: equivocation evidence
    /// when `signer` is `author`.
    pub fn fork(&self, author: u8, seq: u64, signer: u8) -> (Vec<u8>, Vec<u8>) {
        let stored = self
            .rows
            .iter()
            .find(|(a, s, _)| *a == author && *s == seq)
            .map(|(_, _, e)| e.clone())
            .expect("entry held");
        let mut entry = hotline_proto::Envelope::decode(&stored, usize::MAX)
            .unwrap()
            .peek()
            .unwrap();
        entry.body = message("told the other end something else");
        let other = hotline_proto::Envelope::sign(&entry, self.keys[signer as usize].current());
        (stored, other.bytes().to_vec())
    }

    /// Station `who` rotates to the keys of `seed`: its `KeyRotation` is
    /// written and delivered, and the other station re-pins from it.
    pub fn rotate(&mut self, who: u8, seed: u8) {
        let me = who as usize;
        self.keys[me] = self.keys[me].with(keys(seed)).expect("a new key");
        let t = self.tick();
        let step = self.chans[me]
            .rotate(&self.keys[me], "ops", t)
            .expect("rotated");
        assert_eq!(step.entries().count(), 1, "one KeyRotation");
        self.record(me, &step);
        self.keep(&step);
        self.deliver(who, envelopes(&step));
    }

    /// Station `who` writes `body` and returns its envelope undelivered.
    pub fn write(&mut self, who: u8, body: Body) -> Vec<u8> {
        let me = who as usize;
        let t = self.tick();
        let (_, step) = self.chans[me]
            .author(&self.keys[me], &self.pinned[1 - me], body, "ops", t)
            .expect("authored");
        envelopes(&step).remove(0)
    }

    /// What station `who` makes of `envs` from the other.
    pub fn offer(&mut self, who: u8, envs: Vec<Vec<u8>>) -> Step {
        let (me, other) = (who as usize, 1 - who as usize);
        let t = self.tick();
        self.chans[me].receive(&self.keys[me], &self.pinned[other], envs, t)
    }

    /// The envelope of `author`'s entry `seq`, as written.
    pub fn held(&self, author: u8, seq: u64) -> Vec<u8> {
        self.rows
            .iter()
            .find(|(a, s, _)| *a == author && *s == seq)
            .map(|(_, _, e)| e.clone())
            .expect("entry held")
    }

    /// How station `who` pins the other.
    pub fn pin_of_other(&self, who: u8) -> &Peer {
        &self.pinned[1 - who as usize]
    }

    /// Station `who`'s identity token.
    pub fn token(&self, who: u8) -> String {
        self.keys[who as usize].identity().token()
    }

    /// Station `who`'s fingerprint, as `hotline id --fingerprint` prints it.
    pub fn fingerprint(&self, who: u8) -> String {
        self.keys[who as usize].identity().fingerprint().to_string()
    }
}

/// A routine message.
pub fn message(text: &str) -> Body {
    Body::Message {
        precedence: Precedence::Routine,
        subject: "s".into(),
        text: text.into(),
        labels: vec![],
        reply_to: None,
    }
}
