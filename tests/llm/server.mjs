// An OpenAI-compatible server over node-llama-cpp (prebuilt llama.cpp), for the AI nodes'
// tests with real inference: one GGUF model; GET /v1/models and POST /v1/chat/completions,
// answered whole or streamed as server-sent events with usage. A `response_format` JSON
// schema becomes a llama.cpp grammar, so answers are valid JSON for it whatever the model's
// weights. The messages are laid out as `<|role|>\ncontent\n` turns and completed as text
// (no chat wrapper: its stop strings would cut grammar-bound answers short).
//
//   node server.mjs MODEL.gguf [NAME]
//
// Prints its port once the model is loaded; serves one answer at a time until its standard
// input closes.
import http from "node:http";
import { getLlama, LlamaCompletion } from "node-llama-cpp";

const modelPath = process.argv[2];
const name = process.argv[3] ?? "tiny";
// One thread: threads waiting on each other cost far more than they give on a small model.
const llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
const model = await llama.loadModel({ modelPath });
let queue = Promise.resolve();

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function promptOf(messages) {
  let text = "";
  for (const m of messages) {
    const content = typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? "");
    text += `<|${m.role}|>\n${content}\n`;
  }
  return `${text}<|assistant|>\n`;
}

async function complete(request, onText) {
  const context = await model.createContext({ contextSize: 512, threads: 1 });
  try {
    const prompt = promptOf(request.messages ?? []);
    const promptTokens = model.tokenize(prompt).length;
    const maxTokens = Math.min(request.max_tokens ?? 128, 512 - promptTokens - 1);
    if (maxTokens < 1) {
      const error = new Error(`This model's maximum context length is 512 tokens, however you requested ${promptTokens} tokens`);
      error.status = 400;
      error.code = "context_length_exceeded";
      throw error;
    }
    const format = request.response_format;
    const grammar =
      format?.type === "json_schema" ? await llama.createGrammarForJsonSchema(format.json_schema.schema)
      : format?.type === "json_object" ? await llama.getGrammarFor("json")
      : undefined;
    const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
    const { response, metadata } = await completion.generateCompletionWithMeta(prompt, {
      grammar,
      maxTokens,
      temperature: request.temperature ?? 0.8,
      seed: request.seed ?? 1,
      onTextChunk: onText,
    });
    const finish = metadata.stopReason === "maxTokens" ? "length" : "stop";
    return { text: response, finish, usage: { prompt_tokens: promptTokens, completion_tokens: model.tokenize(response).length } };
  } finally {
    await context.dispose();
  }
}

const server = http.createServer(async (req, res) => {
  if (req.method === "GET" && req.url === "/v1/models") return send(res, 200, { object: "list", data: [{ id: name, object: "model" }] });
  if (req.method !== "POST" || req.url !== "/v1/chat/completions") return send(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
  let body = "";
  for await (const chunk of req) body += chunk;
  let request;
  try {
    request = JSON.parse(body);
  } catch {
    return send(res, 400, { error: { message: "the body is not JSON" } });
  }
  if (request.model !== name) return send(res, 404, { error: { message: `model "${request.model}" not found` } });
  const id = `chatcmpl-${Date.now()}`;
  const chunk = (delta, finish) => ({ id, object: "chat.completion.chunk", model: name, choices: [{ index: 0, delta, finish_reason: finish }] });
  // One answer at a time: each has its own context.
  const run = queue.then(async () => {
    if (!request.stream) {
      const { text, finish, usage } = await complete(request, () => {});
      return send(res, 200, { id, object: "chat.completion", model: name, choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: finish }], usage });
    }
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(`data: ${JSON.stringify(chunk({ role: "assistant", content: "" }, null))}\n\n`);
    };
    const { finish, usage } = await complete(request, (text) => {
      start();
      res.write(`data: ${JSON.stringify(chunk({ content: text }, null))}\n\n`);
    });
    start();
    res.write(`data: ${JSON.stringify(chunk({}, finish))}\n\n`);
    if (request.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", model: name, choices: [], usage })}\n\n`);
    res.end("data: [DONE]\n\n");
  });
  queue = run.catch((e) => {
    if (!res.headersSent) send(res, e.status ?? 500, { error: { message: String(e.message ?? e), code: e.code } });
    else res.end();
  });
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
