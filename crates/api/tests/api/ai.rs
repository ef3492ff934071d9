//! AI Chat against the scripted model server (testkit's `LlmServer`, a real HTTP server
//! speaking OpenAI's API): accounts that list their models, answers streamed onto the canvas
//! as events, structured output validated here whatever the server did, and every failure
//! a model server can produce turned into an error with its class.

use crate::{RecordingHost, call, open};
use serde_json::{Value as Json, json};
use switchyard_api::types::ApiEvent;
use switchyard_model::error::ErrorCode;
use switchyard_model::events::RunEventKind;
use switchyard_testkit::llm::{LlmServer, Turn};

pub(crate) async fn unlock(api: &switchyard_api::Api) {
    call(api, "vault_unlock", json!({"password": "correct horse battery"})).await.unwrap();
}

/// Adds a chat model account on `server` labelled `label`, with `key` and default `model`.
pub(crate) async fn add_account(
    api: &switchyard_api::Api,
    server: &LlmServer,
    label: &str,
    key: &str,
    model: &str,
) -> String {
    let added = call(
        api,
        "account_add",
        json!({"connectionType": "llm.openaiCompatible", "label": label,
            "fields": {"baseUrl": server.base_url(), "apiKey": key, "model": model, "headers": "X-Title: Switchyard tests"}}),
    )
    .await
    .unwrap();
    added["id"].as_str().unwrap().to_string()
}

/// Manual Trigger → Set (a ticket) → AI Chat with `parameters` on account `label`.
fn chat_workflow(label: &str, parameters: Json) -> Json {
    json!({"switchyard": 1, "id": "ai", "name": "AI",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Ticket", "type": "data.set", "parameters": {"assignments": [
                {"name": "text", "value": "My invoice is wrong", "type": "string"}]}},
            {"id": "c", "name": "Classify", "type": "ai.chat", "parameters": parameters,
             "credentials": {"model": {"connection": "llm.openaiCompatible", "account": label}}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}, {"from": {"node": "s"}, "to": {"node": "c"}}]})
}

fn ticket_schema() -> Json {
    json!({"type": "object",
        "properties": {"category": {"type": "string", "enum": ["billing", "bug", "question"]},
                       "urgency": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["category", "urgency"], "additionalProperties": false})
}

pub(crate) async fn run(api: &switchyard_api::Api, wf: Json) -> Json {
    call(api, "run_wait", json!({"workflow": wf})).await.unwrap()
}

/// The run events of one execution the host saw.
pub(crate) fn events(host: &RecordingHost, execution: &str) -> Vec<RunEventKind> {
    host.0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ApiEvent::Run { event } if event.execution_id == execution => Some(event.kind.clone()),
            _ => None,
        })
        .collect()
}

/// The text the canvas would show for item `item` of node `node`: the streamed pieces since
/// the last fresh start.
fn streamed(events: &[RunEventKind], node: &str, item: u32) -> (String, usize) {
    let (mut text, mut starts) = (String::new(), 0);
    for e in events {
        if let RunEventKind::NodeStreamed { node_id, item_index, text: piece, fresh } = e
            && node_id == node
            && *item_index == item
        {
            if *fresh {
                text.clear();
                starts += 1;
            }
            text.push_str(piece);
        }
    }
    (text, starts)
}

#[tokio::test]
async fn a_model_account_lists_its_models_and_refuses_bad_fields() {
    let server = LlmServer::start(Some("sk-test"));
    let (_dir, api, _) = open();
    unlock(&api).await;
    let good = add_account(&api, &server, "local", "sk-test", "echo").await;
    let tested = call(&api, "account_test", json!({"id": good})).await.unwrap();
    assert_eq!(tested["ok"], true, "{tested}");
    let message = tested["message"].as_str().unwrap();
    assert!(message.contains("answered 200 OK: 10 models: busy-once, cut, drop, echo"), "{message}");
    assert!(!message.contains("sk-test"));
    let wrong = add_account(&api, &server, "wrong key", "sk-nope", "echo").await;
    let tested = call(&api, "account_test", json!({"id": wrong})).await.unwrap();
    assert_eq!(tested["ok"], false);
    assert!(tested["message"].as_str().unwrap().contains("401"), "{tested}");
    // The account may go to its server's host from the start, and nowhere else.
    let accounts = call(&api, "account_list", json!({})).await.unwrap();
    let local = accounts["accounts"].as_array().unwrap().iter().find(|a| a["id"] == good.as_str()).unwrap().clone();
    assert_eq!(local["allowedHosts"], json!([format!("127.0.0.1:{}", server.addr.port())]));

    let refused = call(
        &api,
        "account_add",
        json!({"connectionType": "llm.openaiCompatible", "label": "bad", "fields": {"baseUrl": "ollama:11434"}}),
    )
    .await
    .unwrap_err();
    assert!(
        refused.message.contains("\"Base URL\" (baseUrl) must be an http:// or https:// URL"),
        "{}",
        refused.message
    );
    let refused = call(
        &api,
        "account_add",
        json!({"connectionType": "llm.openaiCompatible", "label": "bad",
            "fields": {"baseUrl": server.base_url(), "headers": "X-Ok: 1\nno colon here"}}),
    )
    .await
    .unwrap_err();
    assert!(
        refused.message.contains("\"Extra headers\" (headers) line 2: expected Name: value"),
        "{}",
        refused.message
    );
    // The presets fill the form for the usual servers.
    let types = call(&api, "connection_types", json!({})).await.unwrap();
    let llm = types["connectionTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "llm.openaiCompatible")
        .unwrap()
        .clone();
    let presets: Vec<&str> = llm["presets"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(presets, ["OpenAI", "Ollama", "LM Studio", "llama.cpp server", "Groq", "OpenRouter", "Mistral"]);
    assert_eq!(llm["presets"][1]["fields"]["baseUrl"], "http://127.0.0.1:11434/v1");
}

#[tokio::test]
async fn ai_chat_streams_its_answer_and_merges_the_structured_output_into_the_item() {
    let server = LlmServer::start(Some("sk-test"));
    let (_dir, api, host) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "sk-test", "echo").await;
    let wf = chat_workflow(
        "local",
        json!({"model": "schema", "systemPrompt": "You sort support tickets.", "prompt": "Sort: {{ json.text }}",
            "output": "schema", "schema": ticket_schema(), "temperature": 0, "seed": 7, "maxTokens": 64,
            "stop": "###", "details": true}),
    );
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    let item = &result["items"][0]["json"];
    assert_eq!(item["text"], "My invoice is wrong", "the item keeps its fields");
    assert_eq!(item["category"], "billing", "the answer's fields are merged in");
    assert_eq!(item["urgency"], 1);
    assert_eq!(item["chat"]["model"], "schema");
    assert_eq!(item["chat"]["finishReason"], "stop");
    assert!(item["chat"]["tokensIn"].as_u64().unwrap() > 0);

    // What went to the server: the key and extra header, the schema as response_format
    // (strict: every object closed and fully required), streaming with usage.
    let sent = &server.requests()[0];
    assert_eq!(sent["model"], "schema");
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
    assert_eq!(sent["response_format"]["type"], "json_schema");
    assert_eq!(sent["response_format"]["json_schema"]["strict"], true);
    assert_eq!(sent["response_format"]["json_schema"]["schema"], ticket_schema());
    assert_eq!(sent["messages"][0], json!({"role": "system", "content": "You sort support tickets."}));
    assert_eq!(sent["messages"][1], json!({"role": "user", "content": "Sort: My invoice is wrong"}));
    assert_eq!(
        (sent["temperature"].clone(), sent["seed"].clone(), sent["max_tokens"].clone()),
        (json!(0.0), json!(7), json!(64))
    );
    assert_eq!(sent["stop"], json!(["###"]));

    // The canvas saw the answer come in, and what the call used.
    let execution = result["executionId"].as_str().unwrap();
    let events = events(&host, execution);
    let (text, starts) = streamed(&events, "c", 0);
    assert_eq!(text, r#"{"category":"billing","urgency":1}"#);
    assert_eq!(starts, 1);
    let usage = events.iter().find_map(|e| match e {
        RunEventKind::ModelUsage { model, account, tokens_in, tokens_out, .. } => {
            Some((model.clone(), account.clone(), *tokens_in, *tokens_out))
        }
        _ => None,
    });
    let (model, account, tokens_in, tokens_out) = usage.expect("a model usage event");
    assert_eq!((model.as_str(), account.as_str()), ("schema", "llm.openaiCompatible/local"));
    // 25 + 25 characters of prompt, 34 of answer: 4 characters a token, rounded up.
    assert_eq!((tokens_in, tokens_out), (13, 9));
}

#[tokio::test]
async fn text_answers_use_the_accounts_default_model_and_earlier_messages() {
    let server = LlmServer::start(None);
    let (_dir, api, host) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    let wf = chat_workflow(
        "local",
        json!({"prompt": "Hello {{ json.text }}", "answerField": "reply", "stream": false, "messages": [
            {"role": "user", "content": "Earlier question"}, {"role": "assistant", "content": "Earlier answer"}]}),
    );
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["items"][0]["json"]["reply"], "Hello My invoice is wrong");
    let sent = &server.requests()[0];
    assert_eq!(sent["model"], "echo");
    assert_eq!(sent["stream"], false);
    let roles: Vec<&str> = sent["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    // Not streamed, the canvas still gets the whole answer.
    let events = events(&host, result["executionId"].as_str().unwrap());
    assert_eq!(streamed(&events, "c", 0).0, "Hello My invoice is wrong");

    // No model anywhere: the error names the parameter and the account.
    add_account(&api, &server, "bare", "", "").await;
    let result = run(&api, chat_workflow("bare", json!({"prompt": "hi"}))).await;
    assert_eq!(result["status"], "error");
    assert_eq!(result["error"]["parameter"], "model", "{result}");
    assert!(result["error"]["message"].as_str().unwrap().contains("account \"llm.openaiCompatible/bare\""));
}

#[tokio::test]
async fn an_answer_that_breaks_the_schema_is_invalid_output_and_a_retry_can_fix_it() {
    let server = LlmServer::start(None);
    let (_dir, api, host) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    let params =
        json!({"model": "scripted", "prompt": "{{ json.text }}", "output": "schema", "schema": ticket_schema()});
    server.script("scripted", vec![Turn::text(r#"{"category": "sales", "urgency": 2}"#)]);
    let result = run(&api, chat_workflow("local", params.clone())).await;
    assert_eq!(result["status"], "error");
    let error = &result["error"];
    assert_eq!((error["code"].as_str(), error["class"].as_str()), (Some("invalid_output"), Some("invalid_output")));
    assert_eq!(
        error["message"],
        "model \"scripted\" answered in the wrong shape: the answer does not match the schema: $.category: expected \
         one of \"billing\", \"bug\", \"question\", got \"sales\""
    );
    assert_eq!(error["details"]["answer"], r#"{"category": "sales", "urgency": 2}"#);
    // The built-in malformed model: not JSON at all.
    let mut wf = chat_workflow("local", params.clone());
    wf["nodes"][2]["parameters"]["model"] = json!("malformed");
    let result = run(&api, wf).await;
    assert_eq!(result["error"]["code"], "invalid_output");
    assert!(result["error"]["message"].as_str().unwrap().contains("the answer is not JSON"), "{result}");

    // A retry policy that names invalid_output asks again, and the second answer fits.
    server.script(
        "scripted",
        vec![Turn::text("Sure! Here it is"), Turn::text("```json\n{\"category\": \"bug\", \"urgency\": 4}\n```")],
    );
    let mut wf = chat_workflow("local", params);
    wf["nodes"][2]["settings"] =
        json!({"retry": {"maxTries": 2, "initialDelayMs": 10, "jitter": "none", "retryOn": ["invalid_output"]}});
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["items"][0]["json"]["category"], "bug");
    let events = events(&host, result["executionId"].as_str().unwrap());
    let (text, starts) = streamed(&events, "c", 0);
    assert_eq!(starts, 2, "the retry starts the streamed answer over");
    assert!(text.contains("\"bug\""), "{text}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RunEventKind::NodeRetrying { error, .. } if error.code == ErrorCode::InvalidOutput))
    );
}

#[tokio::test]
async fn a_stream_that_breaks_off_is_an_error_never_a_shorter_answer() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    // Ends cleanly but without its end marker, and a connection that breaks mid-answer.
    for model in ["cut", "drop"] {
        let result = run(&api, chat_workflow("local", json!({"model": model, "prompt": "hi"}))).await;
        assert_eq!(result["status"], "error", "{model}: {result}");
        let error = &result["error"];
        assert_eq!((error["code"].as_str(), error["class"].as_str()), (Some("stream_cut"), Some("network")), "{model}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("model server 127.0.0.1:{} broke off after", server.addr.port())),
            "{message}"
        );
        assert!(message.contains("the partial answer is not used"), "{message}");
    }
    // A server that reports a failure in the middle of its stream: its words, not a cut.
    server.script("scripted", vec![Turn::StreamError("Half an ans".into(), "upstream provider timed out".into())]);
    let result = run(&api, chat_workflow("local", json!({"model": "scripted", "prompt": "hi"}))).await;
    let error = &result["error"];
    assert_eq!((error["code"].as_str(), error["class"].as_str()), (Some("http_request_failed"), Some("transient")));
    assert!(
        error["message"].as_str().unwrap().ends_with("failed while answering: upstream provider timed out"),
        "{result}"
    );
}

#[tokio::test]
async fn rate_limits_wait_as_asked_and_context_overflows_are_not_retried() {
    let server = LlmServer::start(None);
    let (_dir, api, host) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    let retry = json!({"retry": {"maxTries": 3, "initialDelayMs": 10, "jitter": "none"}});
    let mut wf = chat_workflow("local", json!({"model": "busy-once", "prompt": "{{ json.text }}"}));
    wf["nodes"][2]["settings"] = retry.clone();
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["items"][0]["json"]["answer"], "My invoice is wrong");
    let waited = events(&host, result["executionId"].as_str().unwrap()).into_iter().find_map(|e| match e {
        RunEventKind::NodeRetrying { delay_ms, error, .. } => Some((delay_ms, error)),
        _ => None,
    });
    let (delay_ms, error) = waited.expect("a retry");
    assert_eq!(delay_ms, 1000, "the server's Retry-After");
    assert_eq!(error.class, switchyard_model::error::ErrorClass::RateLimit);
    assert!(
        error.message.contains("answered 429 Too Many Requests for model \"busy-once\": Rate limit reached"),
        "{}",
        error.message
    );

    let before = server.requests().len();
    let mut wf = chat_workflow("local", json!({"model": "overflow", "prompt": "{{ json.text }}"}));
    wf["nodes"][2]["settings"] = retry;
    let result = run(&api, wf).await;
    assert_eq!(result["error"]["code"], "context_too_long", "{result}");
    assert_eq!(result["error"]["class"], "permanent");
    let message = result["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("the prompt does not fit the context window of model \"overflow\""), "{message}");
    assert!(message.contains("maximum context length is 16 tokens"), "{message}");
    assert_eq!(server.requests().len(), before + 1, "a permanent error is not retried");
}

#[tokio::test]
async fn a_server_without_response_format_gets_the_schema_in_the_system_message() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]});
    let wf = chat_workflow(
        "local",
        json!({"model": "no-format", "systemPrompt": "Be brief.", "prompt": "hi", "output": "schema", "schema": schema,
            "fieldsUnder": "result"}),
    );
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    assert_eq!(result["items"][0]["json"]["result"], json!({"answer": "ok"}));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["response_format"]["json_schema"]["strict"], false, "not every object is closed");
    assert!(requests[1].get("response_format").is_none());
    let system = requests[1]["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with("Be brief.\n\nAnswer with one JSON value only, valid for this JSON schema: {"),
        "{system}"
    );
}

#[tokio::test]
async fn a_bad_output_schema_is_named_when_the_workflow_is_checked() {
    let (_dir, api, _) = open();
    let wf = chat_workflow(
        "local",
        json!({"prompt": "hi", "output": "schema", "schema": {"type": "object", "properties": {"a": {"type": "strin"}}}}),
    );
    let checked = call(&api, "workflow_validate", json!({"workflow": wf})).await.unwrap();
    let issue = checked["issues"].as_array().unwrap().iter().find(|i| i["path"] == "$.nodes[2].parameters.schema");
    let issue = issue.unwrap_or_else(|| panic!("{checked}"));
    assert!(issue["message"].as_str().unwrap().contains("properties.a.type: unknown type \"strin\""), "{issue}");
}

/// Manual Trigger → Set (`fields`) → AI Agent with `parameters` on account `label`.
fn agent_workflow(label: &str, fields: Json, parameters: Json) -> Json {
    let assignments: Vec<Json> = fields
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v.as_str().unwrap(), "type": "string"}))
        .collect();
    json!({"switchyard": 1, "id": "agent", "name": "Agent",
        "nodes": [
            {"id": "t", "name": "Start", "type": "trigger.manual"},
            {"id": "s", "name": "Question", "type": "data.set", "parameters": {"assignments": assignments}},
            {"id": "a", "name": "Support agent", "type": "ai.agent", "parameters": parameters,
             "credentials": {"model": {"connection": "llm.openaiCompatible", "account": label}}}
        ],
        "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}, {"from": {"node": "s"}, "to": {"node": "a"}}]})
}

/// A saved workflow an agent can call: "Look up order" takes a required text `orderId` and
/// answers `{orderId, status: "shipped"}`.
async fn save_lookup(api: &switchyard_api::Api) {
    crate::calls::save(
        api,
        json!({"switchyard": 1, "id": "lookup-order", "name": "Look up order", "description": "Finds an order's status by its id.",
            "nodes": [
                {"id": "t", "name": "Called", "type": "trigger.workflow",
                 "parameters": {"inputs": [{"name": "orderId", "type": "string", "required": true}]}},
                {"id": "s", "name": "Status", "type": "data.set", "parameters": {"assignments": [
                    {"name": "status", "value": "shipped", "type": "string"}]}}
            ],
            "connections": [{"from": {"node": "t"}, "to": {"node": "s"}}]}),
    )
    .await;
}

fn transcript_roles(item: &Json) -> Vec<String> {
    item["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| match e["tool"].as_str() {
            Some(tool) => {
                format!("{}:{tool}{}", e["role"].as_str().unwrap(), if e["error"] == true { "!" } else { "" })
            }
            None => e["role"].as_str().unwrap().to_string(),
        })
        .collect()
}

#[tokio::test]
async fn an_agent_calls_a_workflow_tool_whose_inputs_are_its_arguments() {
    let server = LlmServer::start(None);
    let (_dir, api, host) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "scripted").await;
    save_lookup(&api).await;
    server.script(
        "scripted",
        vec![
            // A number where the workflow wants text: the model is told, and tries again.
            Turn::tool("look_up_order", json!({"orderId": 42})),
            Turn::tool("look_up_order", json!({"orderId": "A-42"})),
            Turn::text("Order A-42 has shipped."),
        ],
    );
    let wf = agent_workflow(
        "local",
        json!({"question": "Where is my order A-42?"}),
        json!({"systemPrompt": "You answer questions about orders.", "prompt": "{{ json.question }}",
            "tools": [{"type": "workflow", "workflowId": "lookup-order"}]}),
    );
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    let item = &result["items"][0]["json"];
    assert_eq!(item["answer"], "Order A-42 has shipped.");
    assert_eq!(
        transcript_roles(item),
        [
            "user",
            "call:look_up_order",
            "result:look_up_order!",
            "call:look_up_order",
            "result:look_up_order",
            "assistant"
        ]
    );
    assert_eq!(item["transcript"][1]["arguments"], r#"{"orderId":42}"#, "arguments streamed in pieces, put together");

    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    // The tool as the model saw it: named after the workflow, its inputs as the schema.
    let tool = &requests[0]["tools"][0]["function"];
    assert_eq!(tool["name"], "look_up_order");
    assert_eq!(tool["description"], "Finds an order's status by its id.");
    assert_eq!(
        tool["parameters"],
        json!({"type": "object", "properties": {"orderId": {"type": "string"}}, "required": ["orderId"]})
    );
    // Each result went back as a tool message answering its call.
    let messages = requests[1]["messages"].as_array().unwrap();
    let call_id = messages[2]["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], call_id);
    let refused = messages[3]["content"].as_str().unwrap();
    assert!(refused.contains("invalid arguments: input field \\\"orderId\\\" must be of type string"), "{refused}");
    let answered = requests[2]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
    assert_eq!(serde_json::from_str::<Json>(&answered).unwrap(), json!({"orderId": "A-42", "status": "shipped"}));

    // The canvas saw each step as it happened.
    let steps: Vec<(u32, String)> = events(&host, result["executionId"].as_str().unwrap())
        .into_iter()
        .filter_map(|e| match e {
            RunEventKind::AgentStep { step, entry, .. } => Some((step, format!("{:?}", entry.role).to_lowercase())),
            _ => None,
        })
        .collect();
    let expected: Vec<(u32, String)> =
        [(0, "user"), (1, "call"), (1, "result"), (2, "call"), (2, "result"), (3, "assistant")]
            .iter()
            .map(|(s, r)| (*s, r.to_string()))
            .collect();
    assert_eq!(steps, expected);
    // The tool's run is in the history, called by the agent's run.
    api.flush_history().await.unwrap();
    let runs = call(&api, "execution_list", json!({"workflowId": "lookup-order"})).await.unwrap();
    let called = runs["executions"].as_array().unwrap();
    assert_eq!(called.len(), 1, "{runs}");
    assert_eq!(called[0]["calledBy"]["executionId"], result["executionId"]);
}

#[tokio::test]
async fn http_tools_fill_their_url_from_the_arguments_and_step_limits_stop_endless_calls() {
    let server = LlmServer::start(None);
    let api_server = switchyard_testkit::TestServer::start().await;
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "scripted").await;
    let weather = json!({"type": "http", "name": "weather", "description": "The weather in a city.",
        "method": "GET", "url": format!("{}/echo?city={{{{ json.city }}}}", api_server.base_url()),
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}});
    server.script(
        "scripted",
        vec![
            Turn::tool("weather", json!({"town": "Köln"})),
            Turn::tool("weather", json!({"city": "Köln"})),
            Turn::text("Sunny."),
        ],
    );
    let wf = agent_workflow(
        "local",
        json!({"question": "Weather?"}),
        json!({"prompt": "{{ json.question }}", "tools": [weather.clone()]}),
    );
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "success", "{result}");
    let requests = server.requests();
    let second = requests[1]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
    assert!(second.contains("invalid arguments: $: the field \\\"city\\\" is missing"), "{second}");
    let third = requests[2]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
    let echoed: Json = serde_json::from_str(&third).unwrap();
    assert_eq!(echoed["query"]["city"], "Köln", "{third}");

    // A model that never stops calling tools: the agent gives up at its step limit.
    let wf = agent_workflow(
        "local",
        json!({"question": "Weather?"}),
        json!({"model": "tools-forever", "prompt": "{{ json.question }}", "tools": [weather], "maxSteps": 3}),
    );
    let before = server.requests().len();
    let result = run(&api, wf).await;
    assert_eq!(result["status"], "error");
    assert_eq!(result["error"]["code"], "step_limit", "{result}");
    assert_eq!(
        result["error"]["message"],
        "the agent did not answer within 3 steps; it kept calling tools (weather ×3)"
    );
    assert_eq!(server.requests().len(), before + 3);
    assert_eq!(result["error"]["details"]["transcript"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn a_conversation_key_keeps_the_conversation_between_runs_within_the_token_budget() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    let params = json!({"systemPrompt": "Be brief.", "prompt": "{{ json.question }}", "sessionKey": "{{ json.chat }}",
        "memoryWindow": 2, "transcript": false});
    for question in ["first question", "second question", "third question"] {
        let wf = agent_workflow("local", json!({"chat": "c-1", "question": question}), params.clone());
        let result = run(&api, wf).await;
        assert_eq!(result["status"], "success", "{result}");
        assert_eq!(result["items"][0]["json"]["answer"], question);
        assert!(result["items"][0]["json"].get("transcript").is_none());
    }
    // Another conversation starts empty.
    let wf = agent_workflow("local", json!({"chat": "c-2", "question": "hello"}), params.clone());
    run(&api, wf).await;
    let contents = |request: &Json| -> Vec<String> {
        request["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| format!("{}: {}", m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
            .collect()
    };
    let requests = server.requests();
    assert_eq!(contents(&requests[0]), ["system: Be brief.", "user: first question"]);
    assert_eq!(
        contents(&requests[2]),
        ["system: Be brief.", "user: second question", "assistant: second question", "user: third question"],
        "the last two messages of the conversation"
    );
    assert_eq!(contents(&requests[3]), ["system: Be brief.", "user: hello"]);

    let mut over = params;
    over["tokenBudget"] = json!(3);
    let wf = agent_workflow("local", json!({"chat": "c-3", "question": "a question that costs tokens"}), over);
    let result = run(&api, wf).await;
    assert_eq!(result["error"]["code"], "token_budget", "{result}");
    assert!(result["error"]["message"].as_str().unwrap().contains("more than its budget of 3"), "{result}");
}

#[tokio::test]
async fn tokens_reach_the_dashboard_and_prometheus_with_the_cost_from_the_price_table() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    add_account(&api, &server, "local", "", "echo").await;
    let mut settings = call(&api, "settings_get", json!({})).await.unwrap();
    assert!(settings["modelPrices"].as_array().unwrap().iter().any(|p| p["model"] == "gpt-4o-mini*"), "{settings}");
    settings["modelPrices"] = json!([{"model": "ec*", "inputPerMillion": 1000000.0, "outputPerMillion": 2000000.0}]);
    call(&api, "settings_update", settings.clone()).await.unwrap();
    // "Hello Ada" twice: 9 characters in (3 tokens) and 9 out (3 tokens) each time.
    for _ in 0..2 {
        let mut wf = chat_workflow("local", json!({"prompt": "Hello Ada"}));
        wf["id"] = json!("tokens");
        assert_eq!(run(&api, wf).await["status"], "success");
    }
    let dashboard = call(&api, "metrics_dashboard", json!({"range": "live"})).await.unwrap();
    assert_eq!(
        dashboard["models"],
        json!([{"model": "echo", "account": "llm.openaiCompatible/local", "calls": 2, "tokensIn": 6, "tokensOut": 6, "costUsd": 18.0}])
    );
    let row = dashboard["workflows"].as_array().unwrap().iter().find(|w| w["workflowId"] == "tokens").unwrap().clone();
    assert_eq!(
        (row["tokensIn"].clone(), row["tokensOut"].clone(), row["costUsd"].clone()),
        (json!(6), json!(6), json!(18.0))
    );
    let nodes = call(&api, "metrics_nodes", json!({"workflowId": "tokens", "range": "1h"})).await.unwrap();
    let chat = nodes["nodes"].as_array().unwrap().iter().find(|n| n["node"] == "Classify").unwrap().clone();
    assert_eq!((chat["tokensIn"].clone(), chat["tokensOut"].clone()), (json!(6), json!(6)));

    let text = call(&api, "metrics_text", json!({})).await.unwrap()["text"].as_str().unwrap().to_string();
    let labels = r#"workflow="AI",node="Classify",model="echo",account="llm.openaiCompatible/local""#;
    for line in [
        format!("switchyard_model_calls_total{{{labels}}} 2"),
        format!("switchyard_model_tokens_total{{{labels},direction=\"in\"}} 6"),
        format!("switchyard_model_tokens_total{{{labels},direction=\"out\"}} 6"),
        format!("switchyard_model_cost_dollars_total{{{labels}}} 18.0"),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
    // A price needs a model and amounts of 0 or more.
    settings["modelPrices"] = json!([{"model": " ", "inputPerMillion": 1.0, "outputPerMillion": 1.0}]);
    let refused = call(&api, "settings_update", settings).await.unwrap_err();
    assert!(refused.message.starts_with("modelPrices[0]"), "{}", refused.message);
}

#[tokio::test]
async fn the_order_assistant_example_answers_with_its_lookup_workflow() {
    let server = LlmServer::start(None);
    let (_dir, api, _) = open();
    unlock(&api).await;
    // The example names no account: the type's default (the first one added) answers.
    add_account(&api, &server, "local", "", "scripted").await;
    let text = crate::example("order-assistant.bundle.json");
    call(&api, "workflow_import", json!({"text": text, "keepId": true})).await.unwrap();
    let (assistant, lookup) = ("0193a1c0-0000-7000-8000-000000000020", "0193a1c0-0000-7000-8000-000000000021");
    for id in [assistant, lookup] {
        let record = call(&api, "workflow_get", json!({"id": id})).await.unwrap();
        call(&api, "workflow_trust", json!({"id": id, "version": record["version"]})).await.unwrap();
    }
    server.script(
        "scripted",
        vec![
            Turn::tool("look_up_order", json!({"orderId": "a-1002"})),
            Turn::text("Your order A-1002 is on its way with UPS and should arrive on December 5."),
        ],
    );
    let result = call(&api, "run_wait", json!({"workflowId": assistant})).await.unwrap();
    assert_eq!(result["status"], "success", "{result}");
    let item = &result["items"][0]["json"];
    assert_eq!(item["answer"], "Your order A-1002 is on its way with UPS and should arrive on December 5.");
    assert_eq!(item["question"], "Where is my order A-1002? It should have arrived by now.");
    let requests = server.requests();
    assert_eq!(requests[0]["model"], "scripted", "the account's default model");
    assert_eq!(requests[0]["tools"][0]["function"]["name"], "look_up_order");
    let looked_up =
        requests[1]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
    assert_eq!(
        serde_json::from_str::<Json>(&looked_up).unwrap(),
        json!({"status": "in transit", "carrier": "UPS", "expected": "2026-12-05", "orderId": "A-1002"})
    );
}
