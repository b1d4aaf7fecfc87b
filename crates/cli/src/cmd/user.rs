//! `user add`, `user list`, `user revoke`, `user rotate`.

use super::print_json;
use crate::cli::UserCmd;
use crate::client::Client;
use hotline_api_types::{Empty, NewUser, UserCreated, UserRevoked, Users};

/// Runs a `user` subcommand; `data` is where the CLI keeps its tokens.
pub fn run(c: Client, u: UserCmd, data: &std::path::Path) -> anyhow::Result<()> {
    match u {
        UserCmd::Add {
            name,
            role,
            expires,
        } => {
            let body = NewUser {
                name: name.clone(),
                role: role.clone(),
                expires_in: expires,
            };
            let r: UserCreated = c.post("/v1/users", &body)?;
            eprintln!("user {name} ({role}) created; the token is shown once:");
            println!("{}", r.token);
        }
        UserCmd::List { json } => {
            let r: Users = c.get("/v1/users")?;
            if json {
                print_json(&r.users)?;
            } else {
                for u in &r.users {
                    println!(
                        "{:<20} {:<10} {}",
                        u.name,
                        u.role,
                        if u.revoked_at.is_none() {
                            "active"
                        } else {
                            "revoked"
                        }
                    );
                }
            }
        }
        UserCmd::Rotate { name } => {
            // Asked before the rotation, which revokes the token if it is ours.
            let me: hotline_api_types::WhoAmI = c.get("/v1/whoami")?;
            let r: UserCreated = c.post(&format!("/v1/users/{name}/rotate"), &Empty {})?;
            eprintln!(
                "{name} ({}) has a new token, shown once; the old one no longer works:",
                r.role
            );
            println!("{}", r.token);
            // The CLI's own token, rotated: the file it came from follows.
            let d = hotline_station::DataDir(data.to_owned());
            for file in [crate::client::login_token(data), d.admin_token()] {
                let held = std::fs::read_to_string(&file).unwrap_or_default();
                if me.name == name && held.trim() == c.token() {
                    super::write_secret_file(&file, &format!("{}\n", r.token))?;
                    eprintln!("{} now holds the new token", file.display());
                }
            }
        }
        UserCmd::Revoke { name } => {
            let _: UserRevoked = c.post(&format!("/v1/users/{name}/revoke"), &Empty {})?;
            println!("{name} revoked");
        }
    }
    Ok(())
}
