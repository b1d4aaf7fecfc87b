//! `keys rotate`, `keys list`: this station's keys (SPEC §4 v2).

use super::print_json;
use crate::cli::KeysCmd;
use crate::client::Client;
use hotline_api_types::{Empty, KeysRotated, StationKeys};

/// Runs a `keys` subcommand.
pub fn run(c: Client, k: KeysCmd) -> anyhow::Result<()> {
    match k {
        KeysCmd::Rotate { json } => {
            let r: KeysRotated = c.post("/v1/keys/rotate", &Empty {})?;
            if json {
                return print_json(&r);
            }
            println!("rotated: fingerprint {}", r.previous_fingerprint);
            println!("     to: fingerprint {}", r.fingerprint);
            println!("identity {}", r.token);
            for ch in &r.channels {
                match (&ch.entry, &ch.pending) {
                    (Some(e), _) => println!(
                        "channel {}  KeyRotation seq {} entry {e}",
                        ch.channel,
                        ch.seq.unwrap_or(0)
                    ),
                    (None, Some(why)) => println!("channel {}  pending: {why}", ch.channel),
                    (None, None) => {}
                }
            }
            println!(
                "counterparts re-pin from the signed entries; a standby on a shared database needs the new identity.key copied to its data directory"
            );
        }
        KeysCmd::List { json } => {
            let r: StationKeys = c.get("/v1/keys")?;
            if json {
                return print_json(&r.keys);
            }
            for (i, key) in r.keys.iter().enumerate() {
                let state = if key.current { "current" } else { "retired" };
                println!("{i}  {state}  fingerprint {}", key.fingerprint);
                println!("   {}", key.token);
                for e in &key.rotations {
                    println!(
                        "   rotated to on channel {} at seq {} (entry {}, {})",
                        e.channel,
                        e.seq,
                        e.entry,
                        hotline_core::export::utc(e.time)
                    );
                }
            }
        }
    }
    Ok(())
}
