//! TLP 2.0 as STIX 2.1 markings: the five standard marking-definition
//! objects of the OASIS TLP 2.0 extension
//! (`extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`, in the
//! cti-stix-common-objects repository), and how a report's marking is
//! applied to the objects of its bundle (SPEC §7: "TLP 2.0 is applied as the
//! standard marking-definition objects").

use super::{Bundle, Object};
use hotline_proto::Marking;
use serde_json::{json, Map, Value};

/// The TLP 2.0 extension definition the standard objects name.
pub const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// When the TLP 2.0 standard objects were created; part of each object.
const TLP2_CREATED: &str = "2022-10-01T00:00:00.000Z";

/// The id of a marking's standard marking-definition object.
pub fn tlp_id(m: Marking) -> &'static str {
    match m {
        Marking::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Marking::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Marking::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Marking::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Marking::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// Every TLP 2.0 marking, to look ids up by.
const TLP2: [Marking; 5] = [
    Marking::Clear,
    Marking::Green,
    Marking::Amber,
    Marking::AmberStrict,
    Marking::Red,
];

/// The TLP 1.0 marking-definition ids that STIX 2.1 §7.2.1.4 itself fixes
/// (WHITE, GREEN, AMBER, RED): producers refer to them without carrying the
/// objects, so a reference to one is known too.
const TLP1_IDS: [&str; 4] = [
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
];

/// The TLP 2.0 marking a standard id stands for.
pub fn tlp_of(id: &str) -> Option<Marking> {
    TLP2.into_iter().find(|m| tlp_id(*m) == id)
}

/// Whether a reference to `id` needs no object in the bundle: one of the
/// standard TLP marking definitions, which every STIX 2.1 consumer knows.
pub fn is_standard_marking(id: &str) -> bool {
    tlp_of(id).is_some() || TLP1_IDS.contains(&id)
}

/// The standard marking-definition object of a marking, exactly as the TLP
/// 2.0 extension publishes it.
pub fn tlp_definition(m: Marking) -> Map<String, Value> {
    let level = m.name()["TLP:".len()..].to_ascii_lowercase();
    let mut ext = Map::new();
    ext.insert(
        TLP2_EXTENSION.into(),
        json!({"extension_type": "property-extension", "tlp_2_0": level}),
    );
    let mut o = Map::new();
    o.insert("type".into(), json!("marking-definition"));
    o.insert("spec_version".into(), json!("2.1"));
    o.insert("id".into(), json!(tlp_id(m)));
    o.insert("created".into(), json!(TLP2_CREATED));
    o.insert("name".into(), json!(m.name()));
    o.insert("extensions".into(), Value::Object(ext));
    o
}

/// Marks every object that carries no `object_marking_refs` with the
/// marking's standard id, and adds the standard marking-definition object
/// when the bundle does not hold it. Marking definitions themselves are left
/// alone (a marking is not marked; one that marked itself would be circular).
pub fn apply_tlp(bundle: Bundle, marking: Marking) -> Bundle {
    let id = tlp_id(marking);
    let Bundle {
        id: bundle_id,
        mut objects,
    } = bundle;
    for o in &mut objects {
        let unmarked = o
            .json
            .get("object_marking_refs")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if o.kind != "marking-definition" && unmarked {
            o.json.insert("object_marking_refs".into(), json!([id]));
        }
    }
    if !objects.iter().any(|o| o.id == id) {
        objects.push(standard_object(marking));
    }
    Bundle {
        id: bundle_id,
        objects,
    }
}

/// A standard marking definition as a bundle object (its fields are known good).
fn standard_object(m: Marking) -> Object {
    Object {
        id: tlp_id(m).to_owned(),
        kind: "marking-definition".into(),
        spec_version: Some("2.1".into()),
        version: super::Timestamp::parse(TLP2_CREATED),
        json: tlp_definition(m),
    }
}
