//! Insights, all from the seeded earnings: transactions (cursor), top spenders (pages), the
//! subscriber series by day (cursor) and one fan's spending and subscription.
//!
//! The range is `startDate`/`endDate`, date-times with an offset (the reference's
//! `format: date-time`; a bare date is refused before a handler runs), the end exclusive.

use std::collections::BTreeMap;

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};

use super::paging::{cursor, page};
use super::shapes;
use super::{Call, Refusal, Reply, invalid, not_found};
use crate::seed::{Earning, World, iso};

/// The range asked for: `[start, end)`, either side open.
struct Range(Option<OffsetDateTime>, Option<OffsetDateTime>);

impl Range {
    fn of(call: &Call<'_>) -> Result<Range, Refusal> {
        let mut errors = Vec::new();
        let mut parse = |key: &str| {
            let raw = call.q(key)?;
            OffsetDateTime::parse(raw, &Rfc3339)
                .map_err(|_| errors.push(format!("{key} must be an ISO 8601 date-time with an offset")))
                .ok()
        };
        let range = Range(parse("startDate"), parse("endDate"));
        if let Range(Some(start), Some(end)) = range
            && start >= end
        {
            errors.push("startDate must be before endDate".into());
        }
        if errors.is_empty() { Ok(range) } else { Err(invalid(errors)) }
    }

    fn holds(&self, e: &Earning) -> bool {
        self.0.is_none_or(|s| e.at >= s) && self.1.is_none_or(|x| e.at < x)
    }
}

pub fn earnings(w: &World, call: &Call<'_>) -> Reply {
    let range = Range::of(call)?;
    let sources = call.q_all("source");
    let items = w
        .earnings
        .iter()
        .filter(|e| range.holds(e))
        .filter(|e| sources.is_empty() || sources.contains(&"all") || sources.contains(&e.source))
        .map(|e| {
            json!({"date": iso(e.at), "gross": e.gross, "net": e.gross * 8 / 10, "currency": "USD", "source": e.source,
                   "user": shapes::user_brief(&w.fans[e.fan])})
        })
        .collect();
    cursor(call, "size", items)
}

pub fn top_spenders(w: &World, call: &Call<'_>) -> Reply {
    let range = Range::of(call)?;
    let mut totals = vec![(0u64, 0u64); w.fans.len()];
    for e in w.earnings.iter().filter(|e| range.holds(e)) {
        totals[e.fan].0 += e.gross;
        totals[e.fan].1 += u64::from(e.source == "message");
    }
    let mut ranked: Vec<usize> = (0..w.fans.len()).filter(|i| totals[*i].0 > 0).collect();
    ranked.sort_by_key(|i| std::cmp::Reverse(totals[*i].0));
    let items = ranked
        .into_iter()
        .map(|i| {
            let (gross, messages) = totals[i];
            json!({"gross": gross, "net": gross * 8 / 10, "messages": messages, "user": shapes::user(&w.fans[i])})
        })
        .collect();
    page(call, items)
}

pub fn subscriber_days(w: &World, call: &Call<'_>) -> Reply {
    let range = Range::of(call)?;
    let mut days: BTreeMap<time::Date, (u64, u64)> = BTreeMap::new();
    for e in w.earnings.iter().filter(|e| range.holds(e)) {
        let entry = days.entry(e.at.date()).or_default();
        if e.source == "subscription" {
            entry.0 += 1;
        }
        if e.source == "renewal" && e.gross % 2 == 1 {
            entry.1 += 1;
        }
    }
    let mut total = i64::try_from(w.fans.iter().filter(|f| f.subscriber).count()).unwrap_or(0);
    let items = days
        .into_iter()
        .map(|(day, (new, cancelled))| {
            total += i64::try_from(new).unwrap_or(0) - i64::try_from(cancelled).unwrap_or(0);
            json!({"date": format!("{day}T00:00:00.000Z"), "total": total, "newSubscribersCount": new, "cancelledSubscribersCount": cancelled})
        })
        .collect();
    cursor(call, "size", items)
}

/// `GET /insights/fans/{userUuid}`: one fan's status, spending by source and subscription.
pub fn fan(w: &World, call: &Call<'_>) -> Reply {
    let i = w.fan_index(call.param(0)).ok_or_else(|| not_found("Fan"))?;
    let fan = &w.fans[i];
    let spent: Vec<&Earning> = w.earnings.iter().filter(|e| e.fan == i).collect();
    let mut sources: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &spent {
        *sources.entry(e.source).or_default() += e.gross;
    }
    let status = match fan {
        f if !f.contactable => "not_contactable",
        f if f.subscriber => "subscriber",
        f if f.expired => "expired",
        _ => "follower",
    };
    // A subscription renews monthly from its start; an expired one has no renewal.
    let renews_at = fan.subscribed_at.filter(|_| fan.subscriber && fan.auto_renew).map(|start| {
        let months = (w.seeded_at - start).whole_days() / 30 + 1;
        start + Duration::days(30 * months)
    });
    Ok(Json(json!({
        "status": status,
        "spending": {
            "lastPurchaseAt": spent.iter().map(|e| e.at).max().map(iso),
            "total": {"gross": spent.iter().map(|e| e.gross).sum::<u64>()},
            "maxSinglePayment": {"gross": spent.iter().map(|e| e.gross).max().unwrap_or(0)},
            "sources": sources.into_iter().map(|(k, gross)| (k.to_owned(), json!({"gross": gross}))).collect::<serde_json::Map<String, Value>>(),
        },
        "subscription": {
            "createdAt": fan.subscribed_at.map(iso),
            "renewsAt": renews_at.map(iso),
            "autoRenewalEnabled": fan.subscriber && fan.auto_renew,
        },
    }))
    .into_response())
}
