//! `transcript export`, `transcript verify`.

use super::{read_file, write_out};
use crate::cli::TranscriptCmd;
use crate::client::{Client, Failure};

/// Runs a `transcript` subcommand; only `export` needs the station.
pub fn run(
    client: impl FnOnce() -> anyhow::Result<Client>,
    cmd: TranscriptCmd,
) -> anyhow::Result<()> {
    match cmd {
        TranscriptCmd::Export { channel, output } => {
            let text = client()?.get_text(&format!("/v1/channels/{channel}/export"))?;
            write_out(output, &text)
        }
        TranscriptCmd::Verify { file } => {
            let text = read_file(&file)?;
            let s = hotline_core::export::verify(&text)
                .map_err(|f| Failure::Check(format!("{} does not verify: {f}", file.display())))?;
            println!("{s}");
            println!("ok: the transcript verifies");
            Ok(())
        }
    }
}
