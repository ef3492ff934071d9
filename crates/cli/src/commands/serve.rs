//! `switchyard serve` and the trigger commands: activate, deactivate, triggers, deliveries.

use crate::output::{print_json, print_table};
use crate::{Failure, Outcome, open_api};
use std::sync::Arc;
use std::time::Duration;
use switchyard_api::SilentHost;
use switchyard_api::types::*;

/// Waits for SIGTERM or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub(crate) async fn serve(
    data_dir: crate::Place,
    port: Option<u16>,
    bind: Option<String>,
    grace: u64,
    api_rate_limit: u32,
    queue: Option<String>,
) -> Outcome {
    // Alert notifications go to the log: there is no desktop to show them on.
    let api = open_api(data_dir, Arc::new(crate::alerts::LogHost))?;
    if let Some(url) = queue.as_deref().filter(|q| !q.trim().is_empty()) {
        api.use_queue(url).await.map_err(|e| Failure::from(e).prefixed("switchyard serve"))?;
    }
    let _background = api.start_background();
    api.serve_rest_api(api_rate_limit);
    let status = api.start_triggers_on(bind, port).await?;
    if let Some(error) = &status.error {
        return Err(Failure::failed(format!("switchyard serve: {error}")));
    }
    if status.exposed {
        eprintln!("warning: listening on {} lets other machines call your webhooks", status.address);
    }
    let problems = api.webhook_list(Empty {}).await?.problems;
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    // One write of both lines (stderr is unbuffered: `eprintln!` writes piece by piece): a
    // caller that reads the first line and closes the pipe must not fail a later piece.
    let base = status.base_url.trim_end_matches('/');
    let started = format!(
        "switchyard serve: listening on {} ({} active workflows, {} schedules); stop with Ctrl-C or SIGTERM\n\
         switchyard serve: REST API at {base}{api} with an API token (`switchyard tokens create`); docs at {base}{api}/docs\n{queued}",
        status.base_url,
        status.active_workflows,
        status.schedules,
        api = switchyard_api::rest::BASE,
        queued = match queue.as_deref().filter(|q| !q.trim().is_empty()) {
            Some(url) => format!(
                "switchyard serve: runs go to the queue at {} for `switchyard worker`\n",
                switchyard_queue_redact(url)
            ),
            None => String::new(),
        }
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), started.as_bytes());
    shutdown_signal().await;
    eprintln!("switchyard serve: stopping: answering requests in progress, waiting up to {grace} s for runs");
    // Requests and runs share the grace period: a stalled client cannot stretch it.
    let started = std::time::Instant::now();
    api.stop_triggers_within(Duration::from_secs(grace)).await;
    api.drain(Duration::from_secs(grace).saturating_sub(started.elapsed())).await?;
    eprintln!("switchyard serve: stopped");
    Ok(())
}

fn switchyard_queue_redact(url: &str) -> String {
    switchyard_api::queue_url_redacted(url)
}

/// `switchyard worker`: runs the queue's runs until SIGTERM or Ctrl-C.
pub(crate) async fn worker(
    data_dir: crate::Place,
    queue: String,
    concurrency: usize,
    config: switchyard_api::QueueConfig,
    grace: u64,
    metrics: Option<std::net::SocketAddr>,
) -> Outcome {
    let api = open_api(data_dir, Arc::new(crate::alerts::LogHost))?;
    let _background = api.start_worker_background();
    let metrics = match metrics {
        Some(addr) => {
            let bound =
                api.serve_metrics(addr).await.map_err(|e| Failure::from(e).prefixed("switchyard worker --metrics"))?;
            format!("; metrics at http://{bound}/metrics")
        }
        None => String::new(),
    };
    let consumer =
        format!("{}-{}-{}", switchyard_api::hostname(), std::process::id(), &switchyard_model::ids::new_id()[..8]);
    let started = format!(
        "switchyard worker: taking runs from {} as {consumer} ({concurrency} at once{metrics}); stop with Ctrl-C or SIGTERM\n",
        switchyard_queue_redact(&queue)
    );
    let options = switchyard_api::WorkerOptions { concurrency, consumer, queue: config };
    let stop = async {
        // The start-up line once the queue is reached (one write: see serve).
        shutdown_signal().await;
        eprintln!("switchyard worker: stopping: runs in progress get up to {grace} s");
    };
    let _ = std::io::Write::write_all(&mut std::io::stderr(), started.as_bytes());
    let report = api
        .work(&queue, options, stop, Duration::from_secs(grace))
        .await
        .map_err(|e| Failure::from(e).prefixed("switchyard worker"))?;
    api.drain(Duration::from_secs(1)).await?;
    eprintln!(
        "switchyard worker: stopped after {} runs ({} failed, {} taken over from other workers, {} dead letters)",
        report.runs, report.failed, report.claimed, report.dead_letters
    );
    Ok(())
}

/// `switchyard queue`: the queue's state and its dead letters.
pub(crate) async fn queue_status(queue: String, json: bool) -> Outcome {
    let status =
        switchyard_api::queue_status(&queue).await.map_err(|e| Failure::from(e).prefixed("switchyard queue"))?;
    if json {
        print_json(&status);
        return Ok(());
    }
    println!(
        "waiting {}  running {}  dead letters {}  (stream length {})",
        status.stats.waiting, status.stats.pending, status.stats.dead, status.stats.length
    );
    for dead in &status.dead_letters {
        println!(
            "dead: execution {} of workflow {} ({})",
            dead["message"]["executionId"].as_str().unwrap_or("?"),
            dead["message"]["workflowId"].as_str().unwrap_or("?"),
            dead["reason"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

pub(crate) async fn activate(data_dir: crate::Place, id: String, active: bool) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let record = api.workflow_activate(WorkflowActivateRequest { id, active }).await?;
    let state = if record.active { "active: `switchyard serve` (or the app) serves its triggers" } else { "paused" };
    println!("\"{}\" is {state}", record.workflow.name);
    Ok(())
}

pub(crate) async fn triggers(data_dir: crate::Place, json: bool) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let hooks = api.webhook_list(Empty {}).await?;
    let schedules = api.schedule_list(Empty {}).await?;
    if json {
        print_json(&serde_json::json!({ "webhooks": hooks.endpoints, "schedules": schedules.schedules }));
        return Ok(());
    }
    if hooks.endpoints.is_empty() && schedules.schedules.is_empty() {
        eprintln!("No Webhook or Schedule triggers in the saved workflows.");
        return Ok(());
    }
    let state = |active: bool| if active { "active" } else { "paused" }.to_string();
    if !hooks.endpoints.is_empty() {
        let rows = hooks
            .endpoints
            .iter()
            .map(|e| {
                let methods = if e.methods.is_empty() { "*".to_string() } else { e.methods.join(",") };
                vec![e.workflow_name.clone(), state(e.active), methods, e.url.clone(), e.signature.clone()]
            })
            .collect();
        print_table(&["WORKFLOW", "STATE", "METHODS", "URL", "SIGNATURE"], rows);
    }
    if !schedules.schedules.is_empty() {
        if !hooks.endpoints.is_empty() {
            println!();
        }
        let rows = schedules
            .schedules
            .iter()
            .map(|s| {
                vec![
                    s.workflow_name.clone(),
                    state(s.active),
                    s.rule.clone(),
                    s.next_fire.clone().unwrap_or_else(|| "-".into()),
                    s.last_fire.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        print_table(&["WORKFLOW", "STATE", "RULE", "NEXT", "LAST"], rows);
    }
    Ok(())
}

pub(crate) async fn deliveries(data_dir: crate::Place, workflow: Option<String>, limit: u32, json: bool) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let list = api.webhook_deliveries(DeliveryListRequest { workflow_id: workflow, limit: Some(limit) }).await?;
    let headers = ["RECEIVED", "METHOD", "PATH", "STATUS", "SIGNATURE", "LATENCY", "RUN / ERROR"];
    crate::output::list(json, &list.deliveries, "No deliveries yet.", &headers, |d| {
        vec![
            d.received_at.clone(),
            d.method.clone(),
            d.path.clone(),
            d.status.to_string(),
            d.verification.as_str().to_string(),
            format!("{} ms", d.latency_ms),
            d.execution_id.clone().or_else(|| d.error.clone()).unwrap_or_default(),
        ]
    });
    Ok(())
}

pub(crate) async fn metrics(data_dir: crate::Place, enable: bool, token: bool, port: Option<u16>) -> Outcome {
    let api = open_api(data_dir, Arc::new(SilentHost))?;
    let mut settings = api.settings_get(Empty {}).await?;
    if enable && !settings.metrics_endpoint {
        settings.metrics_endpoint = true;
        settings = api.settings_update(settings).await?;
    }
    if token {
        if !settings.metrics_endpoint {
            return Err(Failure::failed(
                "switchyard metrics: the metrics endpoint is off, so it has no token yet; turn it on in Settings or with `switchyard metrics --enable`",
            ));
        }
        // For a Prometheus scrape config: authorization: {type: Bearer, credentials: …}.
        println!("{}", settings.metrics_token);
        return Ok(());
    }
    let ip = match settings.webhook_bind.trim().parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_unspecified() && ip.is_ipv6() => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        Ok(ip) if ip.is_unspecified() => std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST),
        Ok(ip) => ip,
        Err(_) => std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST),
    };
    let address = std::net::SocketAddr::new(ip, port.unwrap_or(settings.webhook_port));
    let url = format!("http://{address}/metrics");
    let response = reqwest::Client::new().get(&url).bearer_auth(&settings.metrics_token).send().await.map_err(|e| {
        Failure::failed(format!(
            "switchyard metrics: nothing answers at {url} ({e}): start the app or `switchyard serve` first"
        ))
    })?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Err(Failure::failed(
            "switchyard metrics: the metrics endpoint is off; turn it on in Settings or with `switchyard metrics --enable`",
        ));
    }
    if !response.status().is_success() {
        return Err(Failure::failed(format!("switchyard metrics: {url} answered {}", response.status())));
    }
    let text = response.text().await.map_err(|e| Failure::failed(format!("switchyard metrics: {e}")))?;
    print!("{text}");
    Ok(())
}
