//! The agency side: the creators it manages (each with a world of their own, see
//! [`super::handle`]), its team and invitations.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::paging::page;
use super::shapes;
use super::{Call, Reply, invalid, refused};
use crate::seed::World;

pub fn creators(w: &World, call: &Call<'_>) -> Reply {
    page(call, w.creators.iter().map(shapes::creator).collect())
}

pub fn team(w: &World) -> Reply {
    let creators: Vec<Value> = w.creators.iter().map(|c| json!({"uuid": c.uuid, "role": c.role})).collect();
    let members: Vec<Value> = w
        .team
        .iter()
        .map(|t| {
            let access = if t.is_admin { creators.clone() } else { creators.iter().take(1).cloned().collect() };
            json!({"uuid": t.uuid, "isAdmin": t.is_admin, "nickname": Value::Null, "email": t.email,
                   "displayName": t.display_name, "creatorAccess": access})
        })
        .collect();
    Ok(Json(Value::Array(members)).into_response())
}

pub fn invite(w: &mut World, call: &Call<'_>) -> Reply {
    let body = call.json_body()?;
    let email = body.get("email").and_then(Value::as_str).map(str::trim).unwrap_or("");
    let plausible = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.') && !domain.starts_with('.'));
    if !plausible {
        return Err(invalid(vec!["email must be a valid email address".into()]));
    }
    if w.team.iter().any(|t| t.email.eq_ignore_ascii_case(email))
        || w.invites.iter().any(|i| i.eq_ignore_ascii_case(email))
    {
        return Err(refused(StatusCode::CONFLICT, "This person is already a member or invited"));
    }
    w.invites.push(email.to_owned());
    let uuid = w.new_uuid(0x1e7);
    Ok(Json(json!({"success": true, "message": format!("Invitation sent to {email}"), "inviteUuid": uuid}))
        .into_response())
}
