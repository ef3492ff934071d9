//! The user guide shipped with the app: the pages of docs/ (compiled in, so the guide matches
//! the build), listed in reading order and read by name. Links between pages (`ai.md`) lead
//! from one to the other in the app's Help page.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_model::error::ErrorCode;
use ts_rs::TS;

/// The guide's pages in reading order: name (the file's, without `.md`) and text; the
/// architecture notes, for developers, come last.
const PAGES: &[(&str, &str)] = &[
    ("desktop-app", include_str!("../../../docs/desktop-app.md")),
    ("workflow-format", include_str!("../../../docs/workflow-format.md")),
    ("expressions", include_str!("../../../docs/expressions.md")),
    ("nodes", include_str!("../../../docs/nodes.md")),
    ("triggers", include_str!("../../../docs/triggers.md")),
    ("credentials", include_str!("../../../docs/credentials.md")),
    ("local-io", include_str!("../../../docs/local-io.md")),
    ("databases-and-email", include_str!("../../../docs/databases-and-email.md")),
    ("sub-workflows", include_str!("../../../docs/sub-workflows.md")),
    ("ai", include_str!("../../../docs/ai.md")),
    ("debugging", include_str!("../../../docs/debugging.md")),
    ("resilience", include_str!("../../../docs/resilience.md")),
    ("metrics", include_str!("../../../docs/metrics.md")),
    ("backup", include_str!("../../../docs/backup.md")),
    ("install", include_str!("../../../docs/install.md")),
    ("platforms", include_str!("../../../docs/platforms.md")),
    ("cli", include_str!("../../../docs/cli.md")),
    ("server", include_str!("../../../docs/server.md")),
    ("security", include_str!("../../../docs/security.md")),
    ("architecture", include_str!("../../../docs/architecture.md")),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct HelpPagesResponse {
    pub pages: Vec<HelpPageSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct HelpPageSummary {
    pub name: String,
    /// Its first heading.
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct HelpPageRequest {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct HelpPage {
    pub name: String,
    pub title: String,
    /// Markdown.
    pub text: String,
}

fn title_of(text: &str) -> String {
    text.lines().find_map(|l| l.strip_prefix("# ")).unwrap_or("").replace('`', "").trim().to_string()
}

impl Api {
    pub async fn help_pages(&self, _: crate::types::Empty) -> ApiResult<HelpPagesResponse> {
        let pages = PAGES
            .iter()
            .map(|(name, text)| HelpPageSummary { name: name.to_string(), title: title_of(text) })
            .collect();
        Ok(HelpPagesResponse { pages })
    }

    pub async fn help_page(&self, request: HelpPageRequest) -> ApiResult<HelpPage> {
        let (name, text) = PAGES.iter().find(|(name, _)| *name == request.name).ok_or_else(|| {
            let names: Vec<&str> = PAGES.iter().map(|(n, _)| *n).collect();
            ApiError::new(
                ErrorCode::NotFound,
                format!("the guide has no page \"{}\" (its pages: {})", request.name, names.join(", ")),
            )
        })?;
        Ok(HelpPage { name: name.to_string(), title: title_of(text), text: text.to_string() })
    }
}
