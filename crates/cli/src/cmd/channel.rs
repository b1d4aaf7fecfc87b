//! `channel open`, `channel accept`, `channel list`, `channel show`.

use super::print_json;
use crate::cli::ChannelCmd;
use crate::client::{Client, Failure};
use crate::out;
use hotline_api_types::{Channel, Channels, Created, Empty, OpenChannel};
use std::collections::BTreeMap;

/// Runs a `channel` subcommand.
pub fn run(c: Client, cmd: ChannelCmd) -> anyhow::Result<()> {
    match cmd {
        ChannelCmd::Open {
            peer,
            contact_every,
            contact_at,
            contact_grace,
            ack_windows,
            max_entry_bytes,
            reopens,
            notice_types,
        } => {
            let mut windows = BTreeMap::new();
            for w in ack_windows {
                let (p, d) = w.split_once('=').ok_or_else(|| {
                    Failure::Usage(format!(
                        "--ack-window {w:?}: use PRECEDENCE=DURATION, e.g. flash=10m"
                    ))
                })?;
                windows.insert(p.to_owned(), d.to_owned());
            }
            let body = OpenChannel {
                peer: peer.clone(),
                contact_every,
                contact_at,
                contact_grace,
                ack_windows: windows,
                max_entry_bytes,
                languages: None,
                reopens,
                notice_types: (!notice_types.is_empty()).then_some(notice_types),
            };
            let r: Channel = c.post("/v1/channels", &body)?;
            if r.proposal_delivered == Some(true) {
                eprintln!("proposed to {peer} (delivered); it becomes active when they run `hotline channel accept`");
            } else {
                eprintln!("proposed to {peer}; not delivered yet (is the link up?): it goes out when the link is up");
            }
            println!("{}", r.id);
        }
        ChannelCmd::Accept { channel } => {
            let _: Created = c.post(&format!("/v1/channels/{channel}/accept"), &Empty {})?;
            println!("{channel} accepted");
        }
        ChannelCmd::List { json } => {
            let r: Channels = c.get("/v1/channels")?;
            if json {
                print_json(&r.channels)?;
            } else {
                out::channels(&r.channels);
            }
        }
        ChannelCmd::Show { channel, json } => {
            let r: Channel = c.get(&format!("/v1/channels/{channel}"))?;
            if json {
                print_json(&r)?;
            } else {
                out::channel(&r)?;
            }
        }
    }
    Ok(())
}
