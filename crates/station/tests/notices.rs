//! Structured notices through a station's real paths: a notice the peer
//! forges against its schema is rejected at the receiver with a `bad-input`
//! alert and nothing stored; one a local user writes against it is refused
//! before it is signed; a proposal whose schema is unusable is refused.

use hotline_core::ChannelBook;
use hotline_proto::{Body, NoticeType, Terms};
use serde_json::{json, Value};

mod common;
use common::receive::*;

fn agreed() -> Terms {
    Terms {
        notice_types: vec![
            hotline_core::notice::shipped("incident-report/1").unwrap(),
            NoticeType {
                name: "ship-movement/1".into(),
                schema: json!({
                    "type": "object",
                    "required": ["vessel", "course"],
                    "additionalProperties": false,
                    "properties": {
                        "vessel": {"type": "string"},
                        "course": {"type": "integer", "minimum": 0, "maximum": 359},
                    },
                })
                .to_string(),
            },
        ],
        ..Terms::default()
    }
}

fn report() -> Value {
    json!({
        "reporter": "Northern command",
        "what": "Shelling of a border post",
        "where": {"lat": 48.5, "lon": 37.9},
        "when": {"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T10:20:00Z"},
        "reference": "NC-2026-0412",
    })
}

fn notice(kind: &str, v: &Value) -> Body {
    Body::Notice {
        notice_type: kind.into(),
        notice: v.to_string(),
    }
}

#[tokio::test]
async fn a_forged_notice_is_rejected_at_the_receiver_and_a_valid_one_stored() {
    let mut f = fixture(true, agreed()).await;
    f.accept().await;
    let n = f.stored().await;

    let mut off_the_map = report();
    off_the_map["where"]["lat"] = json!(91);
    let mut unreferenced = report();
    unreferenced.as_object_mut().unwrap().remove("reference");
    let mut bad_time = report();
    bad_time["when"]["to"] = json!("tomorrow");
    let forged = [
        ("latitude 91", notice("incident-report/1", &off_the_map)),
        ("no reference", notice("incident-report/1", &unreferenced)),
        ("not a date-time", notice("incident-report/1", &bad_time)),
        (
            "a type not agreed",
            notice("launch-notification/1", &report()),
        ),
        (
            "not JSON",
            Body::Notice {
                notice_type: "incident-report/1".into(),
                notice: "{\"reporter\":".into(),
            },
        ),
        (
            "course 400 in the channel's own type",
            notice(
                "ship-movement/1",
                &json!({"vessel": "Aurora", "course": 400}),
            ),
        ),
    ];
    for (what, body) in forged {
        let bytes = f.sign(&f.next_unchecked(body));
        f.refused(bytes, what).await;
    }
    assert_eq!(f.stored().await, n);

    // The valid ones go in, the channel's own type judged by the schema in
    // its terms (this station has no file for it).
    for body in [
        notice("incident-report/1", &report()),
        notice(
            "ship-movement/1",
            &json!({"vessel": "Aurora", "course": 270}),
        ),
    ] {
        let e = f.next(body);
        let bytes = f.sign(&e);
        match f.book.check(0, &bytes).unwrap() {
            hotline_core::Outcome::New(v) => f.book.apply(&v, 3),
            o => panic!("{o:?}"),
        }
        let r = f
            .engine
            .receive(&f.peer, f.book.id(), vec![bytes])
            .await
            .unwrap();
        assert_eq!(r.fault, None);
    }
    assert_eq!(f.stored().await, n + 2);
    assert_eq!(f.open_alerts("bad-input").await, 0);
}

#[tokio::test]
async fn a_local_notice_against_its_schema_is_refused_before_it_is_signed() {
    let mut f = fixture(true, agreed()).await;
    f.accept().await;
    let n = f.stored().await;
    let mut bad = report();
    bad["where"]["lon"] = json!(-181);
    for body in [
        notice("incident-report/1", &bad),
        notice("ceasefire-violation/1", &report()),
    ] {
        let err = f
            .engine
            .author(&f.book.id(), body, "b")
            .await
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("schema") || err.contains("agreed"),
            "a reason is given: {err}"
        );
    }
    assert_eq!(f.stored().await, n, "nothing was written");
    f.engine
        .author(&f.book.id(), notice("incident-report/1", &report()), "b")
        .await
        .expect("a valid notice is written");
    assert_eq!(f.stored().await, n + 1);
}

#[tokio::test]
async fn a_proposal_with_an_unusable_schema_is_refused_whole() {
    let f = fixture(true, Terms::default()).await;
    for schema in ["not json", r#"{"$ref": "https://example.com/x.json"}"#] {
        let terms = Terms {
            notice_types: vec![NoticeType {
                name: "odd/1".into(),
                schema: schema.into(),
            }],
            ..Terms::default()
        };
        let (book, open) = ChannelBook::open(&f.a, f.engine.identity(), terms, None, "a", 5);
        let r = f
            .engine
            .receive(&f.peer, book.id(), vec![open.envelope().bytes().to_vec()])
            .await
            .unwrap();
        assert!(r.fault.is_some(), "{schema}: taken");
        assert!(f.engine.channel(&book.id()).is_err(), "{schema}: stored");
    }
}
