//! `init` and `id`: the local station's data directory, no API needed;
//! `login`/`logout`, the token the CLI acts with; and `man`, the manual pages.

use crate::client::Failure;
use anyhow::Context;
use std::path::Path;

/// `init`: creates the station and prints its identity token, alone on stdout.
pub fn init(
    data: &Path,
    name: &str,
    listen: &str,
    api: &str,
    store: Option<&str>,
) -> anyhow::Result<()> {
    let i = hotline_station::init_with(data, name, listen, api, store)
        .map_err(|e| Failure::Refused(e.to_string()))?;
    eprintln!("station {name:?} created in {}", data.display());
    eprintln!("fingerprint  {}", i.fingerprint);
    eprintln!("admin token  in {}", data.join("admin.token").display());
    eprintln!("next: give your identity token (below) to the counterpart, then `hotline serve`");
    println!("{}", i.token);
    Ok(())
}

/// `status`: the station's health and, on a shared database, its role.
pub fn status(client: &crate::client::Client, json: bool) -> anyhow::Result<()> {
    let h: hotline_api_types::Health = client.get("/v1/health")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&h)?);
        return Ok(());
    }
    println!("station   {}", crate::out::escaped(&h.name));
    println!("status    {}", h.status);
    if let Some(s) = &h.store {
        println!("store     {}", s.backend);
        println!("role      {}", s.role);
        println!("epoch     {}", s.epoch);
        if let Some(holder) = &s.lease_holder {
            let this = if s.this_process.as_deref() == Some(holder) {
                " (this process)"
            } else {
                ""
            };
            println!("lease     held by {holder}{this}");
        }
        if let Some(a) = &s.leader_api {
            println!("leader    http://{a}");
        }
        if let Some(ms) = s.lease_expires_in_ms {
            if ms >= 0 {
                println!("expires   in {:.1} s unless renewed", ms as f64 / 1000.0);
            } else {
                println!("expires   expired {:.1} s ago", -ms as f64 / 1000.0);
            }
        }
    }
    Ok(())
}

/// `backup`: a consistent copy of the station, running or not.
pub fn backup(data: &Path, out: &Path, include_keys: bool) -> anyhow::Result<()> {
    let m = hotline_station::backup::backup(data, out, include_keys)
        .map_err(|e| Failure::Refused(e.to_string()))?;
    println!(
        "backup of {} written to {} (mode 0600): schema {}, {} channel(s), {} entries",
        m.station,
        out.display(),
        m.schema,
        m.channels,
        m.entries
    );
    if include_keys {
        println!("it holds the secret key and the admin token: keep it as you keep identity.key");
    } else {
        println!("it holds no secret key: a restore needs identity.key, kept apart (--keys FILE)");
    }
    Ok(())
}

/// `restore`: a backup into a new data directory.
pub fn restore(
    file: &Path,
    data: &Path,
    keys: Option<std::path::PathBuf>,
    listen: Option<String>,
    api: Option<String>,
) -> anyhow::Result<()> {
    let opts = hotline_station::backup::RestoreOptions { keys, listen, api };
    let r = hotline_station::backup::restore(file, data, &opts)
        .map_err(|e| Failure::Refused(e.to_string()))?;
    println!(
        "restored {} into {} ({} channel(s), {} entries)",
        r.manifest.station,
        data.display(),
        r.channels,
        r.manifest.entries
    );
    if let Some(u) = r.new_admin {
        println!(
            "the backup held no admin token: a new admin user {u:?} has its token in {}; revoke the old one if it was lost",
            data.join("admin.token").display()
        );
    }
    println!("next: hotline serve --data {}", data.display());
    println!(
        "each channel writes nothing until the counterpart's station has said what it holds of this station's entries and sent back what the backup missed; if the link address changed, the counterpart runs `hotline peer set NAME --addr NEW`"
    );
    Ok(())
}

/// `id`: the identity token, or the fingerprint to read aloud.
pub fn id(data: &Path, fingerprint: bool) -> anyhow::Result<()> {
    let keys = hotline_station::DataDir(data.to_owned())
        .load_keys()
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let id = keys.identity();
    if fingerprint {
        println!("{}", id.fingerprint());
    } else {
        println!("{}", id.token());
    }
    Ok(())
}

/// Writes `hotline.1` and one page per subcommand (`hotline-peer-add.1`, …)
/// into `dir`, from the same clap definitions the parser uses.
pub fn man(dir: &Path) -> anyhow::Result<()> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = crate::cli::Cli::command();
    let mut n = 0;
    write_pages(&cmd, "hotline", dir, &mut n)?;
    println!("{n} man pages in {}", dir.display());
    Ok(())
}

fn write_pages(cmd: &clap::Command, name: &str, dir: &Path, n: &mut usize) -> anyhow::Result<()> {
    let mut out = Vec::new();
    let page = cmd
        .clone()
        .display_name(name.to_owned())
        .bin_name(name.replace('-', " "));
    clap_mangen::Man::new(page)
        .title(name.to_uppercase())
        .source(format!("hotline {}", env!("CARGO_PKG_VERSION")))
        .render(&mut out)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    *n += 1;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, n)?;
    }
    Ok(())
}

/// `login`: reads a user's token from standard input, checks it with the
/// station, and keeps it (0600) as the token the CLI acts with from now on,
/// instead of the admin's.
pub fn login(data: &Path, config: Option<&Path>) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the token from standard input")?;
    let token = line.trim().to_owned();
    if token.is_empty() {
        return Err(Failure::Usage("no token on standard input".into()).into());
    }
    let c = crate::client::Client::new(data, config, Some(token.clone()))?;
    let me: hotline_api_types::WhoAmI = c.get("/v1/whoami")?;
    super::write_secret_file(&crate::client::login_token(data), &format!("{token}\n"))?;
    println!(
        "signed in as {} ({}); the CLI acts with this token until `hotline logout`",
        me.name, me.role
    );
    Ok(())
}

/// `logout`: forgets the token `login` kept; the CLI acts as the admin again.
pub fn logout(data: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(crate::client::login_token(data)) {
        Ok(()) => println!("signed out"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!("not signed in"),
        Err(e) => return Err(e).context("removing the login token"),
    }
    Ok(())
}
