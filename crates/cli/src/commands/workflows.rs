//! Workflow commands: validate, import, export and list.

use crate::commands::trust;
use crate::output::{list as print_list, print_json};
use crate::{Failure, Outcome, open_api, render_issues};
use std::path::Path;
use std::sync::Arc;
use switchyard_api::SilentHost;
use switchyard_api::types::*;
use switchyard_engine::validate::validate_file;
use switchyard_model::error::ErrorCode;
use switchyard_model::workflow::Workflow;

pub(crate) fn read_file(path: &Path) -> Result<(String, String), Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::invalid(format!("switchyard: cannot read {}: {e}", path.display())))?;
    Ok((text, path.display().to_string()))
}

/// Validates a file's text (a workflow, or a bundle of them); any issue is a bad-input
/// failure listing them all. Returns the workflow (a bundle's first) and a bundle's others.
pub(crate) fn check_file(path: &Path, text: &str) -> Result<(Workflow, Vec<Workflow>), Failure> {
    let report = validate_file(text, &switchyard_engine::Registry::builtin());
    if !report.issues.is_empty() {
        return Err(Failure::invalid(render_issues(&report.issues, &path.display().to_string())));
    }
    let mut workflows = report.workflows.into_iter();
    let first =
        workflows.next().ok_or_else(|| Failure::invalid(format!("{}: no workflow in the file", path.display())))?;
    Ok((first, workflows.collect()))
}

pub(crate) fn validate(file: &Path, json: bool) -> Outcome {
    let (text, _) = read_file(file)?;
    let report = validate_file(&text, &switchyard_engine::Registry::builtin());
    if json {
        print_json(&ValidationReport { valid: report.issues.is_empty(), issues: report.issues.clone() });
        return if report.issues.is_empty() { Ok(()) } else { Err(Failure::invalid("")) };
    }
    if !report.issues.is_empty() {
        return Err(Failure::invalid(render_issues(&report.issues, &file.display().to_string())));
    }
    let nodes: usize = report.workflows.iter().map(|w| w.nodes.len()).sum();
    if report.bundle {
        println!("{}: valid bundle ({} workflows, {nodes} nodes)", file.display(), report.workflows.len());
    } else {
        println!("{}: valid ({nodes} nodes)", file.display());
    }
    Ok(())
}

pub(crate) async fn import(data_dir: crate::Place, file: &Path, keep_id: bool) -> Outcome {
    let (text, _) = read_file(file)?;
    check_file(file, &text)?;
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let response = api
        .workflow_import(WorkflowImportRequest { text, file_name: Some(file.display().to_string()), keep_id })
        .await?;
    let wf = &response.record.workflow;
    println!("Imported \"{}\" as {}", wf.name, wf.id);
    for note in response.notes {
        eprintln!("note: {note}");
    }
    if response.review.needs_consent() {
        eprint!("{}", trust::describe(&response.review));
        eprintln!(
            "It is not trusted yet and runs nothing that uses an account until you run `switchyard trust {}`.",
            wf.id
        );
    }
    Ok(())
}

pub(crate) async fn export(
    data_dir: crate::Place,
    id: String,
    output: String,
    strip_secrets: bool,
    with_called: bool,
) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let path = (output != "-").then(|| output.clone());
    let request = WorkflowExportRequest { id, path, strip_secrets, with_called };
    let response = api.workflow_export(request).await.map_err(|e| {
        if e.code == ErrorCode::SecretsInExport {
            Failure::invalid(format!("switchyard: {} (--strip-secrets)", e.message))
        } else {
            e.into()
        }
    })?;
    match response.path {
        Some(path) => eprintln!("Wrote {path}"),
        None => print!("{}", response.text),
    }
    Ok(())
}

pub(crate) async fn list(data_dir: crate::Place, search: Option<String>, json: bool) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let list = api.workflow_list(WorkflowListRequest { search }).await?;
    print_list(
        json,
        &list.workflows,
        "No saved workflows. Import one with: switchyard import FILE",
        &["ID", "NAME", "NODES", "UPDATED"],
        |w| vec![w.id.clone(), w.name.clone(), w.node_count.to_string(), w.updated_at.clone()],
    );
    Ok(())
}
