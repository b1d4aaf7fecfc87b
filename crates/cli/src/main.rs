//! `hotline`: set up and run a station, and work the line through its API.
//!
//! Exit codes scripts can rely on:
//! 0 success; 1 a check failed (fingerprint mismatch, transcript or audit log
//! does not verify); 2 usage error; 3 the station is not reachable; 4 the
//! station refused the request (state, role, unknown name…); 5 anything else,
//! including an answer from the station this command cannot read.
#![forbid(unsafe_code)]

mod bench;
mod cli;
mod client;
mod cmd;
mod demo;
mod doctor;
mod log;
mod out;
mod serve;
mod systemd;

use clap::Parser;
use cli::{Cli, Cmd};
use client::{Client, Failure};

fn main() {
    let cli = Cli::parse();
    let level = log::init(cli.log_format);
    let code = match run(cli, level) {
        Ok(()) => 0,
        Err(e) => {
            let code = e.downcast_ref::<Failure>().map(|f| f.code()).unwrap_or(5);
            // A refusal may quote what the other side sent.
            eprintln!("hotline: {}", out::escaped(&format!("{e:#}")));
            code
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli, level: log::Level) -> anyhow::Result<()> {
    let data = cli.data;
    let config = cli.config;
    let token = cli.token;
    let client = || Client::new(&data, config.as_deref(), token.clone());
    match cli.cmd {
        Cmd::Init {
            name,
            listen,
            api,
            store,
        } => cmd::station::init(&data, &name, &listen, &api, store.as_deref()),
        Cmd::Status { json } => cmd::station::status(&client()?, json),
        Cmd::Id { fingerprint } => cmd::station::id(&data, fingerprint),
        Cmd::Serve {
            alert_hook,
            dial_only,
        } => serve::run(&data, config.as_deref(), alert_hook, dial_only, &level),
        Cmd::Doctor { json } => doctor::run(&data, config.as_deref(), token, json),
        Cmd::Demo => demo::run(),
        Cmd::Bench(args) => bench::run(args),
        Cmd::Completions { shell } => {
            use clap::CommandFactory;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "hotline", &mut script);
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
            Ok(())
        }
        Cmd::Man { dir } => cmd::station::man(&dir),
        Cmd::Openapi => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::Write::write_all(
                &mut std::io::stdout(),
                hotline_station::api::openapi_document().as_bytes(),
            );
            Ok(())
        }
        Cmd::Peer(p) => cmd::peer::run(client()?, p),
        Cmd::Bundle(b) => cmd::bundle::run(&client()?, b),
        Cmd::Witness(cli::WitnessCmd::Init { name, listen }) => {
            let vkey = hotline_station::witness::init(&data, &name, &listen)
                .map_err(|e| Failure::Usage(e.to_string()))?;
            eprintln!(
                "witness {name} in {}: run `hotline --data {} witness serve`; stations and verifiers name it by this key:",
                data.display(),
                data.display()
            );
            println!("{vkey}");
            Ok(())
        }
        Cmd::Witness(cli::WitnessCmd::Serve) => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(hotline_station::witness::serve(&data))
                .map_err(|e| Failure::Refused(e.to_string()).into())
        }
        Cmd::Witness(cli::WitnessCmd::Add { url, key }) => {
            cmd::witness::add(&client()?, &url, &key)
        }
        Cmd::Witness(cli::WitnessCmd::List { json }) => cmd::witness::list(&client()?, json),
        Cmd::Keys(k) => cmd::keys::run(client()?, k),
        Cmd::Channel(c) => cmd::channel::run(client()?, c),
        Cmd::Send {
            channel,
            precedence,
            subject,
            text,
        } => cmd::entry::send(&client()?, &channel, precedence, subject, text),
        Cmd::Inbox { channel, json } => cmd::entry::inbox(&client()?, channel, json),
        Cmd::Ack { entry } => cmd::entry::ack(&client()?, entry),
        Cmd::Request {
            channel,
            deadline,
            on_miss,
            options,
            question,
        } => cmd::entry::request(&client()?, &channel, deadline, on_miss, options, question),
        Cmd::Decide {
            entry,
            choice,
            text,
        } => cmd::entry::decide(&client()?, entry, choice, text),
        Cmd::Suspend(a) => cmd::entry::suspend(&client()?, &a.channel, a.reason),
        Cmd::Resume { channel } => cmd::entry::resume(&client()?, &channel),
        Cmd::Terminate(a) => cmd::entry::terminate(&client()?, &a.channel, a.reason),
        Cmd::Notice {
            channel,
            notice_type,
            file,
        } => cmd::entry::notice(&client()?, &channel, notice_type, &file),
        Cmd::Translate { entry, lang, text } => {
            cmd::entry::translate(&client()?, entry, lang, text)
        }
        Cmd::Alerts {
            action: Some(cli::AlertsCmd::Ack { id, note }),
            json,
            ..
        } => cmd::alerts::ack(&client()?, id, &note, json),
        Cmd::Alerts {
            action: None,
            open,
            json,
        } => cmd::alerts::run(&client()?, open, json),
        Cmd::Evidence { channel, json } => cmd::alerts::evidence(&client()?, channel, json),
        Cmd::User(u) => cmd::user::run(client()?, u, &data),
        Cmd::Share(s) => cmd::share::run(&client()?, s),
        Cmd::Login => cmd::station::login(&data, config.as_deref()),
        Cmd::Logout => cmd::station::logout(&data),
        Cmd::Backup { out, include_keys } => cmd::station::backup(&data, &out, include_keys),
        Cmd::Restore {
            file,
            keys,
            listen,
            api,
        } => cmd::station::restore(&file, &data, keys, listen, api),
        Cmd::Audit(a) => cmd::audit::run(client, a),
        Cmd::Transcript(t) => cmd::transcript::run(client, t),
    }
}
