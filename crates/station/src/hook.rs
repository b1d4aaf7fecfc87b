//! The alert hook: an operator's program that receives each new alert as JSON on stdin.

use serde_json::Value;

/// Runs the hook in the background; a failing hook is logged, never fatal.
pub fn run(program: String, alert: Value) {
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let child = tokio::process::Command::new(&program)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("alert hook {program:?} could not start: {e}");
                return;
            }
        };
        if let Some(mut stdin) = child.stdin.take() {
            let mut line = alert.to_string();
            line.push('\n');
            let _ = stdin.write_all(line.as_bytes()).await;
        }
        match tokio::time::timeout(std::time::Duration::from_secs(30), child.wait()).await {
            Ok(Ok(s)) if !s.success() => tracing::warn!("alert hook {program:?} exited with {s}"),
            Ok(Err(e)) => tracing::warn!("alert hook {program:?}: {e}"),
            Err(_) => {
                tracing::warn!("alert hook {program:?} ran over 30 s; killed");
                let _ = child.kill().await;
            }
            _ => {}
        }
    });
}
