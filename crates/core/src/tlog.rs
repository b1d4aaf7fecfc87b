//! Each author's chain in a channel as a transparency log (SPEC §5 v2): an
//! RFC 6962 Merkle tree whose leaf `i` is the envelope bytes of seq `i+1`,
//! its checkpoints as C2SP `tlog-checkpoint` signed notes signed by the
//! author, and the C2SP `tlog-cosignature` a witness adds to one.
//!
//! The tree hashes and proofs are `tlog_tiles`'s, the note format
//! `signed_note`'s: the C2SP formats' own code, which also makes every note
//! here readable by other implementations of them.

mod notes;

pub use notes::{
    combine, keep, kept_signatures, note_origin, signature_names, station_cosign,
    station_witness_name, verified_signatures,
};

use hotline_proto::{hex, Hash, Identity, SecretKeys};
use signed_note::{Note, Signature, Verifier, VerifierList};
use tlog_tiles::{Checkpoint, HashReader};

/// The tree hash type of `tlog_tiles`.
pub use tlog_tiles::Hash as TreeHash;

/// Signature type of a plain Ed25519 note signature (the log's own).
const ALG_ED25519: u8 = 0x01;
/// Signature type of a timestamped Ed25519 cosignature (C2SP tlog-cosignature).
const ALG_COSIGNATURE_V1: u8 = 0x04;

/// One author's chain as a Merkle tree, built entry by entry.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// `tlog_tiles`'s stored hashes: every leaf and every complete subtree.
    stored: Vec<TreeHash>,
    size: u64,
}

impl HashReader for Log {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<TreeHash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|i| {
                self.stored
                    .get(*i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl Log {
    /// An empty log.
    pub fn new() -> Log {
        Log::default()
    }

    /// Appends the next entry's envelope bytes.
    pub fn push(&mut self, envelope: &[u8]) {
        let new = tlog_tiles::stored_hashes(self.size, envelope, self)
            .expect("the hashes of a tree built here are all held");
        self.stored.extend(new);
        self.size += 1;
    }

    /// How many entries the log holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree of the first `n` entries (`n` at most [`Log::size`]).
    pub fn root(&self, n: u64) -> Option<TreeHash> {
        (n <= self.size)
            .then(|| tlog_tiles::tree_hash(n, self).ok())
            .flatten()
    }

    /// The proof that the tree of size `old` is a prefix of the one of size `new`.
    pub fn consistency(&self, old: u64, new: u64) -> Option<Vec<TreeHash>> {
        if old == 0 || old == new {
            return (new <= self.size).then(Vec::new);
        }
        tlog_tiles::prove_tree(new, old, self).ok()
    }

    /// The proof that entry `index` (seq `index + 1`) is in the tree of size `n`.
    pub fn inclusion(&self, index: u64, n: u64) -> Option<Vec<TreeHash>> {
        tlog_tiles::prove_record(n, index, self).ok()
    }
}

/// Whether `proof` shows the tree (`old`, `old_root`) a prefix of (`new`, `new_root`).
pub fn check_consistency(
    proof: &[TreeHash],
    old: u64,
    old_root: TreeHash,
    new: u64,
    new_root: TreeHash,
) -> bool {
    match old {
        0 => proof.is_empty(),
        _ if old == new => proof.is_empty() && old_root == new_root,
        _ => tlog_tiles::check_tree(&proof.to_vec(), new, new_root, old, old_root).is_ok(),
    }
}

/// Whether `proof` shows `envelope` as entry `index` of the tree (`n`, `root`).
pub fn check_inclusion(
    proof: &[TreeHash],
    n: u64,
    root: TreeHash,
    index: u64,
    envelope: &[u8],
) -> bool {
    let leaf = tlog_tiles::record_hash(envelope);
    tlog_tiles::check_record(&proof.to_vec(), n, root, index, leaf).is_ok()
}

/// The origin line of an author's log in a channel:
/// `hotline/<channel hex>/<first 20 digits of the author's fingerprint>`.
pub fn origin(channel: &Hash, author: &Identity) -> String {
    format!("hotline/{}/{}", hex(channel), fingerprint_digits(author))
}

/// The first 20 digits of a station's fingerprint.
fn fingerprint_digits(who: &Identity) -> String {
    who.fingerprint()
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_digit())
        .take(20)
        .collect()
}

/// Whether `origin` is a hotline log origin of the author `who`.
pub fn origin_is_of(origin: &str, who: &Identity) -> bool {
    origin
        .get(8..72)
        .and_then(|h| hotline_proto::parse_hash(h).ok())
        .is_some_and(|ch| self::origin(&ch, who) == origin)
}

/// The key id of a note key: the first four bytes of
/// SHA-256(name || "\n" || type || public key), big-endian.
fn key_id(name: &str, alg: u8, pk: &[u8; 32]) -> u32 {
    let mut k = vec![alg];
    k.extend_from_slice(pk);
    signed_note::key_id(name, &k)
}

/// The C2SP verifier key of an author's log: `<origin>+<id>+<base64(0x01 || key)>`.
pub fn log_vkey(origin: &str, author: &Identity) -> String {
    vkey(origin, ALG_ED25519, &author.sig_pk)
}

fn vkey(name: &str, alg: u8, pk: &[u8; 32]) -> String {
    let mut k = vec![alg];
    k.extend_from_slice(pk);
    format!(
        "{name}+{:08x}+{}",
        key_id(name, alg, pk),
        data_encoding::BASE64.encode(&k)
    )
}

/// The checkpoint body (origin, size, base64 root), as the note's text.
pub fn checkpoint_text(origin: &str, size: u64, root: TreeHash) -> Vec<u8> {
    Checkpoint::new(origin, size, root, "")
        .expect("a hotline origin is a valid checkpoint origin")
        .to_bytes()
}

/// A checkpoint of an author's log as a signed note, signed by the author.
pub fn sign_checkpoint(origin: &str, size: u64, root: TreeHash, keys: &SecretKeys) -> Vec<u8> {
    let text = checkpoint_text(origin, size, root);
    let sig = keys
        .sign_log_note(&text)
        .expect("a checkpoint text starts with its hotline origin");
    let id = key_id(origin, ALG_ED25519, &keys.identity().sig_pk);
    let s = Signature::new(origin.to_owned(), id, sig.to_vec()).expect("a valid key name");
    Note::new(&text, &[s])
        .expect("a checkpoint is a valid note")
        .to_bytes()
}

/// The tree size a checkpoint note claims, signatures unchecked.
pub fn note_size(note: &[u8]) -> Option<u64> {
    let n = Note::from_bytes(note).ok()?;
    Checkpoint::from_bytes(n.text()).ok().map(|c| c.size())
}

/// A checkpoint note read and its log signature verified.
#[derive(Debug, Clone, PartialEq)]
pub struct LogCheckpoint {
    /// The origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root: TreeHash,
    /// The note's text (the checkpoint body) that signatures cover.
    pub text: Vec<u8>,
}

/// Why a checkpoint note is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteFault {
    /// Not a signed note, or its text not a checkpoint.
    #[error("not a checkpoint note: {0}")]
    Malformed(String),
    /// No signature by the expected key verifies.
    #[error("the checkpoint is not signed by {0}")]
    Unsigned(String),
}

/// Reads a checkpoint note and checks that `author` signed it for `origin`.
pub fn open_checkpoint(note: &[u8], author: &Identity) -> Result<LogCheckpoint, NoteFault> {
    let n = Note::from_bytes(note).map_err(|e| NoteFault::Malformed(e.to_string()))?;
    let c = Checkpoint::from_bytes(n.text()).map_err(|e| NoteFault::Malformed(e.to_string()))?;
    let origin = c.origin().to_owned();
    let v = Ed25519Note {
        name: origin.clone(),
        id: key_id(&origin, ALG_ED25519, &author.sig_pk),
        key: author
            .verifying_key()
            .map_err(|_| NoteFault::Unsigned(origin.clone()))?,
    };
    n.verify(&VerifierList::new(vec![Box::new(v)]))
        .map_err(|_| NoteFault::Unsigned(origin.clone()))?;
    Ok(LogCheckpoint {
        origin,
        size: c.size(),
        root: *c.hash(),
        text: n.text().to_vec(),
    })
}

/// A plain Ed25519 note verifier (signature type 0x01).
struct Ed25519Note {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl Verifier for Ed25519Note {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

/// A witness's key: it cosigns checkpoints it has checked (C2SP
/// tlog-cosignature, signature type 0x04).
pub struct WitnessKey {
    name: String,
    key: ed25519_dalek::SigningKey,
}

impl WitnessKey {
    /// A witness key named `name` from its 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> WitnessKey {
        WitnessKey {
            name: name.to_owned(),
            key: ed25519_dalek::SigningKey::from_bytes(seed),
        }
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its verifier key: `<name>+<id>+<base64(0x04 || key)>`.
    pub fn vkey(&self) -> String {
        vkey(
            &self.name,
            ALG_COSIGNATURE_V1,
            &self.key.verifying_key().to_bytes(),
        )
    }

    /// The cosignature line of a checkpoint's text at `time` (Unix
    /// seconds): `— <name> <base64(id || time || signature)>\n`.
    pub fn cosign(&self, text: &[u8], time: u64) -> Vec<u8> {
        use ed25519_dalek::Signer as _;
        let sig = self.key.sign(&cosigned_message(text, time));
        let mut blob = key_id(
            &self.name,
            ALG_COSIGNATURE_V1,
            &self.key.verifying_key().to_bytes(),
        )
        .to_be_bytes()
        .to_vec();
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        format!(
            "\u{2014} {} {}\n",
            self.name,
            data_encoding::BASE64.encode(&blob)
        )
        .into_bytes()
    }
}

/// What a cosignature signs: `cosignature/v1\ntime <t>\n` and the checkpoint text.
fn cosigned_message(text: &[u8], time: u64) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {time}\n").into_bytes();
    m.extend_from_slice(text);
    m
}

/// A witness verifier from its vkey (`<name>+<id>+<base64(0x04 || key)>`).
#[derive(Clone)]
pub struct WitnessVerifier {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl WitnessVerifier {
    /// Reads a witness vkey; `None` if it is not a cosignature/v1 key.
    pub fn parse(vkey: &str) -> Option<WitnessVerifier> {
        let mut parts = vkey.splitn(3, '+');
        let (name, id, key) = (parts.next()?, parts.next()?, parts.next()?);
        let id = u32::from_str_radix(id, 16).ok()?;
        let key = data_encoding::BASE64.decode(key.as_bytes()).ok()?;
        let (alg, pk) = key.split_first()?;
        let pk: [u8; 32] = pk.try_into().ok()?;
        if *alg != ALG_COSIGNATURE_V1 || id != key_id(name, ALG_COSIGNATURE_V1, &pk) {
            return None;
        }
        Some(WitnessVerifier {
            name: name.to_owned(),
            id,
            key: ed25519_dalek::VerifyingKey::from_bytes(&pk).ok()?,
        })
    }

    /// The witness's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The time (Unix seconds) of this witness's valid cosignature on the
    /// checkpoint note `note`, if it carries one.
    pub fn cosigned(&self, note: &[u8]) -> Option<u64> {
        let n = Note::from_bytes(note).ok()?;
        let v = Cosig {
            name: self.name.clone(),
            id: self.id,
            key: self.key,
        };
        let list = VerifierList::new(vec![Box::new(v)]);
        let (ok, _) = n.verify(&list).ok()?;
        // The time is the first 8 bytes of the verified signature.
        let sig = ok.first()?.signature();
        Some(u64::from_be_bytes(sig.get(..8)?.try_into().ok()?))
    }
}

/// A cosignature/v1 verifier for `signed_note`.
struct Cosig {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl Verifier for Cosig {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let (Some(t), Some(s)) = (sig.get(..8), sig.get(8..)) else {
            return false;
        };
        let time = u64::from_be_bytes(t.try_into().expect("8 bytes"));
        let Ok(s) = ed25519_dalek::Signature::from_slice(s) else {
            return false;
        };
        self.key
            .verify_strict(&cosigned_message(msg, time), &s)
            .is_ok()
    }
}

/// The base64 of a tree hash, as checkpoints and proofs write it.
pub fn b64(h: &TreeHash) -> String {
    data_encoding::BASE64.encode(&h.0)
}

/// A tree hash from base64.
pub fn from_b64(s: &str) -> Option<TreeHash> {
    let b = data_encoding::BASE64.decode(s.trim().as_bytes()).ok()?;
    Some(tlog_tiles::Hash(b.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u8) -> SecretKeys {
        let mut b = [n; 96];
        b[64..].copy_from_slice(&[9u8; 32]);
        SecretKeys::from_bytes(&b).unwrap()
    }

    fn log(n: usize) -> Log {
        let mut l = Log::new();
        for i in 0..n {
            l.push(format!("envelope {i}").as_bytes());
        }
        l
    }

    fn sha256(b: &[u8]) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(b).into()
    }

    #[test]
    fn roots_and_proofs_agree_with_the_rfc_6962_construction() {
        let l = log(13);
        // RFC 6962 by hand for three leaves: h(h(l0, l1), l2).
        let h = |b: &[u8]| tlog_tiles::Hash(sha256(b));
        let leaf = |i: usize| h(&[&[0u8][..], format!("envelope {i}").as_bytes()].concat());
        let node = |a: TreeHash, b: TreeHash| h(&[&[1u8][..], &a.0, &b.0].concat());
        assert_eq!(l.root(3).unwrap(), node(node(leaf(0), leaf(1)), leaf(2)));
        assert_eq!(l.root(1).unwrap(), leaf(0));
        assert!(l.root(14).is_none());
        for old in 1..=13 {
            for new in old..=13 {
                let p = l.consistency(old, new).unwrap();
                assert!(check_consistency(
                    &p,
                    old,
                    l.root(old).unwrap(),
                    new,
                    l.root(new).unwrap()
                ));
                // A tree of that size whose first entry differs is not an extension.
                let mut forked = Log::new();
                forked.push(b"forked");
                for i in 1..new {
                    forked.push(format!("envelope {i}").as_bytes());
                }
                assert!(!check_consistency(
                    &p,
                    old,
                    l.root(old).unwrap(),
                    new,
                    forked.root(new).unwrap()
                ));
            }
            let p = l.inclusion(old - 1, 13).unwrap();
            assert!(check_inclusion(
                &p,
                13,
                l.root(13).unwrap(),
                old - 1,
                format!("envelope {}", old - 1).as_bytes()
            ));
            assert!(!check_inclusion(
                &p,
                13,
                l.root(13).unwrap(),
                old - 1,
                b"something else"
            ));
        }
    }

    #[test]
    fn a_checkpoint_note_reads_back_with_the_c2sp_crates_and_only_under_its_author() {
        let (a, b) = (keys(1), keys(2));
        let l = log(5);
        let origin = origin(&[7; 32], &a.identity());
        assert!(origin.starts_with(&format!("hotline/{}/", hex(&[7; 32]))));
        assert!(origin_is_of(&origin, &a.identity()));
        assert!(!origin_is_of(&origin, &b.identity()));
        let note = sign_checkpoint(&origin, 5, l.root(5).unwrap(), &a);
        let c = open_checkpoint(&note, &a.identity()).unwrap();
        assert_eq!((c.size, c.root), (5, l.root(5).unwrap()));
        assert!(open_checkpoint(&note, &b.identity()).is_err());
        // The C2SP implementation reads it, and verifies it with the
        // author's vkey in the standard form.
        let v = signed_note::StandardVerifier::new(&log_vkey(&origin, &a.identity())).unwrap();
        let n = Note::from_bytes(&note).unwrap();
        n.verify(&VerifierList::new(vec![Box::new(v)])).unwrap();
        let cp = Checkpoint::from_bytes(n.text()).unwrap();
        assert_eq!(cp.origin(), origin);
        assert_eq!(cp.size(), 5);
        // A note whose text is not a hotline origin is never signed.
        assert!(a.sign_log_note(b"hotline/entry/v1 something").is_none());
    }

    #[test]
    fn a_cosignature_verifies_under_the_witness_vkey_only() {
        let (a, l) = (keys(1), log(4));
        let origin = origin(&[3; 32], &a.identity());
        let note = sign_checkpoint(&origin, 4, l.root(4).unwrap(), &a);
        let c = open_checkpoint(&note, &a.identity()).unwrap();
        let w = WitnessKey::from_seed("witness.example", &[5; 32]);
        let other = WitnessKey::from_seed("witness.example", &[6; 32]);
        let mut cosigned = note.clone();
        cosigned.extend_from_slice(&w.cosign(&c.text, 1_700_000_000));
        let v = WitnessVerifier::parse(&w.vkey()).unwrap();
        assert_eq!(v.cosigned(&cosigned), Some(1_700_000_000));
        assert_eq!(v.cosigned(&note), None, "no cosignature");
        let vo = WitnessVerifier::parse(&other.vkey()).unwrap();
        assert_eq!(vo.cosigned(&cosigned), None, "another key of the same name");
        // The log's signature still verifies beside it.
        assert!(open_checkpoint(&cosigned, &a.identity()).is_ok());
        assert!(WitnessVerifier::parse(&log_vkey(&origin, &a.identity())).is_none());
    }
}
