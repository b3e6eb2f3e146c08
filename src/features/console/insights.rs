//! Insights (`read:insights`; top spenders also `read:fan`): earnings over a chosen date
//! range drawn as a server-side SVG chart (no chart CDN, no script), earnings by source,
//! subscriber growth, top spenders. Money arrives in cents and is shown as dollars.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use time::{Date, Duration, OffsetDateTime};
use tower_sessions::Session;

use super::Console;
use crate::web::error::AppError;
use crate::web::page::{Nav, Params, money, render};
use fanvue::models::{Earning, SubscriberDay, TopSpender};
use fanvue::pagination::{CursorPage, Page};
use fanvue::range::DayRange;
use fanvue::scopes::Scope;

/// At most this many earnings pages (of 50) are read for one chart: a year of a busy
/// creator would otherwise spend Fanvue's 200-requests-a-minute budget.
const MAX_EARNING_PAGES: usize = 8;
/// Longest range accepted.
const MAX_RANGE_DAYS: i64 = 366;

#[derive(Template)]
#[template(path = "pages/insights.html")]
struct InsightsPage {
    nav: Nav,
    start: String,
    end: String,
    errors: Vec<String>,
    chart: Chart,
    total_gross: String,
    total_net: String,
    transactions: usize,
    truncated: bool,
    by_source: Vec<(String, String)>,
    growth: Vec<GrowthRow>,
    top: Vec<(String, String)>,
    show_top: bool,
}

/// The bar chart: one bar per day, coordinates computed here so the template only draws.
#[derive(Default)]
struct Chart {
    width: u32,
    height: u32,
    bars: Vec<Bar>,
    max_label: String,
}

struct Bar {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    title: String,
}

struct GrowthRow {
    date: String,
    new: u64,
    cancelled: u64,
    total: i64,
}

fn parse_date(raw: Option<&str>) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    raw.and_then(|r| Date::parse(r, &format).ok())
}

/// `GET /insights?start=YYYY-MM-DD&end=YYYY-MM-DD` (end inclusive; default the last 30 days).
/// The days are sent to Fanvue as UTC date-times with an exclusive end ([`DayRange`]).
pub async fn page(
    State(state): State<Console>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> Result<Response, AppError> {
    let tokens = state.api.gate(&session, &[Scope::ReadInsights]).await?;
    let params = Params::parse(raw.unwrap_or_default().as_bytes());
    let today = OffsetDateTime::now_utc().date();
    let mut errors = Vec::new();
    // Nothing after tomorrow (also keeps `end + 1 day` far from the calendar's end).
    let mut end = parse_date(params.get("end")).unwrap_or(today).min(today + Duration::days(1));
    let mut start = parse_date(params.get("start")).unwrap_or(end - Duration::days(29));
    if params.get("start").is_some_and(|s| parse_date(Some(s)).is_none())
        || params.get("end").is_some_and(|s| parse_date(Some(s)).is_none())
    {
        errors.push("Dates are written 2026-01-31.".to_owned());
    }
    if start > end || (end - start).whole_days() >= MAX_RANGE_DAYS {
        errors.push(format!("Choose a start before the end, at most {MAX_RANGE_DAYS} days apart."));
        end = today;
        start = today - Duration::days(29);
    }
    let days =
        DayRange::new(start, end).ok_or_else(|| AppError::BadRequest("That date range cannot be shown.".into()))?;
    let [(start_key, start_value), (end_key, end_value)] = days.query();
    let range = [(start_key, start_value.as_str()), (end_key, end_value.as_str())];

    // Earnings, growth and top spenders at once.
    let show_top = tokens.scopes.contains(Scope::ReadFan);
    let top = async {
        if !show_top {
            return Ok::<_, AppError>(Vec::new());
        }
        let top: Page<TopSpender> =
            state.api.get_json(&session, "/insights/top-spenders", &[("size", "10"), range[0], range[1]]).await?;
        Ok(top.data.into_iter().map(|t| (t.user.name().to_owned(), money(t.gross))).collect())
    };
    let ((earnings, truncated), (growth, _), top) = tokio::try_join!(
        all_pages::<Earning>(&state, &session, "/insights/earnings", &range),
        all_pages::<SubscriberDay>(&state, &session, "/insights/subscribers", &range),
        top
    )?;

    let mut per_day: BTreeMap<Date, i64> = BTreeMap::new();
    let mut per_source: BTreeMap<String, i64> = BTreeMap::new();
    for e in &earnings {
        if let Some(day) = parse_date(e.date.get(..10)) {
            *per_day.entry(day).or_default() += e.gross;
        }
        *per_source.entry(e.source.clone().unwrap_or_else(|| "other".into())).or_default() += e.gross;
    }
    let mut by_source: Vec<(String, i64)> = per_source.into_iter().collect();
    by_source.sort_by_key(|(_, cents)| std::cmp::Reverse(*cents));

    let view = InsightsPage {
        nav: Nav::for_scopes(tokens.scopes, "/insights"),
        start: start.to_string(),
        end: end.to_string(),
        errors,
        chart: chart(start, end, &per_day),
        total_gross: money(earnings.iter().map(|e| e.gross).sum::<i64>()),
        total_net: money(earnings.iter().map(|e| e.net).sum::<i64>()),
        transactions: earnings.len(),
        truncated,
        by_source: by_source.into_iter().map(|(s, c)| (s, money(c))).collect(),
        growth: growth
            .into_iter()
            .map(|d| GrowthRow {
                date: d.date.get(..10).unwrap_or(&d.date).to_owned(),
                new: d.new_subscribers_count,
                cancelled: d.cancelled_subscribers_count,
                total: d.total,
            })
            .collect(),
        top,
        show_top,
    };
    Ok(render(StatusCode::OK, &view))
}

/// Follows `nextCursor` for a range, up to [`MAX_EARNING_PAGES`] pages of 50; the flag
/// says whether more was left unread.
async fn all_pages<T: serde::de::DeserializeOwned>(
    state: &Console,
    session: &Session,
    path: &str,
    range: &[(&str, &str); 2],
) -> Result<(Vec<T>, bool), AppError> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_EARNING_PAGES {
        let mut query = vec![("size", "50"), range[0], range[1]];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let page: CursorPage<T> = state.api.get_json(session, path, &query).await?;
        items.extend(page.data);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok((items, false));
        }
    }
    Ok((items, true))
}

/// One bar per day from `start` to `end`, scaled to the highest day.
fn chart(start: Date, end: Date, per_day: &BTreeMap<Date, i64>) -> Chart {
    let days = u32::try_from((end - start).whole_days() + 1).unwrap_or(1).max(1);
    let (height, bar_w) = (160u32, (720 / days).clamp(2, 24));
    // Refund-heavy days (net negative) draw no bar.
    let max = per_day.values().copied().max().unwrap_or(0).max(1).unsigned_abs();
    let bars = (0..days)
        .filter_map(|i| {
            let day = start + Duration::days(i64::from(i));
            let cents = per_day.get(&day).copied().unwrap_or(0).max(0).unsigned_abs();
            let h = u32::try_from(cents.saturating_mul(u64::from(height - 10)) / max).unwrap_or(0);
            (cents > 0).then(|| Bar {
                x: i * bar_w,
                y: height - h,
                w: bar_w.saturating_sub(1).max(1),
                h,
                title: format!("{day}: {}", money(cents)),
            })
        })
        .collect();
    Chart { width: days * bar_w, height, bars, max_label: money(max) }
}
