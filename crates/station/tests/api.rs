//! The HTTP API against a real station on port 0: authentication, roles,
//! malformed input, and the audit log of every attempt.

use hotline_station::Station;
use serde_json::{json, Value};

struct Api {
    _dir: tempfile::TempDir,
    st: Option<Station>,
    base: String,
    admin: String,
    http: reqwest::Client,
}

async fn station() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("s");
    let i = hotline_station::init(&data, "s", "127.0.0.1:0", "127.0.0.1:0").unwrap();
    let st = Station::start(&data, None).await.unwrap();
    let base = format!("http://{}", st.api_addr());
    Api {
        _dir: dir,
        st: Some(st),
        base,
        admin: i.admin_token,
        http: reqwest::Client::new(),
    }
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (u16, Value) {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(token), Some(body.to_string()))
            .await
    }
    async fn user(&self, name: &str, role: &str) -> String {
        let (s, v) = self
            .post(
                "/v1/users",
                &self.admin,
                json!({"name": name, "role": role}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }
    async fn stop(mut self) {
        self.st.take().unwrap().stop().await;
    }
}

const CH: &str = "/v1/channels/0000000000000000000000000000000000000000000000000000000000000001";

#[tokio::test]
async fn health_needs_no_token_and_everything_else_does() {
    let api = station().await;
    assert_eq!(api.call("GET", "/v1/health", None, None).await.0, 200);
    let (s, v) = api.call("GET", "/v1/channels", None, None).await;
    assert_eq!(s, 401);
    assert!(v["error"].as_str().unwrap().contains("token"));
    assert_eq!(
        api.call("GET", "/v1/channels", Some("hlt_wrong"), None)
            .await
            .0,
        401
    );
    assert_eq!(
        api.call("GET", "/v1/channels", Some(&api.admin), None)
            .await
            .0,
        200
    );
    api.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_a_clear_400_and_change_nothing() {
    let api = station().await;
    let (s, v) = api
        .call(
            "POST",
            "/v1/peers",
            Some(&api.admin),
            Some("{not json".into()),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        v["error"].as_str().unwrap().contains("malformed JSON"),
        "{v}"
    );
    let (s, v) = api
        .post(
            "/v1/peers",
            &api.admin,
            json!({"name": "x", "key": "hotline1nope", "addrs": ["127.0.0.1:1"]}),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        v["error"].as_str().unwrap().contains("identity token"),
        "{v}"
    );
    let (s, _) = api
        .post(
            "/v1/peers",
            &api.admin,
            json!({"name": "x", "key": "k", "unknown_field": 1}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = api
        .call("GET", "/v1/channels/xyz/entries", Some(&api.admin), None)
        .await;
    assert_eq!(s, 400);
    // Path traversal in any parameter is just a malformed id or name.
    for p in [
        "/v1/channels/..%2F..%2Fetc%2Fpasswd/export",
        "/v1/entries/..%2F..%2Fhotline.db",
        "/v1/channels/%2e%2e/entries",
    ] {
        let (s, _) = api.call("GET", p, Some(&api.admin), None).await;
        assert!(s == 400 || s == 404, "{p}: {s}");
    }
    let (s, _) = api
        .post(
            "/v1/peers/..%2F..%2Fadmin/verify",
            &api.admin,
            json!({"fingerprint": "1"}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = api
        .call(
            "GET",
            &format!("{CH}/entries?after=minus"),
            Some(&api.admin),
            None,
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = api
        .call(
            "POST",
            "/v1/peers",
            Some(&api.admin),
            Some(format!("\"{}\"", "x".repeat(3 << 20))),
        )
        .await;
    assert_eq!(s, 413);
    assert_eq!(
        api.call("GET", "/v1/peers", Some(&api.admin), None).await.1["peers"],
        json!([])
    );
    api.stop().await;
}

#[tokio::test]
async fn roles_are_enforced_and_every_attempt_is_audited() {
    let api = station().await;
    let auditor = api.user("aud", "auditor").await;
    let operator = api.user("op", "operator").await;
    let principal = api.user("boss", "principal").await;
    let msg = |p: &str| json!({"precedence": p, "subject": "s", "text": "t"});
    let h = "00".repeat(32);
    // An auditor reads but cannot act.
    assert_eq!(
        api.call("GET", "/v1/channels", Some(&auditor), None)
            .await
            .0,
        200
    );
    for (path, body) in [
        ("messages", msg("routine")),
        ("acks", json!({"of": h})),
        ("decisions", json!({"request": h, "choice": "x"})),
        ("suspend", json!({})),
        ("terminate", json!({})),
        ("requests", json!({"question": "q", "deadline": "1m"})),
    ] {
        let (s, v) = api.post(&format!("{CH}/{path}"), &auditor, body).await;
        assert_eq!(s, 403, "auditor {path}: {v}");
        assert!(v["error"].as_str().unwrap().contains("role"), "{v}");
    }
    // An operator sends up to IMMEDIATE, never FLASH, and cannot terminate.
    let (s, v) = api
        .post(&format!("{CH}/messages"), &operator, msg("flash"))
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(v["error"].as_str().unwrap().contains("FLASH"));
    assert_eq!(
        api.post(&format!("{CH}/terminate"), &operator, json!({}))
            .await
            .0,
        403
    );
    // Past the role check, the unknown channel is the only objection.
    assert_eq!(
        api.post(&format!("{CH}/messages"), &operator, msg("immediate"))
            .await
            .0,
        404
    );
    assert_eq!(
        api.post(&format!("{CH}/messages"), &principal, msg("flash"))
            .await
            .0,
        404
    );
    // Peers and users are the admin's.
    assert_eq!(
        api.post(
            "/v1/users",
            &principal,
            json!({"name": "x", "role": "admin"})
        )
        .await
        .0,
        403
    );
    // Revoked: 401.
    assert_eq!(
        api.post("/v1/users/op/revoke", &api.admin, json!({}))
            .await
            .0,
        200
    );
    assert_eq!(
        api.call("GET", "/v1/channels", Some(&operator), None)
            .await
            .0,
        401
    );

    let (s, v) = api.call("GET", "/v1/audit", Some(&api.admin), None).await;
    assert_eq!(s, 200);
    let lines = v["audit"].as_array().unwrap();
    let denied = lines.iter().filter(|l| l["result"] == "403").count();
    assert_eq!(denied, 9, "every refused attempt is in the log");
    assert!(
        lines
            .iter()
            .any(|l| l["user"] == "op" && l["result"] == "404"),
        "allowed attempts too"
    );
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(
        hotline_core::audit::verify_chain(&text).unwrap().0,
        lines.len()
    );
    // A flipped byte anywhere is caught.
    let tampered = text.replacen("\"op\"", "\"oq\"", 1);
    assert!(hotline_core::audit::verify_chain(&tampered).is_err());
    let dropped: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    assert!(hotline_core::audit::verify_chain(&dropped).is_err());
    api.stop().await;
}

/// A web page can make the operator's browser call the API under a name the
/// page's owner controls (DNS rebinding): such requests are refused; refused
/// sign-ins are audited in batches, not one fsync each; live event streams
/// are capped; `/metrics` needs a token.
#[tokio::test]
async fn strangers_on_the_api_host_check_batched_refusals_capped_streams() {
    let api = station().await;
    let get_as = |host: &'static str| {
        api.http
            .get(format!("{}/v1/whoami", api.base))
            .header("host", host)
            .bearer_auth(&api.admin)
            .send()
    };
    assert_eq!(
        get_as("evil.example.com").await.unwrap().status().as_u16(),
        421
    );
    assert_eq!(
        get_as("localhost.evil.example.com:80")
            .await
            .unwrap()
            .status()
            .as_u16(),
        421
    );
    assert_eq!(
        get_as("localhost:7811").await.unwrap().status().as_u16(),
        200
    );
    assert_eq!(
        get_as("127.0.0.1:7811").await.unwrap().status().as_u16(),
        200
    );

    // 200 bad tokens: one audit line now, the rest counted into a later one.
    for i in 0..200 {
        let (s, _) = api
            .call("GET", "/v1/channels", Some(&format!("hlt_bad{i}")), None)
            .await;
        assert_eq!(s, 401);
    }
    let (_, v) = api.call("GET", "/v1/audit", Some(&api.admin), None).await;
    let refused: Vec<_> = v["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["result"].as_str().unwrap().starts_with("401"))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");

    // Event streams: the cap, then 503 with a sentence.
    let mut open = vec![];
    for _ in 0..hotline_station::api::guard::STREAMS {
        let r = api
            .http
            .get(format!("{}/v1/events", api.base))
            .bearer_auth(&api.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        open.push(r);
    }
    let (s, v) = api.call("GET", "/v1/events", Some(&api.admin), None).await;
    assert_eq!(s, 503, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("event streams"),
        "{v}"
    );
    // A stream closed frees its place.
    open.pop();
    let t = std::time::Instant::now();
    loop {
        let r = api
            .http
            .get(format!("{}/v1/events", api.base))
            .bearer_auth(&api.admin)
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 200 {
            break;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "the place never came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(open);

    // The stream takes a single-use ticket in its URL, never a token.
    let stream = |q: String| api.http.get(format!("{}/v1/events?{q}", api.base)).send();
    assert_eq!(
        stream(format!("token={}", api.admin))
            .await
            .unwrap()
            .status()
            .as_u16(),
        401,
        "a token in the URL is not taken"
    );
    let (s, t) = api.post("/v1/events/ticket", &api.admin, json!({})).await;
    assert_eq!(s, 200, "{t}");
    let ticket = t["ticket"].as_str().unwrap().to_owned();
    let first = stream(format!("ticket={ticket}")).await.unwrap();
    assert_eq!(first.status().as_u16(), 200);
    assert_eq!(
        stream(format!("ticket={ticket}"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        401,
        "a ticket is good once"
    );
    drop(first);
    // A revoked user's ticket is refused when used.
    let op = api.user("op", "operator").await;
    let (_, t) = api.post("/v1/events/ticket", &op, json!({})).await;
    let (s, _) = api.post("/v1/users/op/revoke", &api.admin, json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(
        stream(format!("ticket={}", t["ticket"].as_str().unwrap()))
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );

    assert_eq!(api.call("GET", "/metrics", None, None).await.0, 401);
    let (s, m) = api.call("GET", "/metrics", Some(&api.admin), None).await;
    assert_eq!(s, 200);
    assert!(
        m.as_str().unwrap().contains("hotline_link_refused_total 0"),
        "{m}"
    );
    api.stop().await;
}

/// A person acknowledges an alert with a note: someone is on it. It stays
/// open until its cause goes; operators and above may; it is audited.
#[tokio::test]
async fn an_alert_is_acknowledged_with_a_note_and_stays_open() {
    let api = station().await;
    api.st
        .as_ref()
        .unwrap()
        .engine
        .raise_alert(
            hotline_core::policy::AlertKind::LinkDown,
            "link-down:x".into(),
            "the link to x is down".into(),
        )
        .await;
    let (_, v) = api
        .call("GET", "/v1/alerts?open=true", Some(&api.admin), None)
        .await;
    let id = v["alerts"][0]["id"].as_i64().unwrap();
    let path = format!("/v1/alerts/{id}/ack");
    let op = api.user("op", "operator").await;
    let aud = api.user("aud", "auditor").await;
    assert_eq!(api.post(&path, &aud, json!({"note": "x"})).await.0, 403);
    let (s, a) = api
        .post(&path, &op, json!({"note": "on it, calling their NOC"}))
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["acked"]["by"], "op");
    assert_eq!(a["acked"]["note"], "on it, calling their NOC");
    assert!(a["cleared_at"].is_null(), "acknowledged is not cleared");
    let (_, v) = api
        .call("GET", "/v1/alerts?open=true", Some(&api.admin), None)
        .await;
    assert_eq!(v["alerts"][0]["acked"]["by"], "op");
    assert_eq!(api.post("/v1/alerts/999/ack", &op, json!({})).await.0, 404);
    assert_eq!(
        api.post(&path, &op, json!({"note": "a\u{1b}[2Jb"})).await.0,
        400
    );
    let (_, v) = api.call("GET", "/v1/audit", Some(&api.admin), None).await;
    let acks: Vec<_> = v["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["action"] == format!("POST alerts/{id}/ack").as_str())
        .map(|l| {
            (
                l["user"].as_str().unwrap().to_owned(),
                l["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(acks.contains(&("op".into(), "200".into())), "{acks:?}");
    assert!(acks.contains(&("aud".into(), "403".into())), "{acks:?}");
    api.stop().await;
}

/// Users over the years: a token rotated (the old one stops at once, by the
/// admin or by its holder), the last admin kept, a name given again after
/// its holder was revoked.
#[tokio::test]
async fn tokens_rotate_the_last_admin_stays_and_names_come_back() {
    let api = station().await;
    let op = api.user("op", "operator").await;
    let other = api.user("other", "operator").await;
    // Another's token: the admin's to rotate.
    assert_eq!(
        api.post("/v1/users/op/rotate", &other, json!({})).await.0,
        403
    );
    // One's own: anyone's.
    let (s, v) = api.post("/v1/users/op/rotate", &op, json!({})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["role"], "operator");
    let op2 = v["token"].as_str().unwrap().to_owned();
    assert_eq!(api.call("GET", "/v1/whoami", Some(&op), None).await.0, 401);
    let (s, w) = api.call("GET", "/v1/whoami", Some(&op2), None).await;
    assert_eq!((s, w["name"].as_str()), (200, Some("op")));
    let (s, v) = api.post("/v1/users/op/rotate", &api.admin, json!({})).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(api.call("GET", "/v1/whoami", Some(&op2), None).await.0, 401);
    // The last admin cannot be revoked; with a second one, it can.
    let (s, v) = api
        .post("/v1/users/admin/revoke", &api.admin, json!({}))
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("last admin"), "{v}");
    let second = api.user("second", "admin").await;
    assert_eq!(
        api.post("/v1/users/admin/revoke", &second, json!({}))
            .await
            .0,
        200
    );
    // A revoked name can be given again.
    assert_eq!(
        api.post("/v1/users/other/revoke", &second, json!({}))
            .await
            .0,
        200
    );
    let (s, v) = api
        .post(
            "/v1/users",
            &second,
            json!({"name": "other", "role": "auditor"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // But not while its holder is active.
    let (s, _) = api
        .post(
            "/v1/users",
            &second,
            json!({"name": "op", "role": "auditor"}),
        )
        .await;
    assert_eq!(s, 409);
    api.stop().await;
}

/// A peer's addresses and releasability code change, and a fingerprint
/// confirmed in error is withdrawn; admin only, bad input changes nothing.
#[tokio::test]
async fn a_peer_is_set_and_unverified() {
    let api = station().await;
    let (dh, pk) = hotline_link::generate_keypair();
    let keys = hotline_proto::SecretKeys::generate(*dh.as_bytes(), pk);
    let token = keys.identity().token();
    let (s, v) = api
        .post(
            "/v1/peers",
            &api.admin,
            json!({"name": "bravo", "key": token, "addrs": ["127.0.0.1:9"]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let op = api.user("op", "operator").await;
    let set = json!({"addrs": ["127.0.0.1:10", "127.0.0.1:11"], "rel": "ACME"});
    assert_eq!(
        api.post("/v1/peers/bravo/set", &op, set.clone()).await.0,
        403
    );
    let (s, p) = api.post("/v1/peers/bravo/set", &api.admin, set).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["addrs"], json!(["127.0.0.1:10", "127.0.0.1:11"]));
    assert_eq!(p["rel"], "ACME");
    // A bad address is refused and changes nothing; an unknown peer is 404.
    let (s, _) = api
        .post(
            "/v1/peers/bravo/set",
            &api.admin,
            json!({"addrs": ["nowhere"]}),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        api.post("/v1/peers/charlie/set", &api.admin, json!({"rel": "X"}))
            .await
            .0,
        404
    );
    // Only the code changes when only the code is given.
    let (_, p) = api
        .post("/v1/peers/bravo/set", &api.admin, json!({"rel": "UKR"}))
        .await;
    assert_eq!(p["addrs"], json!(["127.0.0.1:10", "127.0.0.1:11"]));
    assert_eq!(p["rel"], "UKR");
    // Verified, then withdrawn.
    let fp = keys.identity().fingerprint().to_string();
    let (s, _) = api
        .post(
            "/v1/peers/bravo/verify",
            &api.admin,
            json!({"fingerprint": fp}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        api.post("/v1/peers/bravo/unverify", &op, json!({})).await.0,
        403
    );
    let (s, v) = api
        .post("/v1/peers/bravo/unverify", &api.admin, json!({}))
        .await;
    assert_eq!((s, &v["verified"]), (200, &json!(false)));
    let (_, v) = api.call("GET", "/v1/peers", Some(&api.admin), None).await;
    assert_eq!(v["peers"][0]["verified"], false);
    assert_eq!(v["peers"][0]["rel"], "UKR");
    api.stop().await;
}

/// `remove` and `repin` are the admin's, refuse bad input whole, and are
/// in the audit log; an empty body is a remove without force.
#[tokio::test]
async fn a_peer_is_repinned_and_removed_by_the_admin_only() {
    let api = station().await;
    let token = |n: u8| {
        hotline_proto::SecretKeys::from_bytes(&[n; 96])
            .unwrap()
            .identity()
            .token()
    };
    let (s, v) = api
        .post(
            "/v1/peers",
            &api.admin,
            json!({"name": "bravo", "key": token(7), "addrs": ["127.0.0.1:9"], "rel": "ACME"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let op = api.user("op", "operator").await;
    let repin = json!({"key": token(8)});
    assert_eq!(
        api.post("/v1/peers/bravo/repin", &op, repin.clone())
            .await
            .0,
        403
    );
    for (body, status) in [
        (json!({"key": token(7)}), 409),
        (json!({"key": "hotline1nonsense"}), 400),
        (json!({"key": token(8), "extra": 1}), 400),
    ] {
        let (s, v) = api.post("/v1/peers/bravo/repin", &api.admin, body).await;
        assert_eq!(s, status, "{v}");
    }
    assert_eq!(
        api.post("/v1/peers/charlie/repin", &api.admin, repin.clone())
            .await
            .0,
        404
    );
    let (s, p) = api.post("/v1/peers/bravo/repin", &api.admin, repin).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(
        (&p["key"], &p["verified"], &p["rel"]),
        (&json!(token(8)), &json!(false), &json!("ACME"))
    );
    assert_eq!(p["addrs"], json!(["127.0.0.1:9"]));

    assert_eq!(
        api.post("/v1/peers/bravo/remove", &op, json!({})).await.0,
        403
    );
    let (s, v) = api
        .call("POST", "/v1/peers/bravo/remove", Some(&api.admin), None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((&v["removed"], &v["left_open"]), (&json!(true), &json!([])));
    assert_eq!(
        api.post("/v1/peers/bravo/remove", &api.admin, json!({}))
            .await
            .0,
        404
    );
    let (_, v) = api.call("GET", "/v1/peers", Some(&api.admin), None).await;
    assert_eq!(v["peers"], json!([]));
    let (_, v) = api.call("GET", "/v1/audit", Some(&api.admin), None).await;
    let lines: Vec<(String, String, String)> = v["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["result"] != "attempt")
        .map(|l| {
            let f = |k: &str| l[k].as_str().unwrap().to_owned();
            (f("user"), f("action"), f("result"))
        })
        .collect();
    for want in [
        ("op", "POST peers/bravo/repin", "403"),
        ("admin", "POST peers/bravo/repin", "200"),
        ("admin", "POST peers/bravo/remove", "200"),
        ("admin", "POST peers/bravo/remove", "404"),
    ] {
        let want = (want.0.to_owned(), want.1.to_owned(), want.2.to_owned());
        assert!(lines.contains(&want), "{want:?} not in {lines:?}");
    }
    api.stop().await;
}

/// A token added with an expiry stops working by itself; the listing says
/// when; rotating keeps the expiry; a malformed expiry is refused.
#[tokio::test]
async fn a_token_with_an_expiry_stops_working_by_itself() {
    let api = station().await;
    let (s, v) = api
        .post(
            "/v1/users",
            &api.admin,
            json!({"name": "temp", "role": "auditor", "expires_in": "150ms"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let temp = v["token"].as_str().unwrap().to_owned();
    let (s, v) = api
        .post(
            "/v1/users",
            &api.admin,
            json!({"name": "long", "role": "auditor", "expires_in": "30d"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let long = v["token"].as_str().unwrap().to_owned();
    let (_, users) = api.call("GET", "/v1/users", Some(&api.admin), None).await;
    let expiry = |name: &str| {
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == name)
            .map(|u| u["expires_at"].clone())
            .unwrap()
    };
    assert!(expiry("temp").is_u64() && expiry("long").is_u64());
    assert!(expiry("admin").is_null(), "no expiry: left out");
    // Past its expiry (a wall-clock deadline passed, not a race).
    let deadline = expiry("temp").as_u64().unwrap();
    while hotline_station::engine::now_ms() <= deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        api.call("GET", "/v1/whoami", Some(&temp), None).await.0,
        401
    );
    assert_eq!(
        api.call("GET", "/v1/whoami", Some(&long), None).await.0,
        200
    );
    let (s, v) = api.post("/v1/users/long/rotate", &long, json!({})).await;
    assert_eq!(s, 201, "{v}");
    let (_, users) = api.call("GET", "/v1/users", Some(&api.admin), None).await;
    let active: Vec<_> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["name"] == "long" && u["revoked_at"].is_null())
        .collect();
    assert_eq!(active[0]["expires_at"].as_u64(), expiry("long").as_u64());
    let (s, _) = api
        .post(
            "/v1/users",
            &api.admin,
            json!({"name": "x", "role": "auditor", "expires_in": "soon"}),
        )
        .await;
    assert_eq!(s, 400);
    api.stop().await;
}
