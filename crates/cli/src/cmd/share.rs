//! `share publish`, `release`, `pause`, `resume`, `status`, `list` (SPEC §7).

use super::print_json;
use crate::cli::ShareCmd;
use crate::client::{Client, Failure};
use crate::out::escaped;
use hotline_api_types::{
    NewReport, PauseSharing, Published, ReleaseReport, Reports, ResumeSharing, Sharing, SharingDone,
};
use std::io::Read;

/// Runs a `share` subcommand.
pub fn run(c: &Client, s: ShareCmd) -> anyhow::Result<()> {
    match s {
        ShareCmd::Publish {
            rel_to,
            tlp,
            title,
            content_type,
            file,
        } => {
            let mut content = String::new();
            if file == "-" {
                std::io::stdin().read_to_string(&mut content)?;
            } else {
                content = std::fs::read_to_string(&file).map_err(|e| {
                    Failure::Usage(format!("cannot read {file}: {e} (a report is UTF-8 text)"))
                })?;
            }
            let name = std::path::Path::new(&file)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "report".into());
            let content_type = content_type.unwrap_or_else(|| {
                if file.ends_with(".json") {
                    "stix"
                } else {
                    "markdown"
                }
                .into()
            });
            let body = NewReport {
                title: title.unwrap_or(name),
                content_type,
                content,
                tlp,
                rel_to,
            };
            let r: Published = c.post("/v1/reports", &body)?;
            for p in &r.released_to {
                println!("released to {}", escaped(p));
            }
            for p in &r.held_for {
                println!("held for {} (sharing paused)", escaped(p));
            }
            for w in &r.withheld {
                println!("withheld from {}: {}", escaped(&w.peer), escaped(&w.why));
            }
            println!("{}", r.id);
        }
        ShareCmd::Release { report, to } => {
            let r: SharingDone = c.post(
                &format!("/v1/reports/{report}/release"),
                &ReleaseReport { to },
            )?;
            println!("{}", escaped(&r.done));
        }
        ShareCmd::Pause { peer, reason } => {
            let r: SharingDone = c.post(
                &format!("/v1/sharing/{peer}/pause"),
                &PauseSharing { reason },
            )?;
            println!("{}", escaped(&r.done));
        }
        ShareCmd::Resume { peer, backfill } => {
            let r: SharingDone = c.post(
                &format!("/v1/sharing/{peer}/resume"),
                &ResumeSharing { backfill },
            )?;
            println!("{}", escaped(&r.done));
        }
        ShareCmd::Status { json } => {
            let r: Sharing = c.get("/v1/sharing")?;
            if json {
                return print_json(&r.partners);
            }
            for p in &r.partners {
                println!(
                    "{:<12} rel {:<6} {:<7} held {}",
                    escaped(&p.peer),
                    escaped(p.rel.as_deref().unwrap_or("-")),
                    if p.paused { "paused" } else { "active" },
                    p.held
                );
            }
        }
        ShareCmd::List { json } => {
            let r: Reports = c.get("/v1/reports")?;
            if json {
                return print_json(&r.reports);
            }
            for rep in &r.reports {
                let disp: Vec<String> = rep
                    .dispositions
                    .iter()
                    .map(|(p, d)| format!("{}: {d}", escaped(p)))
                    .collect();
                println!(
                    "{}  {:<16} {:<17} rel_to {}  {}",
                    rep.id,
                    escaped(&rep.title),
                    rep.tlp,
                    escaped(&rep.rel_to.join(",")),
                    disp.join(", ")
                );
            }
        }
    }
    Ok(())
}
