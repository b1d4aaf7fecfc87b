//! Partner sharing: reports, dispositions, paused partners.

use crate::common::*;
use hotline_core::machine::Report;
use hotline_proto::Marking;
use hotline_store::{DispositionRow, SharingRow, StoreError, WriteOp};

fn report(title: &str, at: u64) -> Report {
    Report::new(
        title.into(),
        Marking::Amber,
        vec!["NATO".into(), "EU".into()],
        "text/plain".into(),
        format!("content of {title}").into_bytes(),
        at,
        "analyst".into(),
    )
}

fn reports_read_back_in_publication_order_and_by_id(db: &Db) {
    let mut s = db.open();
    // Ids are content hashes: publication order is not id order.
    let (r1, r2, r3) = (report("b", 1), report("a", 2), report("c", 3));
    s.write(&[WriteOp::Report(Box::new(r1.clone()))]).unwrap();
    s.write(&[
        WriteOp::Report(Box::new(r2.clone())),
        WriteOp::Report(Box::new(r3.clone())),
    ])
    .unwrap();
    assert_eq!(s.reports().unwrap(), [r1.clone(), r2.clone(), r3]);
    assert_eq!(s.report(&r2.id).unwrap(), Some(r2));
    assert_eq!(s.report(&[0; 32]).unwrap(), None);
    // The same report twice is refused whole.
    assert!(matches!(
        s.write(&[WriteOp::Report(Box::new(r1))]),
        Err(StoreError::Db(_))
    ));
    assert_eq!(s.reports().unwrap().len(), 3);
}

fn a_disposition_per_report_and_partner_is_replaced_and_listed_in_order(db: &Db) {
    let mut s = db.open();
    let p1 = s
        .add_peer("p1", &keys(3).identity().token(), &[], None, 1)
        .unwrap();
    let p2 = s
        .add_peer("p2", &keys(4).identity().token(), &[], None, 1)
        .unwrap();
    let (r1, r2) = (report("b", 1), report("a", 2));
    let d = |report: [u8; 32], peer_id, disposition, entry, at| WriteOp::Disposition {
        report,
        peer_id,
        disposition,
        entry,
        at,
    };
    s.write(&[
        WriteOp::Report(Box::new(r1.clone())),
        WriteOp::Report(Box::new(r2.clone())),
        d(r2.id, p2.id, "held", None, 3),
        d(r2.id, p1.id, "withheld-rel", None, 4),
        d(r1.id, p2.id, "held", None, 5),
    ])
    .unwrap();
    s.write(&[d(r1.id, p2.id, "released", Some([7; 32]), 6)])
        .unwrap();
    let row = |report, peer_id, disposition: &str, entry, at| DispositionRow {
        report,
        peer_id,
        disposition: disposition.into(),
        entry,
        at,
    };
    let all = s.dispositions(None).unwrap();
    assert_eq!(
        all,
        [
            row(r1.id, p2.id, "released", Some([7; 32]), 6),
            row(r2.id, p1.id, "withheld-rel", None, 4),
            row(r2.id, p2.id, "held", None, 3),
        ]
    );
    assert_eq!(s.dispositions(Some(&r2.id)).unwrap(), all[1..].to_vec());
    assert!(s.dispositions(Some(&[0; 32])).unwrap().is_empty());
    // A disposition of a report not published here is refused with its batch.
    assert!(s
        .write(&[
            d(r1.id, p1.id, "held", None, 7),
            d([9; 32], p1.id, "held", None, 7)
        ])
        .is_err());
    assert_eq!(s.dispositions(None).unwrap(), all);
}

fn sharing_with_a_partner_is_paused_and_resumed_in_one_row(db: &Db) {
    let mut s = db.open();
    let p1 = s
        .add_peer("p1", &keys(3).identity().token(), &[], None, 1)
        .unwrap();
    let p2 = s
        .add_peer("p2", &keys(4).identity().token(), &[], None, 1)
        .unwrap();
    assert!(s.sharing().unwrap().is_empty());
    let row = |peer_id, paused, since, reason: &str| SharingRow {
        peer_id,
        paused,
        since,
        by: "op".into(),
        reason: reason.into(),
    };
    s.write(&[
        WriteOp::Sharing(row(p2.id, true, 5, "audit")),
        WriteOp::Sharing(row(p1.id, true, 6, "")),
    ])
    .unwrap();
    s.write(&[WriteOp::Sharing(row(p2.id, false, 7, ""))])
        .unwrap();
    assert_eq!(
        s.sharing().unwrap(),
        [row(p1.id, true, 6, ""), row(p2.id, false, 7, "")]
    );
}

conformance!(
    reports_read_back_in_publication_order_and_by_id,
    a_disposition_per_report_and_partner_is_replaced_and_listed_in_order,
    sharing_with_a_partner_is_paused_and_resumed_in_one_row,
);
