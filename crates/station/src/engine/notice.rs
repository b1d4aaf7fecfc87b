//! Where a station finds the schema of a notice type it proposes: the ones
//! hotline ships, then the station's own in `DATA/schemas/NAME/VERSION.json`.
//! Once proposed, the schema travels whole in the terms; the files are read
//! only here.

use super::Engine;
use hotline_proto::entry::NOTICE_SCHEMA_BYTES;
use hotline_proto::NoticeType;

impl Engine {
    /// The notice type `name` (`name/version`) for a proposal's terms, or a
    /// sentence saying why there is none.
    pub fn notice_type(&self, name: &str) -> Result<NoticeType, String> {
        if !NoticeType::valid_name(name) {
            return Err(format!(
                "notice type {name:?}: use NAME/VERSION, e.g. incident-report/1"
            ));
        }
        if let Some(t) = hotline_core::notice::shipped(name) {
            return Ok(t);
        }
        let shipped: Vec<&str> = hotline_core::notice::SHIPPED
            .iter()
            .map(|(n, _)| *n)
            .collect();
        let unknown = |where_: String| {
            format!(
                "no notice type {name}: hotline ships {}; {where_}",
                shipped.join(", ")
            )
        };
        let Some(dir) = self.data_dir() else {
            return Err(unknown("this station has no data directory".into()));
        };
        let path = dir.join("schemas").join(format!("{name}.json"));
        let text = match std::fs::metadata(&path) {
            Ok(m) if m.len() > *NOTICE_SCHEMA_BYTES.end() => {
                return Err(format!(
                    "{}: {} bytes, over the {} a schema may have",
                    path.display(),
                    m.len(),
                    NOTICE_SCHEMA_BYTES.end()
                ))
            }
            Ok(_) => {
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            Err(_) => {
                return Err(unknown(format!(
                    "a station's own go in {}",
                    dir.join("schemas")
                        .join("NAME")
                        .join("VERSION.json")
                        .display()
                )))
            }
        };
        let t = NoticeType {
            name: name.to_owned(),
            schema: text,
        };
        hotline_core::notice::check_type(&t).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(t)
    }

    /// The station's data directory: where its key file is.
    fn data_dir(&self) -> Option<std::path::PathBuf> {
        let key = self.key_file.lock().expect("key file lock").clone()?;
        key.parent().map(|p| p.to_path_buf())
    }
}
