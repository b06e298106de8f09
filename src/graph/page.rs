//! One page of a call-log answer: the body bytes kept whole, the rows located in it.
//!
//! The page is walked once to find each row's raw JSON and the `@odata.nextLink`
//! (`walk`, checked as serde_json checks it, which reads the pages the walk leaves);
//! rows are later read borrowed from the same bytes and written out unchanged, so no
//! row is ever rebuilt as a tree or re-serialised.

use crate::http_client::BufferPool;
use crate::model::FieldSpans;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::ops::Range;

mod walk;

/// A page of rows as Graph sent it.
#[derive(Debug, Clone)]
pub struct Page {
    /// The body, checked to be UTF-8 once (so the rows are `&str` with no re-check).
    body: String,
    rows: Vec<Range<usize>>,
    /// The places of each row's read fields, when the walk read the page (else empty).
    spans: Vec<FieldSpans>,
    next_link: Option<String>,
    /// Where the body's buffer goes once the page is dropped, when it came from one.
    pool: Option<BufferPool>,
}

/// Why a page body could not be read (a truncated or garbled body: worth a retry).
#[derive(Debug, Clone, thiserror::Error)]
#[error("unreadable page body ({0})")]
pub struct PageError(String);

impl PageError {
    /// A body that could not be read, and why.
    pub(super) fn new(message: String) -> PageError {
        PageError(message)
    }
}

/// Graph pages hold up to 1,000 rows; a page claiming more than this is refused before
/// its row index grows (a 60 MB page of `1,1,1,...` would otherwise index 30 million
/// "rows"). With the body cap this bounds a page's memory (its rows' ranges and
/// spans: 120 bytes a row, 1.2 MB at this cap).
pub const MAX_ROWS_PER_PAGE: usize = 10_000;

/// The `value` array, located row by row, refused past [`MAX_ROWS_PER_PAGE`].
struct Rows<'a>(Vec<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Rows<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = Rows<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of rows")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Rows<'a>, A::Error> {
                let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1_000));
                while let Some(row) = seq.next_element::<&'de RawValue>()? {
                    if rows.len() == MAX_ROWS_PER_PAGE {
                        return Err(serde::de::Error::custom(format!(
                            "more than {MAX_ROWS_PER_PAGE} rows in one page"
                        )));
                    }
                    rows.push(row);
                }
                Ok(Rows(rows))
            }
        }
        deserializer.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct PageShape<'a> {
    #[serde(borrow, default)]
    value: Option<Rows<'a>>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

impl Page {
    /// Finds the rows and the next link in a body; fails on anything but a JSON object
    /// with a `value` array.
    pub fn parse(body: Bytes) -> Result<Page, PageError> {
        // The body is whole and owned by this page alone (read into one buffer): taken
        // without a copy, checked to be UTF-8 once.
        let body = match body.try_into_mut() {
            Ok(unique) => Vec::from(unique),
            Err(shared) => shared.to_vec(),
        };
        let body = String::from_utf8(body).map_err(|error| PageError(error.to_string()))?;
        let mut found = walk::Found {
            rows: Vec::with_capacity(1_000),
            spans: Vec::with_capacity(1_000),
        };
        let next_link = match walk::page(&body, &mut found) {
            Some(next_link) => next_link,
            None => {
                found.rows.clear();
                found.spans = Vec::new();
                by_serde_json(&body, &mut found.rows)?
            }
        };
        Ok(Page {
            rows: found.rows,
            spans: found.spans,
            next_link: next_link.filter(|link| !link.is_empty()),
            body,
            pool: None,
        })
    }

    /// Whether the walk reads `body` itself (rather than leave it to serde_json): what
    /// the tests hold real pages to, so the walk cannot fall silently out of use.
    #[cfg(any(test, feature = "__internals"))]
    pub fn walks(body: &str) -> bool {
        walk::page(body, &mut walk::Found::default()).is_some()
    }

    /// [`Page::parse`] by serde_json alone, as every page was read before the walk: what
    /// the fuzz tests hold the walk to.
    #[cfg(any(test, feature = "__internals"))]
    pub fn parse_by_serde_json(body: &str) -> Result<(Vec<&str>, Option<String>), PageError> {
        let mut rows = Vec::new();
        let next_link = by_serde_json(body, &mut rows)?;
        let rows = rows
            .into_iter()
            .filter_map(|range| body.get(range))
            .collect();
        Ok((rows, next_link.filter(|link| !link.is_empty())))
    }

    /// The same page, its body's buffer given back to `pool` when it is dropped (so
    /// the next page is read into it: issue 28).
    pub fn giving_body_back_to(mut self, pool: BufferPool) -> Page {
        self.pool = Some(pool);
        self
    }

    /// Each row's raw JSON, in page order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        // The ranges are the walk's or serde_json's cuts of the body, at ASCII bytes.
        self.rows
            .iter()
            .map(|range| self.body.get(range.clone()).unwrap_or("null"))
    }

    /// Each row's raw JSON with the places of its read fields, when the walk noted
    /// them (for [`Row::parse_page_row`](crate::model::Row::parse_page_row)).
    pub fn rows_with_spans(
        &self,
    ) -> impl ExactSizeIterator<Item = (&str, Option<&FieldSpans>)> + '_ {
        self.rows()
            .enumerate()
            .map(|(index, raw)| (raw, self.spans.get(index)))
    }

    /// How many rows the page holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    #[cfg(any(test, feature = "__internals"))]
    /// Whether the page holds no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The link to the next page, exactly as Graph wrote it.
    pub fn next_link(&self) -> Option<&str> {
        self.next_link.as_deref()
    }

    /// Size of the body in bytes.
    pub fn body_len(&self) -> usize {
        self.body.len()
    }
}

/// The page's next link, each row's range pushed on `rows`, read by serde_json: for the
/// pages the walk leaves to it, so that their answer or error is serde_json's.
fn by_serde_json(body: &str, rows: &mut Vec<Range<usize>>) -> Result<Option<String>, PageError> {
    let shape: PageShape<'_> =
        serde_json::from_str(body).map_err(|error| PageError(error.to_string()))?;
    let Some(Rows(values)) = shape.value else {
        return Err(PageError("no \"value\" array".into()));
    };
    let base = body.as_ptr() as usize;
    rows.extend(values.iter().map(|raw| {
        let text = raw.get();
        let start = text.as_ptr() as usize - base;
        start..start + text.len()
    }));
    Ok(shape.next_link)
}

impl Drop for Page {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.give(std::mem::take(&mut self.body).into_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_located_verbatim_and_the_next_link_kept() {
        let body = r#"{"@odata.nextLink":"https://graph.microsoft.com/beta/x(from=1,to=2)?$skip=1000","value":[{"id":"a","charge":"0.10"} , {"id":"b"}],"@odata.count":2}"#;
        let page = Page::parse(Bytes::from(body)).unwrap();
        let rows: Vec<&str> = page.rows().collect();
        assert_eq!(rows, [r#"{"id":"a","charge":"0.10"}"#, r#"{"id":"b"}"#]);
        assert_eq!(
            page.next_link(),
            Some("https://graph.microsoft.com/beta/x(from=1,to=2)?$skip=1000")
        );
    }

    #[test]
    fn a_page_as_graph_writes_it_is_read_by_the_walk_and_an_unusual_one_by_serde_json() {
        let body = r#"{"@odata.context":"x","@odata.nextLink":"https://g/x?$skip=2","value":[{"id":"a","n":-1.5e3,"b":[true,null]} ,{"id":"b"}]}"#;
        let mut found = walk::Found::default();
        let link = walk::page(body, &mut found);
        assert_eq!(link, Some(Some("https://g/x?$skip=2".to_owned())));
        assert_eq!(found.spans.len(), 2, "a row's fields noted for each row");
        let rows: Vec<&str> = found.rows.into_iter().map(|range| &body[range]).collect();
        assert_eq!(
            rows,
            [r#"{"id":"a","n":-1.5e3,"b":[true,null]}"#, r#"{"id":"b"}"#]
        );
        for unusual in [
            r#"{"valu\u0065":[]}"#,
            r#"{"value":[],"@odata.nextLink":"https:\/\/g"}"#,
            r#"{"value":[],"value":[]}"#,
            r#"[[], "https://g"]"#,
            r#"{"value":null}"#,
        ] {
            assert_eq!(
                walk::page(unusual, &mut walk::Found::default()),
                None,
                "{unusual}"
            );
        }
        let escaped = Page::parse(Bytes::from(r#"{"valu\u0065":[1]}"#)).unwrap();
        assert_eq!(escaped.rows().collect::<Vec<_>>(), ["1"]);
    }

    #[test]
    fn a_page_with_more_rows_than_graph_ever_sends_is_refused() {
        let many = format!("{{\"value\":[{}1]}}", "1,".repeat(MAX_ROWS_PER_PAGE));
        let error = Page::parse(Bytes::from(many)).unwrap_err();
        assert!(
            error.to_string().contains("more than 10000 rows"),
            "{error}"
        );
        let enough = format!("{{\"value\":[{}1]}}", "1,".repeat(MAX_ROWS_PER_PAGE - 1));
        assert_eq!(
            Page::parse(Bytes::from(enough)).unwrap().len(),
            MAX_ROWS_PER_PAGE
        );
    }

    #[test]
    fn a_dropped_page_gives_its_bodys_buffer_back_to_its_pool_uncopied() {
        let pool = BufferPool::default();
        let mut body = pool.take(4096);
        body.extend_from_slice(br#"{"value":[{"id":"a"}]}"#);
        let address = body.as_ptr();
        let page = Page::parse(Bytes::from(body)).unwrap();
        let page = page.giving_body_back_to(pool.clone());
        assert_eq!(page.rows().collect::<Vec<_>>(), [r#"{"id":"a"}"#]);
        drop(page);
        let again = pool.take(0);
        assert_eq!((again.as_ptr(), again.capacity() >= 4096), (address, true));
    }

    #[test]
    fn a_truncated_body_is_an_error_not_a_short_page() {
        let body = r#"{"value":[{"id":"a"},{"id":"#;
        assert!(Page::parse(Bytes::from(body)).is_err());
        assert!(Page::parse(Bytes::from("{}")).is_err());
        assert!(Page::parse(Bytes::from("<html>")).is_err());
    }
}
