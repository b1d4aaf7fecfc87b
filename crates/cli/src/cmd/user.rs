//! `user add`, `user list`, `user revoke`.

use super::print_json;
use crate::cli::UserCmd;
use crate::client::Client;
use hotline_api_types::{Empty, NewUser, UserCreated, UserRevoked, Users};

/// Runs a `user` subcommand.
pub fn run(c: Client, u: UserCmd) -> anyhow::Result<()> {
    match u {
        UserCmd::Add { name, role } => {
            let body = NewUser {
                name: name.clone(),
                role: role.clone(),
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
        UserCmd::Revoke { name } => {
            let _: UserRevoked = c.post(&format!("/v1/users/{name}/revoke"), &Empty {})?;
            println!("{name} revoked");
        }
    }
    Ok(())
}
