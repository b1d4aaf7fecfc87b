//! API users: added, found by token, rotated and revoked.

use super::*;

pub(super) fn add<G: GenericClient>(
    q: &mut Q<G>,
    name: &str,
    role: &str,
    token_hash: &Hash,
    at: u64,
    expires_at: Option<u64>,
) -> Result<UserRow> {
    let row = q
        .one(
            "INSERT INTO users (name, role, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &name,
                &role,
                &&token_hash[..],
                &(at as i64),
                &expires_at.map(|e| e as i64),
            ],
        )
        .map_err(exists("a user with this name"))?;
    Ok(UserRow {
        id: get(&row, 0)?,
        name: name.into(),
        role: role.into(),
        created_at: at,
        revoked_at: None,
        expires_at,
    })
}

pub(super) fn by_token(q: &mut Q<Client>, token_hash: &Hash) -> Result<Option<UserRow>> {
    q.opt(
        &format!("SELECT {USER_COLS} FROM users WHERE token_hash = $1 AND revoked_at IS NULL"),
        &[&&token_hash[..]],
    )?
    .as_ref()
    .map(user_row)
    .transpose()
}

pub(super) fn all(q: &mut Q<Client>) -> Result<Vec<UserRow>> {
    q.rows(&format!("SELECT {USER_COLS} FROM users ORDER BY id"), &[])?
        .iter()
        .map(user_row)
        .collect()
}

pub(super) fn tokens(q: &mut Q<Client>) -> Result<Vec<UserToken>> {
    q.rows(
        "SELECT token_hash, name, role, expires_at FROM users WHERE revoked_at IS NULL ORDER BY id",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok((
            h32(get(r, 0)?)?,
            get(r, 1)?,
            get(r, 2)?,
            get::<Option<i64>>(r, 3)?.map(|e| e as u64),
        ))
    })
    .collect()
}

/// The active user's row, locked until the transaction ends: a concurrent
/// rotation or revocation of the same user waits, then finds it gone.
fn active<G: GenericClient>(q: &mut Q<G>, name: &str) -> Result<(String, Option<i64>)> {
    let row = q
        .opt(
            "SELECT role, expires_at FROM users WHERE name = $1 AND revoked_at IS NULL FOR UPDATE",
            &[&name],
        )?
        .ok_or(StoreError::NotFound("active user"))?;
    Ok((get(&row, 0)?, get(&row, 1)?))
}

pub(super) fn rotate<G: GenericClient>(
    q: &mut Q<G>,
    name: &str,
    token_hash: &Hash,
    at: u64,
) -> Result<UserRow> {
    // The new token keeps the old one's expiry.
    let (role, expires_at) = active(q, name)?;
    q.exec(
        "UPDATE users SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
        &[&name, &(at as i64)],
    )?;
    let row = q.one(
        "INSERT INTO users (name, role, token_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[&name, &role, &&token_hash[..], &(at as i64), &expires_at],
    )?;
    Ok(UserRow {
        id: get(&row, 0)?,
        name: name.into(),
        role,
        created_at: at,
        revoked_at: None,
        expires_at: expires_at.map(|e| e as u64),
    })
}

pub(super) fn revoke<G: GenericClient>(q: &mut Q<G>, name: &str, at: u64) -> Result<()> {
    // The active admins are locked, not only counted, and first, in one
    // order: of two revocations of the last two admins at once, the second
    // waits for the first and then sees only one admin left.
    let admins = q
        .rows(
            "SELECT id FROM users WHERE role = 'admin' AND revoked_at IS NULL
             ORDER BY id FOR UPDATE",
            &[],
        )?
        .len();
    let (role, _) = active(q, name)?;
    if role == "admin" && admins <= 1 {
        return Err(StoreError::Refused(
            "the last admin cannot be revoked: add another admin first",
        ));
    }
    q.exec(
        "UPDATE users SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
        &[&name, &(at as i64)],
    )?;
    Ok(())
}
