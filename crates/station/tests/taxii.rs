//! The TAXII 2.1 server (SPEC §7, docs/SHARING.md): station A authors
//! `report` entries, station B serves them over TAXII on its API address.

mod common;

use common::taxii::*;
use hotline_station::api::taxii::collection_id;
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;

/// A TAXII reader of B as its admin, with Basic credentials.
struct Reader {
    http: Client,
    base: String,
    user: String,
    token: String,
}

impl Reader {
    fn of(b: &common::pair::Side) -> Reader {
        Reader {
            http: Client::new(),
            base: base(b),
            user: "admin".into(),
            token: b.id.admin_token.clone(),
        }
    }

    async fn raw(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.token))
            .header("accept", TAXII)
            .send()
            .await
            .unwrap()
    }

    /// GET a TAXII resource that must answer 200 in the TAXII media type.
    async fn get(&self, path: &str) -> (Value, reqwest::header::HeaderMap) {
        let r = self.raw(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], TAXII, "{path}");
        let h = r.headers().clone();
        (r.json().await.unwrap(), h)
    }

    /// The ids served at `path`.
    async fn ids(&self, path: &str) -> Vec<String> {
        let (v, _) = self.get(path).await;
        v["objects"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|o| o["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn objects_path(ch: &hotline_proto::Hash) -> String {
    format!("hotline/collections/{}/objects/", collection_id(ch))
}

#[tokio::test]
async fn discovery_api_root_and_one_collection_per_channel() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, ch) = pair(dir.path()).await;
    let r = Reader::of(&b);
    let (d, _) = r.get("").await;
    assert_eq!(d["api_roots"], json!(["/taxii2/hotline/"]));
    assert_eq!(d["default"], "/taxii2/hotline/");
    assert!(d["title"].as_str().unwrap().contains('b'), "{d}");
    let (root, _) = r.get("hotline/").await;
    assert_eq!(root["versions"], json!([TAXII]));
    assert!(root["max_content_length"].as_u64().unwrap() > 0);
    let (cs, _) = r.get("hotline/collections/").await;
    let cs = cs["collections"].as_array().unwrap();
    assert_eq!(cs.len(), 1);
    let c = &cs[0];
    let id = collection_id(&ch);
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["alias"], hotline_proto::hex(&ch));
    assert_eq!(c["title"], "Reports from a", "B pinned A as \"a\"");
    assert_eq!(c["can_read"], true);
    assert_eq!(c["can_write"], false);
    assert_eq!(
        c["media_types"],
        json!(["application/stix+json;version=2.1"])
    );
    // The id is a UUID made from the channel id; the alias works in URLs too.
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(&id.replace('-', "")[..12], &hotline_proto::hex(&ch)[..12]);
    assert_eq!(r.get(&format!("hotline/collections/{id}/")).await.0, *c);
    assert_eq!(
        r.get(&format!("hotline/collections/{}/", hotline_proto::hex(&ch)))
            .await
            .0,
        *c
    );
    let missing = r.raw(&format!("hotline/collections/{}/", uuid(7))).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["content-type"], TAXII);
    let e: Value = missing.json().await.unwrap();
    assert_eq!(e["http_status"], "404");
    assert!(
        e["title"].is_string() && e["description"].is_string(),
        "{e}"
    );
    // An empty collection answers an empty envelope.
    let (empty, h) = r.get(&objects_path(&ch)).await;
    assert_eq!(empty, json!({"more": false}));
    assert!(h.get("x-taxii-date-added-first").is_none());
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_2500_object_bundle_is_read_in_pages_of_1000() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, ch) = pair(dir.path()).await;
    let content = bundle(1, indicators(2500));
    assert!(
        content.len() > 512 * 1024,
        "a large entry: {} bytes",
        content.len()
    );
    send(
        &a,
        &b,
        &ch,
        vec![report(hotline_core::stix::MEDIA_TYPE, content)],
    )
    .await;
    let r = Reader::of(&b);
    let path = objects_path(&ch);
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = vec![];
    loop {
        let q = match &next {
            None => format!("{path}?limit=1000"),
            Some(n) => format!("{path}?limit=1000&next={n}"),
        };
        let (env, h) = r.get(&q).await;
        let objects = env["objects"].as_array().unwrap_or_else(|| panic!("{env}"));
        pages.push(objects.len());
        seen.extend(objects.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        let first = h["x-taxii-date-added-first"].to_str().unwrap();
        assert_eq!(
            h["x-taxii-date-added-last"].to_str().unwrap(),
            first,
            "one report"
        );
        assert!(first.ends_with('Z') && first.len() == 24, "{first}");
        if env["more"] == true {
            next = Some(env["next"].as_str().unwrap().to_owned());
        } else {
            assert!(env.get("next").is_none(), "{}", env["next"]);
            break;
        }
    }
    assert_eq!(pages, [1000, 1000, 500]);
    let expected: Vec<String> = (1..=2500)
        .map(|n| format!("indicator--{}", uuid(n)))
        .collect();
    assert_eq!(seen, expected, "every object once, in bundle order");
    // Without a limit a page is the server's largest, 1000; a larger limit is capped.
    assert_eq!(r.ids(&path).await.len(), 1000);
    assert_eq!(r.ids(&format!("{path}?limit=5000")).await.len(), 1000);
    assert_eq!(r.ids(&format!("{path}?limit=7")).await.len(), 7);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn filters_choose_ids_types_versions_and_what_was_added_after() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, ch) = pair(dir.path()).await;
    let (x1, m) = (indicator(1, T1), malware(2));
    send(
        &a,
        &b,
        &ch,
        vec![report(
            hotline_core::stix::MEDIA_TYPE,
            bundle(10, vec![x1.clone(), m.clone()]),
        )],
    )
    .await;
    // Stored in a later millisecond, so added_after can tell them apart.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let x2 = indicator(1, T2);
    let rel = relationship(3, &x2, &m);
    send(
        &a,
        &b,
        &ch,
        vec![report(
            hotline_core::stix::MEDIA_TYPE,
            bundle(11, vec![x2.clone(), m.clone(), rel.clone()]),
        )],
    )
    .await;
    let r = Reader::of(&b);
    let path = objects_path(&ch);
    let (x, mid, rid) = (
        x1["id"].as_str().unwrap(),
        m["id"].as_str().unwrap(),
        rel["id"].as_str().unwrap(),
    );
    // Default: the last version of each; the repeated malware once.
    let (env, _) = r.get(&path).await;
    let got: Vec<(&str, &str)> = env["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap(), o["modified"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [(mid, T1), (x, T2), (rid, T1)]);
    assert_eq!(
        r.ids(&format!("{path}?match[version]=all")).await,
        [x, mid, x, rid]
    );
    assert_eq!(
        r.ids(&format!("{path}?match[version]=first")).await,
        [x, mid, rid]
    );
    assert_eq!(
        r.ids(&format!("{path}?match[version]={T1}")).await,
        [x, mid, rid]
    );
    assert_eq!(
        r.ids(&format!("{path}?match[version]=2024-05-02T10:00:00Z"))
            .await,
        [x]
    );
    assert_eq!(
        r.ids(&format!("{path}?match[type]=malware,relationship"))
            .await,
        [mid, rid]
    );
    assert_eq!(r.ids(&format!("{path}?match[id]={x}")).await, [x]);
    assert_eq!(
        r.ids(&format!("{path}?match[spec_version]=2.0")).await,
        Vec::<String>::new()
    );
    // added_after the first report: the second's objects (the malware it
    // repeated was added with the first).
    let (first_page, h) = r.get(&format!("{path}?match[version]=all&limit=1")).await;
    assert_eq!(first_page["more"], true);
    let first_added = h["x-taxii-date-added-first"].to_str().unwrap().to_owned();
    assert_eq!(
        r.ids(&format!("{path}?added_after={first_added}")).await,
        [x, rid]
    );
    // One object, its versions, the manifest.
    let one = format!("{path}{x}/");
    let (env, _) = r.get(&one).await;
    assert_eq!(env["objects"][0]["modified"], T2);
    assert_eq!(r.ids(&format!("{one}?match[version]=all")).await, [x, x]);
    let (versions, _) = r.get(&format!("{one}versions/")).await;
    assert_eq!(versions["versions"], json!([T1, T2]));
    assert_eq!(versions["more"], false);
    let nobody = r.raw(&format!("{path}indicator--{}/", uuid(99))).await;
    assert_eq!(nobody.status(), StatusCode::NOT_FOUND);
    let (manifest, _) = r
        .get(&format!(
            "hotline/collections/{}/manifest/?match[version]=all",
            collection_id(&ch)
        ))
        .await;
    let records = manifest["objects"].as_array().unwrap();
    assert_eq!(records.len(), 4);
    assert_eq!(records[0]["id"], x);
    assert_eq!(records[0]["version"], T1);
    assert_eq!(records[0]["date_added"], first_added.as_str());
    assert_eq!(
        records[0]["media_type"],
        "application/stix+json;version=2.1"
    );
    // A query the server cannot read: a TAXII 400.
    for bad in [
        "limit=0",
        "added_after=yesterday",
        "next=nope",
        "match[version]=newest",
    ] {
        let resp = r.raw(&format!("{path}?{bad}")).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["http_status"], "400", "{bad}");
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_invalid_or_non_stix_report_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, ch) = pair(dir.path()).await;
    let mut broken = indicator(1, T1);
    broken.as_object_mut().unwrap().remove("pattern");
    let good = indicator(2, T1);
    send(
        &a,
        &b,
        &ch,
        vec![
            report(
                hotline_core::stix::MEDIA_TYPE,
                bundle(20, vec![broken, malware(3)]),
            ),
            report("text/plain", b"not STIX at all".to_vec()),
            report("application/stix+json", b"{\"type\": \"bundle\"".to_vec()),
            report(
                hotline_core::stix::MEDIA_TYPE,
                bundle(21, vec![good.clone()]),
            ),
        ],
    )
    .await;
    let r = Reader::of(&b);
    assert_eq!(
        r.ids(&objects_path(&ch)).await,
        [good["id"].as_str().unwrap()]
    );
    // Kept as received, and flagged in the entry view.
    let url = format!(
        "http://{}/v1/channels/{}/entries",
        b.st.as_ref().unwrap().api_addr(),
        hotline_proto::hex(&ch)
    );
    let v: Value = Client::new()
        .get(url)
        .bearer_auth(&b.id.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flags: Vec<Value> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "report")
        .map(|e| e["stix_valid"].clone())
        .collect();
    assert_eq!(
        flags,
        [json!(false), Value::Null, json!(false), json!(true)]
    );
    // A's own reports are not B's collection, nor B's own at A.
    let ra = Reader::of(&a);
    assert_eq!(ra.ids(&objects_path(&ch)).await, Vec::<String>::new());
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn basic_auth_takes_the_token_as_password_bearer_works_and_the_guards_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, mut b, _ch) = pair(dir.path()).await;
    let url = format!("{}hotline/collections/", base(&b));
    let http = Client::new();
    let token = b.id.admin_token.clone();
    let get = |user: Option<(&str, &str)>| {
        let mut rq = http.get(&url).header("accept", TAXII);
        if let Some((u, p)) = user {
            rq = rq.basic_auth(u, Some(p));
        }
        rq.send()
    };
    assert_eq!(
        get(Some(("admin", &token))).await.unwrap().status(),
        StatusCode::OK
    );
    for (who, creds) in [
        ("wrong password", Some(("admin", "hlt_wrong"))),
        ("another user's name", Some(("alice", token.as_str()))),
        ("no credentials", None),
    ] {
        let resp = get(creds).await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{who}");
        assert_eq!(
            resp.headers()["www-authenticate"],
            r#"Basic realm="hotline""#,
            "{who}"
        );
        assert_eq!(resp.headers()["content-type"], TAXII, "{who}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["http_status"], "401", "{who}");
    }
    let bearer = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    // Every role reads: an auditor made through the API signs in with Basic.
    let made: Value = http
        .post(format!(
            "http://{}/v1/users",
            b.st.as_ref().unwrap().api_addr()
        ))
        .bearer_auth(&token)
        .json(&json!({"name": "olga", "role": "auditor"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let olga = made["token"].as_str().unwrap();
    assert_eq!(
        get(Some(("olga", olga))).await.unwrap().status(),
        StatusCode::OK
    );
    // An answer the client cannot take: 406, after the sign-in.
    for accept in [
        "application/json",
        "application/taxii+json;version=2.0",
        "text/html",
    ] {
        let resp = http
            .get(&url)
            .basic_auth("admin", Some(&token))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_ACCEPTABLE, "{accept}");
    }
    let wild = http
        .get(&url)
        .basic_auth("admin", Some(&token))
        .header("accept", "*/*");
    assert_eq!(wild.send().await.unwrap().status(), StatusCode::OK);
    // Read-only: writing is refused.
    let post = http
        .post(format!("{url}{}/objects/", uuid(1)))
        .basic_auth("admin", Some(&token))
        .header("accept", TAXII)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::FORBIDDEN);
    // The host guard covers TAXII as the rest of the API.
    let rebound = http
        .get(&url)
        .basic_auth("admin", Some(&token))
        .header("host", "evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::MISDIRECTED_REQUEST);
    a.stop().await;
    b.stop().await;
}

#[test]
fn collection_ids_are_uuids_of_the_channel_id() {
    let ch = [0xabu8; 32];
    let id = collection_id(&ch);
    assert_eq!(id, "abababab-abab-4bab-abab-abababababab");
    let set: HashSet<String> = (0..=255u8).map(|i| collection_id(&[i; 32])).collect();
    assert_eq!(set.len(), 256);
}
