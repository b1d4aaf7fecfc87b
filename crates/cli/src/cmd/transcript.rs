//! `transcript export`, `transcript verify`, `transcript compare`.

use super::{read_file, write_out};
use crate::cli::TranscriptCmd;
use crate::client::{Client, Failure};
use hotline_core::export::{self, Authors, KnownKey, Summary};
use std::path::Path;

/// Runs a `transcript` subcommand; only `export` needs the station.
pub fn run(
    client: impl FnOnce() -> anyhow::Result<Client>,
    cmd: TranscriptCmd,
) -> anyhow::Result<()> {
    match cmd {
        TranscriptCmd::Export { channel, output } => {
            let text = client()?.get_text(&format!("/v1/channels/{channel}/export"))?;
            write_out(output, &text)
        }
        TranscriptCmd::Verify {
            file,
            keys,
            witnesses,
        } => {
            at_most_two(&keys)?;
            let s = verified(&file)?;
            println!("{s}");
            println!("{}", authors(&file, &s, &keys)?);
            for w in &witnesses {
                println!("{}", witnessed(&file, &s, w)?);
            }
            println!("ok: the transcript verifies");
            Ok(())
        }
        TranscriptCmd::Compare {
            file_a,
            file_b,
            keys,
        } => {
            at_most_two(&keys)?;
            let (a, b) = (verified(&file_a)?, verified(&file_b)?);
            for (name, file, s) in [("A", &file_a, &a), ("B", &file_b, &b)] {
                println!(
                    "{name}          {} verifies: exported by author {}, holds author 0 to seq {}, author 1 to seq {}",
                    file.display(),
                    s.exported_by,
                    s.counts[0],
                    s.counts[1]
                );
            }
            for (i, id) in a.identities.iter().enumerate() {
                println!("author {i}   fingerprint {}", id.fingerprint());
            }
            // Whose record comes first: a stranger's pair of files is not worth comparing.
            let whose = authors(&file_a, &a, &keys)?;
            authors(&file_b, &b, &keys)?;
            let agreed = export::compare(&a, &b).map_err(|d| {
                Failure::Check(format!(
                    "{} and {} do not agree: {d}",
                    file_a.display(),
                    file_b.display()
                ))
            })?;
            println!("{whose}");
            println!(
                "agree      entry by entry up to the older exporter's checkpoint: author 0 to seq {}, author 1 to seq {}",
                agreed.upto[0], agreed.upto[1]
            );
            for (name, beyond) in [("A", agreed.beyond[0]), ("B", agreed.beyond[1])] {
                if beyond != [0, 0] {
                    println!(
                        "note       only {name} holds {} more of author 0 and {} more of author 1: newer than the other file",
                        beyond[0], beyond[1]
                    );
                }
            }
            println!("ok: the two exports agree up to the older checkpoint");
            Ok(())
        }
    }
}

/// A transcript has two authors: a third key is a usage error, said before any reading.
fn at_most_two(keys: &[KnownKey]) -> anyhow::Result<()> {
    if keys.len() > 2 {
        return Err(Failure::Usage(format!(
            "{} --key given, but a transcript has two authors: give --key at most twice",
            keys.len()
        ))
        .into());
    }
    Ok(())
}

/// Reads and verifies one export; any fault is a failed check naming the file.
fn verified(file: &Path) -> anyhow::Result<Summary> {
    let text = read_file(file)?;
    export::verify(&text)
        .map_err(|f| Failure::Check(format!("{} does not verify: {f}", file.display())).into())
}

/// The line saying how far a witness cosigned each author's log, or the
/// failure if it cosigned none of one's here.
fn witnessed(file: &Path, s: &Summary, vkey: &str) -> anyhow::Result<String> {
    let w = hotline_core::tlog::WitnessVerifier::parse(vkey)
        .ok_or_else(|| Failure::Usage(format!("not a witness verifier key: {vkey}")))?;
    let sizes = s
        .witnessed(&w)
        .map_err(|e| Failure::Check(format!("{}: {e}", file.display())))?;
    let parts: Vec<String> = sizes
        .iter()
        .map(|(a, n)| format!("author {a} up to seq {n} of {}", s.counts[*a as usize]))
        .collect();
    Ok(format!(
        "witness    {} cosigned {} (each root checked against the entries)",
        w.name(),
        parts.join(", ")
    ))
}

/// The line saying whose transcript it is, or the failure if the keys are not its authors.
fn authors(file: &Path, s: &Summary, keys: &[KnownKey]) -> anyhow::Result<String> {
    let (k0, k1) = (s.keys_of(0), s.keys_of(1));
    let found = export::check_rotated_authors([&k0, &k1], keys).map_err(|e| {
        Failure::Check(format!(
            "{} is not the record of the stations given: {e}",
            file.display()
        ))
    })?;
    Ok(match found {
        Authors::Both => {
            "authors    author 0 and author 1 are exactly the two stations given with --key"
                .to_owned()
        }
        Authors::One(a) => format!(
            "authors    author {a} is the station given with --key; author {} (fingerprint {}) not checked against a known key",
            1 - a,
            s.identities[1 - a as usize].fingerprint()
        ),
        Authors::Unchecked => "note       authors not checked against known keys: compare the fingerprints above with the stations' own (`hotline id --fingerprint`), or pass them with --key".to_owned(),
    })
}
