//! The bytes one page of a list may hold. A page is bounded by a count (`count`, `limit`) and
//! by the bytes of its rendered resources (`--max-page-bytes`): 1,000 users of 900 KB would
//! otherwise make an answer of 900 MB, and the server hold several times that while making it.
//! A page that reaches its bytes ends early (RFC 7644 §3.4.2.4 lets a SCIM server return
//! fewer results than `count`; `itemsPerPage` says how many came, and the client asks again
//! from `startIndex + itemsPerPage`; the host API's page ends with a `nextCursor` as usual).
//! A page always holds at least one resource, however large, so every list can be walked.
//!
//! Rows are read in the same spirit: the ids and stored sizes of a page first, then its rows
//! a chunk of at most [`LOAD_CHUNK_BYTES`] at a time, so what a request holds stays near the
//! page's bytes whatever `count` asks.

use crate::scim::error::ScimError;
use crate::store::users::SizedRow;

/// Default of `--max-page-bytes`: the rendered resources one page of a list holds at most
/// (past its first resource). Pages of ordinary users (2 KB) stay bounded by their count.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Stored bytes of the rows read in one query while a page is filled.
pub const LOAD_CHUNK_BYTES: usize = 1024 * 1024;

/// A page filling up: the bytes of the resources it took.
#[derive(Debug, Clone)]
pub struct PageBytes {
    max: usize,
    used: usize,
    taken: usize,
}

impl PageBytes {
    /// An empty page that holds `max` bytes.
    pub fn new(max: usize) -> PageBytes {
        PageBytes {
            max,
            used: 0,
            taken: 0,
        }
    }

    /// Whether a resource of `len` bytes would go on the page.
    pub fn fits(&self, len: usize) -> bool {
        self.taken == 0 || self.used.saturating_add(len) <= self.max
    }

    /// Take a resource of `len` bytes if it fits ([`PageBytes::fits`]): the first always,
    /// the next ones while the page stays within its bytes. False: the page is full.
    pub fn take(&mut self, len: usize) -> bool {
        if !self.fits(len) {
            return false;
        }
        self.used = self.used.saturating_add(len);
        self.taken += 1;
        true
    }

    /// The bytes taken so far.
    pub fn used(&self) -> usize {
        self.used
    }
}

pub fn stored_len(row: &SizedRow) -> usize {
    usize::try_from(row.bytes).unwrap_or(usize::MAX)
}

/// Fill a page from the ids and stored sizes of its rows, in order: read the rows a chunk of
/// at most [`LOAD_CHUNK_BYTES`] at a time (`load` may leave out rows gone since), render each
/// and stop at the first that does not fit. When `stored_is_lower_bound` (nothing is
/// projected away, so a rendered resource is at least as large as its stored form), rows that
/// cannot fit are not even read. Returns the rendered resources of the page.
pub fn fill_page<R>(
    rows: &[SizedRow],
    page: &mut PageBytes,
    stored_is_lower_bound: bool,
    mut load: impl FnMut(&[String]) -> Result<Vec<R>, ScimError>,
    mut render: impl FnMut(&R) -> Result<String, ScimError>,
) -> Result<Vec<String>, ScimError> {
    let mut out = Vec::new();
    let mut rest = rows;
    while !rest.is_empty() {
        let (mut end, mut chunk, mut last) = (0, 0usize, false);
        for row in rest {
            let len = stored_len(row);
            let first = end == 0 && out.is_empty();
            // The page's bytes if the chunk so far and this row all go on it.
            let after = page.used().saturating_add(chunk).saturating_add(len);
            if stored_is_lower_bound && !first && after > page.max {
                last = true;
                break;
            }
            if end > 0 && chunk.saturating_add(len) > LOAD_CHUNK_BYTES {
                break;
            }
            chunk = chunk.saturating_add(len);
            end += 1;
        }
        let (now, later) = rest.split_at(end);
        rest = later;
        let ids: Vec<String> = now.iter().map(|r| r.id.clone()).collect();
        for row in &load(&ids)? {
            let text = render(row)?;
            if !page.take(text.len()) {
                return Ok(out);
            }
            out.push(text);
        }
        if last {
            break;
        }
    }
    Ok(out)
}

/// Consecutive runs of `rows` of at most [`LOAD_CHUNK_BYTES`] stored bytes each (a larger row
/// is a run of its own): how a scan reads its candidates.
pub fn chunks(rows: &[SizedRow]) -> impl Iterator<Item = &[SizedRow]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0usize;
        let end = rest
            .iter()
            .position(|r| {
                bytes = bytes.saturating_add(stored_len(r));
                bytes > LOAD_CHUNK_BYTES
            })
            .map_or(rest.len(), |i| i.max(1));
        let (now, later) = rest.split_at(end);
        rest = later;
        Some(now)
    })
}

/// How many of a walk's next rows (read one past the limit) a page takes: up to `limit`,
/// and while their stored sizes plus `overhead` each fit the page's bytes (at least one).
pub fn rows_that_fit(rows: &[SizedRow], limit: usize, max_bytes: usize, overhead: usize) -> usize {
    rows_that_fit_as(rows, limit, max_bytes, |r| {
        stored_len(r).saturating_add(overhead)
    })
}

/// [`rows_that_fit`] with each row's size on the page estimated by `size` (a user of the host
/// API is its resource and a view that repeats its values).
pub fn rows_that_fit_as(
    rows: &[SizedRow],
    limit: usize,
    max_bytes: usize,
    size: impl Fn(&SizedRow) -> usize,
) -> usize {
    let mut page = PageBytes::new(max_bytes);
    rows.iter()
        .take(limit)
        .take_while(|r| page.take(size(r)))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(sizes: &[i64]) -> Vec<SizedRow> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &bytes)| SizedRow {
                id: i.to_string(),
                bytes,
                updated_at: 0,
            })
            .collect()
    }

    /// Fill a page whose rows render as their stored size plus `extra`; the ids read, by query.
    fn fill(
        sizes: &[i64],
        max: usize,
        lower_bound: bool,
        rendered: impl Fn(usize) -> usize,
    ) -> (Vec<usize>, Vec<Vec<usize>>) {
        let all = rows(sizes);
        let mut reads = Vec::new();
        let mut page = PageBytes::new(max);
        let out = fill_page(
            &all,
            &mut page,
            lower_bound,
            |ids| {
                let ids: Vec<usize> = ids.iter().map(|i| i.parse().unwrap()).collect();
                reads.push(ids.clone());
                Ok(ids)
            },
            |&i| {
                let id = i.to_string();
                Ok(format!(
                    "{id}{}",
                    " ".repeat(rendered(i).saturating_sub(id.len()))
                ))
            },
        )
        .unwrap();
        let taken = out.iter().map(|t| t.trim().parse().unwrap()).collect();
        (taken, reads)
    }

    #[test]
    fn a_page_stops_at_its_bytes_and_holds_at_least_one() {
        let mb = 1024 * 1024;
        let size = |i: usize| [900_000, 900_000, 900_000, 900_000, 900_000, 10][i];
        let sizes: Vec<i64> = (0..6).map(|i| size(i) as i64).collect();
        // Rendered forms are a little larger than stored: the fifth does not fit 4 MiB.
        let (taken, reads) = fill(&sizes, 4 * mb, true, |i| size(i) + 300);
        assert_eq!(taken, vec![0, 1, 2, 3]);
        // One row a query (each is near the chunk's bytes); the fifth is never read.
        assert_eq!(reads, vec![vec![0], vec![1], vec![2], vec![3]]);
        // A page smaller than one resource still holds it.
        let (taken, _) = fill(&sizes, 1000, true, |i| size(i) + 300);
        assert_eq!(taken, vec![0]);
        // Small rows are read many at a time and bounded by the count asked for only.
        let small = vec![2000i64; 1000];
        let (taken, reads) = fill(&small, 4 * mb, true, |_| 2300);
        assert_eq!(taken.len(), 1000);
        assert_eq!(reads.len(), 2, "1,000 rows of 2 KB: two chunks of 1 MiB");
    }

    #[test]
    fn a_projected_page_reads_rows_until_the_rendered_bytes_run_out() {
        let sizes = vec![900_000i64; 10];
        // Projected to a few bytes each: all ten fit, read one by one.
        let (taken, reads) = fill(&sizes, 4 * 1024 * 1024, false, |_| 40);
        assert_eq!(taken.len(), 10);
        assert_eq!(reads.len(), 10);
        // Rendered as large as stored: the row that does not fit is read, then the page ends.
        let (taken, reads) = fill(&sizes, 2_000_000, false, |_| 900_000);
        assert_eq!(taken, vec![0, 1]);
        assert_eq!(reads.len(), 3);
    }

    #[test]
    fn chunks_hold_a_mib_or_one_row() {
        let all = rows(&[600_000, 600_000, 2_000_000, 10, 10, 1_048_570]);
        let lens: Vec<usize> = chunks(&all).map(<[SizedRow]>::len).collect();
        assert_eq!(lens, vec![1, 1, 1, 2, 1]);
        let small = rows(&[1000; 2500]);
        let lens: Vec<usize> = chunks(&small).map(<[SizedRow]>::len).collect();
        assert_eq!(lens, vec![1048, 1048, 404]);
        assert_eq!(chunks(&[]).count(), 0);
    }

    #[test]
    fn walks_take_what_fits() {
        let all = rows(&[1_000_000, 1_000_000, 1_000_000, 10]);
        assert_eq!(rows_that_fit(&all, 100, 2_500_000, 100), 2);
        assert_eq!(rows_that_fit(&all, 1, 2_500_000, 100), 1);
        assert_eq!(rows_that_fit(&all, 100, 10, 100), 1);
        assert_eq!(rows_that_fit(&all[3..], 100, 10, 100), 1);
        assert_eq!(rows_that_fit(&[], 100, 10, 100), 0);
    }
}
