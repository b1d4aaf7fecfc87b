//! docs/CONFIG.md against the code, both ways: every config key the code
//! reads is documented there and every key documented there is read, with
//! the `[tuning]` defaults the code has; likewise every `HOTLINE_…`
//! environment variable named in the sources.

use hotline_station::tuning::Tuning;
use hotline_station::Config;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A deserializer that only writes down the field names a struct asks for
/// (serde's derive passes them all, whatever `skip_serializing_if` or
/// `default` say), then stops.
struct FieldNames<'a>(&'a mut Vec<&'static str>);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only structs are read here"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.extend_from_slice(fields);
        Err(de::Error::custom("field names taken"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

fn fields_of<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
    let mut names = vec![];
    let _ = T::deserialize(FieldNames(&mut names));
    assert!(!names.is_empty(), "no fields read");
    names
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first cell of every table row of CONFIG.md, where it is one
/// backticked word, with the row's other cells.
fn documented_rows() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(root().join("docs/CONFIG.md")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| {
            let cells: Vec<String> = l.split(" | ").map(|c| c.trim().to_owned()).collect();
            let first = cells[0].strip_suffix('`')?;
            Some((first.to_owned(), cells[1..].to_vec()))
        })
        .collect()
}

#[test]
fn every_config_key_is_documented_and_every_documented_key_exists() {
    // A nested table of Config gets a line here, with its struct.
    let tables = [("tuning", fields_of::<Tuning>())];
    let mut in_code: BTreeSet<String> = fields_of::<Config>()
        .iter()
        .map(|k| k.to_string())
        .collect();
    for (table, fields) in &tables {
        assert!(in_code.contains(*table), "Config has no table {table}");
        in_code.extend(fields.iter().map(|f| format!("{table}.{f}")));
    }
    let in_doc: BTreeSet<String> = documented_rows()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| {
            !k.starts_with("HOTLINE_")
                && k.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
        })
        .collect();
    let undocumented: Vec<_> = in_code.difference(&in_doc).collect();
    let unknown: Vec<_> = in_doc.difference(&in_code).collect();
    assert!(
        undocumented.is_empty(),
        "keys missing from docs/CONFIG.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/CONFIG.md documents keys the code does not read: {unknown:?}"
    );
}

#[test]
fn the_documented_tuning_defaults_are_the_codes() {
    let defaults: toml::Table = toml::Table::try_from(Tuning::default()).unwrap();
    let rows = documented_rows();
    for (key, value) in &defaults {
        let (_, cells) = rows
            .iter()
            .find(|(k, _)| k == &format!("tuning.{key}"))
            .unwrap_or_else(|| panic!("tuning.{key} is not in docs/CONFIG.md"));
        let shown = value.to_string().trim_matches('"').to_owned();
        assert_eq!(
            cells[0],
            format!("`{shown}`"),
            "the default of tuning.{key}"
        );
    }
}

/// `HOTLINE_…` names in a text; a name followed by `*` is a pattern, not a variable.
fn env_names(text: &str, out: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(i) = rest.find("HOTLINE_") {
        let tail = &rest[i..];
        let len = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let name = tail[..len].trim_end_matches('_');
        if !tail[len..].starts_with('*') && name.len() > "HOTLINE".len() {
            out.insert(name.to_owned());
        }
        rest = &tail[len..];
    }
}

fn sources(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if !["target", "node_modules"].contains(&name.to_str().unwrap_or("")) {
                sources(&p, exts, out);
            }
        } else if p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)) {
            out.push(p);
        }
    }
}

#[test]
fn every_environment_variable_in_the_sources_is_documented_and_back() {
    let me = Path::new(file!()).file_name().unwrap().to_owned();
    let mut files = vec![];
    sources(&root().join("crates"), &["rs"], &mut files);
    sources(&root().join("tests"), &["mjs", "js"], &mut files);
    let mut in_code = BTreeSet::new();
    for f in files.iter().filter(|f| f.file_name() != Some(&me)) {
        env_names(&std::fs::read_to_string(f).unwrap(), &mut in_code);
    }
    let in_doc: BTreeSet<String> = documented_rows()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("HOTLINE_"))
        .collect();
    assert!(in_code.contains("HOTLINE_LOG") && in_code.contains("HOTLINE_CONFIG"));
    let undocumented: Vec<_> = in_code.difference(&in_doc).collect();
    let unknown: Vec<_> = in_doc.difference(&in_code).collect();
    assert!(
        undocumented.is_empty(),
        "variables missing from docs/CONFIG.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/CONFIG.md documents variables no source reads: {unknown:?}"
    );
}
