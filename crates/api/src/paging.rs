//! Twilio paging: `PageSize` (default 50, at most 1000), `Page` (echoed), and `PageToken` (`PA<sid>`
//! for the page after the record `<sid>`, `PB<sid>` for the page before it), with the `meta` block of
//! absolute URLs the SDKs follow verbatim.

use serde::Serialize;
use vroom_domain::page::{Cursor, Direction, Page, PageRequest};

use crate::error::ApiError;
use crate::form::Params;

/// Records per page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page; larger requests are clamped, as Twilio does since its SDKs stopped clamping.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The paging part of a list request.
#[derive(Debug, Clone)]
pub struct Paging {
    /// What to read.
    pub request: PageRequest,
    /// The `Page` number the caller sent (only echoed).
    pub page: u32,
    /// The token the caller sent.
    pub token: Option<String>,
}

/// Reads `PageSize`, `Page` and `PageToken`.
///
/// # Errors
/// `BadParameter` / `BadPageToken` for malformed values.
pub fn paging(query: &Params) -> Result<Paging, ApiError> {
    let size = match query.integer("PageSize", |p| ApiError::param("PageSize", p))? {
        None => DEFAULT_PAGE_SIZE,
        Some(n) if n < 1 => return Err(ApiError::param("PageSize", "must be at least 1")),
        Some(n) => u32::try_from(n.min(i64::from(MAX_PAGE_SIZE))).unwrap_or(MAX_PAGE_SIZE),
    };
    let page = match query.integer("Page", |p| ApiError::param("Page", p))? {
        None => 0,
        Some(n) if n < 0 => return Err(ApiError::param("Page", "must not be negative")),
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
    };
    let token = query.string("PageToken").filter(|t| !t.is_empty());
    let cursor = match &token {
        None if page > 0 => {
            return Err(ApiError::BadBody(
                "PageToken is required for paging.".to_owned(),
            ));
        }
        None => None,
        Some(t) => Some(parse_token(t)?),
    };
    Ok(Paging {
        request: PageRequest { size, cursor },
        page,
        token,
    })
}

fn parse_token(token: &str) -> Result<Cursor, ApiError> {
    let (direction, sid) = if let Some(sid) = token.strip_prefix("PA") {
        (Direction::After, sid)
    } else if let Some(sid) = token.strip_prefix("PB") {
        (Direction::Before, sid)
    } else {
        return Err(ApiError::BadPageToken);
    };
    if sid.len() != 34 || !sid.is_ascii() {
        return Err(ApiError::BadPageToken);
    }
    Ok(Cursor {
        direction,
        sid: sid.to_owned(),
    })
}

/// The `meta` block of a list response.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    page: u32,
    page_size: u32,
    first_page_url: String,
    previous_page_url: Option<String>,
    url: String,
    next_page_url: Option<String>,
    key: &'static str,
}

/// A list request's filter parameters, read in Twilio's order and remembered for the meta URLs
/// (filters the caller sent are echoed first in every page URL).
pub struct Filters<'q> {
    query: &'q Params,
    /// The parameters read so far that the caller sent, in order.
    pub echoed: Vec<(&'static str, String)>,
}

impl<'q> Filters<'q> {
    /// Filters of `query`.
    #[must_use]
    pub fn new(query: &'q Params) -> Self {
        Self {
            query,
            echoed: Vec::new(),
        }
    }

    fn take(&mut self, name: &'static str) -> Option<&'q str> {
        let v = self.query.get(name)?;
        self.echoed.push((name, v.to_owned()));
        Some(v)
    }

    /// A text filter.
    pub fn text(&mut self, name: &'static str) -> Option<String> {
        self.take(name).map(str::to_owned)
    }

    /// A date filter (`YYYY-MM-DD` or ISO 8601).
    ///
    /// # Errors
    /// `BadParameter` naming it.
    pub fn date(
        &mut self,
        name: &'static str,
    ) -> Result<Option<vroom_domain::time::Timestamp>, ApiError> {
        self.take(name)
            .map(|v| crate::wire::parse_date(name, v))
            .transpose()
    }

    /// An enumerated filter.
    ///
    /// # Errors
    /// `BadParameter` naming it and saying what `parse` accepts.
    pub fn choice<T>(
        &mut self,
        name: &'static str,
        parse: impl Fn(&str) -> Option<T>,
        accepted: &str,
    ) -> Result<Option<T>, ApiError> {
        self.take(name)
            .map(|v| parse(v).ok_or_else(|| ApiError::param(name, format!("must be {accepted}"))))
            .transpose()
    }
}

/// A list response as Twilio renders it, `{"<key>": [records…], "meta": {…}}`, serialized straight
/// from the resources: building a `serde_json::Value` first cost as much as the rest of the page.
pub struct Listing<R> {
    key: &'static str,
    items: Vec<R>,
    meta: Meta,
}

impl<R: Serialize> Serialize for Listing<R> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry(self.key, &self.items)?;
        m.serialize_entry("meta", &self.meta)?;
        m.end()
    }
}

/// A list response: the page's records under `key`, and `meta`, serialized at once (the resources
/// may borrow the page's records).
pub fn listing<'p, T, R: Serialize>(
    base: &str,
    filters: &[(&str, String)],
    paging: &Paging,
    page: &'p Page<T>,
    key: &'static str,
    render: impl Fn(&'p T) -> R,
    sid_of: impl Fn(&T) -> String,
) -> axum::response::Response {
    let items: Vec<R> = page.items.iter().map(render).collect();
    let meta = meta(base, filters, paging, page, key, sid_of);
    // About 700 bytes per participant or room, 600 for the meta block.
    crate::json(&Listing { key, items, meta }, 1024 + 768 * page.items.len())
}

/// [`listing`] for resources that write their own JSON (`write` appends one record's): the page is
/// written into one buffer, `{"<key>":[…],"meta":{…}}` as `Listing` serializes it.
///
/// # Errors
/// `Internal` if `meta` could not be written (it always can).
pub fn listing_written<T>(
    base: &str,
    filters: &[(&str, String)],
    paging: &Paging,
    page: &Page<T>,
    key: &'static str,
    write: impl Fn(&T, &mut Vec<u8>),
    sid_of: impl Fn(&T) -> String,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::with_capacity(1024 + 768 * page.items.len());
    body.extend_from_slice(b"{");
    crate::raw::string(&mut body, key);
    body.extend_from_slice(b":[");
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        write(item, &mut body);
    }
    body.extend_from_slice(b"],\"meta\":");
    let meta = meta(base, filters, paging, page, key, sid_of);
    serde_json::to_writer(&mut body, &meta).map_err(|e| ApiError::Internal(e.to_string()))?;
    body.push(b'}');
    Ok(body)
}

/// Builds `meta` for one page. `base` is the public URL plus the path as the caller wrote it;
/// `filters` are the filter parameters the caller sent, in Twilio's order; `sid_of` gives a record's
/// SID text for the tokens.
pub fn meta<T>(
    base: &str,
    filters: &[(&str, String)],
    paging: &Paging,
    page: &Page<T>,
    key: &'static str,
    sid_of: impl Fn(&T) -> String,
) -> Meta {
    let size = paging.request.size;
    let url_for = |page_no: u32, token: Option<String>| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in filters {
            q.append_pair(k, v);
        }
        q.append_pair("PageSize", &size.to_string());
        q.append_pair("Page", &page_no.to_string());
        if let Some(t) = token {
            q.append_pair("PageToken", &t);
        }
        format!("{base}?{}", q.finish())
    };
    let next = match (page.has_next, page.items.last()) {
        (true, Some(last)) => Some(url_for(
            paging.page.saturating_add(1),
            Some(format!("PA{}", sid_of(last))),
        )),
        _ => None,
    };
    let previous = match (page.has_previous, page.items.first()) {
        (true, Some(first)) => Some(url_for(
            paging.page.saturating_sub(1),
            Some(format!("PB{}", sid_of(first))),
        )),
        _ => None,
    };
    Meta {
        page: paging.page,
        page_size: size,
        first_page_url: url_for(0, None),
        previous_page_url: previous,
        url: url_for(paging.page, paging.token.clone()),
        next_page_url: next,
        key,
    }
}

/// Pages a small list kept in memory with the same order and tokens as stored lists: newest first by
/// `key` (creation time, then SID), descending.
///
/// # Errors
/// `BadPageToken` when the cursor names no item.
pub fn page_in_memory<T>(
    mut items: Vec<T>,
    request: &PageRequest,
    key: impl Fn(&T) -> (vroom_domain::time::Timestamp, String),
) -> Result<Page<T>, ApiError> {
    items.sort_by_key(|item| std::cmp::Reverse(key(item)));
    let size = request.size as usize;
    let (range, has_next, has_previous) = match &request.cursor {
        None => (0..size.min(items.len()), items.len() > size, false),
        Some(cursor) => {
            let at = items
                .iter()
                .position(|i| key(i).1 == cursor.sid)
                .ok_or(ApiError::BadPageToken)?;
            match cursor.direction {
                Direction::After => {
                    let end = (at + 1 + size).min(items.len());
                    (at + 1..end, end < items.len(), true)
                }
                Direction::Before => (at.saturating_sub(size)..at, true, at > size),
            }
        }
    };
    let items = items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| range.contains(i))
        .map(|(_, t)| t)
        .collect();
    Ok(Page {
        items,
        has_next,
        has_previous,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paging_parameters() {
        let p = paging(&Params::parse(b"")).unwrap();
        assert_eq!((p.request.size, p.page), (50, 0));
        assert_eq!(
            paging(&Params::parse(b"PageSize=5000"))
                .unwrap()
                .request
                .size,
            1000
        );
        assert!(paging(&Params::parse(b"PageSize=0")).is_err());
        assert!(
            paging(&Params::parse(b"Page=2")).is_err(),
            "a later page needs its token"
        );
        let t = paging(&Params::parse(
            b"Page=1&PageToken=PARM0123456789abcdef0123456789abcdef",
        ))
        .unwrap();
        assert_eq!(t.request.cursor.unwrap().direction, Direction::After);
        assert!(matches!(
            paging(&Params::parse(b"PageToken=XX1")),
            Err(ApiError::BadPageToken)
        ));
    }

    /// A page written directly is byte for byte the page `listing` serializes.
    #[tokio::test]
    async fn written_pages_match_serialized_ones() {
        use crate::wire::ParticipantResource;
        use vroom_domain::participant::Participant;
        use vroom_domain::sid::{AccountSid, ParticipantSid, RoomSid};
        use vroom_domain::time::Timestamp;
        let p = paging(&Params::parse(
            b"PageSize=2&Page=1&PageToken=PAPA0123456789abcdef0123456789abcdef",
        ))
        .unwrap();
        for n in [0, 1, 2] {
            let items: Vec<Participant> = (0..n)
                .map(|i| {
                    Participant::connect(
                        ParticipantSid::from_bytes([i; 16]),
                        RoomSid::from_bytes([9; 16]),
                        AccountSid::from_bytes([1; 16]),
                        format!("user \"{i}\""),
                        Timestamp::from_secs(1_764_600_000),
                    )
                })
                .collect();
            let page = Page {
                items,
                has_next: n == 2,
                has_previous: true,
            };
            let base = "http://h:1/v1/Rooms/RM09/Participants";
            let filters = [("Status", "connected".to_owned())];
            let body = |r: axum::response::Response| async {
                axum::body::to_bytes(r.into_body(), usize::MAX)
                    .await
                    .unwrap()
            };
            let written = listing_written(
                base,
                &filters,
                &p,
                &page,
                "participants",
                |x, out| ParticipantResource::new(x, "http://h:1").write_json(out),
                |x| x.sid.to_string(),
            )
            .unwrap();
            let serialized = listing(
                base,
                &filters,
                &p,
                &page,
                "participants",
                |x| ParticipantResource::new(x, "http://h:1"),
                |x| x.sid.to_string(),
            );
            assert_eq!(written, body(serialized).await, "{n} items");
        }
    }

    #[test]
    fn meta_urls_are_absolute_and_carry_filters_and_tokens() {
        let p = paging(&Params::parse(b"PageSize=2")).unwrap();
        let page = Page {
            items: vec!["RMa", "RMb"],
            has_next: true,
            has_previous: false,
        };
        let m = meta(
            "http://h:1/v1/Rooms",
            &[
                ("Status", "completed".into()),
                ("DateCreatedAfter", "2024-01-02T03:04:05Z".into()),
            ],
            &p,
            &page,
            "rooms",
            |s| (*s).to_owned(),
        );
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v["first_page_url"],
            "http://h:1/v1/Rooms?Status=completed&DateCreatedAfter=2024-01-02T03%3A04%3A05Z&PageSize=2&Page=0"
        );
        assert_eq!(
            v["next_page_url"],
            "http://h:1/v1/Rooms?Status=completed&DateCreatedAfter=2024-01-02T03%3A04%3A05Z&PageSize=2&Page=1&PageToken=PARMb"
        );
        assert_eq!(v["previous_page_url"], serde_json::Value::Null);
        assert_eq!(v["key"], "rooms");
    }
}
