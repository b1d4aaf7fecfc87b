//! Partner sharing (SPEC §7): `/v1/reports` and `/v1/sharing`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `POST /v1/reports`: publish a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// Title, shown to partners.
    pub title: String,
    /// `application/stix+json;version=2.1` (or `stix`), `text/markdown` (or `markdown`).
    pub content_type: String,
    /// The STIX bundle as JSON text, or the Markdown text.
    pub content: String,
    /// TLP 2.0: clear, green, amber, amber+strict, red.
    pub tlp: String,
    /// Releasability codes it may go to.
    pub rel_to: Vec<String>,
}

/// A partner a report does not go to, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WithheldFrom {
    /// The partner.
    pub peer: String,
    /// Why, as a sentence.
    pub why: String,
}

/// `POST /v1/reports` → 201.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Published {
    /// The report's id (64 hex).
    pub id: String,
    /// Partners it was written to.
    pub released_to: Vec<String>,
    /// Partners it is held for while sharing with them is paused.
    pub held_for: Vec<String>,
    /// Partners it does not go to, and why.
    pub withheld: Vec<WithheldFrom>,
}

/// A report and what became of it for each partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReportSummary {
    /// The report's id (64 hex).
    pub id: String,
    /// Title.
    pub title: String,
    /// `TLP:AMBER`, …
    pub tlp: String,
    /// Releasability codes.
    pub rel_to: Vec<String>,
    /// When it was published (Unix ms).
    pub published_at: u64,
    /// Who published it.
    pub by: String,
    /// Media type.
    pub content_type: String,
    /// Partner → released, held, dropped, withheld-rel or withheld-red.
    pub dispositions: BTreeMap<String, String>,
    /// The content, in `GET /v1/reports/{id}` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `GET /v1/reports`, in publication order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reports {
    /// Every report published here.
    pub reports: Vec<ReportSummary>,
}

/// `POST /v1/reports/{id}/release`: an explicit release to one partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseReport {
    /// The partner's name.
    pub to: String,
}

/// `POST /v1/sharing/{peer}/pause`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseSharing {
    /// Why (written in the `SharingPause` entry).
    #[serde(default)]
    pub reason: String,
}

/// `POST /v1/sharing/{peer}/resume`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeSharing {
    /// Release the reports held meanwhile (true) or drop them (false).
    #[serde(default)]
    pub backfill: bool,
}

/// One partner's sharing state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartnerSharing {
    /// The partner.
    pub peer: String,
    /// Its releasability code.
    pub rel: Option<String>,
    /// Whether sharing with it is paused.
    pub paused: bool,
    /// Since when paused or resumed (Unix ms), if ever changed.
    pub since: Option<u64>,
    /// By whom.
    pub by: Option<String>,
    /// Reports held for it.
    pub held: u64,
}

/// `GET /v1/sharing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Sharing {
    /// Every pinned partner.
    pub partners: Vec<PartnerSharing>,
}

/// The answer to a release, pause or resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SharingDone {
    /// What was done, as a sentence.
    pub done: String,
}
