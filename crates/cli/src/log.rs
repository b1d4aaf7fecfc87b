//! The log on stderr: text or JSON lines, at a level that `serve` sets from
//! the config and changes again when the config is reloaded.

use crate::cli::LogFormat;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

/// The environment variable that sets the level; it wins over the config's `log`.
pub const LEVEL_VAR: &str = "HOTLINE_LOG";
/// The level when neither says.
const DEFAULT: &str = "info";

/// Changes the log's level while the process runs.
pub struct Level {
    handle: reload::Handle<EnvFilter, Registry>,
    /// `HOTLINE_LOG` set a level: the config's `log` is then not used.
    from_env: bool,
}

/// Installs the log for the whole process.
pub fn init(format: LogFormat) -> Level {
    let env = EnvFilter::try_from_env(LEVEL_VAR).ok();
    let from_env = env.is_some();
    let (filter, handle) = reload::Layer::new(env.unwrap_or_else(|| EnvFilter::new(DEFAULT)));
    // Colour only on a terminal: a log file or the journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // Under systemd, stderr goes to the journal (it sets JOURNAL_STREAM),
    // which stamps every line itself: no second timestamp, no colour.
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    let text = (format == LogFormat::Text && !journal)
        .then(|| fmt::layer().with_writer(std::io::stderr).with_ansi(ansi));
    let journal = (format == LogFormat::Text && journal).then(|| {
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .without_time()
    });
    // One JSON object a line, for log shippers.
    let json =
        (format == LogFormat::Json).then(|| fmt::layer().json().with_writer(std::io::stderr));
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(journal)
        .with(json)
        .init();
    Level { handle, from_env }
}

impl Level {
    /// Puts the config's `log` value in force (none: the default level),
    /// unless `HOTLINE_LOG` set the level, which wins.
    pub fn apply(&self, config: Option<&str>) {
        if self.from_env {
            if config.is_some() {
                tracing::debug!("{LEVEL_VAR} is set: the config's log key is not used");
            }
            return;
        }
        let directives = config.unwrap_or(DEFAULT);
        match EnvFilter::try_new(directives) {
            Ok(f) => {
                if let Err(e) = self.handle.reload(f) {
                    tracing::warn!("cannot change the log level: {e}");
                }
            }
            // The config's check accepts only what the filter reads; this
            // is a second line of defence, never an exit.
            Err(e) => tracing::warn!("log = {directives:?} not used: {e}"),
        }
    }
}
