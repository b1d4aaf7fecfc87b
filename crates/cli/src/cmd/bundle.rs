//! `bundle export` and `bundle import`: the courier transport.

use crate::cli::BundleCmd;
use crate::client::{Client, Failure};
use hotline_api_types::{BundleImported, BundleRequest};

/// Runs a `bundle` subcommand.
pub fn run(c: &Client, cmd: BundleCmd) -> anyhow::Result<()> {
    match cmd {
        BundleCmd::Export {
            peer,
            since,
            output,
        } => {
            let (bytes, headers) = c.post_for_bytes(
                &format!("/v1/peers/{peer}/bundle"),
                &BundleRequest { since },
            )?;
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("?")
                    .to_owned()
            };
            // Written beside the target and renamed into place: a bundle
            // file is whole or absent, never half-written.
            let mut tmp = output.clone().into_os_string();
            tmp.push(".part");
            let write = std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, &output));
            if let Err(e) = write {
                let _ = std::fs::remove_file(&tmp);
                return Err(
                    Failure::Usage(format!("cannot write {}: {e}", output.display())).into(),
                );
            }
            eprintln!(
                "bundle {} for {peer}: {} bytes in {}",
                header("hotline-bundle-hash"),
                bytes.len(),
                output.display()
            );
            println!("{}", header("hotline-bundle-entries"));
        }
        BundleCmd::Import { file } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?;
            let r: BundleImported = c.post_bytes("/v1/bundles", bytes)?;
            eprintln!(
                "bundle {} from {}: {} new, {} already held",
                r.bundle, r.peer, r.new, r.duplicates
            );
            for ch in &r.channels {
                let gap = ch
                    .gap_from
                    .map(|g| format!("; entries from {g} wait for the ones before them (the peer's next bundle carries them)"))
                    .unwrap_or_default();
                eprintln!(
                    "  channel {}: {} new, {} of the peer's {} held{gap}",
                    ch.channel, ch.new, ch.held, ch.peer_holds
                );
            }
            println!("{}", r.new);
        }
    }
    Ok(())
}
