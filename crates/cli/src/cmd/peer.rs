//! `peer add`, `peer verify`, `peer list`, `peer set`, `peer unverify`,
//! `peer remove`, `peer repin`.

use super::print_json;
use crate::cli::PeerCmd;
use crate::client::{Client, Failure};
use crate::out;
use hotline_api_types::{
    Empty, NewPeer, Peer, PeerRemoved, PeerVerified, Peers, RemovePeer, RepinPeer, SetPeer,
    VerifyPeer,
};

/// Runs a `peer` subcommand.
pub fn run(c: Client, p: PeerCmd) -> anyhow::Result<()> {
    match p {
        PeerCmd::Add {
            name,
            key,
            addrs,
            rel,
            psk_file,
        } => {
            let body = NewPeer {
                name: name.clone(),
                key,
                addrs,
                addr: None,
                rel,
                psk: psk_file.as_deref().map(read_psk).transpose()?,
            };
            let r: Peer = c.post("/v1/peers", &body)?;
            println!(
                "pinned {} (unverified): fingerprint {}",
                name, r.fingerprint
            );
            println!(
                "confirm it out of band, then: hotline peer verify {name} --fingerprint \"…\""
            );
        }
        PeerCmd::Set {
            name,
            addrs,
            rel,
            psk_file,
        } => {
            if addrs.is_empty() && rel.is_none() && psk_file.is_none() {
                return Err(Failure::Usage(
                    "nothing to change: give --addr, --rel or --psk-file".into(),
                )
                .into());
            }
            let body = SetPeer {
                addrs: (!addrs.is_empty()).then_some(addrs),
                rel,
                psk: psk_file.as_deref().map(read_psk).transpose()?,
            };
            let with_psk = body.psk.is_some();
            let p: Peer = c.post(&format!("/v1/peers/{name}/set"), &body)?;
            println!("{name}: {}", out::escaped(&p.addrs.join(", ")));
            if with_psk {
                println!("{name}: stored pre-shared keys start again from the new key (generation 0); the counterpart must enter the same key");
            }
        }
        PeerCmd::Unverify { name } => {
            let _: PeerVerified = c.post(&format!("/v1/peers/{name}/unverify"), &Empty {})?;
            println!(
                "{name} is no longer verified: only ROUTINE traffic until `peer verify` again"
            );
        }
        PeerCmd::Remove { name, force } => {
            let r: PeerRemoved =
                c.post(&format!("/v1/peers/{name}/remove"), &RemovePeer { force })?;
            println!("{name} removed: its channels keep their record");
            for id in &r.left_open {
                println!(
                    "  channel {} was not terminated; it carries nothing more",
                    out::escaped(id)
                );
            }
        }
        PeerCmd::Repin { name, key } => {
            let r: Peer = c.post(&format!("/v1/peers/{name}/repin"), &RepinPeer { key })?;
            println!(
                "{name}: new key pinned (unverified): fingerprint {}",
                r.fingerprint
            );
            println!(
                "channels bound to the old key carry nothing more; confirm the new fingerprint out of band, then: hotline peer verify {name} --fingerprint \"…\""
            );
        }
        PeerCmd::Verify { name, fingerprint } => {
            let body = VerifyPeer { fingerprint };
            match c.post::<_, PeerVerified>(&format!("/v1/peers/{name}/verify"), &body) {
                Ok(_) => println!("{name} verified"),
                // A mismatch is the check failing, not the station refusing.
                Err(e) => match e.downcast_ref::<Failure>() {
                    Some(Failure::Refused(m)) if m.contains("does not match") => {
                        return Err(Failure::Check(m.clone()).into())
                    }
                    _ => return Err(e),
                },
            }
        }
        PeerCmd::List { json } => {
            let r: Peers = c.get("/v1/peers")?;
            if json {
                print_json(&r.peers)?;
            } else {
                out::peers(&r.peers);
            }
        }
    }
    Ok(())
}

/// An out-of-band pre-shared key file: 32 raw bytes, or 64 hex digits
/// (surrounding whitespace ignored); sent to the station as hex.
fn read_psk(path: &std::path::Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::Usage(format!(
            "--psk-file {}: cannot read it: {e}",
            path.display()
        ))
    })?;
    if bytes.len() == 32 {
        return Ok(data_encoding::HEXLOWER.encode(&bytes));
    }
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(text.to_ascii_lowercase());
    }
    Err(Failure::Usage(format!(
        "--psk-file {}: give 32 raw bytes (head -c 32 /dev/urandom > FILE) or 64 hex digits; it holds {} bytes",
        path.display(),
        bytes.len()
    ))
    .into())
}
