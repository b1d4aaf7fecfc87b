//! `audit export`, `audit verify`.

use super::{read_file, write_out};
use crate::cli::AuditCmd;
use crate::client::{Client, Failure};
use hotline_api_types::{AuditHeadLine, AuditLine, AuditLog};

/// Lines asked for at once while exporting.
const PAGE: usize = 10_000;

/// Runs an `audit` subcommand; only `export` needs the station.
pub fn run(client: impl FnOnce() -> anyhow::Result<Client>, cmd: AuditCmd) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::Export { output } => {
            let (lines, head) = fetch(&client()?)?;
            let mut text = String::new();
            for l in &lines {
                text.push_str(&serde_json::to_string(l)?);
                text.push('\n');
            }
            let short = (lines.len() as u64) < head.count;
            text.push_str(&serde_json::to_string(&AuditHeadLine { head })?);
            text.push('\n');
            write_out(output, &text)?;
            if short {
                return Err(Failure::Check(
                    "the station holds fewer audit lines than its signed head counts: lines were removed from its database; the export will not verify".into(),
                )
                .into());
            }
            Ok(())
        }
        AuditCmd::Verify { file, key } => {
            let text = read_file(&file)?;
            let v = hotline_core::audit::verify(&text)
                .map_err(|f| Failure::Check(format!("{}: {f}", file.display())))?;
            let fp = v.signer.fingerprint();
            if let Some(k) = &key {
                if !k.is(&v.signer) {
                    return Err(Failure::Check(format!(
                        "{}: the head is signed by the station with fingerprint {fp}, not by the one given with --key",
                        file.display()
                    ))
                    .into());
                }
            }
            println!("ok: {} audit lines, hash chain intact", v.lines);
            println!("signed head: {} lines, signed by fingerprint {fp}", v.lines);
            if key.is_some() {
                println!("the signer is the station given with --key");
            } else {
                println!("the signer was not checked against a known key (give --key with the station's identity token or fingerprint)");
            }
            Ok(())
        }
    }
}

/// Every line the station's signed head covers, read page by page, and that
/// head. The head is the one the first page came with; lines written since
/// (this export's own reads among them) are left for the next export.
fn fetch(c: &Client) -> anyhow::Result<(Vec<AuditLine>, hotline_api_types::AuditHead)> {
    let first: AuditLog = c.get(&format!("/v1/audit?after=0&limit={PAGE}"))?;
    let head = first.head;
    let mut lines = first.audit;
    while (lines.len() as u64) < head.count {
        let after = lines.last().map_or(0, |l| l.id);
        let page: AuditLog = c.get(&format!("/v1/audit?after={after}&limit={PAGE}"))?;
        if page.audit.is_empty() {
            break;
        }
        lines.extend(page.audit);
    }
    lines.truncate(head.count as usize);
    Ok((lines, head))
}
