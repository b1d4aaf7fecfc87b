//! `init` and `id`: the local station's data directory, no API needed.

use crate::client::Failure;
use std::path::Path;

/// `init`: creates the station and prints its identity token, alone on stdout.
pub fn init(data: &Path, name: &str, listen: &str, api: &str) -> anyhow::Result<()> {
    let i = hotline_station::init(data, name, listen, api)
        .map_err(|e| Failure::Refused(e.to_string()))?;
    eprintln!("station {name:?} created in {}", data.display());
    eprintln!("fingerprint  {}", i.fingerprint);
    eprintln!("admin token  in {}", data.join("admin.token").display());
    eprintln!("next: give your identity token (below) to the counterpart, then `hotline serve`");
    println!("{}", i.token);
    Ok(())
}

/// `id`: the identity token, or the fingerprint to read aloud.
pub fn id(data: &Path, fingerprint: bool) -> anyhow::Result<()> {
    let keys = hotline_station::DataDir(data.to_owned())
        .load_keys()
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let id = keys.identity();
    if fingerprint {
        println!("{}", id.fingerprint());
    } else {
        println!("{}", id.token());
    }
    Ok(())
}
