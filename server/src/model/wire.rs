//! The three wire formats: request bodies, answers, and streamed answers.
//!
//! - OpenAI Chat Completions (`POST {base_url}/chat/completions`): `messages` with `tool_calls` and
//!   `role: tool` results, `tools` of `type: function`; streaming is SSE `data:` chunks whose
//!   `choices[0].delta` carries `content` and `tool_calls` pieces by `index`, ended by `data: [DONE]`.
//! - Anthropic Messages (`POST {base_url}/v1/messages`): top-level `system`, content blocks `text`,
//!   `tool_use` and `tool_result`; streaming is SSE events `message_start`, `content_block_start`,
//!   `content_block_delta` (`text_delta`, `input_json_delta`), `content_block_stop`, `message_delta`,
//!   `message_stop`.
//! - Ollama (`POST {base_url}/api/chat`): `messages` with `tool_calls` whose arguments are objects,
//!   `role: tool` results with `tool_name`; streaming is NDJSON, one object a line, the last with
//!   `done: true`.
//!
//! Every text placed in a request goes through [`crate::scrub::scrub`] here, the one place bodies
//! are built.

use serde_json::{Map, Value, json};

use crate::config::ModelProvider;
use crate::scrub::scrub;

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON Schema of the arguments.
    pub parameters: Value,
}

/// A tool call the model made.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them.
    pub raw_arguments: String,
}

impl ToolCall {
    /// The arguments as a JSON object, or why they are not one.
    pub fn arguments(&self) -> Result<Map<String, Value>, String> {
        let text = if self.raw_arguments.trim().is_empty() { "{}" } else { self.raw_arguments.as_str() };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("the arguments must be a JSON object".to_owned()),
            Err(e) => Err(format!("the arguments are not valid JSON ({e})")),
        }
    }
}

/// The answer to one tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub id: String,
    pub name: String,
    pub content: String,
    pub is_error: bool,
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    User(String),
    Assistant { text: String, tool_calls: Vec<ToolCall> },
    ToolResults(Vec<ToolResult>),
}

/// What is sent.
pub struct ChatRequest<'a> {
    pub model: &'a str,
    pub system: &'a str,
    pub turns: &'a [Turn],
    pub tools: &'a [ToolSpec],
    pub temperature: Option<f32>,
    pub max_tokens: u32,
    pub stream: bool,
}

/// What came back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatAnswer {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// `stop`, `end_turn`, `tool_calls`, `tool_use`, `length`, ...
    pub stop_reason: Option<String>,
}

fn clean(text: &str) -> String {
    scrub(text).into_owned()
}

/// The JSON body of a request.
pub fn request_body(provider: ModelProvider, request: &ChatRequest<'_>) -> Value {
    match provider {
        ModelProvider::OpenAi => openai_body(request),
        ModelProvider::Anthropic => anthropic_body(request),
        ModelProvider::Ollama => ollama_body(request),
    }
}

fn function_tools(tools: &[ToolSpec]) -> Vec<Value> {
    tools
        .iter()
        .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
        .collect()
}

/// Arguments as an object for the formats that carry objects (a malformed call becomes `{}`).
fn arguments_object(call: &ToolCall) -> Value {
    match call.arguments() {
        Ok(map) => Value::Object(map.into_iter().map(|(k, v)| (k, scrub_value(v))).collect()),
        Err(_) => json!({}),
    }
}

fn scrub_value(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(clean(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub_value).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, scrub_value(v))).collect()),
        other => other,
    }
}

fn openai_body(request: &ChatRequest<'_>) -> Value {
    let mut messages = vec![json!({"role": "system", "content": clean(request.system)})];
    for turn in request.turns {
        match turn {
            Turn::User(text) => messages.push(json!({"role": "user", "content": clean(text)})),
            Turn::Assistant { text, tool_calls } => {
                let mut message = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { Value::String(clean(text)) }});
                if !tool_calls.is_empty() {
                    message["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": clean(&c.raw_arguments)}}))
                        .collect();
                }
                messages.push(message);
            }
            Turn::ToolResults(results) => {
                for result in results {
                    messages
                        .push(json!({"role": "tool", "tool_call_id": result.id, "content": clean(&result.content)}));
                }
            }
        }
    }
    let mut body = json!({"model": request.model, "messages": messages});
    if !request.tools.is_empty() {
        body["tools"] = Value::Array(function_tools(request.tools));
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if request.stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

fn anthropic_body(request: &ChatRequest<'_>) -> Value {
    let mut messages: Vec<Value> = Vec::new();
    let mut push = |role: &str, blocks: Vec<Value>| {
        if blocks.is_empty() {
            return;
        }
        // Consecutive turns of one role are one message.
        if let Some(last) = messages.last_mut()
            && last["role"] == role
            && let Some(content) = last["content"].as_array_mut()
        {
            content.extend(blocks);
            return;
        }
        messages.push(json!({"role": role, "content": blocks}));
    };
    for turn in request.turns {
        match turn {
            Turn::User(text) => push("user", vec![json!({"type": "text", "text": clean(text)})]),
            Turn::Assistant { text, tool_calls } => {
                let mut blocks = Vec::new();
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": clean(text)}));
                }
                for call in tool_calls {
                    blocks.push(json!({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments_object(call)}));
                }
                push("assistant", blocks);
            }
            Turn::ToolResults(results) => push(
                "user",
                results
                    .iter()
                    .map(|r| json!({"type": "tool_result", "tool_use_id": r.id, "content": clean(&r.content), "is_error": r.is_error}))
                    .collect(),
            ),
        }
    }
    let mut body = json!({"model": request.model, "max_tokens": request.max_tokens, "system": clean(request.system), "messages": messages});
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if request.stream {
        body["stream"] = json!(true);
    }
    body
}

fn ollama_body(request: &ChatRequest<'_>) -> Value {
    let mut messages = vec![json!({"role": "system", "content": clean(request.system)})];
    for turn in request.turns {
        match turn {
            Turn::User(text) => messages.push(json!({"role": "user", "content": clean(text)})),
            Turn::Assistant { text, tool_calls } => {
                let mut message = json!({"role": "assistant", "content": clean(text)});
                if !tool_calls.is_empty() {
                    message["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| json!({"function": {"name": c.name, "arguments": arguments_object(c)}}))
                        .collect();
                }
                messages.push(message);
            }
            Turn::ToolResults(results) => {
                for result in results {
                    messages.push(json!({"role": "tool", "tool_name": result.name, "content": clean(&result.content)}));
                }
            }
        }
    }
    let mut body = json!({"model": request.model, "messages": messages, "stream": request.stream});
    if !request.tools.is_empty() {
        body["tools"] = Value::Array(function_tools(request.tools));
    }
    let mut options = json!({"num_predict": request.max_tokens});
    if let Some(temperature) = request.temperature {
        options["temperature"] = json!(temperature);
    }
    body["options"] = options;
    body
}

// ---------------------------------------------------------------- answers

/// Reads a whole (not streamed) answer.
pub fn parse_answer(provider: ModelProvider, body: &Value) -> Result<ChatAnswer, String> {
    match provider {
        ModelProvider::OpenAi => {
            let choice = body["choices"].get(0).ok_or("the answer has no `choices`")?;
            let message = &choice["message"];
            let mut answer = ChatAnswer {
                text: message["content"].as_str().unwrap_or_default().to_owned(),
                input_tokens: body["usage"]["prompt_tokens"].as_u64(),
                output_tokens: body["usage"]["completion_tokens"].as_u64(),
                stop_reason: choice["finish_reason"].as_str().map(str::to_owned),
                ..ChatAnswer::default()
            };
            for (i, call) in message["tool_calls"].as_array().into_iter().flatten().enumerate() {
                answer.tool_calls.push(ToolCall {
                    id: call["id"].as_str().map_or_else(|| format!("call_{i}"), str::to_owned),
                    name: call["function"]["name"].as_str().ok_or("a tool call has no function name")?.to_owned(),
                    raw_arguments: call["function"]["arguments"].as_str().unwrap_or_default().to_owned(),
                });
            }
            Ok(answer)
        }
        ModelProvider::Anthropic => {
            let blocks = body["content"].as_array().ok_or("the answer has no `content` blocks")?;
            let mut answer = ChatAnswer {
                input_tokens: body["usage"]["input_tokens"].as_u64(),
                output_tokens: body["usage"]["output_tokens"].as_u64(),
                stop_reason: body["stop_reason"].as_str().map(str::to_owned),
                ..ChatAnswer::default()
            };
            for block in blocks {
                match block["type"].as_str() {
                    Some("text") => answer.text.push_str(block["text"].as_str().unwrap_or_default()),
                    Some("tool_use") => answer.tool_calls.push(ToolCall {
                        id: block["id"].as_str().unwrap_or_default().to_owned(),
                        name: block["name"].as_str().ok_or("a tool_use block has no name")?.to_owned(),
                        raw_arguments: block["input"].to_string(),
                    }),
                    _ => {}
                }
            }
            Ok(answer)
        }
        ModelProvider::Ollama => {
            let message = body.get("message").ok_or("the answer has no `message`")?;
            let mut answer = ChatAnswer {
                text: message["content"].as_str().unwrap_or_default().to_owned(),
                input_tokens: body["prompt_eval_count"].as_u64(),
                output_tokens: body["eval_count"].as_u64(),
                stop_reason: body["done_reason"].as_str().map(str::to_owned),
                ..ChatAnswer::default()
            };
            ollama_tool_calls(message, &mut answer)?;
            Ok(answer)
        }
    }
}

fn ollama_tool_calls(message: &Value, answer: &mut ChatAnswer) -> Result<(), String> {
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let function = &call["function"];
        let arguments = match &function["arguments"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        answer.tool_calls.push(ToolCall {
            id: format!("ollama_{}", answer.tool_calls.len()),
            name: function["name"].as_str().ok_or("a tool call has no function name")?.to_owned(),
            raw_arguments: arguments,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------- streams

/// Assembles a streamed answer from its pieces, in any provider's format.
pub struct StreamAssembler {
    provider: ModelProvider,
    buffer: Vec<u8>,
    answer: ChatAnswer,
    /// OpenAI tool calls by `index`; Anthropic blocks by `index` (None for text blocks).
    calls: Vec<(usize, ToolCall)>,
    done: bool,
}

impl StreamAssembler {
    pub fn new(provider: ModelProvider) -> Self {
        Self { provider, buffer: Vec::new(), answer: ChatAnswer::default(), calls: Vec::new(), done: false }
    }

    /// Feeds bytes as they arrive; an error event from the server is returned as its message.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.buffer.extend_from_slice(bytes);
        match self.provider {
            ModelProvider::Ollama => {
                while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.buffer.drain(..=end).collect();
                    let line = String::from_utf8_lossy(&line);
                    if !line.trim().is_empty() {
                        self.ollama_line(line.trim())?;
                    }
                }
            }
            ModelProvider::OpenAi | ModelProvider::Anthropic => {
                while let Some((end, skip)) = event_end(&self.buffer) {
                    let event: Vec<u8> = self.buffer.drain(..end + skip).collect();
                    let event = String::from_utf8_lossy(&event[..end]).into_owned();
                    let data: Vec<&str> = event
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:").map(|d| d.strip_prefix(' ').unwrap_or(d)))
                        .collect();
                    if !data.is_empty() {
                        self.sse_data(&data.join("\n"))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The answer, once the stream said it was complete.
    pub fn finish(mut self) -> Result<ChatAnswer, String> {
        if self.provider == ModelProvider::Ollama && !self.buffer.is_empty() {
            let rest = String::from_utf8_lossy(&self.buffer).trim().to_owned();
            self.buffer.clear();
            if !rest.is_empty() && self.ollama_line(&rest).is_err() {
                return Err("the stream ended before the answer was complete (its last line is cut off)".to_owned());
            }
        }
        if !self.done {
            return Err("the stream ended before the answer was complete".to_owned());
        }
        self.calls.sort_by_key(|(index, _)| *index);
        self.answer.tool_calls = self.calls.into_iter().map(|(_, call)| call).collect();
        Ok(self.answer)
    }

    fn sse_data(&mut self, data: &str) -> Result<(), String> {
        if self.provider == ModelProvider::OpenAi && data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let value: Value = serde_json::from_str(data).map_err(|e| format!("a streamed event is not JSON ({e})"))?;
        if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
            return Err(error["message"].as_str().map_or_else(|| error.to_string(), str::to_owned));
        }
        match self.provider {
            ModelProvider::OpenAi => self.openai_chunk(&value),
            _ => self.anthropic_event(&value),
        }
        Ok(())
    }

    fn openai_chunk(&mut self, chunk: &Value) {
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.answer.input_tokens = usage["prompt_tokens"].as_u64();
            self.answer.output_tokens = usage["completion_tokens"].as_u64();
        }
        let Some(choice) = chunk["choices"].get(0) else { return };
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.answer.stop_reason = Some(reason.to_owned());
        }
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str() {
            self.answer.text.push_str(text);
        }
        for piece in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = piece["index"].as_u64().unwrap_or(0) as usize;
            let call = match self.calls.iter_mut().find(|(i, _)| *i == index) {
                Some((_, call)) => call,
                None => {
                    self.calls.push((
                        index,
                        ToolCall { id: format!("call_{index}"), name: String::new(), raw_arguments: String::new() },
                    ));
                    &mut self.calls.last_mut().expect("just pushed").1
                }
            };
            if let Some(id) = piece["id"].as_str() {
                call.id = id.to_owned();
            }
            if let Some(name) = piece["function"]["name"].as_str() {
                call.name.push_str(name);
            }
            if let Some(arguments) = piece["function"]["arguments"].as_str() {
                call.raw_arguments.push_str(arguments);
            }
        }
    }

    fn anthropic_event(&mut self, event: &Value) {
        let index = event["index"].as_u64().unwrap_or(0) as usize;
        match event["type"].as_str() {
            Some("message_start") => {
                let usage = &event["message"]["usage"];
                self.answer.input_tokens = usage["input_tokens"].as_u64();
                self.answer.output_tokens = usage["output_tokens"].as_u64();
            }
            Some("content_block_start") => {
                let block = &event["content_block"];
                match block["type"].as_str() {
                    Some("tool_use") => self.calls.push((
                        index,
                        ToolCall {
                            id: block["id"].as_str().unwrap_or_default().to_owned(),
                            name: block["name"].as_str().unwrap_or_default().to_owned(),
                            raw_arguments: String::new(),
                        },
                    )),
                    Some("text") => self.answer.text.push_str(block["text"].as_str().unwrap_or_default()),
                    _ => {}
                }
            }
            Some("content_block_delta") => {
                let delta = &event["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => self.answer.text.push_str(delta["text"].as_str().unwrap_or_default()),
                    Some("input_json_delta") => {
                        if let Some((_, call)) = self.calls.iter_mut().find(|(i, _)| *i == index) {
                            call.raw_arguments.push_str(delta["partial_json"].as_str().unwrap_or_default());
                        }
                    }
                    _ => {}
                }
            }
            Some("message_delta") => {
                if let Some(reason) = event["delta"]["stop_reason"].as_str() {
                    self.answer.stop_reason = Some(reason.to_owned());
                }
                if let Some(output) = event["usage"]["output_tokens"].as_u64() {
                    self.answer.output_tokens = Some(output);
                }
            }
            Some("message_stop") => self.done = true,
            _ => {}
        }
    }

    fn ollama_line(&mut self, line: &str) -> Result<(), String> {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("a streamed line is not JSON ({e})"))?;
        if let Some(error) = value["error"].as_str() {
            return Err(error.to_owned());
        }
        if let Some(text) = value["message"]["content"].as_str() {
            self.answer.text.push_str(text);
        }
        let mut calls = ChatAnswer::default();
        ollama_tool_calls(&value["message"], &mut calls)?;
        for mut call in calls.tool_calls {
            call.id = format!("ollama_{}", self.calls.len());
            self.calls.push((self.calls.len(), call));
        }
        if value["done"].as_bool() == Some(true) {
            self.done = true;
            self.answer.input_tokens = value["prompt_eval_count"].as_u64();
            self.answer.output_tokens = value["eval_count"].as_u64();
            self.answer.stop_reason = value["done_reason"].as_str().map(str::to_owned);
        }
        Ok(())
    }
}

/// Where the first SSE event of `buffer` ends (a blank line), and the length of the separator.
fn event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buffer.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_stream_pieces_make_one_tool_call() {
        let mut stream = StreamAssembler::new(ModelProvider::OpenAi);
        let chunks = [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"read_file","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"path\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"a.py\"}"}}]},"finish_reason":"tool_calls"}]}"#,
        ];
        let text: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
        // Split mid-event, as the network does.
        let (a, b) = text.as_bytes().split_at(37);
        stream.feed(a).expect("feeds");
        stream.feed(b).expect("feeds");
        stream.feed(b"data: [DONE]\n\n").expect("feeds");
        let answer = stream.finish().expect("complete");
        assert_eq!(answer.tool_calls[0].name, "read_file");
        assert_eq!(answer.tool_calls[0].arguments().expect("object")["path"], "a.py");
    }

    #[test]
    fn a_stream_without_its_end_is_refused() {
        let mut stream = StreamAssembler::new(ModelProvider::Anthropic);
        stream.feed(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n").expect("feeds");
        assert!(stream.finish().is_err());
        let mut stream = StreamAssembler::new(ModelProvider::Ollama);
        stream.feed(b"{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},\"done\":false}\n").expect("feeds");
        assert!(stream.finish().is_err());
    }
}
