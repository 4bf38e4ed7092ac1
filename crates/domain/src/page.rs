//! Keyset paging: a page is "the next N records after (or before) this SID" in a fixed order, so pages
//! stay correct while records are added.

/// Which side of the cursor a page lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Records after the cursor in list order (Twilio's `PA<sid>` token).
    After,
    /// Records before the cursor in list order (Twilio's `PB<sid>` token).
    Before,
}

/// A position in a list: the SID of a record and which side of it to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Side.
    pub direction: Direction,
    /// The SID text of the record the page starts next to.
    pub sid: String,
}

/// Which page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Records per page (1..=1000).
    pub size: u32,
    /// Where to start; `None` is the first page.
    pub cursor: Option<Cursor>,
}

/// One page of records, in list order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The records.
    pub items: Vec<T>,
    /// Whether records exist after the last one.
    pub has_next: bool,
    /// Whether records exist before the first one.
    pub has_previous: bool,
}
