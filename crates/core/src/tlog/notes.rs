//! Checkpoint notes as stations keep and exchange them: the author's own,
//! signed; the counterpart's cosignature, added as a witness once it has
//! checked the root against the entries it holds; third-party witnesses'
//! cosignatures, collected by the author. A note is kept with only the
//! signatures that verify under keys the keeper knows.

use super::{
    fingerprint_digits, key_id, Cosig, Ed25519Note, LogCheckpoint, NoteFault, WitnessVerifier,
    ALG_COSIGNATURE_V1, ALG_ED25519,
};
use hotline_proto::{Identity, SecretKeys};
use signed_note::{Note, Signature, Verifier, VerifierList};
use tlog_tiles::Checkpoint;

/// The key name under which a station cosigns its counterpart's
/// checkpoints: `hotline-station/<first 20 digits of its fingerprint>`.
pub fn station_witness_name(station: &Identity) -> String {
    format!("hotline-station/{}", fingerprint_digits(station))
}

impl WitnessVerifier {
    /// The verifier of `station`'s cosignatures on its counterpart's
    /// checkpoints (its identity's Ed25519 key, as a cosignature/v1 key).
    pub fn of_station(station: &Identity) -> Option<WitnessVerifier> {
        let name = station_witness_name(station);
        Some(WitnessVerifier {
            id: key_id(&name, ALG_COSIGNATURE_V1, &station.sig_pk),
            name,
            key: station.verifying_key().ok()?,
        })
    }

    fn boxed(&self) -> Box<dyn Verifier> {
        Box::new(Cosig {
            name: self.name.clone(),
            id: self.id,
            key: self.key,
        })
    }
}

/// The station's cosignature (C2SP tlog-cosignature/v1) of a checkpoint
/// text of its counterpart's log, at `time` (Unix seconds).
pub fn station_cosign(text: &[u8], time: u64, keys: &SecretKeys) -> Option<Signature> {
    let me = keys.identity();
    let name = station_witness_name(&me);
    let sig = keys.sign_log_cosignature(&super::cosigned_message(text, time))?;
    let mut blob = time.to_be_bytes().to_vec();
    blob.extend_from_slice(&sig);
    Signature::new(
        name.clone(),
        key_id(&name, ALG_COSIGNATURE_V1, &me.sig_pk),
        blob,
    )
    .ok()
}

/// Reads a checkpoint note of `author`'s log and keeps its signatures that
/// verify: the author's (required) and the cosignatures of `known`.
/// Signatures by other keys are dropped; one by a known key that does not
/// verify refuses the note whole.
pub fn verified_signatures(
    note: &[u8],
    author: &Identity,
    known: &[WitnessVerifier],
) -> Result<(LogCheckpoint, Vec<Signature>), NoteFault> {
    let n = Note::from_bytes(note).map_err(|e| NoteFault::Malformed(e.to_string()))?;
    let c = Checkpoint::from_bytes(n.text()).map_err(|e| NoteFault::Malformed(e.to_string()))?;
    let origin = c.origin().to_owned();
    let author_id = key_id(&origin, ALG_ED25519, &author.sig_pk);
    let mut list: Vec<Box<dyn Verifier>> = vec![Box::new(Ed25519Note {
        name: origin.clone(),
        id: author_id,
        key: author
            .verifying_key()
            .map_err(|_| NoteFault::Unsigned(origin.clone()))?,
    })];
    list.extend(known.iter().map(WitnessVerifier::boxed));
    let (ok, _) = n
        .verify(&VerifierList::new(list))
        .map_err(|_| NoteFault::Unsigned(origin.clone()))?;
    if !ok.iter().any(|s| s.name() == origin && s.id() == author_id) {
        return Err(NoteFault::Unsigned(origin));
    }
    Ok((
        LogCheckpoint {
            origin,
            size: c.size(),
            root: *c.hash(),
            text: n.text().to_vec(),
        },
        ok,
    ))
}

/// The signature lines of a note this station kept, read without checking
/// them again (each was verified when the note was kept), if its text is
/// `text`; none otherwise.
pub fn kept_signatures(note: &[u8], text: &[u8]) -> Vec<Signature> {
    match Note::from_bytes(note) {
        Ok(n) if n.text() == text => {}
        _ => return Vec::new(),
    }
    let Some((_, sigs)) = std::str::from_utf8(note)
        .ok()
        .and_then(|t| t.rsplit_once("\n\n"))
    else {
        return Vec::new();
    };
    sigs.lines()
        .filter_map(|l| Signature::from_bytes(l.as_bytes()).ok())
        .collect()
}

/// A note of `text` with `sigs`, each key's first signature only, the
/// author's first.
pub fn combine(text: &[u8], sigs: &[Signature]) -> Vec<u8> {
    let mut kept: Vec<Signature> = Vec::new();
    for s in sigs {
        if !kept
            .iter()
            .any(|k| k.name() == s.name() && k.id() == s.id())
        {
            kept.push(s.clone());
        }
    }
    Note::new(text, &kept)
        .map(|n| n.to_bytes())
        .unwrap_or_default()
}

/// The origin a checkpoint note names, signatures unchecked.
pub fn note_origin(note: &[u8]) -> Option<String> {
    let n = Note::from_bytes(note).ok()?;
    Checkpoint::from_bytes(n.text())
        .ok()
        .map(|c| c.origin().to_owned())
}

/// The key names of a note's signature lines, unchecked.
pub fn signature_names(note: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(note);
    let Some((_, sigs)) = text.rsplit_once("\n\n") else {
        return Vec::new();
    };
    sigs.lines()
        .filter_map(|l| l.strip_prefix("\u{2014} "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect()
}

/// Adds `note` (a checkpoint of `author`'s log) to the notes kept of a
/// channel, `[(author, note)]`: it replaces a note of that log at its size
/// (it holds every signature that one did, merged by the caller); of the
/// older ones, a note is kept only while it carries a signer no newer note
/// of that log has (a witness that has not cosigned since).
pub fn keep<N: AsRef<[u8]>>(notes: &mut Vec<(u8, N)>, author: u8, note: N) {
    let size = super::note_size(note.as_ref());
    notes.retain(|(a, n)| *a != author || super::note_size(n.as_ref()) != size);
    notes.push((author, note));
    let mut mine: Vec<(u8, N)> = Vec::new();
    let mut rest = Vec::new();
    for n in notes.drain(..) {
        if n.0 == author {
            mine.push(n);
        } else {
            rest.push(n);
        }
    }
    mine.sort_by_key(|(_, n)| std::cmp::Reverse(super::note_size(n.as_ref())));
    let mut signers: Vec<String> = Vec::new();
    for (i, n) in mine.into_iter().enumerate() {
        let names = signature_names(n.1.as_ref());
        let new_signer = names.iter().any(|s| !signers.contains(s));
        if i == 0 || new_signer {
            signers.extend(names);
            rest.push(n);
        }
    }
    *notes = rest;
}

#[cfg(test)]
mod tests {
    use super::super::{sign_checkpoint, Log, WitnessKey};
    use super::*;

    /// An author, another station to cosign, the author's two-entry log,
    /// its origin, and its checkpoint note signed.
    fn signed() -> (SecretKeys, SecretKeys, Log, String, Vec<u8>) {
        let author = SecretKeys::generate([1; 32], [2; 32]);
        let other = SecretKeys::generate([3; 32], [4; 32]);
        let mut log = Log::new();
        log.push(b"one");
        log.push(b"two");
        let origin = super::super::origin(&[5; 32], &author.identity());
        let note = sign_checkpoint(&origin, 2, log.root(2).unwrap(), &author);
        (author, other, log, origin, note)
    }

    #[test]
    fn a_station_cosignature_verifies_and_merges_with_a_witness_one() {
        let (author, other, log, origin, note) = signed();
        let (cp, sigs) = verified_signatures(&note, &author.identity(), &[]).unwrap();
        assert_eq!(sigs.len(), 1);
        let theirs = station_cosign(&cp.text, 1_700_000_000, &other).unwrap();
        let w = WitnessKey::from_seed("w.example", &[8; 32]);
        let mut witnessed = note.clone();
        witnessed.extend(w.cosign(&cp.text, 1_700_000_001));
        let station = WitnessVerifier::of_station(&other.identity()).unwrap();
        let wv = WitnessVerifier::parse(&w.vkey()).unwrap();
        // A witness the keeper does not know is dropped, not refused.
        let (_, s) = verified_signatures(&witnessed, &author.identity(), &[]).unwrap();
        assert_eq!(s.len(), 1);
        let (_, s) = verified_signatures(&witnessed, &author.identity(), &[wv, station]).unwrap();
        let all = combine(&cp.text, &[s, vec![theirs.clone(), theirs]].concat());
        let station = WitnessVerifier::of_station(&other.identity()).unwrap();
        let wv = WitnessVerifier::parse(&w.vkey()).unwrap();
        assert_eq!(station.cosigned(&all), Some(1_700_000_000));
        assert_eq!(wv.cosigned(&all), Some(1_700_000_001));
        let (_, s) = verified_signatures(&all, &author.identity(), &[wv, station]).unwrap();
        assert_eq!(s.len(), 3);
        // Not the author's: refused.
        assert!(verified_signatures(&all, &other.identity(), &[]).is_err());
        // The counterpart's cosignature moved onto another root does not verify.
        let forged = sign_checkpoint(&origin, 2, log.root(1).unwrap(), &author);
        let mut bad = forged;
        bad.extend(station_cosign(&cp.text, 1, &other).unwrap().to_bytes());
        let station = WitnessVerifier::of_station(&other.identity()).unwrap();
        assert_eq!(station.cosigned(&bad), None);
        let station = WitnessVerifier::of_station(&other.identity()).unwrap();
        assert!(verified_signatures(&bad, &author.identity(), &[station]).is_err());
    }

    #[test]
    fn kept_signatures_are_read_back_only_for_the_same_text() {
        let (author, other, log, origin, note) = signed();
        let (cp, sigs) = verified_signatures(&note, &author.identity(), &[]).unwrap();
        let theirs = station_cosign(&cp.text, 1_700_000_000, &other).unwrap();
        let both = combine(&cp.text, &[sigs.clone(), vec![theirs.clone()]].concat());
        let read = kept_signatures(&both, &cp.text);
        assert_eq!(read.len(), 2);
        assert_eq!(combine(&cp.text, &read), both);
        // Another checkpoint's text: nothing to merge.
        let (one, _) = verified_signatures(
            &sign_checkpoint(&origin, 1, log.root(1).unwrap(), &author),
            &author.identity(),
            &[],
        )
        .unwrap();
        assert!(kept_signatures(&both, &one.text).is_empty());
        assert!(kept_signatures(b"not a note", &cp.text).is_empty());
    }

    #[test]
    fn keep_holds_the_newest_note_and_the_last_each_cosigner_signed() {
        let author = SecretKeys::generate([1; 32], [2; 32]);
        let origin = super::super::origin(&[5; 32], &author.identity());
        let mut log = Log::new();
        for i in 0..3u8 {
            log.push(&[i]);
        }
        let w = WitnessKey::from_seed("w.example", &[8; 32]);
        let note = |n: u64, witnessed: bool| {
            let mut b = sign_checkpoint(&origin, n, log.root(n).unwrap(), &author);
            if witnessed {
                let (cp, _) = verified_signatures(&b, &author.identity(), &[]).unwrap();
                b.extend(w.cosign(&cp.text, 1));
            }
            b
        };
        let other = (1u8, b"the other author's\n".to_vec());
        let mut kept = vec![other.clone()];
        keep(&mut kept, 0, note(1, true));
        assert_eq!(kept, [other.clone(), (0, note(1, true))]);
        // The witness has not cosigned size 2: size 1 stays for it.
        keep(&mut kept, 0, note(2, false));
        assert_eq!(kept.len(), 3);
        assert!(kept.contains(&(0, note(1, true))) && kept.contains(&(0, note(2, false))));
        // Size 2 again, now cosigned: it replaces the one of its size.
        keep(&mut kept, 0, note(2, true));
        assert_eq!(kept, [other.clone(), (0, note(2, true))]);
        keep(&mut kept, 0, note(3, false));
        keep(&mut kept, 0, note(3, true));
        assert_eq!(kept, [other, (0, note(3, true))]);
        assert_eq!(
            signature_names(&note(3, true)),
            [origin.clone(), "w.example".into()]
        );
    }
}
