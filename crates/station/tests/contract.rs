//! The API's contract (docs/openapi.json) against a real station on port 0:
//! the station serves exactly the committed document, without a token, and
//! every refusal, axum's own included, has the `ApiError` body the document
//! promises, with a status the document lists for that route.

use hotline_station::Station;
use serde_json::Value;

/// Where the contract is committed, and how to write it again.
const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
const REGENERATE: &str = "cargo run --bin hotline -- openapi > docs/openapi.json";

struct Running {
    _dir: tempfile::TempDir,
    st: Station,
    base: String,
    admin: String,
    http: reqwest::Client,
}

async fn station() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("s");
    let i = hotline_station::init(&data, "s", "127.0.0.1:0", "127.0.0.1:0").unwrap();
    let st = Station::start(&data, None).await.unwrap();
    let base = format!("http://{}", st.api_addr());
    Running {
        _dir: dir,
        st,
        base,
        admin: i.admin_token,
        http: reqwest::Client::new(),
    }
}

#[tokio::test]
async fn the_station_serves_the_committed_document_without_a_token() {
    let s = station().await;
    let resp = s
        .http
        .get(format!("{}/v1/openapi.json", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let served = resp.text().await.unwrap();
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    if served != committed {
        let line = served
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| served.lines().count().min(committed.lines().count()));
        panic!(
            "docs/openapi.json is not the document the station serves (first difference at line {}: \
             served {:?}, committed {:?}); write it again with `{REGENERATE}` and review the diff",
            line + 1,
            served.lines().nth(line).unwrap_or("(end)"),
            committed.lines().nth(line).unwrap_or("(end)"),
        );
    }
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    s.st.stop().await;
}

/// A request that is refused before or outside any handler's own checks.
struct Refusal {
    method: &'static str,
    path: &'static str,
    host: Option<&'static str>,
    body: Option<String>,
    status: u16,
    /// The route as the document names it; none for a route that does not exist.
    route: Option<&'static str>,
}

impl Refusal {
    fn new(method: &'static str, path: &'static str, status: u16) -> Refusal {
        Refusal {
            method,
            path,
            host: None,
            body: None,
            status,
            route: None,
        }
    }
    fn route(self, route: &'static str) -> Refusal {
        Refusal {
            route: Some(route),
            ..self
        }
    }
}

#[tokio::test]
async fn every_refusal_is_an_api_error_with_a_status_the_document_lists() {
    let s = station().await;
    let doc: Value = serde_json::from_str(&hotline_station::api::openapi_document()).unwrap();
    let cases = [
        // axum's query refusal, before the token is read.
        Refusal::new("GET", "/v1/alerts?open=maybe", 400).route("/v1/alerts"),
        Refusal::new("GET", "/v1/audit?after=x", 400).route("/v1/audit"),
        // A path parameter that is not UTF-8 once decoded.
        Refusal::new("GET", "/v1/channels/%FF", 400).route("/v1/channels/{id}"),
        // A struct's fields as an array: serde would read it; the API does not.
        Refusal {
            body: Some("[null, null]".into()),
            ..Refusal::new("POST", "/v1/peers/x/set", 400).route("/v1/peers/{name}/set")
        },
        Refusal {
            body: Some(format!("\"{}\"", "x".repeat(3 << 20))),
            ..Refusal::new("POST", "/v1/peers", 413).route("/v1/peers")
        },
        Refusal {
            host: Some("evil.example.com"),
            ..Refusal::new("GET", "/v1/whoami", 421).route("/v1/whoami")
        },
        Refusal::new("DELETE", "/v1/peers", 405),
        Refusal::new("GET", "/v1/nowhere", 404),
    ];
    for case in cases {
        let what = format!("{} {}", case.method, case.path);
        let mut r = s
            .http
            .request(
                case.method.parse().unwrap(),
                format!("{}{}", s.base, case.path),
            )
            .bearer_auth(&s.admin);
        if let Some(h) = case.host {
            r = r.header("host", h);
        }
        if let Some(b) = case.body {
            r = r.header("content-type", "application/json").body(b);
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), case.status, "{what}");
        assert_eq!(resp.headers()["content-type"], "application/json", "{what}");
        let v: Value = resp.json().await.unwrap();
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {v}"
        );
        if let Some(route) = case.route {
            let method = case.method.to_ascii_lowercase();
            let status = case.status.to_string();
            assert!(
                doc["paths"][route][&method]["responses"][&status].is_object(),
                "{what}: the document does not list {status} for {method} {route}"
            );
        }
    }
    s.st.stop().await;
}
