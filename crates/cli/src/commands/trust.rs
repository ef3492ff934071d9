//! `switchyard trust ID` and `switchyard run FILE --trust`: the user's consent to what a
//! workflow from someone else would use.

use crate::{Failure, Outcome, credentials};
use std::io::{BufRead, IsTerminal, Write};
use switchyard_api::Api;
use switchyard_api::types::*;
use switchyard_model::workflow::Workflow;

/// The accounts a review lists, one per line, with the nodes and hosts, then the programs
/// and paths it reaches on this machine.
pub fn describe(review: &TrustReview) -> String {
    if review.accounts.is_empty() && review.local.is_empty() {
        return format!("\"{}\" uses no accounts and runs no programs.\n", review.name);
    }
    let mut out = format!("\"{}\" uses:\n", review.name);
    for a in &review.accounts {
        let account = match (&a.account, &a.resolved_label) {
            (Some(label), _) => format!("{}/{label}", a.connection),
            (None, Some(label)) => format!("{}/{label} (the default account)", a.connection),
            (None, None) => format!("{} (the default account)", a.connection),
        };
        let missing = if a.account_id.is_none() { " — no such account here yet" } else { "" };
        out.push_str(&format!("  {account}{missing}\n    nodes: {}\n", a.nodes.join(", ")));
        for host in &a.hosts {
            let new = if a.new_hosts.contains(host) { "  (new: trusting allows it)" } else { "" };
            out.push_str(&format!("    sends it to {host}{new}\n"));
        }
        if !a.computed_urls.is_empty() {
            out.push_str(&format!(
                "    URLs computed while running ({}): only the account's allowed hosts apply\n",
                a.computed_urls.join(", ")
            ));
        }
    }
    for l in &review.local {
        let verb = l.verb();
        let new = if l.approved { "" } else { "  (not approved yet)" };
        let computed = if l.target.ends_with("**") { " (computed while running: anything starting so)" } else { "" };
        out.push_str(&format!("  {verb} {}{computed}{new}\n    nodes: {}\n", l.target, l.nodes.join(", ")));
    }
    out
}

/// Whether the user, asked on a terminal, agrees to `question`; false without a terminal.
pub fn confirm(question: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| Failure::failed(format!("switchyard: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

pub async fn trust(api: &Api, id: &str, yes: bool) -> Outcome {
    let mut review = api.workflow_trust_review(IdRequest { id: id.to_string() }).await?;
    if !review.accounts.is_empty() {
        // The accounts' allowed hosts are sealed in the vault.
        credentials::unlock(api).await?;
        review = api.workflow_trust_review(IdRequest { id: id.to_string() }).await?;
    }
    if review.untrusted.is_none() && !review.needs_consent() {
        println!("\"{}\" is already trusted.", review.name);
        return Ok(());
    }
    eprint!("{}", describe(&review));
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::invalid("switchyard: trusting needs your answer; pass --yes to trust without one"));
        }
        if !confirm("Trust it?")? {
            return Err(Failure::failed("Not trusted."));
        }
    }
    let record = api.workflow_trust(WorkflowTrustRequest { id: id.to_string(), version: review.version }).await?;
    println!("Trusted \"{}\" ({}).", record.workflow.name, record.workflow.id);
    Ok(())
}

/// `run FILE --trust`: allows what the file names, and says so.
pub async fn allow_file(api: &Api, workflow: &Workflow, path: &str, quiet: bool) -> Outcome {
    let review = api.trust_file(workflow, path).await?;
    let added: Vec<String> = review
        .accounts
        .iter()
        .filter(|a| !a.new_hosts.is_empty())
        .map(|a| {
            format!("{} for {}/{}", a.new_hosts.join(", "), a.connection, a.resolved_label.as_deref().unwrap_or("?"))
        })
        .collect();
    if !quiet && !added.is_empty() {
        eprintln!("--trust: allowed {}", added.join("; "));
    }
    Ok(())
}
