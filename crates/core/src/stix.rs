//! STIX 2.1 content of shared reports (SPEC §7): a bundle is checked when a
//! report is published and again when it is received, and only a bundle
//! that passes is served over TAXII. [`validate_bundle`] is the only way to
//! make a [`Bundle`], so holding one is the proof that it passed.
//!
//! The checks follow the STIX 2.1 specification and the OASIS JSON schemas
//! that the reference validator (`stix2-validator`) applies: the bundle's
//! shape, each object's type name, identifier, `spec_version`, timestamps
//! and their order, the properties its type requires, and references. One
//! rule is ours and stricter than the reference: every reference must name
//! an object in the same bundle (or a standard TLP marking), because a
//! partner receives a report as one self-contained whole. Indicator
//! patterns are checked for balanced brackets and quotes only, not against
//! the full STIX patterning grammar.
//!
//! Nothing here performs I/O; the caller brings the bytes.

mod catalogue;
mod timestamp;
mod tlp;

pub use timestamp::Timestamp;
pub use tlp::{apply_tlp, is_standard_marking, tlp_definition, tlp_id, tlp_of, TLP2_EXTENSION};

use catalogue::{rule_of, Class, Shape};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;

/// The media type of a STIX 2.1 bundle; a report's `content_type` starting
/// with `application/stix+json` says that its content is one.
pub const MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// Why a report's content is not a valid STIX 2.1 bundle.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StixError {
    /// The bytes are not one JSON value.
    #[error("not JSON: {0}")]
    Json(String),
    /// The top level is not a STIX 2.1 bundle.
    #[error("not a STIX 2.1 bundle: {0}")]
    Bundle(String),
    /// One object of the bundle breaks a rule.
    #[error("objects[{index}] ({id}): {fault}")]
    Object {
        /// Its position in `objects`, from 0.
        index: usize,
        /// Its `id`, or `no id` when it has none that can be shown.
        id: String,
        /// What is wrong with it.
        fault: Fault,
    },
}

/// What is wrong with one object.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The entry is not a JSON object.
    NotAnObject,
    /// A property the type requires is absent.
    Missing(String),
    /// None of the groups of properties of which the type needs one is present.
    MissingOneOf(String),
    /// Two properties of which the type allows only one are both present.
    Exclusive(String),
    /// A property has the wrong JSON shape.
    Shape {
        /// The property.
        property: String,
        /// What it should be.
        expected: &'static str,
    },
    /// `type` is not a STIX type name (a–z, 0–9, single hyphens, 3–250 characters).
    TypeName(String),
    /// `id` is not `<type>--<RFC 4122 UUID>` with this object's type.
    Id(String),
    /// `spec_version` is not `2.1`.
    SpecVersion(String),
    /// A timestamp property is not a STIX timestamp.
    Timestamp {
        /// The property.
        property: String,
        /// Its value as written.
        value: String,
    },
    /// Two timestamps are in the wrong order.
    Order {
        /// The one that should not come first.
        later: &'static str,
        /// The one it comes before.
        earlier: &'static str,
    },
    /// A reference is not an identifier, or not of the type the property needs.
    Reference {
        /// The property.
        property: String,
        /// The value as written.
        value: String,
    },
    /// A reference names no object in the bundle.
    Unresolved {
        /// The property.
        property: String,
        /// The identifier it names.
        id: String,
    },
    /// An object has a TLP 2.0 standard id but is not that standard object.
    NotStandardTlp,
    /// An indicator's STIX pattern has unbalanced brackets or quotes.
    Pattern,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::NotAnObject => write!(f, "not a JSON object"),
            Fault::Missing(p) => write!(f, "missing required property {p:?}"),
            Fault::MissingOneOf(ps) => write!(f, "needs at least one of {ps}"),
            Fault::Exclusive(ps) => write!(f, "may have only one of {ps}"),
            Fault::Shape { property, expected } => {
                write!(f, "property {property:?} must be {expected}")
            }
            Fault::TypeName(t) => write!(
                f,
                "type {t:?} is not a STIX type name (a-z, 0-9 and single hyphens, 3-250 characters)"
            ),
            Fault::Id(id) => write!(
                f,
                "id {id:?} is not the object's type, \"--\" and an RFC 4122 UUID"
            ),
            Fault::SpecVersion(v) => write!(f, "spec_version {v:?} is not \"2.1\""),
            Fault::Timestamp { property, value } => write!(
                f,
                "property {property:?}: {value:?} is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s]Z)"
            ),
            Fault::Order { later, earlier } => {
                write!(f, "property {later:?} is earlier than {earlier:?}")
            }
            Fault::Reference { property, value } => {
                write!(f, "property {property:?}: {value:?} is not a fitting STIX identifier")
            }
            Fault::Unresolved { property, id } => write!(
                f,
                "property {property:?} refers to {id}, which is not in the bundle"
            ),
            Fault::NotStandardTlp => write!(
                f,
                "has the id of a TLP 2.0 standard marking but is not that marking"
            ),
            Fault::Pattern => write!(
                f,
                "property \"pattern\" has unbalanced brackets, parentheses or quotes"
            ),
        }
    }
}

/// A STIX 2.1 bundle that passed [`validate_bundle`].
#[derive(Debug, Clone)]
pub struct Bundle {
    /// `bundle--<uuid>`.
    id: String,
    /// The objects in the order they came.
    objects: Vec<Object>,
}

/// One object of a valid bundle.
#[derive(Debug, Clone)]
pub struct Object {
    /// `<type>--<uuid>`.
    id: String,
    /// The `type` property.
    kind: String,
    /// `spec_version`, when present (always `2.1`).
    spec_version: Option<String>,
    /// `modified`, else `created`: which version of the object this is.
    version: Option<Timestamp>,
    /// Every property, as received.
    json: Map<String, Value>,
}

impl Bundle {
    /// The bundle's `id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The objects, in the order they came.
    pub fn objects(&self) -> &[Object] {
        &self.objects
    }

    /// The objects, taken out of the bundle.
    pub fn into_objects(self) -> Vec<Object> {
        self.objects
    }

    /// The bundle as JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let objects: Vec<&Map<String, Value>> = self.objects.iter().map(|o| &o.json).collect();
        let v = serde_json::json!({"type": "bundle", "id": self.id, "objects": objects});
        v.to_string().into_bytes()
    }
}

impl Object {
    /// The object's `id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The object's `type`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// `spec_version`, when the object has one (observables may omit it).
    pub fn spec_version(&self) -> Option<&str> {
        self.spec_version.as_deref()
    }

    /// Which version this is: `modified`, else `created`; `None` for an
    /// object with neither (most observables).
    pub fn version(&self) -> Option<&Timestamp> {
        self.version.as_ref()
    }

    /// Every property, as received.
    pub fn json(&self) -> &Map<String, Value> {
        &self.json
    }
}

/// Reads and checks a STIX 2.1 bundle; the error names the first object and
/// property at fault.
pub fn validate_bundle(bytes: &[u8]) -> Result<Bundle, StixError> {
    let top: Value = serde_json::from_slice(bytes).map_err(|e| StixError::Json(e.to_string()))?;
    let Value::Object(mut top) = top else {
        return Err(StixError::Bundle(
            "the top level is not a JSON object".into(),
        ));
    };
    if top.get("type").and_then(Value::as_str) != Some("bundle") {
        return Err(StixError::Bundle("\"type\" must be \"bundle\"".into()));
    }
    let id = match top.get("id").and_then(Value::as_str) {
        Some(id) if id_of_type(id, "bundle") => id.to_owned(),
        _ => {
            return Err(StixError::Bundle(
                "\"id\" must be \"bundle--\" and an RFC 4122 UUID".into(),
            ))
        }
    };
    let raw = match top.remove("objects") {
        None => vec![],
        Some(Value::Array(a)) => a,
        Some(_) => return Err(StixError::Bundle("\"objects\" must be a list".into())),
    };
    let mut objects = Vec::with_capacity(raw.len());
    for (index, v) in raw.into_iter().enumerate() {
        let shown = v
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| "no id".to_owned(), |s| s.chars().take(120).collect());
        let fail = |fault| StixError::Object {
            index,
            id: shown.clone(),
            fault,
        };
        let Value::Object(json) = v else {
            return Err(fail(Fault::NotAnObject));
        };
        objects.push(object(json).map_err(fail)?);
    }
    let known: HashSet<&str> = objects.iter().map(|o| o.id.as_str()).collect();
    for (index, o) in objects.iter().enumerate() {
        if let Err(fault) = references(o, &known) {
            return Err(StixError::Object {
                index,
                id: o.id.clone(),
                fault,
            });
        }
    }
    Ok(Bundle { id, objects })
}

/// Checks one object on its own (everything but whether its references
/// resolve) and keeps what the station needs of it.
fn object(json: Map<String, Value>) -> Result<Object, Fault> {
    let kind = match json.get("type") {
        None => return Err(Fault::Missing("type".into())),
        Some(Value::String(t)) if type_name(t) => t.clone(),
        Some(Value::String(t)) => return Err(Fault::TypeName(t.clone())),
        Some(_) => return Err(shape("type", Shape::Str)),
    };
    let id = match json.get("id") {
        None => return Err(Fault::Missing("id".into())),
        Some(Value::String(id)) if id_of_type(id, &kind) => id.clone(),
        Some(Value::String(id)) => return Err(Fault::Id(id.clone())),
        Some(_) => return Err(shape("id", Shape::Str)),
    };
    let rule = rule_of(&kind);
    let class = rule.map(|r| r.class);
    let spec_version = match json.get("spec_version") {
        None if matches!(class, None | Some(Class::Observable)) => None,
        None => return Err(Fault::Missing("spec_version".into())),
        Some(Value::String(v)) if v == "2.1" => Some(v.clone()),
        Some(v) => return Err(Fault::SpecVersion(v.to_string().trim_matches('"').into())),
    };
    let common: &[&str] = match class {
        Some(Class::Domain | Class::Relationship | Class::Meta) => &["created", "modified"],
        Some(Class::Marking) => &["created"],
        Some(Class::Observable) | None => &[],
    };
    for p in common {
        if !json.contains_key(*p) {
            return Err(Fault::Missing((*p).into()));
        }
    }
    // Timestamp properties: the common two on every object, the rest on
    // the types that define them (a custom type's `date` is its own business).
    let stamps: &[&str] = if rule.is_some() {
        catalogue::TIMESTAMPS
    } else {
        &["created", "modified"]
    };
    for p in stamps {
        if let Some(v) = json.get(*p) {
            time_of(p, v)?;
        }
    }
    let created = json
        .get("created")
        .map(|v| time_of("created", v))
        .transpose()?;
    let modified = json
        .get("modified")
        .map(|v| time_of("modified", v))
        .transpose()?;
    if let (Some(c), Some(m)) = (&created, &modified) {
        if m < c {
            return Err(Fault::Order {
                later: "modified",
                earlier: "created",
            });
        }
    }
    if let Some(rule) = rule {
        for (p, s) in rule.required {
            let v = json.get(*p).ok_or_else(|| Fault::Missing((*p).into()))?;
            if !fits(v, *s) {
                return Err(shape(p, *s));
            }
        }
        let present: Vec<bool> = rule
            .any_of
            .iter()
            .map(|group| group.iter().all(|p| json.contains_key(*p)))
            .collect();
        let groups = || {
            rule.any_of
                .iter()
                .map(|g| g.join(" with "))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !rule.any_of.is_empty() && !present.contains(&true) {
            return Err(Fault::MissingOneOf(groups()));
        }
        if rule.exclusive && present.iter().filter(|p| **p).count() > 1 {
            return Err(Fault::Exclusive(groups()));
        }
        for o in rule.order {
            let (Some(later), Some(earlier)) = (json.get(o.later), json.get(o.earlier)) else {
                continue;
            };
            let (later_t, earlier_t) = (time_of(o.later, later)?, time_of(o.earlier, earlier)?);
            if later_t < earlier_t || (o.strict && later_t == earlier_t) {
                return Err(Fault::Order {
                    later: o.later,
                    earlier: o.earlier,
                });
            }
        }
    }
    special(&kind, &id, &json)?;
    Ok(Object {
        id,
        kind,
        spec_version,
        version: modified.or(created),
        json,
    })
}

/// The rules the table cannot say: a malware family needs a name, a marking
/// definition needs its definition unless an extension carries it, a TLP 2.0
/// standard id belongs to the standard object only, a STIX pattern balances.
fn special(kind: &str, id: &str, json: &Map<String, Value>) -> Result<(), Fault> {
    match kind {
        "malware" if json.get("is_family") == Some(&Value::Bool(true)) => {
            let name = json
                .get("name")
                .ok_or_else(|| Fault::Missing("name".into()))?;
            if !fits(name, Shape::Str) {
                return Err(shape("name", Shape::Str));
            }
        }
        "marking-definition" => {
            if let Some(m) = tlp_of(id) {
                if *json != tlp_definition(m) {
                    return Err(Fault::NotStandardTlp);
                }
            } else if !json.contains_key("extensions") {
                for p in ["definition_type", "definition"] {
                    if !json.contains_key(p) {
                        return Err(Fault::Missing(p.into()));
                    }
                }
            }
        }
        "indicator" if json.get("pattern_type").and_then(Value::as_str) == Some("stix") => {
            let pattern = json.get("pattern").and_then(Value::as_str).unwrap_or("");
            if !balanced(pattern) {
                return Err(Fault::Pattern);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every `*_ref` and `*_refs` property, and each granular marking's
/// `marking_ref`, is a well-formed identifier that names an object in the
/// bundle or a standard TLP marking; `created_by_ref` names an identity and
/// markings name marking definitions.
fn references(o: &Object, known: &HashSet<&str>) -> Result<(), Fault> {
    let check = |property: &str, v: &Value| -> Result<(), Fault> {
        let bad = || Fault::Reference {
            property: property.into(),
            value: v.to_string().trim_matches('"').chars().take(120).collect(),
        };
        let id = v.as_str().ok_or_else(bad)?;
        let (kind, _) = id.split_once("--").ok_or_else(bad)?;
        let wanted = match property {
            "created_by_ref" => Some("identity"),
            "object_marking_refs" | "marking_ref" => Some("marking-definition"),
            _ => None,
        };
        if !type_name(kind) || !id_of_type(id, kind) || wanted.is_some_and(|w| w != kind) {
            return Err(bad());
        }
        if !known.contains(id) && !is_standard_marking(id) {
            return Err(Fault::Unresolved {
                property: property.into(),
                id: id.into(),
            });
        }
        Ok(())
    };
    for (k, v) in &o.json {
        if k.ends_with("_ref") {
            check(k, v)?;
        } else if k.ends_with("_refs") {
            match v.as_array() {
                Some(a) if !a.is_empty() => a.iter().try_for_each(|r| check(k, r))?,
                _ => return Err(shape(k, Shape::Refs)),
            }
        }
    }
    if let Some(g) = o.json.get("granular_markings") {
        for m in g.as_array().into_iter().flatten() {
            if let Some(r) = m.get("marking_ref") {
                check("marking_ref", r)?;
            }
        }
    }
    Ok(())
}

/// STIX 2.1 §3.1: a–z, 0–9 and hyphens, no two hyphens in a row, 3 to 250
/// characters; the identifier grammar adds that it starts with a letter and
/// does not end with a hyphen.
fn type_name(t: &str) -> bool {
    let b = t.as_bytes();
    (3..=250).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !t.contains("--")
}

/// Whether `id` is `<kind>--<uuid>`, the UUID in its hyphenated RFC 4122
/// form (variant 10, versions 1–5), as the STIX identifier grammar has it.
fn id_of_type(id: &str, kind: &str) -> bool {
    let Some(u) = id.strip_prefix(kind).and_then(|r| r.strip_prefix("--")) else {
        return false;
    };
    // 36 characters: only the hyphenated form is that long.
    u.len() == 36
        && uuid::Uuid::try_parse(u).is_ok_and(|u| {
            u.get_variant() == uuid::Variant::RFC4122 && (1..=5).contains(&u.get_version_num())
        })
}

/// A timestamp property's instant, or the fault naming it.
fn time_of(property: &str, v: &Value) -> Result<Timestamp, Fault> {
    let bad = || Fault::Timestamp {
        property: property.into(),
        value: v.to_string().trim_matches('"').chars().take(80).collect(),
    };
    v.as_str().and_then(Timestamp::parse).ok_or_else(bad)
}

/// Whether a value has a shape (timestamps and references are checked
/// on their own, with their own faults).
fn fits(v: &Value, s: Shape) -> bool {
    match s {
        Shape::Str => v.as_str().is_some_and(|s| !s.is_empty()),
        Shape::Bool => v.is_boolean(),
        Shape::Int => v.is_i64() || v.is_u64(),
        Shape::Count => v.as_u64().is_some_and(|n| (1..=999_999_999).contains(&n)),
        Shape::Time | Shape::Ref => v.is_string(),
        Shape::Refs | Shape::List => v.as_array().is_some_and(|a| !a.is_empty()),
        Shape::Object => v.is_object(),
    }
}

fn shape(property: &str, s: Shape) -> Fault {
    Fault::Shape {
        property: property.into(),
        expected: s.name(),
    }
}

/// Whether a STIX pattern's brackets, parentheses and single-quoted strings
/// balance and it starts as a pattern does, with `[` or `(`.
fn balanced(pattern: &str) -> bool {
    let mut stack = Vec::new();
    let mut chars = pattern.trim().chars();
    if !matches!(pattern.trim().chars().next(), Some('[' | '(')) {
        return false;
    }
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next() {
                    None => return false,
                    Some('\\') => {
                        chars.next();
                    }
                    Some('\'') => break,
                    Some(_) => {}
                }
            },
            '[' | '(' => stack.push(c),
            ']' if stack.pop() != Some('[') => return false,
            ')' if stack.pop() != Some('(') => return false,
            _ => {}
        }
    }
    stack.is_empty()
}

#[cfg(test)]
mod tests;
