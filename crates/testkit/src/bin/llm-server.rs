//! The scripted chat model server (`switchyard_testkit::llm`) as a program, for tests that
//! drive another process (the app's window): prints its port, serves until stdin closes.
//! `--key KEY` makes it require `Authorization: Bearer KEY`.

use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let key = args.iter().position(|a| a == "--key").and_then(|i| args.get(i + 1)).cloned();
    let server = switchyard_testkit::llm::LlmServer::start(key.as_deref());
    println!("{}", server.addr.port());
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(server);
}
