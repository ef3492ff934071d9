//! Engine tests: real workflow files run against a real HTTP server on 127.0.0.1.

mod archives;
mod batch;
mod binary;
mod breakpoints;
mod convert;
mod examples;
mod expressions;
mod files;
mod flow;
mod http;
mod lifecycle;
mod ownership;
mod parallel;
mod resilience;
mod shell;
mod subflows;
mod support;
mod utility;
mod validation;
mod webhooks;
