//! `witness add`, `witness list`: a station's witnesses (SPEC §5 v2). The
//! witness itself (`witness init`, `witness serve`) runs from its data
//! directory, without a station.

use super::print_json;
use crate::client::Client;
use crate::out;
use hotline_api_types::{NewWitness, Witness, Witnesses};

/// `hotline witness add URL --key VKEY`.
pub fn add(c: &Client, url: &str, key: &str) -> anyhow::Result<()> {
    let w: Witness = c.post(
        "/v1/witnesses",
        &NewWitness {
            url: url.to_owned(),
            key: key.to_owned(),
        },
    )?;
    println!(
        "witness {} at {}: this station's log checkpoints go there from the next log round",
        out::escaped(&w.name),
        out::escaped(&w.url)
    );
    Ok(())
}

/// `hotline witness list`.
pub fn list(c: &Client, json: bool) -> anyhow::Result<()> {
    let ws: Witnesses = c.get("/v1/witnesses")?;
    if json {
        return print_json(&ws);
    }
    if ws.witnesses.is_empty() {
        println!("no witness: add one with `hotline witness add URL --key VKEY`");
    }
    for w in &ws.witnesses {
        let state = match (&w.last_error, w.last_cosigned_at) {
            (Some(e), _) => format!("last request failed: {}", out::escaped(e)),
            (None, Some(t)) => format!("last cosigned at {}", hotline_core::export::utc(t)),
            (None, None) => "nothing cosigned yet since the station started".into(),
        };
        println!(
            "{}  {}  {state}",
            out::escaped(&w.name),
            out::escaped(&w.url)
        );
    }
    Ok(())
}
