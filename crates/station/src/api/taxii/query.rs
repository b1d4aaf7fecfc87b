//! The filters and paging of TAXII 2.1 §3.4–3.5: `added_after`, `limit`,
//! `next`, `match[id]`, `match[type]`, `match[version]` (`last` by default,
//! `first`, `all`, timestamps) and `match[spec_version]`, applied in the
//! order of the TAXII reference server: id, type, `added_after` and
//! spec_version narrow the objects, then the versions are chosen per object.
//!
//! A page ends after `limit` objects; `next` is the place of the page's last
//! object, so paging stays right while new reports arrive.

use super::reports::{Item, Pos};
use super::TaxiiError;
use axum::extract::Query as Q;
use axum::http::Uri;
use hotline_core::stix::Timestamp;
use serde::Deserialize;
use std::collections::HashMap;

/// The most objects in one page, and the page when `limit` is left out.
pub const MAX_PAGE: usize = 1000;

/// The query string as sent; each value is checked in [`Query::from_uri`].
#[derive(Deserialize, Default)]
struct Params {
    added_after: Option<String>,
    limit: Option<String>,
    next: Option<String>,
    #[serde(rename = "match[id]")]
    id: Option<String>,
    #[serde(rename = "match[type]")]
    kind: Option<String>,
    #[serde(rename = "match[version]")]
    version: Option<String>,
    #[serde(rename = "match[spec_version]")]
    spec_version: Option<String>,
}

/// Which versions of each object `match[version]` asks for.
#[derive(Debug, Clone, Default, PartialEq)]
struct Versions {
    all: bool,
    first: bool,
    last: bool,
    at: Vec<Timestamp>,
}

/// A checked TAXII query.
#[derive(Debug, Clone)]
pub struct Query {
    ids: Option<Vec<String>>,
    types: Option<Vec<String>>,
    spec_versions: Option<Vec<String>>,
    versions: Versions,
    added_after: Option<Timestamp>,
    limit: usize,
    next: Option<Pos>,
}

/// One page of a collection.
pub struct Page<'a> {
    /// The objects of the page, in collection order.
    pub items: Vec<Item<'a>>,
    /// Whether more follow.
    pub more: bool,
    /// The token that asks for the next page, when more follow.
    pub next: Option<String>,
}

/// A comma-separated list, empty entries dropped; `None` when left out.
fn list(v: Option<String>) -> Option<Vec<String>> {
    v.map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

fn timestamp(what: &str, v: &str) -> Result<Timestamp, TaxiiError> {
    Timestamp::parse(v).ok_or_else(|| {
        TaxiiError::bad_request(format!(
            "{what}: {v:?} is not a timestamp (YYYY-MM-DDTHH:MM:SS[.s]Z)"
        ))
    })
}

impl Query {
    /// Reads the query string of a request.
    pub fn from_uri(uri: &Uri) -> Result<Query, TaxiiError> {
        let Q(p) = Q::<Params>::try_from_uri(uri)
            .map_err(|e| TaxiiError::bad_request(format!("bad query: {e}")))?;
        let limit = match p.limit.as_deref() {
            None => MAX_PAGE,
            Some(l) => match l.trim().parse::<usize>() {
                Ok(n) if n > 0 => n.min(MAX_PAGE),
                _ => {
                    return Err(TaxiiError::bad_request(format!(
                        "limit: {l:?} is not a positive whole number"
                    )))
                }
            },
        };
        let next = p
            .next
            .as_deref()
            .map(|n| {
                decode(n).ok_or_else(|| {
                    TaxiiError::bad_request(format!("next: {n:?} is not a token this server gave"))
                })
            })
            .transpose()?;
        let mut versions = Versions::default();
        for v in list(p.version).unwrap_or_else(|| vec!["last".into()]) {
            match v.as_str() {
                "all" => versions.all = true,
                "first" => versions.first = true,
                "last" => versions.last = true,
                t => versions.at.push(timestamp("match[version]", t)?),
            }
        }
        Ok(Query {
            ids: list(p.id),
            types: list(p.kind),
            spec_versions: list(p.spec_version),
            versions,
            added_after: p
                .added_after
                .as_deref()
                .map(|t| timestamp("added_after", t))
                .transpose()?,
            limit,
            next,
        })
    }

    /// The same query narrowed to one object (`…/objects/{id}/`).
    pub fn for_object(mut self, id: &str) -> Query {
        self.ids = Some(vec![id.to_owned()]);
        self
    }

    /// Every version, whatever `match[version]` said (`…/versions/`, which
    /// takes no such filter).
    pub fn every_version(mut self) -> Query {
        self.versions = Versions {
            all: true,
            ..Versions::default()
        };
        self
    }

    /// The page of `items` (in collection order) this query asks for.
    pub fn page<'a>(&self, items: Vec<Item<'a>>) -> Page<'a> {
        let any = |list: &Option<Vec<String>>, v: &str| {
            list.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
        };
        let narrowed: Vec<Item<'a>> = items
            .into_iter()
            .filter(|i| {
                any(&self.ids, i.object.id())
                    && any(&self.types, i.object.kind())
                    // An observable without spec_version is 2.1: this server serves no other.
                    && any(&self.spec_versions, i.object.spec_version().unwrap_or("2.1"))
                    && self.added_after.as_ref().is_none_or(|t| i.date_added() > t)
            })
            .collect();
        let v = &self.versions;
        let chosen: Vec<Item<'a>> = if v.all {
            narrowed
        } else {
            let mut span: HashMap<&str, (&Timestamp, &Timestamp)> = HashMap::new();
            for i in &narrowed {
                let e = span
                    .entry(i.object.id())
                    .or_insert((i.version(), i.version()));
                e.0 = e.0.min(i.version());
                e.1 = e.1.max(i.version());
            }
            narrowed
                .into_iter()
                .filter(|i| {
                    let (first, last) = span[i.object.id()];
                    (v.first && i.version() == first)
                        || (v.last && i.version() == last)
                        || v.at.contains(i.version())
                })
                .collect()
        };
        let mut rest = chosen
            .into_iter()
            .filter(|i| self.next.is_none_or(|n| i.pos() > n))
            .peekable();
        let items: Vec<Item<'a>> = rest.by_ref().take(self.limit).collect();
        let more = rest.peek().is_some();
        let next = match items.last() {
            Some(last) if more => Some(encode(last.pos())),
            _ => None,
        };
        Page { items, more, next }
    }
}

/// A `next` token: the place of the last object served.
fn encode(p: Pos) -> String {
    format!("{}-{}-{}", p.stored_at, p.seq, p.index)
}

fn decode(s: &str) -> Option<Pos> {
    let mut it = s.split('-').map(|n| n.parse::<u64>().ok());
    let pos = Pos {
        stored_at: it.next()??,
        seq: it.next()??,
        index: it.next()??,
    };
    it.next().is_none().then_some(pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(query: &str) -> Result<Query, TaxiiError> {
        Query::from_uri(&format!("/x?{query}").parse().unwrap())
    }

    #[test]
    fn a_query_is_read_or_refused_with_a_400() {
        let d = q("").unwrap();
        assert_eq!(d.limit, MAX_PAGE);
        assert_eq!(
            d.versions,
            Versions {
                last: true,
                ..Default::default()
            }
        );
        let full = q("limit=5000&match[version]=first,2024-01-01T00:00:00Z&match[type]=indicator,malware&added_after=2024-01-01T00:00:00.000Z&next=1-2-3").unwrap();
        assert_eq!(full.limit, MAX_PAGE);
        assert!(full.versions.first && !full.versions.last && full.versions.at.len() == 1);
        assert_eq!(full.types.as_deref().unwrap(), ["indicator", "malware"]);
        assert_eq!(
            full.next,
            Some(Pos {
                stored_at: 1,
                seq: 2,
                index: 3
            })
        );
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=ten",
            "next=abc",
            "next=1-2",
            "next=1-2-3-4",
            "added_after=yesterday",
            "match[version]=newest",
        ] {
            let e = q(bad).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn next_tokens_read_back() {
        let p = Pos {
            stored_at: 1_738_315_800_250,
            seq: 7,
            index: 2499,
        };
        assert_eq!(decode(&encode(p)), Some(p));
    }
}
