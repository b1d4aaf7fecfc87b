//! `hotline`: set up and run a station, and work the line through its API.
//!
//! Exit codes scripts can rely on:
//! 0 success; 1 a check failed (fingerprint mismatch, transcript or audit log
//! does not verify); 2 usage error; 3 the station is not reachable; 4 the
//! station refused the request (state, role, unknown name…); 5 anything else.
#![forbid(unsafe_code)]

mod bench;
mod client;
mod demo;
mod out;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use client::{Client, Failure};
use serde_json::{json, Value};
use std::path::PathBuf;

const AFTER_HELP: &str = "Exit codes: 0 ok · 1 check failed (fingerprint, verify) · 2 usage · 3 station not reachable · 4 refused by the station · 5 other error.
A running station is needed for every command except init, id, serve, demo, bench and the verify commands.
Start with `hotline demo` to see two stations working, or read README.md for a walkthrough.";

/// hotline — a secure, always-tested, auditable direct line between two organisations.
#[derive(Parser)]
#[command(name = "hotline", version, after_help = AFTER_HELP)]
struct Cli {
    /// The station's data directory.
    #[arg(
        long,
        global = true,
        env = "HOTLINE_DATA",
        default_value = "hotline-data"
    )]
    data: PathBuf,
    /// API token to act with (default: DATA/admin.token).
    #[arg(long, global = true, env = "HOTLINE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a station: keys (mode 0600), database, config and an admin token. Prints the identity token.
    Init {
        /// The station's name, shown to people.
        #[arg(long)]
        name: String,
        /// Where to listen for peers.
        #[arg(long, default_value = hotline_station::config::DEFAULT_LISTEN)]
        listen: String,
        /// Where the local HTTP API and console listen (keep it on loopback).
        #[arg(long, default_value = hotline_station::config::DEFAULT_API)]
        api: String,
    },
    /// Print this station's identity token, or its fingerprint to read to the counterpart.
    Id {
        /// Print the 12×5-digit fingerprint instead of the token.
        #[arg(long)]
        fingerprint: bool,
    },
    /// Run the station in the foreground (Ctrl-C or SIGTERM: drain, commit, exit 0).
    Serve {
        /// Program to run for every alert, with the alert as JSON on stdin (overrides the config).
        #[arg(long)]
        alert_hook: Option<String>,
    },
    /// Two stations on loopback with a verified channel and their consoles, in one command.
    Demo,
    /// Measure durable messages per second and latency between two station processes.
    Bench(bench::BenchArgs),
    /// Pin, list and verify counterpart stations.
    #[command(subcommand)]
    Peer(PeerCmd),
    /// Open, accept, list and show channels.
    #[command(subcommand)]
    Channel(ChannelCmd),
    /// Send a message; prints the entry hash.
    Send {
        /// Channel id.
        channel: String,
        /// flash, immediate, priority or routine.
        #[arg(long, default_value = "routine")]
        precedence: String,
        /// One-line subject.
        #[arg(long, default_value = "")]
        subject: String,
        /// The text, or - to read it from standard input.
        text: String,
    },
    /// Counterpart messages by precedence, with their acknowledgement state.
    Inbox {
        /// Only this channel.
        channel: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a counterpart entry (a person has read it).
    Ack {
        /// The entry's hash.
        entry: String,
    },
    /// Ask the counterpart for a decision by a deadline; prints the entry hash.
    Request {
        /// Channel id.
        channel: String,
        /// A duration (10m, 48h) or an RFC 3339 time.
        #[arg(long)]
        deadline: String,
        /// What this station does if no decision arrives in time: alert, suspend or terminate.
        #[arg(long, default_value = "alert")]
        on_miss: String,
        /// An answer to offer (repeat for several).
        #[arg(long = "option")]
        options: Vec<String>,
        /// The question.
        question: String,
    },
    /// Answer a counterpart's request; prints the entry hash.
    Decide {
        /// The request's hash.
        entry: String,
        /// Option number (1-based) or text.
        #[arg(long)]
        choice: String,
        /// Explanation.
        #[arg(long, default_value = "")]
        text: String,
    },
    /// Suspend substantive traffic on a channel until this station resumes.
    Suspend(ReasonArgs),
    /// Lift this station's suspension.
    Resume {
        /// Channel id.
        channel: String,
    },
    /// End a channel for good.
    Terminate(ReasonArgs),
    /// Record how an entry reads in another language; prints the entry hash.
    Translate {
        /// The entry's hash.
        entry: String,
        /// Language tag, e.g. en, ru, uk.
        #[arg(long)]
        lang: String,
        /// The rendering.
        text: String,
    },
    /// List alerts with their cause and whether cleared.
    Alerts {
        /// Only open alerts.
        #[arg(long)]
        open: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Manage API users.
    #[command(subcommand)]
    User(UserCmd),
    /// Export and verify the local audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Export and verify transcripts for oversight.
    #[command(subcommand)]
    Transcript(TranscriptCmd),
}

#[derive(Args)]
struct ReasonArgs {
    /// Channel id.
    channel: String,
    /// Why.
    #[arg(long, default_value = "")]
    reason: String,
}

#[derive(Subcommand)]
enum PeerCmd {
    /// Pin a counterpart's identity token with its addresses (primary first).
    Add {
        /// Local name for the peer.
        name: String,
        /// Its identity token (hotline1…).
        #[arg(long)]
        key: String,
        /// HOST:PORT where it listens (repeat: primary first).
        #[arg(long = "addr", required = true)]
        addrs: Vec<String>,
        /// Releasability code (e.g. UKR, ACME).
        #[arg(long)]
        rel: Option<String>,
    },
    /// Confirm a peer's fingerprint as read out of band; exit 1 on mismatch.
    Verify {
        /// The peer's name.
        name: String,
        /// The 60 digits the counterpart read to you (spaces optional).
        #[arg(long)]
        fingerprint: String,
    },
    /// List pinned peers.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ChannelCmd {
    /// Propose a channel to a peer; prints the channel id as its last line.
    Open {
        /// The peer's name.
        peer: String,
        /// Contact check cadence, e.g. 1h, 10m, 2s.
        #[arg(long, conflicts_with = "contact_at")]
        contact_every: Option<String>,
        /// Fixed UTC contact times, e.g. 09:00,17:00.
        #[arg(long)]
        contact_at: Option<String>,
        /// Grace factor before contact-missed (default 1.5).
        #[arg(long)]
        contact_grace: Option<f64>,
        /// Acknowledgement window per precedence, e.g. flash=10m (repeatable).
        #[arg(long = "ack-window")]
        ack_windows: Vec<String>,
        /// Largest entry either side may send, in bytes.
        #[arg(long)]
        max_entry_bytes: Option<u64>,
        /// The ended channel this one continues.
        #[arg(long)]
        reopens: Option<String>,
    },
    /// Accept a proposed channel; fails while the proposal has not arrived.
    Accept {
        /// Channel id.
        channel: String,
    },
    /// List channels.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show a channel: state, terms, health, delivery.
    Show {
        /// Channel id.
        channel: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user; prints the new token once.
    Add {
        /// Name.
        name: String,
        /// principal, operator, auditor or admin.
        #[arg(long)]
        role: String,
    },
    /// List users.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a user's token.
    Revoke {
        /// Name.
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Write the audit log as JSON Lines.
    Export {
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check an exported audit log's hash chain, offline.
    Verify {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum TranscriptCmd {
    /// Write a self-contained, verifiable transcript of a channel.
    Export {
        /// Channel id.
        channel: String,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Verify an exported transcript offline; exit 0 only when everything verifies.
    Verify {
        /// The file.
        file: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HOTLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let code = match run(cli) {
        Ok(()) => 0,
        Err(e) => {
            let code = e.downcast_ref::<Failure>().map(|f| f.code()).unwrap_or(5);
            eprintln!("hotline: {e:#}");
            code
        }
    };
    std::process::exit(code);
}

fn write_out(output: Option<PathBuf>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(p) => {
            let tmp = p.with_extension("tmp");
            std::fs::write(&tmp, text)
                .with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, &p).with_context(|| format!("cannot write {}", p.display()))?;
            eprintln!("wrote {}", p.display());
            Ok(())
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn read_file(p: &PathBuf) -> anyhow::Result<String> {
    std::fs::read_to_string(p)
        .map_err(|e| Failure::Check(format!("cannot read {}: {e}", p.display())).into())
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let data = cli.data.clone();
    let client = || Client::new(&data, cli.token.clone());
    match cli.cmd {
        Cmd::Init { name, listen, api } => {
            let i = hotline_station::init(&data, &name, &listen, &api)
                .map_err(|e| Failure::Refused(e.to_string()))?;
            eprintln!("station {name:?} created in {}", data.display());
            eprintln!("fingerprint  {}", i.fingerprint);
            eprintln!("admin token  in {}", data.join("admin.token").display());
            eprintln!(
                "next: give your identity token (below) to the counterpart, then `hotline serve`"
            );
            println!("{}", i.token);
        }
        Cmd::Id { fingerprint } => {
            let keys = hotline_station::DataDir(data)
                .load_keys()
                .map_err(|e| Failure::Refused(e.to_string()))?;
            let id = keys.identity();
            if fingerprint {
                println!("{}", id.fingerprint());
            } else {
                println!("{}", id.token());
            }
        }
        Cmd::Serve { alert_hook } => serve(&data, alert_hook)?,
        Cmd::Demo => demo::run()?,
        Cmd::Bench(args) => bench::run(args)?,
        Cmd::Peer(p) => peer(client()?, p)?,
        Cmd::Channel(c) => channel(client()?, c)?,
        Cmd::Send {
            channel,
            precedence,
            subject,
            text,
        } => {
            let text = if text == "-" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
                s
            } else {
                text
            };
            let c = client()?;
            let r = c.post(
                &format!("/v1/channels/{channel}/messages"),
                json!({"precedence": precedence, "subject": subject, "text": text}),
            )?;
            println!("{}", r["hash"].as_str().unwrap_or_default());
        }
        Cmd::Inbox { channel, json } => inbox(client()?, channel, json)?,
        Cmd::Ack { entry } => {
            let c = client()?;
            let e = c.get(&format!("/v1/entries/{entry}"))?;
            let ch = e["channel"].as_str().unwrap_or_default().to_owned();
            let r = c.post(&format!("/v1/channels/{ch}/acks"), json!({"of": entry}))?;
            println!("{}", r["hash"].as_str().unwrap_or_default());
        }
        Cmd::Request {
            channel,
            deadline,
            on_miss,
            options,
            question,
        } => {
            let r = client()?.post(
                &format!("/v1/channels/{channel}/requests"),
                json!({"question": question, "options": options, "deadline": deadline, "on_miss": on_miss}),
            )?;
            println!("{}", r["hash"].as_str().unwrap_or_default());
        }
        Cmd::Decide {
            entry,
            choice,
            text,
        } => {
            let c = client()?;
            let e = c.get(&format!("/v1/entries/{entry}"))?;
            let ch = e["channel"].as_str().unwrap_or_default().to_owned();
            let r = c.post(
                &format!("/v1/channels/{ch}/decisions"),
                json!({"request": entry, "choice": choice, "text": text}),
            )?;
            println!("{}", r["hash"].as_str().unwrap_or_default());
        }
        Cmd::Suspend(a) => {
            let r = client()?.post(
                &format!("/v1/channels/{}/suspend", a.channel),
                json!({"reason": a.reason}),
            )?;
            println!("{}", r["hash"].as_str().unwrap_or_default());
        }
        Cmd::Resume { channel } => {
            let r = client()?.post(&format!("/v1/channels/{channel}/resume"), json!({}))?;
            println!("{}", r["hash"].as_str().unwrap_or_default());
        }
        Cmd::Terminate(a) => {
            let r = client()?.post(
                &format!("/v1/channels/{}/terminate", a.channel),
                json!({"reason": a.reason}),
            )?;
            println!("{}", r["hash"].as_str().unwrap_or_default());
        }
        Cmd::Translate { entry, lang, text } => {
            let c = client()?;
            let e = c.get(&format!("/v1/entries/{entry}"))?;
            let ch = e["channel"].as_str().unwrap_or_default().to_owned();
            let r = c.post(
                &format!("/v1/channels/{ch}/translations"),
                json!({"of": entry, "lang": lang, "text": text}),
            )?;
            println!("{}", r["hash"].as_str().unwrap_or_default());
        }
        Cmd::Alerts { open, json } => {
            let r = client()?.get(&format!("/v1/alerts?open={open}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r["alerts"])?);
            } else {
                out::alerts(&r["alerts"]);
            }
        }
        Cmd::User(u) => user(client()?, u)?,
        Cmd::Audit(AuditCmd::Export { output }) => {
            let r = client()?.get("/v1/audit")?;
            let mut text = String::new();
            for l in r["audit"].as_array().into_iter().flatten() {
                text.push_str(&l.to_string());
                text.push('\n');
            }
            write_out(output, &text)?;
        }
        Cmd::Audit(AuditCmd::Verify { file }) => {
            let text = read_file(&file)?;
            let n = hotline_core::audit::verify(&text)
                .map_err(|f| Failure::Check(format!("{}: {f}", file.display())))?;
            println!("ok: {n} audit lines, hash chain intact");
        }
        Cmd::Transcript(TranscriptCmd::Export { channel, output }) => {
            let text = client()?.get_text(&format!("/v1/channels/{channel}/export"))?;
            write_out(output, &text)?;
        }
        Cmd::Transcript(TranscriptCmd::Verify { file }) => {
            let text = read_file(&file)?;
            let s = hotline_core::export::verify(&text)
                .map_err(|f| Failure::Check(format!("{} does not verify: {f}", file.display())))?;
            println!("{s}");
            println!("ok: the transcript verifies");
        }
    }
    Ok(())
}

/// Writes a line to stderr, ignoring failure: a full disk under the log file
/// must not take the station down (`eprintln!` would panic).
macro_rules! note {
    ($($t:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

fn serve(data: &std::path::Path, hook: Option<String>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let stop = shutdown_signal();
        tokio::pin!(stop);
        let mut backoff = std::time::Duration::from_secs(1);
        loop {
            let st = match hotline_station::Station::start(data, hook.clone()).await {
                Ok(st) => st,
                Err(e @ hotline_station::StationError::Storage(_)) => {
                    // Storage unusable (e.g. disk full at start-up): keep trying, nothing is served meanwhile.
                    note!("hotline: cannot start: {e}; retrying in {} s", backoff.as_secs());
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut stop => return Ok(()),
                    }
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(30));
                    continue;
                }
                Err(e) => return Err(Failure::Refused(e.to_string()).into()),
            };
            note!("hotline: station serving; API http://{} · link {} · Ctrl-C to stop", st.api_addr(), st.link_addr());
            tokio::select! {
                _ = &mut stop => {
                    note!("hotline: stopping: draining and committing");
                    st.stop().await;
                    return Ok::<_, anyhow::Error>(());
                }
                _ = st.failed() => {
                    note!("hotline: a commit failed; restarting from what is on disk in {} s", backoff.as_secs());
                    st.stop().await;
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut stop => return Ok(()),
                    }
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(30));
                }
            }
        }
    })
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn peer(c: Client, p: PeerCmd) -> anyhow::Result<()> {
    match p {
        PeerCmd::Add {
            name,
            key,
            addrs,
            rel,
        } => {
            let r = c.post(
                "/v1/peers",
                json!({"name": name, "key": key, "addrs": addrs, "rel": rel}),
            )?;
            println!(
                "pinned {} (unverified): fingerprint {}",
                name,
                r["fingerprint"].as_str().unwrap_or_default()
            );
            println!(
                "confirm it out of band, then: hotline peer verify {name} --fingerprint \"…\""
            );
        }
        PeerCmd::Verify { name, fingerprint } => match c.post(
            &format!("/v1/peers/{name}/verify"),
            json!({"fingerprint": fingerprint}),
        ) {
            Ok(_) => println!("{name} verified"),
            Err(e) => match e.downcast_ref::<Failure>() {
                Some(Failure::Refused(m)) if m.contains("does not match") => {
                    return Err(Failure::Check(m.clone()).into())
                }
                _ => return Err(e),
            },
        },
        PeerCmd::List { json } => {
            let r = c.get("/v1/peers")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r["peers"])?);
            } else {
                out::peers(&r["peers"]);
            }
        }
    }
    Ok(())
}

fn channel(c: Client, cmd: ChannelCmd) -> anyhow::Result<()> {
    match cmd {
        ChannelCmd::Open {
            peer,
            contact_every,
            contact_at,
            contact_grace,
            ack_windows,
            max_entry_bytes,
            reopens,
        } => {
            let mut windows = serde_json::Map::new();
            for w in ack_windows {
                let (p, d) = w.split_once('=').ok_or_else(|| {
                    Failure::Usage(format!(
                        "--ack-window {w:?}: use PRECEDENCE=DURATION, e.g. flash=10m"
                    ))
                })?;
                windows.insert(p.to_owned(), Value::String(d.to_owned()));
            }
            let r = c.post(
                "/v1/channels",
                json!({"peer": peer, "contact_every": contact_every, "contact_at": contact_at, "contact_grace": contact_grace,
                       "ack_windows": windows, "max_entry_bytes": max_entry_bytes, "reopens": reopens}),
            )?;
            if r["proposal_delivered"] == true {
                eprintln!("proposed to {peer} (delivered); it becomes active when they run `hotline channel accept`");
            } else {
                eprintln!("proposed to {peer}; not delivered yet (is the link up?): it goes out when the link is up");
            }
            println!("{}", r["id"].as_str().unwrap_or_default());
        }
        ChannelCmd::Accept { channel } => {
            c.post(&format!("/v1/channels/{channel}/accept"), json!({}))?;
            println!("{channel} accepted");
        }
        ChannelCmd::List { json } => {
            let r = c.get("/v1/channels")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r["channels"])?);
            } else {
                out::channels(&r["channels"]);
            }
        }
        ChannelCmd::Show { channel, json } => {
            let r = c.get(&format!("/v1/channels/{channel}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                out::channel(&r);
            }
        }
    }
    Ok(())
}

fn inbox(c: Client, only: Option<String>, json: bool) -> anyhow::Result<()> {
    let chans: Vec<String> = match only {
        Some(ch) => vec![ch],
        None => c.get("/v1/channels")?["channels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["id"].as_str().map(String::from))
            .collect(),
    };
    let mut items = Vec::new();
    for ch in chans {
        for e in c.all_entries(&ch)? {
            if e["kind"] == "message" && e["own"] == false {
                let mut e = e;
                e["channel"] = Value::String(ch.clone());
                items.push(e);
            }
        }
    }
    let rank = |p: &str| {
        ["flash", "immediate", "priority", "routine"]
            .iter()
            .position(|x| *x == p)
            .unwrap_or(4)
    };
    items.sort_by_key(|e| {
        (
            rank(e["body"]["precedence"].as_str().unwrap_or("")),
            std::cmp::Reverse(e["stored_at"].as_u64().unwrap_or(0)),
        )
    });
    if json {
        println!("{}", serde_json::to_string_pretty(&items)?);
    } else {
        out::inbox(&items);
    }
    Ok(())
}

fn user(c: Client, u: UserCmd) -> anyhow::Result<()> {
    match u {
        UserCmd::Add { name, role } => {
            let r = c.post("/v1/users", json!({"name": name, "role": role}))?;
            eprintln!("user {name} ({role}) created; the token is shown once:");
            println!("{}", r["token"].as_str().unwrap_or_default());
        }
        UserCmd::List { json } => {
            let r = c.get("/v1/users")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r["users"])?);
            } else {
                for u in r["users"].as_array().into_iter().flatten() {
                    println!(
                        "{:<20} {:<10} {}",
                        u["name"].as_str().unwrap_or(""),
                        u["role"].as_str().unwrap_or(""),
                        if u["revoked_at"].is_null() {
                            "active"
                        } else {
                            "revoked"
                        }
                    );
                }
            }
        }
        UserCmd::Revoke { name } => {
            c.post(&format!("/v1/users/{name}/revoke"), json!({}))?;
            println!("{name} revoked");
        }
    }
    Ok(())
}
