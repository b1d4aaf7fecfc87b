//! `alerts`.

use super::print_json;
use crate::client::Client;
use crate::out;
use hotline_api_types::Alerts;

/// Lists alerts, newest first; `open` leaves out the cleared ones.
pub fn run(c: &Client, open: bool, json: bool) -> anyhow::Result<()> {
    let r: Alerts = c.get(&format!("/v1/alerts?open={open}"))?;
    if json {
        print_json(&r.alerts)
    } else {
        out::alerts(&r.alerts);
        Ok(())
    }
}
