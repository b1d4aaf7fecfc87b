//! API users: tokens, names, expiry, rotation and revocation.

use crate::common::*;
use hotline_store::{StoreError, UserRow};

fn users_are_found_by_token_and_a_name_is_unique_among_active_users(db: &Db) {
    let mut s = db.open();
    let admin = s.add_user("root", "admin", &[1; 32], 10).unwrap();
    assert_eq!(
        admin,
        UserRow {
            id: admin.id,
            name: "root".into(),
            role: "admin".into(),
            created_at: 10,
            revoked_at: None,
            expires_at: None
        }
    );
    let op = s
        .add_user_until("op", "operator", &[2; 32], 11, Some(99))
        .unwrap();
    assert_eq!(op.expires_at, Some(99));
    assert!(op.id > admin.id);
    assert_eq!(s.user_by_token(&[2; 32]).unwrap(), Some(op.clone()));
    assert_eq!(s.user_by_token(&[3; 32]).unwrap(), None);
    assert_eq!(s.users().unwrap(), [admin.clone(), op.clone()]);
    assert_eq!(
        s.user_tokens().unwrap(),
        [
            ([1; 32], "root".into(), "admin".into(), None),
            ([2; 32], "op".into(), "operator".into(), Some(99))
        ]
    );
    for e in [
        s.add_user("op", "auditor", &[4; 32], 12).unwrap_err(),
        s.add_user("other", "auditor", &[2; 32], 12).unwrap_err(),
    ] {
        assert!(matches!(e, StoreError::Exists(_)));
        assert_eq!(e.to_string(), "a user with this name already exists");
    }
    assert_eq!(s.users().unwrap().len(), 2);
    // Once revoked, the name can be given again; the token no longer finds anyone.
    s.revoke_user("op", 20).unwrap();
    assert_eq!(s.user_by_token(&[2; 32]).unwrap(), None);
    let op2 = s.add_user("op", "auditor", &[5; 32], 21).unwrap();
    let rows = s.users().unwrap();
    assert_eq!(rows[1].revoked_at, Some(20));
    assert_eq!(rows[2], op2);
    assert_eq!(s.user_tokens().unwrap().len(), 2);
}

fn a_rotation_revokes_the_old_token_and_keeps_role_and_expiry(db: &Db) {
    let mut s = db.open();
    s.add_user_until("op", "operator", &[2; 32], 11, Some(99))
        .unwrap();
    let new = s.rotate_user("op", &[3; 32], 30).unwrap();
    assert_eq!(
        (
            new.name.as_str(),
            new.role.as_str(),
            new.created_at,
            new.expires_at
        ),
        ("op", "operator", 30, Some(99))
    );
    assert_eq!(s.user_by_token(&[2; 32]).unwrap(), None);
    assert_eq!(s.user_by_token(&[3; 32]).unwrap(), Some(new.clone()));
    assert_eq!(s.users().unwrap()[0].revoked_at, Some(30));
    assert_eq!(s.users().unwrap()[1], new);
    for e in [
        s.rotate_user("nobody", &[4; 32], 31).unwrap_err(),
        s.revoke_user("nobody", 31).unwrap_err(),
    ] {
        assert!(matches!(e, StoreError::NotFound(_)));
        assert_eq!(e.to_string(), "active user not found");
    }
}

fn the_last_admin_cannot_be_revoked(db: &Db) {
    let mut s = db.open();
    s.add_user("a1", "admin", &[1; 32], 1).unwrap();
    s.add_user("a2", "admin", &[2; 32], 1).unwrap();
    s.add_user("op", "operator", &[3; 32], 1).unwrap();
    s.revoke_user("a1", 2).unwrap();
    let e = s.revoke_user("a2", 3).unwrap_err();
    assert!(matches!(e, StoreError::Refused(_)));
    assert_eq!(
        e.to_string(),
        "the last admin cannot be revoked: add another admin first"
    );
    assert!(s.user_by_token(&[2; 32]).unwrap().is_some(), "still active");
    s.revoke_user("op", 4).unwrap();
    assert!(matches!(
        s.revoke_user("a1", 5),
        Err(StoreError::NotFound(_))
    ));
}

conformance!(
    users_are_found_by_token_and_a_name_is_unique_among_active_users,
    a_rotation_revokes_the_old_token_and_keeps_role_and_expiry,
    the_last_admin_cannot_be_revoked,
);
