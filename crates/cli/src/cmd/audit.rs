//! `audit export`, `audit verify`.

use super::{read_file, write_out};
use crate::cli::AuditCmd;
use crate::client::{Client, Failure};
use hotline_api_types::AuditLog;

/// Runs an `audit` subcommand; only `export` needs the station.
pub fn run(client: impl FnOnce() -> anyhow::Result<Client>, cmd: AuditCmd) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::Export { output } => {
            let r: AuditLog = client()?.get("/v1/audit")?;
            let mut text = String::new();
            for l in &r.audit {
                text.push_str(&serde_json::to_string(l)?);
                text.push('\n');
            }
            write_out(output, &text)
        }
        AuditCmd::Verify { file } => {
            let text = read_file(&file)?;
            let n = hotline_core::audit::verify(&text)
                .map_err(|f| Failure::Check(format!("{}: {f}", file.display())))?;
            println!("ok: {n} audit lines, hash chain intact");
            Ok(())
        }
    }
}
