//! Fans and lists: followers and subscribers, the smart lists Fanvue keeps (derived from the
//! fans' subscriptions and spending) and the creator's custom lists with their members.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::paging::page;
use super::shapes;
use super::{Call, Refusal, Reply, name_field, not_found, refused, uuids};
use crate::seed::{CustomList, World, iso};

/// The smart lists, in the reference's order, with their names.
const SMART_LISTS: [(&str, &str); 7] = [
    ("subscribers", "Subscribers"),
    ("auto_renewing", "Auto-renewing"),
    ("non_renewing", "Non-renewing"),
    ("followers", "Followers"),
    ("free_trial_subscribers", "Free trial subscribers"),
    ("expired_subscribers", "Expired subscribers"),
    ("spent_more_than_50", "Spent more than $50"),
];

/// Whether fan `i` is in smart list `id`.
pub fn in_smart_list(w: &World, id: &str, i: usize) -> bool {
    let fan = &w.fans[i];
    match id {
        "subscribers" => fan.subscriber,
        "auto_renewing" => fan.subscriber && fan.auto_renew,
        "non_renewing" => fan.subscriber && !fan.auto_renew,
        "followers" => !fan.subscriber,
        "free_trial_subscribers" => fan.free_trial,
        "expired_subscribers" => fan.expired,
        "spent_more_than_50" => w.earnings.iter().filter(|e| e.fan == i).map(|e| e.gross).sum::<u64>() > 5_000,
        _ => false,
    }
}

/// `/subscribers` or `/followers`.
pub fn audience(w: &World, call: &Call<'_>, subscribers: bool) -> Reply {
    page(call, w.fans.iter().filter(|f| f.subscriber == subscribers).map(shapes::user).collect())
}

pub fn smart_lists(w: &World) -> Reply {
    let lists: Vec<Value> = SMART_LISTS
        .iter()
        .map(|(id, name)| json!({"uuid": id, "name": name, "count": (0..w.fans.len()).filter(|i| in_smart_list(w, id, *i)).count()}))
        .collect();
    Ok(Json(Value::Array(lists)).into_response())
}

pub fn smart_members(w: &World, call: &Call<'_>) -> Reply {
    let id = call.param(0);
    page(call, (0..w.fans.len()).filter(|i| in_smart_list(w, id, *i)).map(|i| shapes::member(&w.fans[i])).collect())
}

fn list_index(w: &World, uuid: &str) -> Result<usize, Refusal> {
    w.lists.iter().position(|l| l.uuid == uuid).ok_or_else(|| not_found("Custom list"))
}

/// `search` matches part of a list's name, any case.
pub fn custom_lists(w: &World, call: &Call<'_>) -> Reply {
    let search = call.q("search").map(str::to_lowercase);
    let items = w
        .lists
        .iter()
        .filter(|l| search.as_ref().is_none_or(|s| l.name.to_lowercase().contains(s.as_str())))
        .map(|l| json!({"uuid": l.uuid, "name": l.name, "membersCount": l.members.len(), "createdAt": iso(l.created_at)}))
        .collect();
    page(call, items)
}

pub fn custom_members(w: &World, call: &Call<'_>) -> Reply {
    let list = &w.lists[list_index(w, call.param(0))?];
    page(call, list.members.iter().map(|i| shapes::member(&w.fans[*i])).collect())
}

/// A list name no other list has (names are unique, any case).
fn unique_name(w: &World, call: &Call<'_>) -> Result<String, Refusal> {
    let name = name_field(&call.json_body()?)?;
    if w.lists.iter().any(|l| l.name.eq_ignore_ascii_case(&name)) {
        return Err(refused(StatusCode::CONFLICT, "A list with this name already exists"));
    }
    Ok(name)
}

pub fn create(w: &mut World, call: &Call<'_>) -> Reply {
    let name = unique_name(w, call)?;
    let list =
        CustomList { uuid: w.new_uuid(0x1157), name, created_at: OffsetDateTime::now_utc(), members: Vec::new() };
    let json = json!({"uuid": list.uuid, "name": list.name, "createdAt": iso(list.created_at)});
    w.lists.push(list);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

pub fn rename(w: &mut World, call: &Call<'_>) -> Reply {
    let i = list_index(w, call.param(0))?;
    let name = unique_name(w, call)?;
    w.lists[i].name = name;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub fn delete(w: &mut World, call: &Call<'_>) -> Reply {
    let i = list_index(w, call.param(0))?;
    w.lists.remove(i);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Adds fans to a list; users already in it, or who are not the creator's fans, are skipped.
pub fn add_members(w: &mut World, call: &Call<'_>) -> Reply {
    let i = list_index(w, call.param(0))?;
    let wanted = uuids(&call.json_body()?, "userUuids");
    let (mut added, mut skipped) = (0, 0);
    for uuid in &wanted {
        match w.fan_index(uuid) {
            Some(fan) if !w.lists[i].members.contains(&fan) => {
                w.lists[i].members.push(fan);
                added += 1;
            }
            _ => skipped += 1,
        }
    }
    Ok((StatusCode::CREATED, Json(json!({"added": added, "skipped": skipped}))).into_response())
}

pub fn remove_member(w: &mut World, call: &Call<'_>) -> Reply {
    let i = list_index(w, call.param(0))?;
    let fan = w.fan_index(call.param(1));
    let list = &mut w.lists[i];
    let at = list.members.iter().position(|m| Some(*m) == fan).ok_or_else(|| not_found("List member"))?;
    list.members.remove(at);
    Ok(StatusCode::NO_CONTENT.into_response())
}
