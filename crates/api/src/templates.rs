//! Templates: "New from template" starts a workflow from one of the examples shipped with
//! the app (assets/examples, embedded when it is built) or from a workflow file of the
//! user's own in the `templates` folder of the data folder. A bundle file is a template too:
//! its first workflow, with the workflows it calls saved beside it.

use crate::Api;
use crate::error::{ApiError, ApiResult};
use crate::types::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_engine::validate::validate_file;
use switchyard_model::error::ErrorCode;
use switchyard_model::ids::new_id;
use switchyard_model::records::WorkflowRecord;
use switchyard_model::workflow::Workflow;
use ts_rs::TS;

/// The examples shipped with the app: file name and text.
const EXAMPLES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/examples.rs"));

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    /// `example:NAME` or `mine:NAME` (the file name without `.json`).
    pub id: String,
    pub name: String,
    pub description: String,
    /// `example` (shipped with the app) or `mine` (the templates folder).
    pub source: String,
    pub node_count: u32,
    /// The workflow, for the preview.
    pub workflow: Workflow,
    /// The workflows it calls, from a bundle file: saved with it when it is used.
    #[serde(skip)]
    #[ts(skip)]
    pub calls: Vec<Workflow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateListResponse {
    pub templates: Vec<Template>,
    /// The folder whose workflow files are the user's own templates.
    pub folder: String,
    /// Files in that folder that are not valid workflows, each with its first problem.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS, JsonSchema)]
pub struct TemplateUseRequest {
    pub id: String,
}

/// A template from a workflow file's (or a bundle's) workflows, the first one being it.
fn template(id: String, source: &str, mut workflows: Vec<Workflow>) -> Option<Template> {
    if workflows.is_empty() {
        return None;
    }
    let workflow = workflows.remove(0);
    Some(Template {
        id,
        name: workflow.name.clone(),
        description: workflow.description.clone(),
        source: source.into(),
        node_count: workflow.nodes.len() as u32,
        workflow,
        calls: workflows,
    })
}

/// The template id part of a file name: without `.json` (and `.bundle`).
fn stem(file: &str) -> &str {
    let stem = file.trim_end_matches(".json");
    stem.strip_suffix(".bundle").unwrap_or(stem)
}

impl Api {
    fn templates_folder(&self) -> std::path::PathBuf {
        self.inner.data_dir.join("templates")
    }

    pub async fn template_list(&self, _: Empty) -> ApiResult<TemplateListResponse> {
        let registry = self.inner.engine.registry().clone();
        let folder = self.templates_folder();
        let shown = folder.display().to_string();
        let (mine, problems) = tokio::task::spawn_blocking(move || read_folder(&folder, &registry))
            .await
            .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        let mut templates: Vec<Template> = EXAMPLES
            .iter()
            .filter_map(|(file, text)| {
                let report = validate_file(text, self.inner.engine.registry());
                if !report.issues.is_empty() {
                    return None;
                }
                template(format!("example:{}", stem(file)), "example", report.workflows)
            })
            .collect();
        templates.extend(mine);
        Ok(TemplateListResponse { templates, folder: shown, problems })
    }

    /// A new workflow from a template, with a new id; an example is the app's own (trusted),
    /// a file of the templates folder is untrusted until reviewed, as any file.
    pub async fn template_use(&self, request: TemplateUseRequest) -> ApiResult<WorkflowRecord> {
        let list = self.template_list(Empty {}).await?;
        let found = list
            .templates
            .into_iter()
            .find(|t| t.id == request.id)
            .ok_or_else(|| ApiError::not_found(format!("there is no template {}", request.id)))?;
        let mut workflow = found.workflow;
        workflow.id = new_id();
        let now = self.now();
        let untrusted =
            (found.source != "example").then(|| format!("the template {}", request.id.trim_start_matches("mine:")));
        // The workflows it calls: kept where they are here already, the same; saved with their
        // ids otherwise (a new one when another workflow has it, and the calls changed to it).
        let mut calls = found.calls;
        for index in 0..calls.len() {
            let id = calls[index].id.clone();
            let here = self.blocking(move |store| Ok(store.workflows().find(&id)?)).await?;
            match here {
                Some(record) if record.workflow == calls[index] => continue,
                Some(_) => {
                    let (old, new) = (calls[index].id.clone(), new_id());
                    self.rewrite_calls(&mut workflow, &old, &new);
                    for other in &mut calls {
                        self.rewrite_calls(other, &old, &new);
                    }
                    calls[index].id = new;
                }
                None => {}
            }
            let (called, now, untrusted) = (calls[index].clone(), now.clone(), untrusted.clone());
            self.blocking(move |store| Ok(store.workflows().create(&called, untrusted.as_deref(), &now)?)).await?;
        }
        self.blocking(move |store| Ok(store.workflows().create(&workflow, untrusted.as_deref(), &now)?)).await
    }
}

/// The valid workflow files of the templates folder (sorted by file name), and a line for
/// each file that is not one. A missing folder holds none.
fn read_folder(folder: &std::path::Path, registry: &switchyard_engine::Registry) -> (Vec<Template>, Vec<String>) {
    let Ok(entries) = std::fs::read_dir(folder) else { return (Vec::new(), Vec::new()) };
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut templates, mut problems) = (Vec::new(), Vec::new());
    for path in files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let text = match std::fs::metadata(&path) {
            Ok(m) if m.len() > 16 * 1024 * 1024 => {
                problems.push(format!("{name}: larger than 16 MiB"));
                continue;
            }
            _ => match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(format!("{name}: {e}"));
                    continue;
                }
            },
        };
        let report = validate_file(&text, registry);
        match report.issues.first() {
            Some(issue) => problems.push(issue.render(&name)),
            None => match template(format!("mine:{}", stem(&name)), "mine", report.workflows) {
                Some(t) => templates.push(t),
                None => problems.push(format!("{name}: not a workflow")),
            },
        }
    }
    (templates, problems)
}
