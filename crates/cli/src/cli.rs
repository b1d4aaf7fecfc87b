//! The command line: every command, flag and help text, and nothing else.
//! What a command does lives in `cmd/`, `serve.rs`, `demo.rs` and `bench.rs`.

use clap::{Args, Parser, Subcommand};
use hotline_core::export::KnownKey;
use std::path::PathBuf;

const AFTER_HELP: &str = "Exit codes: 0 ok · 1 check failed (fingerprint, verify, doctor) · 2 usage · 3 station not reachable · 4 refused by the station · 5 other error.
A running station is needed for every command except init, id, serve, doctor, demo, bench and the verify commands.
Start with `hotline demo` to see two stations working, or read README.md for a walkthrough.";

/// The log's format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object a line.
    Json,
}

/// hotline — a secure, always-tested, auditable direct line between two organisations.
#[derive(Parser)]
#[command(name = "hotline", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The station's data directory.
    #[arg(
        long,
        global = true,
        env = "HOTLINE_DATA",
        default_value = "hotline-data"
    )]
    pub data: PathBuf,
    /// The config file, when it is not DATA/config.toml (e.g.
    /// /etc/hotline/config.toml): `serve` runs with it, `doctor` checks it,
    /// and the other commands read the API's address from it.
    #[arg(long, global = true, env = "HOTLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// API token to act with (default: DATA/admin.token).
    #[arg(long, global = true, env = "HOTLINE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// How the log on stderr is written: text (coloured only on a terminal),
    /// or json (one object a line, for log shippers). The level is
    /// HOTLINE_LOG, else the config's `log` key, else info.
    #[arg(
        long,
        global = true,
        env = "HOTLINE_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
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
        /// Where to keep the data: `sqlite` (the file hotline.db in the data
        /// directory) or a PostgreSQL URL, libpq's multi-host form included
        /// (postgresql://db1,db2/hotline?target_session_attrs=read-write).
        /// Written to the config as `store`. A database that already holds
        /// a station is refused: a standby takes a copy of the leader's
        /// data directory instead (docs/OPERATIONS.md).
        #[arg(long, env = "HOTLINE_STORE", value_name = "URL")]
        store: Option<String>,
    },
    /// This station's state: name, health, storage backend and, on a
    /// shared PostgreSQL database, its role (leader or standby), the
    /// lease's epoch, holder and expiry.
    Status {
        /// Machine-readable output (the body of GET /v1/health).
        #[arg(long)]
        json: bool,
    },
    /// Print this station's identity token, or its fingerprint to read to the counterpart.
    Id {
        /// Print the 12×5-digit fingerprint instead of the token.
        #[arg(long)]
        fingerprint: bool,
    },
    /// Run the station in the foreground (Ctrl-C or SIGTERM: drain, commit, exit 0).
    ///
    /// Reads DATA/config.toml, or the file given with --config. SIGHUP
    /// reloads that file: alert_hook, api_hosts, log and every [tuning] key
    /// take effect; name, listen and api wait for a restart. A file that
    /// does not check is refused, naming its line, and the running
    /// configuration is kept.
    ///
    /// Under systemd (Type=notify, see dist/hotline.service) it reports
    /// READY=1 once the link and the API listen, STATUS= lines, STOPPING=1,
    /// and feeds WatchdogSec= from its policy loop.
    Serve {
        /// Program to run for every alert, with the alert as JSON on stdin
        /// (wins over the config's alert_hook, through reloads too).
        #[arg(long)]
        alert_hook: Option<String>,
        /// Never listen for peers (config `dial_only = true`): dial each peer
        /// and carry both directions on that one connection, for a site that
        /// can only connect outwards. The counterpart pins this station with
        /// no address.
        #[arg(long)]
        dial_only: bool,
    },
    /// Check a station's installation and, when it runs, its line; exit 1 if any check fails.
    ///
    /// One line per check: `ok|warn|fail  CHECK  DETAIL`. Without a running
    /// station: the config parses and is within bounds; identity.key and
    /// admin.token are private to their owner (0600) and the data directory
    /// is too (0700); free space on the data directory's file system (warn
    /// below 1 GiB or 5 %, fail below 100 MiB); the database's schema
    /// version (read only: older is migrated at the next start, newer is
    /// refused). With the station running (its API answers the admin
    /// token): its health, each peer's link, its clock against each peer's
    /// as their last handshake showed, and whether each peer address takes
    /// a TCP connection.
    ///
    /// Example: hotline --data /var/lib/hotline doctor --config /etc/hotline/config.toml
    Doctor {
        /// One JSON object: every check with its status and detail.
        #[arg(long)]
        json: bool,
    },
    /// Two stations on loopback with a verified channel and their consoles, in one command.
    Demo,
    /// Measure durable messages per second and latency between two station processes.
    Bench(crate::bench::BenchArgs),
    /// Print a shell completion script, e.g. `hotline completions bash > /etc/bash_completion.d/hotline`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Write a man page for `hotline` and each subcommand into DIR (as `dist/man/` holds them).
    Man {
        /// Where to write them (created if missing).
        dir: PathBuf,
    },
    /// Print the station API's OpenAPI 3.1 document: its contract.
    ///
    /// The document every station serves at `GET /v1/openapi.json`, and
    /// `docs/openapi.json` holds; no station is needed to print it.
    Openapi,
    /// Pin, list and verify counterpart stations.
    #[command(subcommand)]
    Peer(PeerCmd),
    /// The courier transport: entries carried to a peer in files (removable
    /// media, a one-way data diode) instead of, or beside, the network link.
    #[command(subcommand)]
    Bundle(BundleCmd),
    /// An independent witness of hotline logs (C2SP tlog-witness): it
    /// cosigns each author's checkpoints only while they stay consistent,
    /// so that a station showing two histories is caught.
    #[command(subcommand)]
    Witness(WitnessCmd),
    /// This station's keys: list them, or rotate to new ones.
    #[command(subcommand)]
    Keys(KeysCmd),
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
    /// Send a structured notice of one of the channel's agreed types
    /// (`channel open --notice-types`); prints the entry hash. The notice is
    /// JSON matching the type's schema, checked here and by the peer.
    #[command(
        after_help = "Example:\n  hotline notice CHANNEL --type incident-report/1 report.json\n\n\
        The types hotline ships are incident-report/1, launch-notification/1,\n\
        exercise-notification/1 and ceasefire-violation/1 (schemas/ in the source;\n\
        `hotline channel show CHANNEL --json` prints a channel's agreed schemas)."
    )]
    Notice {
        /// Channel id.
        channel: String,
        /// The notice type, NAME/VERSION, e.g. incident-report/1.
        #[arg(long = "type", value_name = "NAME/VERSION")]
        notice_type: String,
        /// A file holding the notice as JSON, or - to read it from standard input.
        file: String,
    },
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
    /// Show equivocation evidence: two different entries the counterpart signed
    /// with one sequence number, both kept (also in `transcript export`).
    Evidence {
        /// Only this channel's (64 hex); every channel's when left out.
        channel: Option<String>,
        /// Machine-readable output, with both envelopes in base64.
        #[arg(long)]
        json: bool,
    },
    /// List alerts with their cause and whether cleared; `alerts ack ID --note …`
    /// says someone is on one.
    Alerts {
        #[command(subcommand)]
        action: Option<AlertsCmd>,
        /// Only open alerts.
        #[arg(long)]
        open: bool,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Act as a user of your own from now on: reads their token from standard
    /// input, checks it, and keeps it (0600) in DATA/login.token, which the CLI
    /// then prefers to the admin's token.
    Login,
    /// Forget the token `login` kept; the CLI acts as the admin again.
    Logout,
    /// Take a consistent backup of the station in --data, running or not:
    /// the database, the config, and the secret key only if asked. Run it as
    /// the station's user; the file is mode 0600 (it holds every message).
    Backup {
        /// Where to write it (must not exist).
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Put the secret key and the admin token in the backup too. Without
        /// it, keep identity.key somewhere safe apart: a restore needs it.
        #[arg(long)]
        include_keys: bool,
    },
    /// Restore a backup into --data, which must not exist or be empty. The
    /// restored station writes nothing on a channel until the counterpart's
    /// station has sent back what the backup missed of its own entries.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// The key file kept apart, for a backup made without --include-keys.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// A new link address (IP:PORT), when restoring on another host.
        #[arg(long)]
        listen: Option<String>,
        /// A new API address (IP:PORT).
        #[arg(long)]
        api: Option<String>,
    },
    /// Share reports with partners (SPEC §7): publish, release, pause, resume.
    #[command(subcommand)]
    Share(ShareCmd),
    /// Manage API users.
    #[command(subcommand)]
    User(UserCmd),
    /// Export and verify the local audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Export, verify and compare transcripts for oversight.
    #[command(subcommand)]
    Transcript(TranscriptCmd),
}

#[derive(Args)]
pub struct ReasonArgs {
    /// Channel id.
    pub channel: String,
    /// Why.
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Subcommand)]
pub enum ShareCmd {
    /// Publish a report to every partner whose releasability code is in
    /// --rel-to (the release guard decides; TLP:RED goes to no one until
    /// `share release`). Prints the report id (64 hex) as its last line.
    Publish {
        /// Releasability codes it may go to, comma-separated (e.g. UKR,GBR).
        #[arg(long = "rel-to", value_delimiter = ',', required = true)]
        rel_to: Vec<String>,
        /// TLP 2.0 marking: clear, green, amber, amber+strict or red.
        #[arg(long, default_value = "amber")]
        tlp: String,
        /// Title shown to partners (default: the file's name).
        #[arg(long)]
        title: Option<String>,
        /// stix (a STIX 2.1 bundle, validated) or markdown (default: stix
        /// for a .json file, else markdown).
        #[arg(long = "content-type")]
        content_type: Option<String>,
        /// The file, or - for standard input.
        file: String,
    },
    /// Release a report explicitly to one partner: the way for TLP:RED,
    /// still refused outside the report's rel_to.
    Release {
        /// The report id.
        report: String,
        /// The partner's name.
        #[arg(long)]
        to: String,
    },
    /// Pause sharing with a partner: new reports for it are held.
    Pause {
        /// The partner's name.
        peer: String,
        /// Why (written in the transcript).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Resume sharing with a partner; --backfill releases what was held
    /// meanwhile, in publication order; without it, that is dropped.
    Resume {
        /// The partner's name.
        peer: String,
        /// Release the reports held during the pause.
        #[arg(long)]
        backfill: bool,
    },
    /// Per partner: releasability code, paused or active, reports held.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Per report: id, title, TLP, rel_to and what became of it for each partner.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum PeerCmd {
    /// Pin a counterpart's identity token with its addresses (primary first).
    Add {
        /// Local name for the peer.
        name: String,
        /// Its identity token (hotline1…).
        #[arg(long)]
        key: String,
        /// HOST:PORT where it listens (repeat: primary first). Leave it out
        /// for a peer that runs `--dial-only`: it dials this station.
        #[arg(long = "addr")]
        addrs: Vec<String>,
        /// Releasability code (e.g. UKR, ACME).
        #[arg(long)]
        rel: Option<String>,
        /// A file holding an out-of-band pre-shared key agreed with the
        /// counterpart (32 raw bytes, e.g. from `head -c 32 /dev/urandom`,
        /// or 64 hex digits); both sides give the same key. Mixed into every
        /// handshake, beside the ML-KEM exchange.
        #[arg(long, value_name = "FILE")]
        psk_file: Option<std::path::PathBuf>,
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
    /// Change a peer's addresses or releasability code (what is not given is kept).
    Set {
        /// The peer's name.
        name: String,
        /// HOST:PORT where it listens (repeat: primary first); replaces the list.
        #[arg(long = "addr")]
        addrs: Vec<String>,
        /// Releasability code (e.g. UKR, ACME).
        #[arg(long)]
        rel: Option<String>,
        /// Start the stored pre-shared keys again from the key in FILE (see
        /// `peer add --psk-file`); the counterpart does the same with the
        /// same key. To re-pair after a restore from an old backup.
        #[arg(long, value_name = "FILE")]
        psk_file: Option<std::path::PathBuf>,
    },
    /// Withdraw a fingerprint confirmation made in error: its traffic above
    /// ROUTINE is held, and none is sent to it, until it is verified again.
    Unverify {
        /// The peer's name.
        name: String,
    },
    /// Unpin a peer. Refused while a channel with it is not terminated,
    /// unless --force. Its channels keep their record; the name can be
    /// pinned again.
    Remove {
        /// The peer's name.
        name: String,
        /// Remove even with channels not terminated: they carry nothing more.
        #[arg(long)]
        force: bool,
    },
    /// Replace a peer's key outside rotation (its key was lost or
    /// compromised). The new key is pinned unverified; channels bound to the
    /// old key carry nothing more and say so in an alert.
    Repin {
        /// The peer's name.
        name: String,
        /// Its new identity token (hotline1…), read from it out of band.
        #[arg(long)]
        key: String,
    },
}

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Make new Ed25519 and X25519 keys and rotate every channel to them.
    ///
    /// The new keys are written to identity.key (beside the old ones)
    /// first; then each channel not ended gets a KeyRotation entry signed
    /// by the old key and by the new one, and from it on only the new key
    /// signs. Counterparts re-pin from that signed entry: no new
    /// fingerprint call is needed, and their consoles show the change. A
    /// crash in the middle is finished at the next start. Admin only.
    ///
    /// With a standby on a shared database, copy the new identity.key to
    /// its data directory afterwards (docs/OPERATIONS.md).
    Rotate {
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// This station's keys, oldest first, with the KeyRotation entries that
    /// brought each in; the last is the current one.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum ChannelCmd {
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
        /// Structured notice types to agree, e.g. incident-report/1,ceasefire-violation/1:
        /// the ones hotline ships or this station's own in DATA/schemas/NAME/VERSION.json.
        #[arg(long, value_delimiter = ',', value_name = "NAME/VERSION[,…]")]
        notice_types: Vec<String>,
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

/// A witness verifier key, checked when the command line is read.
fn witness_key(s: &str) -> Result<String, String> {
    hotline_core::tlog::WitnessVerifier::parse(s.trim())
        .map(|_| s.trim().to_owned())
        .ok_or_else(|| {
            "not a witness verifier key (NAME+ID+KEY, as `hotline witness init` prints it)".into()
        })
}

#[derive(Subcommand)]
pub enum WitnessCmd {
    /// Create a witness in the data directory (its key, mode 0600, and
    /// witness.toml); prints its verifier key (a C2SP note vkey) last, for
    /// stations and verifiers to name it by.
    Init {
        /// The witness's name: its cosignatures' key name, e.g. witness.example.org.
        #[arg(long)]
        name: String,
        /// Where it listens for add-checkpoint requests (HOST:PORT).
        #[arg(long)]
        listen: String,
    },
    /// Run the witness: POST /add-checkpoint (C2SP tlog-witness), GET
    /// /hotline/evidence (the conflicts it refused); stops on SIGINT or SIGTERM.
    Serve,
    /// On a station: submit its logs' checkpoints to the witness at URL
    /// and keep the cosignatures it answers (they go into exports).
    #[command(
        after_help = "Every `tuning.log_checkpoint_every` (10s), each channel whose own chain grew gets a\n\
        fresh checkpoint, sent to the counterpart (which cosigns it) and to every witness.\n\
        Check the exports with: hotline transcript verify FILE --witness VKEY"
    )]
    Add {
        /// The witness's base URL, e.g. http://witness.example.org:7830.
        url: String,
        /// Its verifier key: the last line `hotline witness init` printed.
        #[arg(long, value_name = "VKEY")]
        key: String,
    },
    /// On a station: the witnesses it submits to, and how each last answered.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum BundleCmd {
    /// Write a bundle for PEER: our entries it has not confirmed, and a fresh
    /// checkpoint, sealed to its key; prints how many entries it carries.
    #[command(
        after_help = "Carry the file to the peer's station and run `hotline bundle import FILE` there.\n\
        Each bundle carries everything the peer has not yet confirmed (by a checkpoint in a\n\
        bundle of its own, or over the link), so a lost bundle is made good by the next."
    )]
    Export {
        /// The peer's name.
        peer: String,
        /// Only our entries committed after this cursor (an entry's `cursor`).
        #[arg(long, value_name = "CURSOR")]
        since: Option<u64>,
        /// Where to write the bundle.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: std::path::PathBuf,
    },
    /// Take in a bundle a peer wrote for this station; prints how many
    /// entries were new. Taking one twice, or an older one, adds nothing.
    Import {
        /// The bundle file.
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add a user; prints the new token once.
    Add {
        /// Name.
        name: String,
        /// principal, operator, auditor or admin.
        #[arg(long)]
        role: String,
        /// The token stops working by itself after this long (e.g. 30d, 12h).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List users.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a user's token (the last admin cannot be revoked).
    Revoke {
        /// Name.
        name: String,
    },
    /// Give a user a new token (shown once); the old one stops working at once.
    /// A user may rotate their own token; anyone else's needs the admin role.
    Rotate {
        /// Name.
        name: String,
    },
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Write the whole audit log as JSON Lines, ending with its head signed by the station.
    Export {
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Check an exported audit log offline: its hash chain and the signed head
    /// that ends it (a file cut short, without its head, or with any line
    /// changed fails).
    Verify {
        /// The file.
        file: PathBuf,
        /// The station that must have signed it: its identity token (hotline1…)
        /// or its fingerprint (60 digits, spaces optional). Without it, the
        /// signer's fingerprint is printed but not checked.
        #[arg(long, value_name = "TOKEN|FINGERPRINT")]
        key: Option<KnownKey>,
    },
}

#[derive(Subcommand)]
pub enum TranscriptCmd {
    /// Write a self-contained, verifiable transcript of a channel.
    Export {
        /// Channel id.
        channel: String,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Verify an exported transcript offline; exit 0 only when everything verifies.
    ///
    /// Checks, with no access to either station: every signature, both hash
    /// chains, every causal link and lamport value, the channel state at every
    /// entry, and the checkpoints. The exporter's checkpoint must cover exactly
    /// what the file holds; the counterpart's must be there whenever the
    /// counterpart has entries in it. Prints each checkpoint's signer, heads
    /// and time.
    ///
    /// A file names its own authors, so on its own it proves only that two
    /// keys wrote it consistently: any two fresh key pairs can write a
    /// transcript that verifies. Give the keys you know with --key (identity
    /// tokens from `hotline id`, or fingerprints from `hotline id
    /// --fingerprint`, as read out when the stations were pinned), in any
    /// order. With two, exit 0 only if the authors are exactly those two
    /// stations. With one, that station must be an author, and the other
    /// author is reported as not checked. Without --key, the authors'
    /// fingerprints are printed with "authors not checked against known keys".
    ///
    /// Example: hotline transcript verify line.jsonl --key "$ALPHA" --key "$BRAVO"
    Verify {
        /// The file.
        file: PathBuf,
        /// A station you know to be an author: its identity token (hotline1…)
        /// or its fingerprint (60 digits, spaces optional). At most twice.
        #[arg(long = "key", value_name = "TOKEN|FINGERPRINT")]
        keys: Vec<KnownKey>,
        /// A witness whose cosignatures must be there: its verifier key (the
        /// last line `hotline witness init` printed). Each author's log must
        /// carry a checkpoint this witness cosigned, whose root is the tree
        /// of that author's entries in the file. May be given more than once.
        #[arg(long = "witness", value_name = "VKEY", value_parser = witness_key)]
        witnesses: Vec<String>,
    },
    /// Check that two exports of one channel, one from each end, tell the same story.
    ///
    /// One export cannot show that its exporter did not stop early: cut both
    /// chains before an inconvenient entry and sign a fresh checkpoint over
    /// the rest. The other end's export can, because it holds the checkpoints
    /// the first end signed as entries arrived, and a station never gives up
    /// what it has signed for.
    ///
    /// Both files must verify and be of the same channel, exported by
    /// different ends. Then every entry both hold must be the same, every
    /// checkpoint must match the other file's entries, and no station's later
    /// checkpoint may cover less than its earlier one. The files then agree
    /// up to the older of the two exporters' checkpoints; entries newer than
    /// that are listed as held by one file only. Exit 1 naming the first
    /// difference: different channels, the author and sequence number where
    /// the files part, or the checkpoint that went back.
    ///
    /// Example: hotline transcript compare alpha.jsonl bravo.jsonl --key "$ALPHA" --key "$BRAVO"
    Compare {
        /// One end's export (called A in the output).
        file_a: PathBuf,
        /// The other end's export (called B in the output).
        file_b: PathBuf,
        /// A station you know to be an author, as for `verify`. At most twice.
        #[arg(long = "key", value_name = "TOKEN|FINGERPRINT")]
        keys: Vec<KnownKey>,
    },
}

/// What can be done to an alert.
#[derive(Subcommand)]
pub enum AlertsCmd {
    /// Say someone is on an alert, with a note. It stays open until its cause
    /// goes; acknowledging again replaces the note. Audited.
    Ack {
        /// The alert's id, as `hotline alerts` lists it.
        id: i64,
        /// Who is on it, what was done.
        #[arg(long, default_value = "")]
        note: String,
    },
}
