//! API users: `/v1/users`, `/v1/users/{name}/revoke`,
//! `/v1/users/{name}/rotate`; admin only, except that a user may rotate
//! their own token.

use super::{parse, CreatedJson, R};
use crate::api::auth::Authed;
use crate::api::{Act, Api, Role, User};
use crate::engine::now_ms;
use crate::error::StationError;
use crate::views;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use hotline_api_types::{ApiError, NewUser, UserCreated, UserRevoked, Users};

/// `GET /v1/users`, revoked ones included.
#[utoipa::path(
    get, path = "/v1/users", tag = "users", operation_id = "list_users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every user ever added.", body = Users),
        (status = 403, description = "Not the admin.", body = ApiError),
    ),
)]
pub async fn list(State(api): State<Api>, u: Authed) -> R<Json<Users>> {
    u.need(Act::Admin)?;
    let rows = api.engine.db().read(|s| s.users()).await?;
    Ok(Json(Users {
        users: rows.iter().map(views::user).collect(),
    }))
}

/// `POST /v1/users`: the token is made here, shown once, and only its hash kept.
#[utoipa::path(
    post, path = "/v1/users", tag = "users", operation_id = "add_user",
    security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 201,
            description = "The user and their token, shown this once.",
            body = UserCreated),
        (status = 400, description = "A bad name, role or expiry.", body = ApiError),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 409, description = "A user with this name exists.", body = ApiError),
    ),
)]
pub async fn add(State(api): State<Api>, u: Authed, body: Bytes) -> R<CreatedJson<UserCreated>> {
    u.need(Act::Admin)?;
    let r: NewUser = parse(&body)?;
    let role = Role::parse(&r.role).ok_or_else(|| {
        StationError::BadRequest("role must be principal, operator, auditor or admin".into())
    })?;
    let name = r.name.trim().to_owned();
    if name.is_empty()
        || name.len() > 64
        || name == hotline_proto::entry::BY_STATION
        || name.chars().any(|c| c.is_control())
    {
        return Err(StationError::BadRequest(
            "a user name is 1–64 printable characters and not \"station\"".into(),
        ));
    }
    let now = now_ms();
    let expires_at = match &r.expires_in {
        None => None,
        Some(d) => {
            let ms = crate::duration::parse(d).map_err(|e| {
                StationError::BadRequest(format!("expires_in: {e} (e.g. 30d, 12h)"))
            })?;
            Some(now.saturating_add(ms))
        }
    };
    let token = crate::config::new_token();
    let th = hotline_proto::sha256(token.as_bytes());
    let n2 = name.clone();
    api.engine
        .db()
        .call(move |s| s.add_user_until(&n2, role.name(), &th, now, expires_at))
        .await?;
    api.users.write().unwrap().insert(
        th,
        User {
            name: name.clone(),
            role,
            expires_at,
        },
    );
    Ok((
        StatusCode::CREATED,
        Json(UserCreated {
            name,
            role: role.name().into(),
            token,
        }),
    ))
}

/// `POST /v1/users/{name}/revoke`: the token stops working at once.
#[utoipa::path(
    post, path = "/v1/users/{name}/revoke", tag = "users", operation_id = "revoke_user",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user's name.")),
    responses(
        (status = 200, description = "The token no longer works.", body = UserRevoked),
        (status = 403, description = "Not the admin.", body = ApiError),
        (status = 404, description = "No active user of that name.", body = ApiError),
        (status = 409, description = "The last admin is kept.", body = ApiError),
    ),
)]
pub async fn revoke(
    State(api): State<Api>,
    Path(name): Path<String>,
    u: Authed,
) -> R<Json<UserRevoked>> {
    u.need(Act::Admin)?;
    let n2 = name.clone();
    api.engine
        .db()
        .call(move |s| s.revoke_user(&n2, now_ms()))
        .await?;
    api.users.write().unwrap().retain(|_, u| u.name != name);
    Ok(Json(UserRevoked {
        name,
        revoked: true,
    }))
}

/// `POST /v1/users/{name}/rotate`: a new token for the same name and role,
/// shown once; the old one stops working at once. The admin's, or the
/// user's own.
#[utoipa::path(
    post, path = "/v1/users/{name}/rotate", tag = "users", operation_id = "rotate_user",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user's name.")),
    responses(
        (status = 201,
            description = "The new token, shown this once; the old one no longer works.",
            body = UserCreated),
        (status = 403, description = "Neither the admin nor the user.", body = ApiError),
        (status = 404, description = "No active user of that name.", body = ApiError),
    ),
)]
pub async fn rotate(
    State(api): State<Api>,
    Path(name): Path<String>,
    u: Authed,
) -> R<CreatedJson<UserCreated>> {
    if u.name() != name {
        u.need(Act::Admin)?;
    }
    let token = crate::config::new_token();
    let th = hotline_proto::sha256(token.as_bytes());
    let n2 = name.clone();
    let row = api
        .engine
        .db()
        .call(move |s| s.rotate_user(&n2, &th, now_ms()))
        .await?;
    let role = Role::parse(&row.role)
        .ok_or_else(|| StationError::Storage(format!("user {name} has no known role")))?;
    {
        let mut users = api.users.write().unwrap();
        users.retain(|_, u| u.name != name);
        users.insert(
            th,
            User {
                name: name.clone(),
                role,
                expires_at: row.expires_at,
            },
        );
    }
    Ok((
        StatusCode::CREATED,
        Json(UserCreated {
            name,
            role: row.role,
            token,
        }),
    ))
}
