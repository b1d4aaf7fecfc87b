//! `hotline demo`: two stations on loopback, pinned and verified, a channel
//! open, a few messages exchanged, both consoles printed — until Ctrl-C.

use hotline_proto::{hex, Body, Precedence, Terms};
use hotline_station::{init, Station};
use std::time::Duration;

async fn wait_for<F: Fn() -> bool>(what: &str, f: F) -> anyhow::Result<()> {
    for _ in 0..200 {
        if f() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("demo: timed out waiting for {what}")
}

/// Runs the demo.
pub fn run() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("hotline-demo.").tempdir()?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let a_dir = dir.path().join("alpha");
        let b_dir = dir.path().join("bravo");
        let ia = init(&a_dir, "alpha", "127.0.0.1:0", "127.0.0.1:0")?;
        let ib = init(&b_dir, "bravo", "127.0.0.1:0", "127.0.0.1:0")?;
        let a = Station::start(&a_dir, None).await?;
        let b = Station::start(&b_dir, None).await?;
        let (ea, eb) = (a.engine.clone(), b.engine.clone());
        ea.add_peer(
            "bravo",
            &ib.token,
            vec![b.link_addr().to_string()],
            Some("BRAVO".into()),
        )
        .await?;
        eb.add_peer(
            "alpha",
            &ia.token,
            vec![a.link_addr().to_string()],
            Some("ALPHA".into()),
        )
        .await?;
        // In real life the two fingerprints are read aloud over a telephone.
        anyhow::ensure!(
            ea.verify_peer("bravo", &ib.fingerprint).await?,
            "fingerprint mismatch"
        );
        anyhow::ensure!(
            eb.verify_peer("alpha", &ia.fingerprint).await?,
            "fingerprint mismatch"
        );
        let ch = ea
            .open_channel("bravo", Terms::default(), None, "duty-officer")
            .await?;
        wait_for("the proposal at bravo", || eb.channel(&ch).is_ok()).await?;
        let th = Terms::default().hash();
        eb.author(&ch, Body::Accept { terms_hash: th }, "duty-officer")
            .await?;
        let msg = |p, subject: &str, text: &str| Body::Message {
            precedence: p,
            subject: subject.into(),
            text: text.into(),
            labels: vec![],
            reply_to: None,
        };
        wait_for("the acceptance at alpha", || {
            ea.channel(&ch)
                .ok()
                .and_then(|c| c.try_lock().ok().map(|c| c.book.state().word() == "active"))
                .unwrap_or(false)
        })
        .await?;
        let m1 = ea
            .author(
                &ch,
                msg(
                    Precedence::Routine,
                    "Line check",
                    "Alpha here. Confirm you read this line.",
                ),
                "duty-officer",
            )
            .await?;
        wait_for("the first message at bravo", || {
            eb.channel(&ch)
                .ok()
                .and_then(|c| {
                    c.try_lock()
                        .ok()
                        .map(|c| c.book.locate(&m1.hash()).is_some())
                })
                .unwrap_or(false)
        })
        .await?;
        eb.author(&ch, Body::Ack { of: m1.hash() }, "duty-officer")
            .await?;
        eb.author(
            &ch,
            msg(
                Precedence::Immediate,
                "Reply",
                "Bravo reads you clearly. Standing by.",
            ),
            "duty-officer",
        )
        .await?;
        ea.author(
            &ch,
            msg(
                Precedence::Flash,
                "Exercise",
                "EXERCISE EXERCISE: acknowledge this FLASH in the bravo console.",
            ),
            "duty-officer",
        )
        .await?;
        wait_for("delivery both ways", || {
            let done = |e: &std::sync::Arc<hotline_station::engine::Engine>| {
                e.channel(&ch)
                    .ok()
                    .and_then(|c| {
                        c.try_lock()
                            .ok()
                            .map(|c| c.delivered_upto() == c.book.len(c.book.me()))
                    })
                    .unwrap_or(false)
            };
            done(&ea) && done(&eb)
        })
        .await?;
        let export = ea.export(&ch).await?;
        let summary = hotline_core::export::verify(&export)
            .map_err(|f| anyhow::anyhow!("demo transcript does not verify: {f}"))?;

        let url = |s: &Station| format!("http://{}", s.api_addr());
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
        println!("\nchannel {}", hex(&ch));
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
        crate::serve::shutdown_signal().await;
        println!("stopping both stations");
        a.stop().await;
        b.stop().await;
        Ok::<_, anyhow::Error>(())
    })?;
    drop(dir);
    Ok(())
}
