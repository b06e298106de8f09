//! Where a row's read fields lie, noted by the page's walk while it checks the row
//! (issue 28): the row's view is then read from these places, without the second walk
//! of the row that [`super::scan`] makes.

use super::super::BadRow;
use super::scan::{FIELDS, Field, Fields, scan};
use std::ops::Range;

/// Each read field's place in its row (the row's byte offsets), as a walk of the row
/// found them. Offsets are `u16` to keep a page's spans small (104 bytes a row): a
/// read field past the row's first 64 KB, an escaped key or a read field given twice
/// leaves the reading to [`scan`], which says what such a row is.
#[derive(Debug, Clone, Default)]
pub struct FieldSpans {
    places: [(u16, u16); FIELDS],
    /// A bit per [`Field`] noted.
    seen: u32,
    /// A read field twice, an escaped key, or a place past `u16`: read by [`scan`].
    unread: bool,
}

impl FieldSpans {
    /// Notes one member of the row: its key's text between the quotes, whether that
    /// holds an escape, and its value's place in the row.
    #[inline]
    pub fn note(&mut self, key: &[u8], escaped: bool, value: Range<usize>) {
        if escaped {
            self.unread = true;
            return;
        }
        let Some(field) = Field::of(key) else {
            return;
        };
        let bit = 1u32 << field as u32;
        let (Ok(start), Ok(end)) = (u16::try_from(value.start), u16::try_from(value.end)) else {
            self.unread = true;
            return;
        };
        self.unread |= self.seen & bit != 0;
        self.seen |= bit;
        self.places[field as usize] = (start, end);
    }

    /// The fields of `raw`, the row these spans were noted from: what [`scan`] of it
    /// would answer. A `raw` they were not noted from gives fields of no meaning or
    /// [`BadRow::NotAnObject`], never a panic.
    pub(super) fn fields<'a>(&self, raw: &'a str) -> Result<Fields<'a>, BadRow> {
        if self.unread {
            return scan(raw);
        }
        let mut fields = Fields::default();
        for (index, (start, end)) in self.places.iter().enumerate() {
            if self.seen & (1 << index) == 0 {
                continue;
            }
            let text = raw
                .get(usize::from(*start)..usize::from(*end))
                .ok_or(BadRow::NotAnObject)?;
            fields.0[index] = (text != "null").then_some(text);
        }
        Ok(fields)
    }
}
