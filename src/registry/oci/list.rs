//! Listings: a catalog or a tag list, read page after page within a byte budget.

use std::collections::BTreeSet;

use super::client::retry;
use super::http::{Failure, Session};
use super::{MAX_LISTING_BYTES, PAGE_SIZE};

/// Every entry of a paginated listing (a catalog or a tag list), page after page.
///
/// The distribution spec says a server that has more sends a `Link` header naming the next
/// page, and that without one the client may take the listing as complete. Registries that say
/// they implement that API (the `Docker-Distribution-API-Version: registry/2.0` header:
/// Distribution, Harbor, Zot, GHCR, …) are taken at their word: a page without `Link` that is
/// shorter than the `n` asked for is the last, so a module with fewer than [`PAGE_SIZE`]
/// versions costs one request. Any other server is read defensively: a page shorter than `n`
/// is not the last one (some cap `n` at their own maximum and send no `Link`), so the next page
/// is asked for, `last` being the last entry so far, until a page is empty or brings nothing
/// new (a server that ignores `last` answers with the first page again: everything it holds is
/// then listed). [`MAX_LISTING_BYTES`] bounds the whole, and the caller's deadline its time.
pub(super) async fn list_pages(
    session: &Session<'_>,
    path: &str,
    key: &str,
) -> Result<Vec<String>, Failure> {
    let mut listing = Listing::default();
    let mut budget = MAX_LISTING_BYTES;
    let page_size = PAGE_SIZE.to_string();
    loop {
        let mut query = vec![("n", page_size.as_str())];
        if let Some(last) = &listing.last {
            query.push(("last", last.as_str()));
        }
        let (headers, body) = retry(Failure::is_transient, || {
            session.get_bounded(path, &query, None, budget)
        })
        .await
        .map_err(|failure| match failure {
            Failure::TooLarge { .. } => Failure::Invalid(format!(
                "the listing is larger than {MAX_LISTING_BYTES} bytes"
            )),
            other => other,
        })?;
        budget -= body.len() as u64;
        let page = parse_page(&body, key)?;
        let said_last = speaks_distribution_api(&headers)
            && !headers.contains_key("link")
            && page.len() < PAGE_SIZE;
        if !listing.add(page) || said_last {
            return Ok(listing.entries);
        }
    }
}

/// Whether the server says it implements the distribution API (and so its `Link` headers).
fn speaks_distribution_api(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get("docker-distribution-api-version")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().starts_with("registry/2"))
}

/// The entries of a listing, gathered page after page.
#[derive(Debug, Default)]
struct Listing {
    entries: Vec<String>,
    seen: BTreeSet<String>,
    /// The last entry of the last page: where the next one starts.
    last: Option<String>,
}

impl Listing {
    /// Adds a page; says whether it brought anything new (else the listing is complete).
    fn add(&mut self, page: Vec<String>) -> bool {
        let before = self.entries.len();
        if let Some(last) = page.last() {
            self.last = Some(last.clone());
        }
        for entry in page {
            if self.seen.insert(entry.clone()) {
                self.entries.push(entry);
            }
        }
        self.entries.len() > before
    }
}

/// The entries under `key` in a listing page: `{"tags": [...]}` or `{"repositories": [...]}`
/// (`null` or missing for none, as some registries answer for an empty repository).
fn parse_page(body: &[u8], key: &str) -> Result<Vec<String>, Failure> {
    let not_a_listing =
        |detail: String| Failure::Invalid(format!("the answer is not a listing: {detail}"));
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| not_a_listing(error.to_string()))?;
    let Some(object) = value.as_object() else {
        return Err(not_a_listing("it is not a JSON object".into()));
    };
    match object.get(key) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| not_a_listing(format!("`{key}` holds a non-string")))
            })
            .collect(),
        Some(_) => Err(not_a_listing(format!("`{key}` is not a list"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_ends_at_an_empty_page_or_one_with_nothing_new() {
        // What the server answers page after page; how many pages are asked for; the listing.
        type Case<'a> = (&'a str, &'a [&'a [&'a str]], usize, &'a [&'a str]);
        let cases: [Case<'_>; 4] = [
            (
                "short pages are not the last",
                &[&["a", "b"], &["c"], &["d", "e"], &[]],
                4,
                &["a", "b", "c", "d", "e"],
            ),
            (
                "a server ignoring `n` and `last` answers everything twice",
                &[&["a", "b", "c"], &["a", "b", "c"]],
                2,
                &["a", "b", "c"],
            ),
            ("an empty listing", &[&[]], 1, &[]),
            (
                "a page that repeats its predecessor's last entry",
                &[&["a", "b"], &["b", "c"], &["c"]],
                3,
                &["a", "b", "c"],
            ),
        ];
        for (case, pages, asked, expected) in cases {
            let mut listing = Listing::default();
            let mut count = 0;
            for page in pages {
                count += 1;
                if !listing.add(page.iter().map(|entry| (*entry).to_owned()).collect()) {
                    break;
                }
            }
            assert_eq!(count, asked, "{case}: pages asked for");
            assert_eq!(listing.entries, expected, "{case}");
        }
    }

    #[test]
    fn listing_pages_are_json_objects_of_strings() {
        let cases: [(&str, Result<&[&str], &str>); 6] = [
            (
                r#"{"name":"ns/m","tags":["1.0.0","0.1.0"]}"#,
                Ok(&["1.0.0", "0.1.0"]),
            ),
            (r#"{"name":"ns/m","tags":null}"#, Ok(&[])),
            (r#"{"name":"ns/m"}"#, Ok(&[])),
            (r#"{"tags":[1]}"#, Err("holds a non-string")),
            (r#"["1.0.0"]"#, Err("not a JSON object")),
            (
                r#"{"tags": [oops"#,
                Err("the answer is not a listing: expected value"),
            ),
        ];
        for (body, expected) in cases {
            match (parse_page(body.as_bytes(), "tags"), expected) {
                (Ok(found), Ok(expected)) => assert_eq!(found, expected, "{body}"),
                (Err(failure), Err(expected)) => {
                    assert!(
                        failure.describe().contains(expected),
                        "{body}: {}",
                        failure.describe()
                    )
                }
                (found, _) => panic!("{body}: {found:?}"),
            }
        }
    }
}
