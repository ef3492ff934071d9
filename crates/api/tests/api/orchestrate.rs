//! AI Orchestrate against the scripted model server: three agents voting (exactly, by label,
//! by JSON fields, grouped by a judge), ties failing with the vote table or broken by a
//! tie-breaker, agents one after another, all at once and racing with time limits — and the
//! per-agent records (model, account, prompt hash, tokens, latency, answer, vote) every
//! item carries.

use crate::ai::{add_account, events, run, unlock};
use crate::{call, open};
use serde_json::{Value as Json, json};
use switchyard_model::events::RunEventKind;
use switchyard_testkit::llm::{LlmServer, Turn};

const LLM: &str = "llm.openaiCompatible";

/// Manual Trigger → Set (a ticket) → AI Orchestrate with `parameters`; the node's account
/// is `label`.
fn orchestration(label: &str, parameters: Json) -> Json {
    json!({"switchyard": 1, "id": "orch", "name": "Orchestration",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Ticket", "type": "data.set", "parameters": {"assignments": [
                {"name": "text", "value": "My invoice is wrong", "type": "string"}]}},
            {"id": "o", "name": "Agents", "type": "ai.orchestrate", "parameters": parameters,
             "credentials": {"model": {"connection": LLM, "account": label}}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}, {"from": {"node": "s"}, "to": {"node": "o"}}]})
}

fn agents(models: &[(&str, &str)]) -> Json {
    Json::Array(
        models
            .iter()
            .map(|(name, model)| json!({"name": name, "model": model, "systemPrompt": format!("You are {name}.")}))
            .collect(),
    )
}

fn names(list: &Json) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect()
}

#[tokio::test]
async fn three_agents_vote_and_the_majority_wins_with_every_agents_record() {
    let server = LlmServer::start(None);
    let (_dir, api, host) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    let params = json!({
        "agents": agents(&[("strict", "say:Billing."), ("kind", "say:  billing"), ("odd", "say:bug")]),
        "prompt": "Classify: {{ json.text }}", "strategy": "consensus", "compare": "exact"
    });
    let result = run(&api, orchestration("local", params)).await;
    assert_eq!(result["status"], "success", "{result}");
    let item = &result["items"][0]["json"];
    assert_eq!(item["text"], "My invoice is wrong", "the item keeps its fields");
    assert_eq!(item["answer"], "Billing.", "the first agent of the winning group gives the answer");
    let record = &item["orchestration"];
    assert_eq!(record["strategy"], "consensus");
    assert_eq!(record["winner"], "strict");
    assert_eq!(record["decidedBy"], "majority");
    assert_eq!(record["groups"][0]["agents"], json!(["strict", "kind"]));
    assert_eq!(record["groups"][0]["votes"], 2);
    assert_eq!(record["groups"][1]["agents"], json!(["odd"]));
    let records = record["agents"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    for (agent, (name, model, vote, group)) in records.iter().zip([
        ("strict", "say:Billing.", "billing", 0),
        ("kind", "say:  billing", "billing", 0),
        ("odd", "say:bug", "bug", 1),
    ]) {
        assert_eq!(agent["agent"], name);
        assert_eq!(agent["model"], model);
        assert_eq!(agent["account"], "llm.openaiCompatible/local");
        assert_eq!(agent["status"], "answered");
        assert_eq!(agent["vote"], vote);
        assert_eq!(agent["group"], group);
        assert_eq!(agent["promptHash"].as_str().unwrap().len(), 16);
        assert!(agent["tokensIn"].as_u64().unwrap() > 0 && agent["tokensOut"].as_u64().unwrap() > 0, "{agent}");
        assert!(agent["latencyMs"].is_u64());
    }
    // Each agent got its own system prompt and the task; their prompts differ, so do their hashes.
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let strict = requests.iter().find(|r| r["model"] == "say:Billing.").unwrap();
    assert_eq!(strict["messages"][0], json!({"role": "system", "content": "You are strict."}));
    assert_eq!(strict["messages"][1], json!({"role": "user", "content": "Classify: My invoice is wrong"}));
    assert_ne!(records[0]["promptHash"], records[1]["promptHash"]);
    // The canvas saw each agent's turns, named, and every call's tokens went to the metrics.
    let events = events(&host, result["executionId"].as_str().unwrap());
    let speakers: std::collections::BTreeSet<String> = events
        .iter()
        .filter_map(|e| match e {
            RunEventKind::AgentStep { entry, .. } => entry.agent.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(speakers.into_iter().collect::<Vec<_>>(), ["kind", "odd", "strict"]);
    let usage =
        events.iter().filter(|e| matches!(e, RunEventKind::ModelUsage { node_id, .. } if node_id == "o")).count();
    assert_eq!(usage, 3);

    // By label: answers in different words that name the same label agree; one naming two
    // labels does not vote.
    let params = json!({
        "agents": agents(&[("a", "say:This is a billing problem."), ("b", "say:BILLING"), ("c", "say:a bug in billing")]),
        "prompt": "{{ json.text }}", "strategy": "consensus", "compare": "label", "labels": "billing\nbug\nquestion"
    });
    let result = run(&api, orchestration("local", params)).await;
    assert_eq!(result["status"], "success", "{result}");
    let record = &result["items"][0]["json"]["orchestration"];
    assert_eq!(record["agents"][0]["vote"], "billing");
    assert_eq!(record["agents"][2]["vote"], "no vote: its answer names several labels (billing, bug)");
    assert!(record["agents"][2].get("group").is_none());
    assert_eq!(record["groups"][0]["votes"], 2);
    assert_eq!(record["winner"], "a");
}

#[tokio::test]
async fn a_tie_fails_with_the_vote_table_unless_a_tie_breaker_chooses() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    let params = json!({
        "agents": agents(&[("a", "say:billing"), ("b", "say:bug")]),
        "prompt": "{{ json.text }}", "strategy": "consensus"
    });
    let result = run(&api, orchestration("local", params.clone())).await;
    assert_eq!(result["status"], "error");
    let error = &result["error"];
    assert_eq!(error["code"], "no_consensus");
    assert_eq!(error["nodeName"], "Agents");
    assert_eq!(error["message"], "the agents tied: a (1) vs b (1)");
    let table = &error["details"]["orchestration"];
    assert_eq!(table["groups"].as_array().unwrap().len(), 2);
    assert_eq!(table["agents"][1]["answer"], "bug");

    // Three agents, three answers: no majority (and with "plurality" still a tie).
    let three = json!({
        "agents": agents(&[("a", "say:billing"), ("b", "say:bug"), ("c", "say:question")]),
        "prompt": "{{ json.text }}", "strategy": "consensus", "win": "plurality"
    });
    let result = run(&api, orchestration("local", three)).await;
    assert_eq!(result["error"]["code"], "no_consensus");

    // A plurality without a tie wins where a majority is not needed.
    let four = json!({
        "agents": agents(&[("a", "say:billing"), ("b", "say:billing"), ("c", "say:bug"), ("d", "say:question")]),
        "prompt": "{{ json.text }}", "strategy": "consensus", "win": "plurality"
    });
    let result = run(&api, orchestration("local", four.clone())).await;
    assert_eq!(result["items"][0]["json"]["orchestration"]["decidedBy"], "plurality", "{result}");
    let mut majority = four;
    majority["win"] = json!("majority");
    let result = run(&api, orchestration("local", majority)).await;
    assert_eq!(
        result["error"]["message"],
        "no answer got more than half of the 4 agents' votes: a, b (2) vs c (1) vs d (1)"
    );

    // The tie-breaker, on its own account, sees the tied answers and chooses the second.
    add_account(&api, &server, "referee", "", "referee").await;
    server.script("referee", vec![Turn::text(r#"{"choice": 2}"#)]);
    let mut broken = orchestration("local", params);
    broken["nodes"][2]["parameters"]["tieBreak"] = json!("agent");
    broken["nodes"][2]["parameters"]["tieBreakerInstructions"] = json!("Prefer bugs.");
    broken["nodes"][2]["credentials"]["tieBreaker"] = json!({"connection": LLM, "account": "referee"});
    let result = run(&api, broken).await;
    assert_eq!(result["status"], "success", "{result}");
    let item = &result["items"][0]["json"];
    assert_eq!(item["answer"], "bug");
    assert_eq!(item["orchestration"]["decidedBy"], "tieBreaker");
    let referee = &item["orchestration"]["referees"][0];
    assert_eq!(referee["role"], "tieBreaker");
    assert_eq!(referee["account"], "llm.openaiCompatible/referee");
    assert_eq!(referee["answer"], json!({"choice": 2}));
    let asked = server.requests().into_iter().find(|r| r["model"] == "referee").unwrap();
    assert!(asked["messages"][0]["content"].as_str().unwrap().ends_with("Prefer bugs."));
    assert_eq!(asked["messages"][1]["content"], "Task:\nMy invoice is wrong\n\nAnswer 1:\nbilling\n\nAnswer 2:\nbug");
    assert_eq!(asked["response_format"]["json_schema"]["schema"]["properties"]["choice"]["maximum"], 2);
}

#[tokio::test]
async fn a_judge_groups_answers_in_other_words_and_is_asked_again_when_its_groups_are_wrong() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    server.script("judge", vec![Turn::text(r#"{"groups": [[1, 2]]}"#), Turn::text(r#"{"groups": [[1, 3], [2]]}"#)]);
    let mut wf = orchestration(
        "local",
        json!({
            "agents": agents(&[("a", "say:Paris"), ("b", "say:Lyon"), ("c", "say:It is Paris, the capital.")]),
            "prompt": "Where is the Louvre?", "strategy": "consensus", "compare": "judge", "judgeModel": "judge"
        }),
    );
    wf["nodes"][2]["settings"] =
        json!({"retry": {"maxTries": 2, "initialDelayMs": 10, "jitter": "none", "retryOn": ["invalid_output"]}});
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    let record = &result["items"][0]["json"]["orchestration"];
    assert_eq!(record["winner"], "a");
    assert_eq!(record["groups"][0]["agents"], json!(["a", "c"]));
    assert_eq!(record["referees"][0]["role"], "judge");
    assert_eq!(record["referees"][0]["answer"], json!({"groups": [[1, 3], [2]]}));
    let judged: Vec<Json> = server.requests().into_iter().filter(|r| r["model"] == "judge").collect();
    assert_eq!(judged.len(), 2, "a grouping that leaves out an answer is asked again");
    assert!(judged[0]["messages"][1]["content"].as_str().unwrap().contains("Answer 3:\nIt is Paris, the capital."));

    // Without a retry policy the bad grouping fails, saying what is wrong.
    server.script("judge", vec![Turn::text(r#"{"groups": [[1, 2], [2, 3]]}"#)]);
    let wf = orchestration(
        "local",
        json!({
            "agents": agents(&[("a", "say:Paris"), ("b", "say:Lyon"), ("c", "say:Paris")]),
            "prompt": "Where is the Louvre?", "strategy": "consensus", "compare": "judge", "judgeModel": "judge"
        }),
    );
    let result = run(&api, wf).await;
    assert_eq!(result["error"]["code"], "invalid_output");
    assert_eq!(
        result["error"]["message"],
        "the judge failed: the judge model \"judge\" answered: answer 2 is in two groups"
    );
    assert_eq!(result["error"]["details"]["orchestration"]["agents"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn structured_answers_vote_by_their_fields_and_agents_may_have_their_own_accounts() {
    let server = LlmServer::start(None);
    let other = LlmServer::start(Some("sk-other"));
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "schema").await;
    add_account(&api, &other, "second", "sk-other", "schema").await;
    let schema = json!({"type": "object",
        "properties": {"category": {"type": "string", "enum": ["billing", "bug"]}, "reason": {"type": "string"}},
        "required": ["category", "reason"], "additionalProperties": false});
    other.script("odd", vec![Turn::text(r#"{"reason": "a different reason", "category": "billing"}"#)]);
    let mut wf = orchestration(
        "local",
        json!({
            "agents": [{"name": "a"}, {"name": "b"}, {"name": "c", "model": "odd"}],
            "prompt": "{{ json.text }}", "strategy": "consensus", "output": "schema", "schema": schema,
            "compareFields": "category"
        }),
    );
    wf["nodes"][2]["credentials"]["agent:c"] = json!({"connection": LLM, "account": "second"});
    let result = run(&api, wf.clone()).await;
    assert_eq!(result["status"], "success", "{result}");
    let item = &result["items"][0]["json"];
    assert_eq!(item["answer"], json!({"category": "billing", "reason": "text"}));
    let record = &item["orchestration"];
    assert_eq!(record["groups"][0]["votes"], 3, "only the category is compared: {record}");
    assert_eq!(record["agents"][2]["account"], "llm.openaiCompatible/second");
    assert_eq!(record["agents"][2]["model"], "odd");
    assert_eq!(record["agents"][0]["vote"], r#"{"category":"billing"}"#);
    assert_eq!(other.requests().len(), 1, "agent c went to its own account's server");
    assert_eq!(server.requests().len(), 2);

    // Compared by all fields, the different reason is another answer.
    wf["nodes"][2]["parameters"]["compareFields"] = json!("");
    other.script("odd", vec![Turn::text(r#"{"reason": "a different reason", "category": "billing"}"#)]);
    let result = run(&api, wf.clone()).await;
    assert_eq!(result["items"][0]["json"]["orchestration"]["groups"][0]["votes"], 2, "{result}");

    // An account for an agent that does not exist is named when the workflow is checked.
    wf["nodes"][2]["credentials"]["agent:nobody"] = json!({"connection": LLM, "account": "second"});
    let checked = call(&api, "workflow_validate", json!({"workflow": wf})).await.unwrap();
    let issue = checked["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["path"].as_str().unwrap().contains("agent:nobody"))
        .unwrap_or_else(|| panic!("{checked}"));
    assert_eq!(
        issue["message"],
        "the account \"agent:nobody\" is for an entry of agents called \"nobody\", but there is none"
    );
    assert_eq!(issue["nodeName"], "Agents");
}

#[tokio::test]
async fn sequential_agents_hand_on_their_answers_and_parallel_agents_race_within_time_limits() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    let params = json!({
        "agents": agents(&[("writer", "say:A short draft"), ("editor", "echo")]),
        "prompt": "Answer: {{ json.text }}", "strategy": "sequential"
    });
    let result = run(&api, orchestration("local", params.clone())).await;
    assert_eq!(result["status"], "success", "{result}");
    let item = &result["items"][0]["json"];
    assert_eq!(item["answer"], "A short draft", "the editor got the writer's answer (and echoed it)");
    assert_eq!(item["orchestration"]["winner"], "editor");
    let steps: Vec<&str> =
        item["orchestration"]["agents"].as_array().unwrap().iter().map(|a| a["answer"].as_str().unwrap()).collect();
    assert_eq!(steps, ["A short draft", "A short draft"], "every step's answer is kept");
    let mut both = params;
    both["handOff"] = json!("both");
    let result = run(&api, orchestration("local", both)).await;
    assert_eq!(
        result["items"][0]["json"]["answer"],
        "Answer: My invoice is wrong\n\nThe previous agent (writer) answered:\nA short draft"
    );
    // A failing step stops the chain, naming the agent; the records so far are kept.
    let failing = json!({
        "agents": agents(&[("writer", "say:draft"), ("editor", "overflow"), ("never", "echo")]),
        "prompt": "x", "strategy": "sequential"
    });
    let result = run(&api, orchestration("local", failing)).await;
    assert_eq!(result["error"]["code"], "context_too_long");
    assert!(result["error"]["message"].as_str().unwrap().starts_with("agent \"editor\" (step 2) failed: "), "{result}");
    assert_eq!(result["error"]["details"]["orchestration"]["agents"].as_array().unwrap().len(), 2);

    // All at once: every agent's answer by name.
    let all = json!({
        "agents": agents(&[("a", "say:one"), ("b", "say:two")]),
        "prompt": "x", "strategy": "parallel"
    });
    let result = run(&api, orchestration("local", all)).await;
    assert_eq!(result["items"][0]["json"]["answer"], json!({"a": "one", "b": "two"}), "{result}");

    // A race: the quick agent wins, the slow one is cancelled.
    let task = "a task that takes the slow model a while to repeat";
    let race = json!({
        "agents": agents(&[("slow", "slow"), ("quick", "say:done")]),
        "prompt": task, "strategy": "parallel", "wait": "race"
    });
    let started = std::time::Instant::now();
    let result = run(&api, orchestration("local", race)).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "the race did not wait for the slow agent");
    let record = &result["items"][0]["json"]["orchestration"];
    assert_eq!(result["items"][0]["json"]["answer"], "done", "{result}");
    assert_eq!(record["winner"], "quick");
    assert_eq!(record["strategy"], "race");
    assert_eq!(record["agents"][0]["status"], "cancelled");

    // A time limit: the slow agent is stopped and all-or-nothing fails, naming it.
    let limited = json!({
        "agents": agents(&[("slow", "slow"), ("quick", "say:done")]),
        "prompt": task, "strategy": "parallel", "agentTimeout": 0.3
    });
    let result = run(&api, orchestration("local", limited)).await;
    assert_eq!(result["error"]["code"], "timeout", "{result}");
    assert_eq!(result["error"]["message"], "not every agent answered: slow: did not answer within 0.3 s");
    let agents = &result["error"]["details"]["orchestration"]["agents"];
    assert_eq!(names(&json!([agents[0]["status"], agents[1]["status"]])), ["timedOut", "answered"]);
}

#[tokio::test]
async fn the_trust_review_lists_every_agents_account() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    add_account(&api, &server, "second", "", "echo").await;
    let mut wf = orchestration(
        "local",
        json!({"agents": agents(&[("a", "say:x"), ("b", "say:x")]), "prompt": "x", "strategy": "consensus"}),
    );
    wf["nodes"][2]["credentials"]["agent:b"] = json!({"connection": LLM, "account": "second"});
    let imported = call(&api, "workflow_import", json!({"text": wf.to_string(), "keepId": true})).await.unwrap();
    let accounts: Vec<&str> =
        imported["review"]["accounts"].as_array().unwrap().iter().map(|a| a["account"].as_str().unwrap()).collect();
    assert_eq!(accounts, ["local", "second"]);
    let nodes = &imported["review"]["accounts"][1]["nodes"];
    assert_eq!(nodes, &json!(["Agents"]));
    // Until it is trusted, the imported orchestration does not run with them.
    let refused = call(&api, "run_wait", json!({"workflowId": "orch"})).await.unwrap_err();
    assert_eq!(refused.code, switchyard_model::error::ErrorCode::WorkflowUntrusted, "{}", refused.message);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_orchestrations_view_lists_each_nodes_last_runs_with_vote_tables_and_agent_figures() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    add_account(&api, &server, "second", "", "echo").await;
    // Saved: three agents voting; the third has its own account. Runs: a win, then a failure.
    server.script("flip", vec![Turn::text("billing"), Turn::text("question")]);
    let mut wf = orchestration(
        "local",
        json!({"agents": agents(&[("a", "say:billing"), ("b", "flip"), ("c", "say:bug")]),
            "prompt": "{{ json.text }}", "strategy": "consensus"}),
    );
    wf["nodes"][2]["credentials"]["agent:c"] = json!({"connection": LLM, "account": "second"});
    crate::calls::save(&api, wf).await;
    // A workflow without orchestrations is not listed.
    crate::calls::save(
        &api,
        json!({"switchyard": 1, "id": "plain", "name": "Plain", "nodes": [
        {"id": "t", "name": "Start", "type": "trigger.manual"}], "connections": []}),
    )
    .await;
    let first = call(&api, "run_wait", json!({"workflowId": "orch"})).await.unwrap();
    assert_eq!(first["status"], "success", "{first}");
    let second = call(&api, "run_wait", json!({"workflowId": "orch"})).await.unwrap();
    assert_eq!(second["status"], "error");
    assert_eq!(second["error"]["code"], "no_consensus", "{second}");
    api.flush_history().await.unwrap();

    let listed = call(&api, "orchestration_list", json!({})).await.unwrap();
    let nodes = listed["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{listed}");
    let node = &nodes[0];
    assert_eq!((node["workflowName"].as_str(), node["nodeName"].as_str()), (Some("Orchestration"), Some("Agents")));
    assert_eq!(node["strategy"], "consensus");
    let runs = node["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    // Newest first: the failed run keeps its vote table in the error's record.
    assert_eq!(runs[0]["executionId"], second["executionId"]);
    assert_eq!(runs[0]["status"], "error");
    assert_eq!(runs[0]["error"]["code"], "no_consensus");
    assert_eq!(runs[0]["records"][0]["groups"].as_array().unwrap().len(), 3);
    assert_eq!(runs[1]["status"], "success");
    assert_eq!(runs[1]["records"][0]["winner"], "a");
    assert_eq!(runs[1]["records"][0]["groups"][0]["agents"], json!(["a", "b"]));
    let figures: Vec<(String, Option<String>, u64, u64, u64)> = node["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["account"].as_str().map(str::to_string),
                a["asked"].as_u64().unwrap(),
                a["answered"].as_u64().unwrap(),
                a["won"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        figures,
        [
            ("a".to_string(), None, 2, 2, 1),
            ("b".to_string(), None, 2, 2, 0),
            ("c".to_string(), Some("second".to_string()), 2, 2, 0)
        ]
    );
    assert!(node["agents"][0]["tokensIn"].as_u64().unwrap() > 0);
    // Fewer runs when asked.
    let one = call(&api, "orchestration_list", json!({"runs": 1})).await.unwrap();
    assert_eq!(one["nodes"][0]["runs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_ticket_consensus_example_labels_each_ticket_by_the_majority_of_three_agents() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "scripted").await;
    let text = crate::example("ticket-consensus.json");
    let imported = call(&api, "workflow_import", json!({"text": text, "keepId": true})).await.unwrap();
    let id = "0193a1c0-0000-7000-8000-000000000030";
    call(&api, "workflow_trust", json!({"id": id, "version": imported["record"]["version"]})).await.unwrap();
    // Tickets go one after another, their three agents at once: per ticket, which agent gets
    // which answer varies, the answers do not.
    let answers =
        ["billing", "Billing.", "bug", "bug", "It is a bug", "question", "question", "feature request", "question"];
    server.script("scripted", answers.iter().map(|a| Turn::text(a)).collect());
    let result = call(&api, "run_wait", json!({"workflowId": id})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let labels: Vec<&str> =
        result["items"].as_array().unwrap().iter().map(|i| i["json"]["category"].as_str().unwrap()).collect();
    assert_eq!(labels.len(), 3);
    let votes: Vec<u64> = result["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["json"]["orchestration"]["groups"][0]["votes"].as_u64().unwrap())
        .collect();
    assert_eq!(votes, [2, 2, 2], "{result}");
    // The winner's own words are the answer; its vote is the label.
    let winners: Vec<String> = result["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let record = &i["json"]["orchestration"];
            let winner = record["winner"].as_str().unwrap();
            let agent = record["agents"].as_array().unwrap().iter().find(|a| a["agent"] == winner).unwrap();
            agent["vote"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(winners, ["billing", "bug", "question"]);
    let first = &server.requests()[0];
    assert_eq!(first["temperature"], 0.0);
    assert!(first["messages"][1]["content"].as_str().unwrap().starts_with("Ticket #101: I was charged twice"));
}

#[tokio::test]
async fn a_new_node_runs_with_its_default_agents_which_may_have_their_own_accounts() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "say:billing").await;
    add_account(&api, &server, "second", "", "say:bug").await;
    // As the palette adds it: no agents written, so the three default ones (first, second,
    // third) work; the second on its own account.
    let mut wf = orchestration("local", json!({"prompt": "{{ json.text }}"}));
    wf["nodes"][2]["credentials"]["agent:second"] = json!({"connection": LLM, "account": "second"});
    let checked = call(&api, "workflow_validate", json!({"workflow": wf})).await.unwrap();
    assert_eq!(checked["issues"], json!([]), "{checked}");
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    let record = &result["items"][0]["json"]["orchestration"];
    let accounts: Vec<&str> =
        record["agents"].as_array().unwrap().iter().map(|a| a["account"].as_str().unwrap()).collect();
    assert_eq!(accounts, ["llm.openaiCompatible/local", "llm.openaiCompatible/second", "llm.openaiCompatible/local"]);
    assert_eq!(result["items"][0]["json"]["answer"], "billing");
    assert_eq!(record["groups"][1]["agents"], json!(["second"]));
}
