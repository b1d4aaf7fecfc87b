//! `hotline demo`: two stations on loopback, pinned and verified, a channel
//! open, a few messages exchanged, both consoles printed — until Ctrl-C.
//!
//! The stations run in this process; everything after starting them goes
//! through their HTTP API, as it would from another terminal.

use crate::client::Client;
use hotline_api_types::{
    Channel, Created, Empty, Entry, NewAck, NewMessage, NewNotice, NewPeer, NewUser, OpenChannel,
    Peer, PeerVerified, UserCreated, VerifyPeer,
};
use hotline_station::{init, Initialized, Station};
use std::time::Duration;

/// The user the demo's entries are written by, as a duty officer would.
const OFFICER: &str = "duty-officer";

/// Retries `f` every 50 ms for up to 10 s, until it holds.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) -> anyhow::Result<()> {
    for _ in 0..200 {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("demo: timed out waiting for {what}")
}

/// One demo station: the running station and a client acting as its duty officer.
struct Side {
    station: Station,
    init: Initialized,
    officer: Client,
}

impl Side {
    /// Starts the station in `dir` and signs in a principal to act with.
    fn start(
        rt: &tokio::runtime::Runtime,
        dir: &std::path::Path,
        name: &str,
    ) -> anyhow::Result<Side> {
        let init = init(dir, name, "127.0.0.1:0", "127.0.0.1:0")?;
        let station = rt.block_on(Station::start(dir, None))?;
        let api = station.api_addr().to_string();
        let admin = Client::at(&api, init.admin_token.clone())?;
        let officer: UserCreated = admin.post(
            "/v1/users",
            &NewUser {
                name: OFFICER.into(),
                role: "principal".into(),
                expires_in: None,
            },
        )?;
        Ok(Side {
            officer: Client::at(&api, officer.token)?,
            station,
            init,
        })
    }

    /// Pins and verifies `other` under `name`. The admin pins peers; in real
    /// life the fingerprint is read aloud over a telephone.
    fn pin(&self, other: &Side, name: &str, rel: &str) -> anyhow::Result<()> {
        let admin = Client::at(
            &self.station.api_addr().to_string(),
            self.init.admin_token.clone(),
        )?;
        let _: Peer = admin.post(
            "/v1/peers",
            &NewPeer {
                name: name.into(),
                key: other.init.token.clone(),
                addrs: vec![other.station.link_addr().to_string()],
                addr: None,
                rel: Some(rel.into()),
                psk: None,
            },
        )?;
        let _: PeerVerified = admin.post(
            &format!("/v1/peers/{name}/verify"),
            &VerifyPeer {
                fingerprint: other.init.fingerprint.clone(),
            },
        )?;
        Ok(())
    }

    fn channel(&self, ch: &str) -> anyhow::Result<Channel> {
        self.officer.get(&format!("/v1/channels/{ch}"))
    }

    fn send(
        &self,
        ch: &str,
        precedence: &str,
        subject: &str,
        text: &str,
    ) -> anyhow::Result<String> {
        let body = NewMessage {
            precedence: Some(precedence.into()),
            subject: subject.into(),
            text: text.into(),
            ..NewMessage::default()
        };
        let r: Created = self
            .officer
            .post(&format!("/v1/channels/{ch}/messages"), &body)?;
        Ok(r.hash)
    }

    /// Whether every entry this side wrote is held by the other.
    fn all_delivered(&self, ch: &str) -> bool {
        self.channel(ch)
            .map(|c| c.delivery.delivered == c.entries.ours)
            .unwrap_or(false)
    }
}

/// Runs the demo.
pub fn run() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("hotline-demo.").tempdir()?;
    // The stations run on the runtime's workers; this thread is their client.
    let rt = tokio::runtime::Runtime::new()?;
    let a_dir = dir.path().join("alpha");
    let b_dir = dir.path().join("bravo");
    let a = Side::start(&rt, &a_dir, "alpha")?;
    let b = Side::start(&rt, &b_dir, "bravo")?;
    a.pin(&b, "bravo", "BRAVO")?;
    b.pin(&a, "alpha", "ALPHA")?;

    // Every notice type hotline ships, so the console's notice form has them.
    let open = OpenChannel {
        peer: "bravo".into(),
        notice_types: Some(
            hotline_core::notice::SHIPPED
                .iter()
                .map(|(n, _)| (*n).to_owned())
                .collect(),
        ),
        ..OpenChannel::default()
    };
    let ch = a.officer.post::<_, Channel>("/v1/channels", &open)?.id;
    // The proposal may still be on its way: bravo accepts once it holds it.
    wait_for("the proposal at bravo", || {
        b.officer
            .post::<_, Created>(&format!("/v1/channels/{ch}/accept"), &Empty {})
            .is_ok()
    })?;
    wait_for("the acceptance at alpha", || {
        a.channel(&ch).is_ok_and(|c| c.state == "active")
    })?;
    let m1 = a.send(
        &ch,
        "routine",
        "Line check",
        "Alpha here. Confirm you read this line.",
    )?;
    wait_for("the first message at bravo", || {
        b.officer.get::<Entry>(&format!("/v1/entries/{m1}")).is_ok()
    })?;
    let _: Created = b
        .officer
        .post(&format!("/v1/channels/{ch}/acks"), &NewAck { of: m1 })?;
    b.send(
        &ch,
        "immediate",
        "Reply",
        "Bravo reads you clearly. Standing by.",
    )?;
    a.send(
        &ch,
        "flash",
        "Exercise",
        "EXERCISE EXERCISE: acknowledge this FLASH in the bravo console.",
    )?;
    let _: Created = a.officer.post(
        &format!("/v1/channels/{ch}/notices"),
        &NewNotice {
            notice_type: "exercise-notification/1".into(),
            notice: serde_json::json!({
                "reporter": "Alpha duty office",
                "exercise": "NORTHERN LINE 26",
                "what": "Communications exercise of the hotline itself",
                "where": {"lat": 50.45, "lon": 30.52},
                "radius_km": 5,
                "when": {"from": "2026-12-01T08:00:00Z", "to": "2026-12-01T12:00:00Z"},
                "participants": 12,
                "reference": "EX-2026-001",
            }),
        },
    )?;
    wait_for("delivery both ways", || {
        a.all_delivered(&ch) && b.all_delivered(&ch)
    })?;
    let export = a.officer.get_text(&format!("/v1/channels/{ch}/export"))?;
    let summary = hotline_core::export::verify(&export)
        .map_err(|f| anyhow::anyhow!("demo transcript does not verify: {f}"))?;

    let url = |s: &Side| format!("http://{}", s.station.api_addr());
    let (ia, ib) = (&a.init, &b.init);
    println!("hotline demo: two stations on loopback, pinned, verified, one channel open.\n");
    println!("alpha  API and console  {}/", url(&a));
    println!("       admin token      {}", ia.admin_token);
    println!(
        "       sign in at       {}/#token={}",
        url(&a),
        ia.admin_token
    );
    println!("bravo  API and console  {}/", url(&b));
    println!("       admin token      {}", ib.admin_token);
    println!(
        "       sign in at       {}/#token={}",
        url(&b),
        ib.admin_token
    );
    println!("\nchannel {ch}");
    println!("\nverified transcript, as exported by alpha:\n{summary}\n");
    println!("Try, in another terminal:");
    println!(
        "  curl -s -H 'Authorization: Bearer {}' {}/v1/channels | python3 -m json.tool",
        ib.admin_token,
        url(&b)
    );
    println!("  HOTLINE_DATA={} hotline inbox", b_dir.display());
    println!(
        "\nData in {} (removed on exit). Ctrl-C to stop.",
        dir.path().display()
    );
    rt.block_on(crate::serve::shutdown_signal());
    println!("stopping both stations");
    // The clients stay out here: a blocking client may not be dropped on the runtime.
    let (sa, sb) = (a.station, b.station);
    rt.block_on(async {
        sa.stop().await;
        sb.stop().await;
    });
    drop(dir);
    Ok(())
}
