//! What each STIX 2.1 object type requires (STIX 2.1 §4 domain objects, §5
//! relationship objects, §6 cyber-observable objects, §7 meta objects), as
//! the OASIS JSON schemas the reference validator uses state it. A type not
//! listed here is a custom type: only the rules common to every object apply.

/// The four families of STIX objects, which differ in their common properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A domain object: `spec_version`, `created`, `modified` required.
    Domain,
    /// A relationship object (`relationship`, `sighting`): as a domain object.
    Relationship,
    /// A cyber-observable object: `spec_version` optional, no `created`.
    Observable,
    /// `marking-definition`: `spec_version` and `created`, never `modified`.
    Marking,
    /// `language-content`, `extension-definition`: as a domain object.
    Meta,
}

/// The JSON shape a required property must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A non-empty string.
    Str,
    /// `true` or `false`.
    Bool,
    /// An integer.
    Int,
    /// An integer from 1 to 999,999,999 (`number_observed`, STIX 2.1 §4.14).
    Count,
    /// A STIX timestamp (checked with every timestamp property).
    Time,
    /// An identifier (checked with every `_ref` property).
    Ref,
    /// A non-empty list of identifiers (checked with every `_refs` property).
    Refs,
    /// A JSON object.
    Object,
    /// A non-empty JSON array.
    List,
}

impl Shape {
    /// The shape's name in an error message.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Str => "a non-empty string",
            Shape::Bool => "true or false",
            Shape::Int => "an integer",
            Shape::Count => "an integer from 1 to 999999999",
            Shape::Time => "a timestamp",
            Shape::Ref => "an identifier",
            Shape::Refs => "a non-empty list of identifiers",
            Shape::Object => "a JSON object",
            Shape::List => "a non-empty list",
        }
    }
}

/// A rule that two timestamps of one object keep their order.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    /// The property that must not come first.
    pub later: &'static str,
    /// The property it is compared with.
    pub earlier: &'static str,
    /// Whether equal instants break the rule (`valid_until`, `stop_time`).
    pub strict: bool,
}

/// The rules of one type.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The object's family.
    pub class: Class,
    /// Properties that must be present, with their shape.
    pub required: &'static [(&'static str, Shape)],
    /// Groups of which at least one must be wholly present (e.g. a location
    /// needs a region, a country, or a latitude with a longitude).
    pub any_of: &'static [&'static [&'static str]],
    /// Whether at most one group of `any_of` may be present
    /// (observed-data: `objects` or `object_refs`, not both).
    pub exclusive: bool,
    /// Timestamp pairs that must keep their order.
    pub order: &'static [Order],
}

const fn rule(class: Class, required: &'static [(&'static str, Shape)]) -> Rule {
    Rule {
        class,
        required,
        any_of: &[],
        exclusive: false,
        order: &[],
    }
}

const fn seen(class: Class, required: &'static [(&'static str, Shape)]) -> Rule {
    Rule {
        order: SEEN,
        ..rule(class, required)
    }
}

const SEEN: &[Order] = &[Order {
    later: "last_seen",
    earlier: "first_seen",
    strict: false,
}];

const NAME: &[(&str, Shape)] = &[("name", Shape::Str)];
const VALUE: &[(&str, Shape)] = &[("value", Shape::Str)];

use Class::{Domain, Marking, Meta, Observable, Relationship};
use Shape::*;

/// The rules of a type, or `None` for a custom type.
pub fn rule_of(kind: &str) -> Option<Rule> {
    Some(match kind {
        "attack-pattern" | "course-of-action" | "identity" | "incident" | "tool"
        | "vulnerability" => rule(Domain, NAME),
        "campaign" | "infrastructure" | "intrusion-set" | "threat-actor" => seen(Domain, NAME),
        "grouping" => rule(Domain, &[("context", Str), ("object_refs", Refs)]),
        "indicator" => Rule {
            order: &[Order {
                later: "valid_until",
                earlier: "valid_from",
                strict: true,
            }],
            ..rule(
                Domain,
                &[
                    ("pattern", Str),
                    ("pattern_type", Str),
                    ("valid_from", Time),
                ],
            )
        },
        "location" => Rule {
            any_of: &[&["region"], &["country"], &["latitude", "longitude"]],
            ..rule(Domain, &[])
        },
        // `name` too when `is_family` is true: checked beside the table.
        "malware" => seen(Domain, &[("is_family", Bool)]),
        "malware-analysis" => Rule {
            any_of: &[&["result"], &["analysis_sco_refs"]],
            ..rule(Domain, &[("product", Str)])
        },
        "note" => rule(Domain, &[("content", Str), ("object_refs", Refs)]),
        "observed-data" => Rule {
            any_of: &[&["objects"], &["object_refs"]],
            exclusive: true,
            order: &[Order {
                later: "last_observed",
                earlier: "first_observed",
                strict: false,
            }],
            ..rule(
                Domain,
                &[
                    ("first_observed", Time),
                    ("last_observed", Time),
                    ("number_observed", Count),
                ],
            )
        },
        "opinion" => rule(Domain, &[("opinion", Str), ("object_refs", Refs)]),
        "report" => rule(
            Domain,
            &[("name", Str), ("published", Time), ("object_refs", Refs)],
        ),
        "relationship" => Rule {
            order: &[Order {
                later: "stop_time",
                earlier: "start_time",
                strict: true,
            }],
            ..rule(
                Relationship,
                &[
                    ("relationship_type", Str),
                    ("source_ref", Ref),
                    ("target_ref", Ref),
                ],
            )
        },
        "sighting" => seen(Relationship, &[("sighting_of_ref", Ref)]),
        // `definition_type` and `definition` unless `extensions` carries the
        // marking (TLP 2.0): checked beside the table.
        "marking-definition" => rule(Marking, &[]),
        "language-content" => rule(Meta, &[("object_ref", Ref), ("contents", Object)]),
        "extension-definition" => rule(
            Meta,
            &[
                ("created_by_ref", Ref),
                ("name", Str),
                ("schema", Str),
                ("version", Str),
                ("extension_types", List),
            ],
        ),
        "artifact" => Rule {
            any_of: &[&["payload_bin"], &["url", "hashes"]],
            exclusive: true,
            ..rule(Observable, &[])
        },
        "autonomous-system" => rule(Observable, &[("number", Int)]),
        "directory" => rule(Observable, &[("path", Str)]),
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => {
            rule(Observable, VALUE)
        }
        "email-message" => rule(Observable, &[("is_multipart", Bool)]),
        "file" => Rule {
            any_of: &[&["hashes"], &["name"]],
            ..rule(Observable, &[])
        },
        "mutex" | "software" => rule(Observable, NAME),
        "network-traffic" => Rule {
            any_of: &[&["src_ref"], &["dst_ref"]],
            order: &[Order {
                later: "end",
                earlier: "start",
                strict: false,
            }],
            ..rule(Observable, &[("protocols", List)])
        },
        "process" => Rule {
            any_of: &[
                &["extensions"],
                &["is_hidden"],
                &["pid"],
                &["created_time"],
                &["cwd"],
                &["command_line"],
                &["environment_variables"],
                &["opened_connection_refs"],
                &["creator_user_ref"],
                &["image_ref"],
                &["parent_ref"],
                &["child_refs"],
            ],
            ..rule(Observable, &[])
        },
        "user-account" => Rule {
            any_of: &[
                &["extensions"],
                &["user_id"],
                &["credential"],
                &["account_login"],
                &["account_type"],
                &["display_name"],
                &["is_service_account"],
                &["is_privileged"],
                &["can_escalate_privs"],
                &["is_disabled"],
                &["account_created"],
                &["account_expires"],
                &["credential_last_changed"],
                &["account_first_login"],
                &["account_last_login"],
            ],
            ..rule(Observable, &[])
        },
        "windows-registry-key" => Rule {
            any_of: &[
                &["key"],
                &["values"],
                &["modified_time"],
                &["creator_user_ref"],
                &["number_of_subkeys"],
            ],
            ..rule(Observable, &[])
        },
        "x509-certificate" => Rule {
            any_of: &[
                &["is_self_signed"],
                &["hashes"],
                &["version"],
                &["serial_number"],
                &["signature_algorithm"],
                &["issuer"],
                &["validity_not_before"],
                &["validity_not_after"],
                &["subject"],
                &["subject_public_key_algorithm"],
                &["subject_public_key_modulus"],
                &["subject_public_key_exponent"],
                &["x509_v3_extensions"],
            ],
            order: &[Order {
                later: "validity_not_after",
                earlier: "validity_not_before",
                strict: false,
            }],
            ..rule(Observable, &[])
        },
        _ => return None,
    })
}

/// Every top-level property that holds a timestamp in some STIX 2.1 type:
/// when present, each must be one, whatever the type.
pub const TIMESTAMPS: &[&str] = &[
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "published",
    "first_observed",
    "last_observed",
    "start_time",
    "stop_time",
    "submitted",
    "analysis_started",
    "analysis_ended",
    "object_modified",
    "ctime",
    "mtime",
    "atime",
    "date",
    "start",
    "end",
    "created_time",
    "account_created",
    "account_expires",
    "credential_last_changed",
    "account_first_login",
    "account_last_login",
    "modified_time",
    "validity_not_before",
    "validity_not_after",
];
