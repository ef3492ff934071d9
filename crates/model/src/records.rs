//! Stored workflow records as the API returns them.

use crate::workflow::Workflow;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A saved workflow with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowRecord {
    pub workflow: Workflow,
    /// Increases by one on every save; saving with an older version is refused.
    pub version: u32,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
    /// Where the workflow came from when it was imported and the user has not trusted it
    /// yet (a file name): until then it runs nothing that uses an account or reaches this
    /// computer (programs, files, folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub untrusted: Option<String>,
}

/// A workflow in the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    pub version: u32,
    pub active: bool,
    pub node_count: u32,
    pub created_at: String,
    pub updated_at: String,
    /// Imported and not trusted yet.
    #[serde(default)]
    pub untrusted: bool,
}

/// One saved version of a workflow, as the version history lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    pub version: u32,
    pub saved_at: String,
    /// What the user said about the save (empty when nothing), or what made it ("restored
    /// version 3", "imported from …").
    pub note: String,
    pub name: String,
    pub node_count: u32,
}
