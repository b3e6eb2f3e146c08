//! Fanvue's two list shapes. Most lists are page-based (`page`, `size` → `pagination.hasMore`);
//! append-only collections (earnings, tracking links, chat media) are cursor-based
//! (`cursor` → `nextCursor`). Both keep items under `data`.

use serde::{Deserialize, Serialize};

/// A page-based list.
#[derive(Debug, Deserialize, Serialize)]
pub struct Page<T> {
    /// Items.
    pub data: Vec<T>,
    /// Where this page is.
    #[serde(default)]
    pub pagination: PageInfo,
}

/// `pagination` of a page-based list.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    /// Page number (from 1).
    #[serde(default)]
    pub page: u32,
    /// Items on this page.
    #[serde(default)]
    pub size: u32,
    /// Whether a next page exists.
    #[serde(default)]
    pub has_more: bool,
}

/// A cursor-based list.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorPage<T> {
    /// Items.
    pub data: Vec<T>,
    /// Opaque cursor of the next page; `None` at the end.
    #[serde(default)]
    pub next_cursor: Option<String>,
}
