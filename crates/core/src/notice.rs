//! Structured notices (SPEC §4 v2): the schemas hotline ships, and the one
//! judgement both ends and the export verifier make of a notice — its type
//! is one the channel's terms agreed, and its JSON matches that type's
//! JSON Schema.
//!
//! The terms carry each schema whole, so a notice is judged by the text
//! both sides agreed to, never by whatever file a station holds today.
//! Compiled schemas are kept by the hash of their text (content-addressed:
//! the same text is the same validator wherever it came from), a bounded
//! number of them.

use hotline_proto::{Hash, NoticeType, Terms};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The notice types hotline ships (`schemas/` in the source tree), by name.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "incident-report/1",
        include_str!("../../../schemas/incident-report/1.json"),
    ),
    (
        "launch-notification/1",
        include_str!("../../../schemas/launch-notification/1.json"),
    ),
    (
        "exercise-notification/1",
        include_str!("../../../schemas/exercise-notification/1.json"),
    ),
    (
        "ceasefire-violation/1",
        include_str!("../../../schemas/ceasefire-violation/1.json"),
    ),
];

/// The shipped notice type `name`, if hotline ships one by that name.
pub fn shipped(name: &str) -> Option<NoticeType> {
    SHIPPED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, s)| NoticeType {
            name: (*n).to_owned(),
            schema: (*s).to_owned(),
        })
}

/// Why a notice, or a notice type, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeFault {
    /// The type is not one of the channel's agreed notice types.
    #[error("notice type {0} is not one of this channel's agreed notice types ({1})")]
    NotAgreed(String, String),
    /// The notice is not a JSON object.
    #[error("the notice is not a JSON object: {0}")]
    NotJson(String),
    /// The notice does not match its type's schema.
    #[error("the notice does not match the schema of {0}: {1}")]
    Invalid(String, String),
    /// A notice type's name or schema is unusable.
    #[error("notice type {0}: {1}")]
    BadType(String, String),
}

/// Checks a notice type proposed or agreed in terms: a well-formed name
/// and a schema that is a JSON object compiling as JSON Schema, with no
/// reference outside itself.
pub fn check_type(t: &NoticeType) -> Result<(), NoticeFault> {
    if !NoticeType::valid_name(&t.name) {
        return Err(NoticeFault::BadType(
            t.name.clone(),
            "a name is lowercase letters, digits and hyphens, a slash and a version number, e.g. incident-report/1".into(),
        ));
    }
    compiled(t).map(|_| ())
}

/// Checks every notice type of `terms` ([`check_type`]).
pub fn check_terms(terms: &Terms) -> Result<(), NoticeFault> {
    terms.notice_types.iter().try_for_each(check_type)
}

/// Judges a notice of type `notice_type` with JSON text `notice` against
/// the channel's `terms`.
pub fn check(terms: &Terms, notice_type: &str, notice: &str) -> Result<(), NoticeFault> {
    let Some(t) = terms.notice_type(notice_type) else {
        let agreed: Vec<&str> = terms.notice_types.iter().map(|t| t.name.as_str()).collect();
        let agreed = if agreed.is_empty() {
            "none were agreed at open".to_owned()
        } else {
            agreed.join(", ")
        };
        return Err(NoticeFault::NotAgreed(notice_type.to_owned(), agreed));
    };
    let value: Value =
        serde_json::from_str(notice).map_err(|e| NoticeFault::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(NoticeFault::NotJson(
            "a notice is an object, {...}".to_owned(),
        ));
    }
    let validator = compiled(t)?;
    let faults: Vec<String> = validator
        .iter_errors(&value)
        .take(4)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    if faults.is_empty() {
        Ok(())
    } else {
        Err(NoticeFault::Invalid(t.name.clone(), faults.join("; ")))
    }
}

/// How many compiled schemas are kept; past it the cache starts afresh
/// (a peer proposing many channels with many schemas cannot grow it).
const CACHE_LIMIT: usize = 256;

type Cache = Mutex<HashMap<Hash, Arc<jsonschema::Validator>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The compiled validator of a notice type's schema.
fn compiled(t: &NoticeType) -> Result<Arc<jsonschema::Validator>, NoticeFault> {
    let hash = t.hash();
    if let Some(v) = cache().lock().expect("notice cache").get(&hash) {
        return Ok(v.clone());
    }
    let bad = |why: String| NoticeFault::BadType(t.name.clone(), why);
    let schema: Value =
        serde_json::from_str(&t.schema).map_err(|e| bad(format!("the schema is not JSON: {e}")))?;
    if !schema.is_object() {
        return Err(bad("the schema is not a JSON object".into()));
    }
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| bad(format!("not a usable JSON Schema: {e}")))?;
    let validator = Arc::new(validator);
    let mut c = cache().lock().expect("notice cache");
    if c.len() >= CACHE_LIMIT {
        c.clear();
    }
    c.insert(hash, validator.clone());
    Ok(validator)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms_with(names: &[&str]) -> Terms {
        Terms {
            notice_types: names.iter().map(|n| shipped(n).expect("shipped")).collect(),
            ..Terms::default()
        }
    }

    const GOOD: &str = r#"{"reporter":"Northern command","what":"Shelling of a border post",
        "where":{"lat":48.5,"lon":37.9},"when":{"from":"2026-11-28T10:00:00Z","to":"2026-11-28T10:20:00Z"},
        "reference":"NC-2026-0412"}"#;

    #[test]
    fn every_shipped_schema_compiles_and_names_itself() {
        for (name, text) in SHIPPED {
            let t = shipped(name).expect("shipped");
            check_type(&t).unwrap_or_else(|e| panic!("{name}: {e}"));
            let v: Value = serde_json::from_str(text).expect("json");
            assert!(
                v["$id"].as_str().expect("$id").ends_with(name),
                "{name}: $id"
            );
        }
    }

    #[test]
    fn an_incident_report_is_judged_by_its_schema() {
        let terms = terms_with(&["incident-report/1"]);
        check(&terms, "incident-report/1", GOOD).expect("valid");
        let mut v: Value = serde_json::from_str(GOOD).expect("json");
        type Change = fn(&mut Value);
        let cases: [(&str, Change); 6] = [
            ("lat 91", |v| v["where"]["lat"] = 91.into()),
            ("lon -181", |v| v["where"]["lon"] = (-181).into()),
            ("missing reference", |v| {
                v.as_object_mut().expect("object").remove("reference");
            }),
            ("extra field", |v| v["colour"] = "red".into()),
            ("not a date-time", |v| {
                v["when"]["from"] = "yesterday".into()
            }),
            ("reporter a number", |v| v["reporter"] = 7.into()),
        ];
        for (what, change) in cases {
            let mut bad = v.clone();
            change(&mut bad);
            let err = check(&terms, "incident-report/1", &bad.to_string())
                .expect_err(what)
                .to_string();
            assert!(err.contains("incident-report/1"), "{what}: {err}");
        }
        // The unchanged notice still passes (the cases changed copies).
        v["reference"] = "NC-2026-0413".into();
        check(&terms, "incident-report/1", &v.to_string()).expect("valid");
    }

    #[test]
    fn a_type_not_agreed_or_text_not_an_object_is_refused() {
        let terms = terms_with(&["incident-report/1"]);
        assert!(matches!(
            check(&terms, "launch-notification/1", "{}"),
            Err(NoticeFault::NotAgreed(..))
        ));
        assert!(matches!(
            check(&Terms::default(), "incident-report/1", GOOD),
            Err(NoticeFault::NotAgreed(..))
        ));
        for text in ["[1]", "\"x\"", "{\"a\":", ""] {
            assert!(
                matches!(
                    check(&terms, "incident-report/1", text),
                    Err(NoticeFault::NotJson(_))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn a_schema_that_is_not_json_schema_or_reaches_outside_is_refused() {
        for schema in [
            "not json",
            "[]",
            r#"{"type": 7}"#,
            r#"{"$ref": "https://example.com/other.json"}"#,
            r#"{"$ref": "file:///etc/passwd"}"#,
        ] {
            let t = NoticeType {
                name: "x/1".into(),
                schema: schema.into(),
            };
            assert!(
                matches!(check_type(&t), Err(NoticeFault::BadType(..))),
                "{schema}"
            );
        }
        let t = NoticeType {
            name: "Bad Name/1".into(),
            schema: "{}".into(),
        };
        assert!(check_type(&t).is_err());
    }
}
