//! Insights (`read:insights`; top spenders also `read:fan`): earnings over a chosen date
//! range drawn as a server-side SVG chart (no chart CDN, no script), earnings by source,
//! subscriber growth, top spenders. Money arrives in cents and is shown as dollars.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use time::{Date, Duration, OffsetDateTime};
use tower_sessions::Session;

use super::Console;
use crate::auth::Signed;
use crate::web::error::AppError;
use crate::web::format::label;
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
    growth: Growth,
    top: Vec<(String, String)>,
    show_top: bool,
}

/// The plot area inside the charts' `viewBox="0 0 600 240"`, in SVG user units (the SVG
/// scales to its card's width). Room is left for the y labels on the left and the date labels
/// below; `templates/pages/insights.html` draws the axis lines at these same values.
const PLOT_LEFT: u32 = 64;
const PLOT_TOP: u32 = 12;
const PLOT_RIGHT: u32 = 592;
const PLOT_BOTTOM: u32 = 208;

/// Earnings per day as bars (gross, with net drawn inside it), with labelled axes.
#[derive(Default)]
struct Chart {
    bars: Vec<Bar>,
    y_ticks: Vec<Tick>,
    x_ticks: Vec<Tick>,
    /// One row per day for the table alternative: (date, gross, net).
    rows: Vec<(String, String, String)>,
    max_label: String,
}

/// One day's pair of bars; `title` is its tooltip.
struct Bar {
    x: u32,
    w: u32,
    gross_y: u32,
    gross_h: u32,
    net_x: u32,
    net_w: u32,
    net_y: u32,
    net_h: u32,
    title: String,
}

/// A labelled tick: `at` is the y (value axis) or x (date axis) in user units.
struct Tick {
    at: u32,
    label: String,
}

/// Subscribers over the range as a line, with its totals.
#[derive(Default)]
struct Growth {
    /// `points` of the polyline.
    points: String,
    dots: Vec<Dot>,
    y_ticks: Vec<Tick>,
    x_ticks: Vec<Tick>,
    /// Subscribers at the end of the range, and the new and cancelled ones in it.
    latest: i64,
    new: u64,
    cancelled: u64,
    rows: Vec<GrowthRow>,
}

struct Dot {
    x: u32,
    y: u32,
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
pub async fn page(State(state): State<Console>, signed: Signed, params: Params) -> Result<Response, AppError> {
    let (session, tokens) = signed.require(&[Scope::ReadInsights])?;
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

    let mut per_day: BTreeMap<Date, (i64, i64)> = BTreeMap::new();
    let mut per_source: BTreeMap<String, i64> = BTreeMap::new();
    for e in &earnings {
        if let Some(day) = parse_date(e.date.get(..10)) {
            let (gross, net) = per_day.entry(day).or_default();
            *gross += e.gross;
            *net += e.net;
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
        by_source: by_source.into_iter().map(|(s, c)| (label(&s), money(c))).collect(),
        growth: growth_chart(&growth),
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

/// A "nice" axis maximum for `max` (1, 2, 2.5 or 5 times a power of ten) and its step, so
/// that four ticks land on round values.
fn nice_scale(max: u64) -> (u64, u64) {
    let raw_step = max.max(1).div_ceil(4);
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= raw_step {
        magnitude = magnitude.saturating_mul(10);
    }
    let candidates = [magnitude, magnitude * 2, magnitude * 5 / 2, magnitude * 5, magnitude.saturating_mul(10)];
    let step = candidates.into_iter().find(|s| *s >= raw_step).unwrap_or(raw_step);
    (step.saturating_mul(4), step)
}

/// Cents as a short axis label: `$0`, `$250`, `$1.5k`, `$12k`.
fn short_money(cents: u64) -> String {
    let dollars = cents / 100;
    match dollars {
        0..1_000 => format!("${dollars}"),
        1_000..10_000 if !dollars.is_multiple_of(1_000) => format!("${:.1}k", dollars as f64 / 1_000.0),
        _ => format!("${}k", dollars / 1_000),
    }
}

/// "3 Dec", for the date axis.
fn day_label(day: Date) -> String {
    format!("{} {}", day.day(), &format!("{:?}", day.month())[..3])
}

/// The y of `value` on an axis from 0 to `top`.
fn y_of(value: u64, top: u64) -> u32 {
    let span = u64::from(PLOT_BOTTOM - PLOT_TOP);
    PLOT_BOTTOM - u32::try_from(value.min(top).saturating_mul(span) / top.max(1)).unwrap_or(0)
}

/// Four or five y ticks from 0 to `top` by `step`, labelled by `label`.
fn y_ticks(top: u64, step: u64, label: impl Fn(u64) -> String) -> Vec<Tick> {
    (0..=4).map(|i| step * i).filter(|v| *v <= top).map(|v| Tick { at: y_of(v, top), label: label(v) }).collect()
}

/// About six date labels spread over `days` days from `start`, at the slot centres.
fn x_ticks(start: Date, days: u32, slot: f64) -> Vec<Tick> {
    let every = days.div_ceil(6).max(1);
    (0..days)
        .filter(|i| i % every == 0)
        .map(|i| Tick {
            at: PLOT_LEFT + (slot * (f64::from(i) + 0.5)) as u32,
            label: day_label(start + Duration::days(i64::from(i))),
        })
        .collect()
}

/// One slot per day from `start` to `end`: the gross bar, the net bar inside it (refund-heavy
/// days, net below zero, draw no net bar), scaled to a round maximum.
fn chart(start: Date, end: Date, per_day: &BTreeMap<Date, (i64, i64)>) -> Chart {
    let days = u32::try_from((end - start).whole_days() + 1).unwrap_or(1).max(1);
    let slot = f64::from(PLOT_RIGHT - PLOT_LEFT) / f64::from(days);
    let highest = per_day.values().map(|(gross, _)| (*gross).max(0).unsigned_abs()).max().unwrap_or(0);
    let (top, step) = nice_scale(highest);
    let mut bars = Vec::new();
    let mut rows = Vec::new();
    for i in 0..days {
        let day = start + Duration::days(i64::from(i));
        let (gross, net) = per_day.get(&day).copied().unwrap_or((0, 0));
        let (gross, net) = (gross.max(0).unsigned_abs(), net.max(0).unsigned_abs());
        rows.push((day.to_string(), money(gross), money(net)));
        if gross == 0 {
            continue;
        }
        let x = PLOT_LEFT + (slot * f64::from(i)) as u32;
        let w = ((slot * 0.8) as u32).max(1);
        let (gross_y, net_y) = (y_of(gross, top), y_of(net, top));
        bars.push(Bar {
            x,
            w,
            gross_y,
            gross_h: PLOT_BOTTOM - gross_y,
            net_x: x + w / 4,
            net_w: (w / 2).max(1),
            net_y,
            net_h: PLOT_BOTTOM - net_y,
            title: format!("{}: {} gross, {} net", day_label(day), money(gross), money(net)),
        });
    }
    Chart {
        bars,
        y_ticks: y_ticks(top, step, short_money),
        x_ticks: x_ticks(start, days, slot),
        rows,
        max_label: money(highest),
    }
}

/// The subscriber count per day as a line, its axes, and the range's totals.
fn growth_chart(days: &[SubscriberDay]) -> Growth {
    let rows: Vec<GrowthRow> = days
        .iter()
        .map(|d| GrowthRow {
            date: d.date.get(..10).unwrap_or(&d.date).to_owned(),
            new: d.new_subscribers_count,
            cancelled: d.cancelled_subscribers_count,
            total: d.total,
        })
        .collect();
    let Some(first) = rows.first().and_then(|r| parse_date(Some(&r.date))) else {
        return Growth { rows, ..Growth::default() };
    };
    let count = u32::try_from(rows.len()).unwrap_or(u32::MAX).max(1);
    let slot = f64::from(PLOT_RIGHT - PLOT_LEFT) / f64::from(count);
    let highest = rows.iter().map(|r| r.total.max(0).unsigned_abs()).max().unwrap_or(0);
    let (top, step) = nice_scale(highest);
    let dots: Vec<Dot> = rows
        .iter()
        .zip(0u32..)
        .map(|(r, i)| Dot {
            x: PLOT_LEFT + (slot * (f64::from(i) + 0.5)) as u32,
            y: y_of(r.total.max(0).unsigned_abs(), top),
            title: format!("{}: {} subscribers (+{} new, −{} cancelled)", r.date, r.total, r.new, r.cancelled),
        })
        .collect();
    Growth {
        points: dots.iter().map(|d| format!("{},{}", d.x, d.y)).collect::<Vec<_>>().join(" "),
        dots,
        y_ticks: y_ticks(top, step, |v| v.to_string()),
        x_ticks: x_ticks(first, count, slot),
        latest: rows.last().map_or(0, |r| r.total),
        new: rows.iter().map(|r| r.new).sum(),
        cancelled: rows.iter().map(|r| r.cancelled).sum(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_values() {
        assert_eq!(nice_scale(0), (4, 1));
        assert_eq!(nice_scale(9_999), (10_000, 2_500));
        assert_eq!(nice_scale(130), (200, 50));
        assert_eq!(short_money(0), "$0");
        assert_eq!(short_money(25_000), "$250");
        assert_eq!(short_money(150_000), "$1.5k");
        assert_eq!(short_money(2_000_000), "$20k");
    }

    #[test]
    fn a_day_without_earnings_draws_no_bar_but_keeps_its_row() {
        let start = time::macros::date!(2026 - 12 - 01);
        let per_day = BTreeMap::from([(start, (12_345, 9_876))]);
        let chart = chart(start, start + Duration::days(2), &per_day);
        assert_eq!(chart.bars.len(), 1);
        assert_eq!(chart.rows.len(), 3);
        assert_eq!(chart.bars[0].title, "1 Dec: $123.45 gross, $98.76 net");
        assert!(chart.bars[0].net_h <= chart.bars[0].gross_h);
        assert_eq!(chart.y_ticks.last().map(|t| t.label.as_str()), Some("$200"));
    }
}
