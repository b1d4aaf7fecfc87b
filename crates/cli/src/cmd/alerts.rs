//! `alerts`, and `evidence`: what stands behind an `equivocation` alert.

use super::print_json;
use crate::client::Client;
use crate::out;
use hotline_api_types::{AckAlert, Alert, Alerts, EvidenceList};

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

/// Lists equivocation evidence, of one channel or of all.
pub fn evidence(c: &Client, channel: Option<String>, json: bool) -> anyhow::Result<()> {
    let path = match &channel {
        Some(id) => format!("/v1/channels/{id}/evidence"),
        None => "/v1/evidence".to_owned(),
    };
    let r: EvidenceList = c.get(&path)?;
    if json {
        print_json(&r.evidence)
    } else {
        out::evidence(&r.evidence);
        Ok(())
    }
}

/// Acknowledges an alert with a note; prints it as it now stands.
pub fn ack(c: &Client, id: i64, note: &str, json: bool) -> anyhow::Result<()> {
    let a: Alert = c.post(
        &format!("/v1/alerts/{id}/ack"),
        &AckAlert {
            note: note.to_owned(),
        },
    )?;
    if json {
        print_json(&a)
    } else {
        out::alerts(std::slice::from_ref(&a));
        Ok(())
    }
}
