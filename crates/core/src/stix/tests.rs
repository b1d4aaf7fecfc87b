use super::*;
use hotline_proto::Marking;
use proptest::prelude::*;
use serde_json::json;

const T0: &str = "2024-05-01T10:00:00.000Z";
const T1: &str = "2024-05-02T10:00:00.000Z";

fn uuid(n: u32) -> String {
    format!("{n:08x}-1111-4222-8333-444455556666")
}

fn indicator(n: u32) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--{}", uuid(n)),
        "created": T0,
        "modified": T1,
        "name": format!("bad host {n}"),
        "pattern": format!("[ipv4-addr:value = '10.0.{}.{}']", n / 256 % 256, n % 256),
        "pattern_type": "stix",
        "valid_from": T0,
    })
}

fn bundle(objects: Vec<Value>) -> Vec<u8> {
    json!({"type": "bundle", "id": format!("bundle--{}", uuid(0)), "objects": objects})
        .to_string()
        .into_bytes()
}

/// The fault of a bundle that must fail on one object.
fn fault(objects: Vec<Value>) -> (usize, Fault) {
    match validate_bundle(&bundle(objects)) {
        Err(StixError::Object { index, fault, .. }) => (index, fault),
        other => panic!("expected an object fault, got {other:?}"),
    }
}

fn without(mut v: Value, p: &str) -> Value {
    v.as_object_mut().unwrap().remove(p);
    v
}

fn with(mut v: Value, p: &str, x: Value) -> Value {
    v.as_object_mut().unwrap().insert(p.into(), x);
    v
}

#[test]
fn a_bundle_of_indicators_passes_and_keeps_its_objects_in_order() {
    let b = validate_bundle(&bundle((1..=3).map(indicator).collect())).unwrap();
    assert_eq!(b.id(), format!("bundle--{}", uuid(0)));
    let ids: Vec<_> = b.objects().iter().map(Object::id).collect();
    assert_eq!(
        ids,
        (1..=3)
            .map(|n| format!("indicator--{}", uuid(n)))
            .collect::<Vec<_>>()
    );
    let o = &b.objects()[0];
    assert_eq!(o.kind(), "indicator");
    assert_eq!(o.spec_version(), Some("2.1"));
    assert_eq!(o.version().unwrap().as_str(), T1);
}

#[test]
fn a_missing_pattern_is_named_with_the_object() {
    let err = validate_bundle(&bundle(vec![
        indicator(1),
        without(indicator(2), "pattern"),
    ]))
    .unwrap_err();
    assert_eq!(
        err,
        StixError::Object {
            index: 1,
            id: format!("indicator--{}", uuid(2)),
            fault: Fault::Missing("pattern".into()),
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "objects[1] (indicator--{}): missing required property \"pattern\"",
            uuid(2)
        )
    );
}

#[test]
fn the_bundle_itself_must_be_one() {
    for (bytes, word) in [
        (&b"{"[..], "JSON"),
        (b"[]", "JSON object"),
        (br#"{"type":"bundles","id":"bundle--00000001-1111-4222-8333-444455556666"}"#, "type"),
        (br#"{"type":"bundle","id":"bundle--nope"}"#, "id"),
        (br#"{"type":"bundle","id":"report--00000001-1111-4222-8333-444455556666"}"#, "id"),
        (br#"{"type":"bundle","id":"bundle--00000001-1111-4222-8333-444455556666","objects":{}}"#, "objects"),
        (br#"{"type":"bundle","id":"bundle--00000001-1111-4222-8333-444455556666"} x"#, "JSON"),
    ] {
        let e = validate_bundle(bytes).unwrap_err().to_string();
        assert!(e.contains(word), "{e}");
    }
    assert!(validate_bundle(
        br#"{"type":"bundle","id":"bundle--00000001-1111-4222-8333-444455556666"}"#
    )
    .unwrap()
    .objects()
    .is_empty());
}

#[test]
fn identifiers_need_their_type_and_an_rfc_4122_uuid() {
    let id = |s: &str| with(indicator(1), "id", json!(s));
    for bad in [
        "malware--00000001-1111-4222-8333-444455556666",
        "indicator--00000001-1111-4222-8333-44445555666",
        "indicator--00000001-1111-6222-8333-444455556666",
        "indicator--00000001-1111-4222-c333-444455556666",
        "indicator--000000011111422283334444555566660000",
        "indicator-00000001-1111-4222-8333-444455556666",
    ] {
        assert_eq!(fault(vec![id(bad)]).1, Fault::Id(bad.into()), "{bad}");
    }
    assert_eq!(
        fault(vec![with(indicator(1), "type", json!("Indicator"))]).1,
        Fault::TypeName("Indicator".into())
    );
    assert_eq!(
        fault(vec![with(indicator(1), "type", json!("x--y"))]).1,
        Fault::TypeName("x--y".into())
    );
}

#[test]
fn spec_version_is_2_1_and_required_where_stix_requires_it() {
    assert_eq!(
        fault(vec![with(indicator(1), "spec_version", json!("2.0"))]).1,
        Fault::SpecVersion("2.0".into())
    );
    assert_eq!(
        fault(vec![without(indicator(1), "spec_version")]).1,
        Fault::Missing("spec_version".into())
    );
    // An observable may leave it out.
    let ip =
        json!({"type": "ipv4-addr", "id": format!("ipv4-addr--{}", uuid(9)), "value": "10.0.0.1"});
    let b = validate_bundle(&bundle(vec![ip])).unwrap();
    assert_eq!(b.objects()[0].spec_version(), None);
    assert!(b.objects()[0].version().is_none());
}

#[test]
fn timestamps_are_stix_timestamps_in_order() {
    assert_eq!(
        fault(vec![with(
            indicator(1),
            "created",
            json!("2024-05-01 10:00:00")
        )])
        .1,
        Fault::Timestamp {
            property: "created".into(),
            value: "2024-05-01 10:00:00".into()
        }
    );
    assert_eq!(
        fault(vec![with(
            indicator(1),
            "modified",
            json!("2024-04-30T00:00:00Z")
        )])
        .1,
        Fault::Order {
            later: "modified",
            earlier: "created"
        }
    );
    assert_eq!(
        fault(vec![with(indicator(1), "valid_until", json!(T0))]).1,
        Fault::Order {
            later: "valid_until",
            earlier: "valid_from"
        }
    );
    assert_eq!(
        fault(vec![with(
            indicator(1),
            "valid_from",
            json!("2024-02-30T00:00:00Z")
        )])
        .1,
        Fault::Timestamp {
            property: "valid_from".into(),
            value: "2024-02-30T00:00:00Z".into()
        }
    );
}

#[test]
fn each_common_type_needs_its_properties() {
    let sdo = |kind: &str, n: u32, extra: Value| {
        let mut o = json!({"type": kind, "spec_version": "2.1", "id": format!("{kind}--{}", uuid(n)), "created": T0, "modified": T0});
        o.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        o
    };
    let target = format!("identity--{}", uuid(50));
    let cases = [
        ("malware", json!({"name": "x"}), "is_family"),
        ("malware", json!({"is_family": true}), "name"),
        ("attack-pattern", json!({}), "name"),
        ("campaign", json!({}), "name"),
        ("intrusion-set", json!({}), "name"),
        ("threat-actor", json!({}), "name"),
        ("tool", json!({}), "name"),
        ("identity", json!({}), "name"),
        ("vulnerability", json!({}), "name"),
        ("infrastructure", json!({}), "name"),
        ("course-of-action", json!({}), "name"),
        (
            "report",
            json!({"name": "r", "object_refs": [target]}),
            "published",
        ),
        ("note", json!({"object_refs": [target]}), "content"),
        ("opinion", json!({"object_refs": [target]}), "opinion"),
        ("grouping", json!({"object_refs": [target]}), "context"),
        (
            "observed-data",
            json!({"first_observed": T0, "last_observed": T0, "object_refs": [target]}),
            "number_observed",
        ),
        (
            "relationship",
            json!({"relationship_type": "uses", "source_ref": target}),
            "target_ref",
        ),
        ("sighting", json!({}), "sighting_of_ref"),
    ];
    for (kind, props, missing) in cases {
        let (_, f) = fault(vec![
            sdo("identity", 50, json!({"name": "us"})),
            sdo(kind, 1, props),
        ]);
        assert_eq!(f, Fault::Missing(missing.into()), "{kind}");
    }
    // A malware instance needs no name.
    validate_bundle(&bundle(vec![sdo(
        "malware",
        1,
        json!({"is_family": false}),
    )]))
    .unwrap();
    assert_eq!(
        fault(vec![sdo("location", 1, json!({"latitude": 1.0}))]).1,
        Fault::MissingOneOf("region, country, latitude with longitude".into())
    );
    assert!(matches!(
        fault(vec![sdo("observed-data", 1, json!({"first_observed": T0, "last_observed": T0, "number_observed": 1, "objects": {}, "object_refs": [target]})), sdo("identity", 50, json!({"name": "us"}))]).1,
        Fault::Exclusive(_)
    ));
    assert_eq!(
        fault(vec![sdo(
            "observed-data",
            1,
            json!({"first_observed": T0, "last_observed": T0, "number_observed": 0, "objects": {}})
        )])
        .1,
        Fault::Shape {
            property: "number_observed".into(),
            expected: Shape::Count.name()
        }
    );
    assert_eq!(
        fault(vec![sdo("malware", 1, json!({"is_family": "yes"}))]).1,
        Fault::Shape {
            property: "is_family".into(),
            expected: Shape::Bool.name()
        }
    );
}

#[test]
fn references_are_identifiers_that_resolve_in_the_bundle() {
    let rel = |src: &str, dst: &str| {
        json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", uuid(7)),
               "created": T0, "modified": T0, "relationship_type": "indicates",
               "source_ref": src, "target_ref": dst})
    };
    let i1 = format!("indicator--{}", uuid(1));
    let m2 = format!("malware--{}", uuid(2));
    let malware = json!({"type": "malware", "spec_version": "2.1", "id": m2, "created": T0, "modified": T0, "is_family": false});
    validate_bundle(&bundle(vec![indicator(1), malware.clone(), rel(&i1, &m2)])).unwrap();
    assert_eq!(
        fault(vec![indicator(1), rel(&i1, &m2)]),
        (
            1,
            Fault::Unresolved {
                property: "target_ref".into(),
                id: m2.clone()
            }
        )
    );
    assert_eq!(
        fault(vec![indicator(1), malware.clone(), rel(&i1, "malware--x")]).1,
        Fault::Reference {
            property: "target_ref".into(),
            value: "malware--x".into()
        }
    );
    // created_by_ref names an identity, markings name marking definitions.
    let by_malware = with(indicator(1), "created_by_ref", json!(m2));
    assert!(matches!(
        fault(vec![by_malware, malware.clone()]).1,
        Fault::Reference { .. }
    ));
    let marked_by_malware = with(indicator(1), "object_marking_refs", json!([m2]));
    assert!(matches!(
        fault(vec![marked_by_malware, malware]).1,
        Fault::Reference { .. }
    ));
    assert_eq!(
        fault(vec![with(indicator(1), "object_marking_refs", json!([]))]).1,
        Fault::Shape {
            property: "object_marking_refs".into(),
            expected: Shape::Refs.name()
        }
    );
}

#[test]
fn standard_tlp_markings_need_no_object_but_an_impostor_is_refused() {
    for m in [
        Marking::Clear,
        Marking::Green,
        Marking::Amber,
        Marking::AmberStrict,
        Marking::Red,
    ] {
        validate_bundle(&bundle(vec![with(
            indicator(1),
            "object_marking_refs",
            json!([tlp_id(m)]),
        )]))
        .unwrap();
        validate_bundle(&bundle(vec![Value::Object(tlp_definition(m))])).unwrap();
    }
    // TLP 1.0 AMBER, as STIX 2.1 §7.2.1.4 fixes it.
    let tlp1 = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
    validate_bundle(&bundle(vec![with(
        indicator(1),
        "object_marking_refs",
        json!([tlp1]),
    )]))
    .unwrap();
    let mut fake = tlp_definition(Marking::Red);
    fake.insert("name".into(), json!("TLP:CLEAR"));
    assert_eq!(fault(vec![Value::Object(fake)]).1, Fault::NotStandardTlp);
    let other = json!({"type": "marking-definition", "spec_version": "2.1", "id": format!("marking-definition--{}", uuid(3)), "created": T0});
    assert_eq!(
        fault(vec![other]).1,
        Fault::Missing("definition_type".into())
    );
}

#[test]
fn the_standard_amber_object_is_the_published_one() {
    let expected = json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "created": "2022-10-01T00:00:00.000Z",
        "name": "TLP:AMBER",
        "extensions": {
            "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                "extension_type": "property-extension",
                "tlp_2_0": "amber"
            }
        }
    });
    assert_eq!(Value::Object(tlp_definition(Marking::Amber)), expected);
    assert_eq!(
        tlp_definition(Marking::AmberStrict)["extensions"][TLP2_EXTENSION]["tlp_2_0"],
        json!("amber+strict")
    );
}

#[test]
fn apply_tlp_marks_the_unmarked_and_adds_the_definition_once() {
    let green = tlp_id(Marking::Green);
    let premarked = with(indicator(2), "object_marking_refs", json!([green]));
    let b = validate_bundle(&bundle(vec![indicator(1), premarked])).unwrap();
    let b = apply_tlp(b, Marking::Amber);
    let amber = tlp_id(Marking::Amber);
    let o = b.objects();
    assert_eq!(o.len(), 3);
    assert_eq!(o[0].json()["object_marking_refs"], json!([amber]));
    assert_eq!(
        o[1].json()["object_marking_refs"],
        json!([green]),
        "kept as marked"
    );
    assert_eq!(o[2].id(), amber);
    assert!(!o[2].json().contains_key("object_marking_refs"));
    // Applying again adds nothing, and the result is still a valid bundle.
    let again = apply_tlp(b.clone(), Marking::Amber);
    assert_eq!(again.objects().len(), 3);
    let round = validate_bundle(&again.to_vec()).unwrap();
    assert_eq!(round.objects().len(), 3);
}

#[test]
fn patterns_must_balance() {
    for bad in [
        "[ipv4-addr:value = '10.0.0.1'",
        "[ipv4-addr:value = '10.0.0.1]",
        "ipv4-addr:value = '10.0.0.1'",
        "([a:b = 'c'] AND [d:e = 'f']",
    ] {
        assert_eq!(
            fault(vec![with(indicator(1), "pattern", json!(bad))]).1,
            Fault::Pattern,
            "{bad}"
        );
    }
    let ok = r"([file:name = 'it''s \'here\' [x]'] AND [a:b = 'c']) FOLLOWEDBY [d:e = 'f']";
    validate_bundle(&bundle(vec![with(indicator(1), "pattern", json!(ok))])).unwrap();
    // Another pattern language is not ours to parse.
    let sigma = with(
        with(indicator(1), "pattern_type", json!("sigma")),
        "pattern",
        json!("title: x"),
    );
    validate_bundle(&bundle(vec![sigma])).unwrap();
}

#[test]
fn a_custom_type_needs_only_a_type_and_an_id() {
    let x = json!({"type": "x-acme-thing", "id": format!("x-acme-thing--{}", uuid(4)), "date": "whenever"});
    validate_bundle(&bundle(vec![x])).unwrap();
    let bad = json!({"type": "x-acme-thing", "id": format!("x-acme-thing--{}", uuid(4)), "created": "whenever"});
    assert!(matches!(fault(vec![bad]).1, Fault::Timestamp { .. }));
}

fn arb_indicator() -> impl Strategy<Value = Value> {
    (
        any::<u32>(),
        0u64..4_000_000_000,
        0u64..1_000_000_000,
        any::<bool>(),
    )
        .prop_map(|(n, created_s, later_s, millis)| {
            let ts = |ms: u64| {
                let t = Timestamp::from_unix_ms(ms);
                if millis {
                    t.as_str().to_owned()
                } else {
                    format!("{}Z", &t.as_str()[..19])
                }
            };
            let created = created_s * 1000;
            let mut v = indicator(n);
            let o = v.as_object_mut().unwrap();
            o.insert("created".into(), json!(ts(created)));
            o.insert("modified".into(), json!(ts(created + later_s * 1000)));
            o.insert("valid_from".into(), json!(ts(created)));
            v
        })
}

fn distinct(objects: Vec<Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    objects
        .into_iter()
        .filter(|o| seen.insert(o["id"].as_str().unwrap().to_owned()))
        .collect()
}

const REQUIRED: [&str; 8] = [
    "type",
    "id",
    "spec_version",
    "created",
    "modified",
    "pattern",
    "pattern_type",
    "valid_from",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_valid_bundles_pass_and_stay_valid_once_marked(
        objects in proptest::collection::vec(arb_indicator(), 0..20),
        m in 0usize..5,
    ) {
        let objects = distinct(objects);
        let b = validate_bundle(&bundle(objects.clone())).unwrap();
        prop_assert_eq!(b.objects().len(), objects.len());
        let marking = [Marking::Clear, Marking::Green, Marking::Amber, Marking::AmberStrict, Marking::Red][m];
        let marked = validate_bundle(&apply_tlp(b, marking).to_vec()).unwrap();
        prop_assert_eq!(marked.objects().len(), objects.len() + 1);
        for o in marked.objects() {
            if o.kind() != "marking-definition" {
                prop_assert_eq!(&o.json()["object_marking_refs"], &json!([tlp_id(marking)]));
            }
        }
    }

    #[test]
    fn dropping_a_required_property_fails_naming_it(
        objects in proptest::collection::vec(arb_indicator(), 1..10),
        pick in any::<prop::sample::Index>(),
        which in 0usize..REQUIRED.len(),
    ) {
        let mut objects = distinct(objects);
        let i = pick.index(objects.len());
        objects[i].as_object_mut().unwrap().remove(REQUIRED[which]);
        let e = validate_bundle(&bundle(objects)).unwrap_err();
        let StixError::Object { index, fault, .. } = &e else { panic!("{e}") };
        prop_assert_eq!(*index, i);
        prop_assert_eq!(fault, &Fault::Missing(REQUIRED[which].into()));
        let text = e.to_string();
        prop_assert!(text.contains(REQUIRED[which]), "{}", text);
    }

    #[test]
    fn any_bytes_are_answered_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = validate_bundle(&bytes);
    }

    #[test]
    fn mutated_json_is_answered_without_panic(
        objects in proptest::collection::vec(arb_indicator(), 1..4),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut b = bundle(distinct(objects));
        let i = at.index(b.len());
        b[i] = byte;
        let _ = validate_bundle(&b);
    }
}
