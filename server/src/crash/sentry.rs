//! Sentry events as JSON: the raw snake_case payload SDKs send (and `/events/{id}/json/` returns),
//! and the Web API's camelCase event (`/issues/{id}/events/{event_id}/`), plus the Web API's issue
//! (group) object.
//!
//! Both event shapes keep Sentry's order (root cause first, oldest frame first), which is also the
//! crash model's, so nothing is reordered here. The readers accept whatever JSON they are given:
//! wrong types read as absent, and lists are capped so a hostile event costs bounded work.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{CrashEvent, Exception, ExceptionLink, Frame, IssueSummary, Language, LinkKind, SourceContext};

#[derive(Debug, thiserror::Error)]
pub enum SentryEventError {
    #[error("not a Sentry event: {0}")]
    NotAnEvent(String),
    #[error("not a Sentry issue: {0}")]
    NotAnIssue(String),
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// At most this many exceptions of a chain are read (the outermost ones are kept).
const MAX_EXCEPTIONS: usize = 100;
/// At most this many frames per stack trace are read (the newest ones are kept).
const MAX_FRAMES: usize = 500;
/// At most this many local variables per frame are read.
const MAX_VARS: usize = 100;
/// At most this many tags are read.
const MAX_TAGS: usize = 200;
/// A rendered variable value is cut to this many characters.
const MAX_VAR_CHARS: usize = 200;

/// Reads one Sentry event, raw or Web API shape.
///
/// An event is a crash when it has an exception, or a stack trace on a thread or on the event
/// itself (a message captured with `attach_stacktrace`). A message-only event is
/// [`SentryEventError::NotAnEvent`].
pub fn parse_event(value: &Value) -> Result<CrashEvent, SentryEventError> {
    let Some(event) = value.as_object() else {
        return Err(SentryEventError::NotAnEvent(format!("expected a JSON object, found {}", json_kind(value))));
    };
    let interfaces = Interfaces::of(event);
    let threads = interfaces.threads.map(read_threads).unwrap_or_default();

    let mut exceptions = match interfaces.exception {
        Some(values) => read_exception_chain(values, &threads),
        None => Vec::new(),
    };
    let mut thread = None;
    if let Some(outermost) = exceptions.last() {
        thread = outermost.thread_id.as_ref().map(|id| thread_label(id, &threads));
    } else if let Some(crashed) = crashed_thread(&threads) {
        thread = Some(crashed.label.clone());
        exceptions.push(message_exception(event, &interfaces, crashed.frames.clone(), crashed.frames_omitted));
    } else if let Some(stacktrace) = interfaces.stacktrace {
        let (frames, frames_omitted) = read_stacktrace(stacktrace);
        if !frames.is_empty() {
            exceptions.push(message_exception(event, &interfaces, frames, frames_omitted));
        }
    }
    if exceptions.is_empty() {
        return Err(SentryEventError::NotAnEvent(not_a_crash_reason(event, &interfaces)));
    }

    let tags = read_tags(event.get("tags"));
    let environment = string_of(event, &["environment"]).or_else(|| tag_value(&tags, "environment"));
    let release = event.get("release").and_then(read_release).or_else(|| tag_value(&tags, "release"));
    Ok(CrashEvent {
        event_id: string_of(event, &["event_id", "eventID", "id"]).map(|id| normalize_event_id(&id)),
        language: string_of(event, &["platform"]).map(|p| Language::from_sentry_platform(&p)),
        exceptions: exceptions.into_iter().map(|e| e.exception).collect(),
        timestamp: ["timestamp", "dateCreated", "datetime"].iter().find_map(|k| event.get(*k).and_then(read_timestamp)),
        release,
        environment,
        thread,
        tags,
        origin: None,
        issue: string_of(event, &["groupID", "group_id"]).map(|id| IssueSummary { id, ..IssueSummary::default() }),
        ..CrashEvent::default()
    })
}

/// Reads a Web API issue (group) object, as listed by `/organizations/{org}/issues/`.
pub fn parse_issue(value: &Value) -> Result<IssueSummary, SentryEventError> {
    let Some(issue) = value.as_object() else {
        return Err(SentryEventError::NotAnIssue(format!("expected a JSON object, found {}", json_kind(value))));
    };
    let Some(id) = string_of(issue, &["id"]) else {
        return Err(SentryEventError::NotAnIssue("the object has no \"id\"".into()));
    };
    let releases = ["firstRelease", "lastRelease"].iter().filter_map(|k| issue.get(*k).and_then(read_release)).fold(
        Vec::new(),
        |mut all, release| {
            if !all.contains(&release) {
                all.push(release);
            }
            all
        },
    );
    Ok(IssueSummary {
        id,
        short_id: string_of(issue, &["shortId", "short_id"]),
        permalink: string_of(issue, &["permalink"]),
        count: ["count", "times_seen"].iter().find_map(|k| issue.get(*k).and_then(read_count)),
        user_count: ["userCount", "user_count"].iter().find_map(|k| issue.get(*k).and_then(read_count)),
        first_seen: ["firstSeen", "first_seen"].iter().find_map(|k| issue.get(*k).and_then(read_timestamp)),
        last_seen: ["lastSeen", "last_seen"].iter().find_map(|k| issue.get(*k).and_then(read_timestamp)),
        status: string_of(issue, &["status"]),
        releases,
        environments: Vec::new(),
    })
}

/// The interfaces of an event that can hold a crash, found in either shape.
#[derive(Default)]
struct Interfaces<'a> {
    /// The list of exception values.
    exception: Option<&'a [Value]>,
    /// The list of threads.
    threads: Option<&'a [Value]>,
    /// A stack trace on the event itself.
    stacktrace: Option<&'a Value>,
    /// The message entry's data (Web API) or `logentry` (raw).
    message: Option<&'a Value>,
}

impl<'a> Interfaces<'a> {
    fn of(event: &'a Map<String, Value>) -> Self {
        let mut found = Interfaces {
            exception: event.get("exception").and_then(values_list),
            threads: event.get("threads").and_then(values_list),
            stacktrace: event.get("stacktrace").filter(|s| s.is_object()),
            message: event.get("logentry").filter(|m| !m.is_null()),
        };
        // The Web API puts interfaces in `entries: [{type, data}]`.
        for entry in event.get("entries").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default() {
            let data = entry.get("data");
            match entry.get("type").and_then(Value::as_str) {
                Some("exception") if found.exception.is_none() => found.exception = data.and_then(values_list),
                Some("threads") if found.threads.is_none() => found.threads = data.and_then(values_list),
                Some("stacktrace") if found.stacktrace.is_none() => found.stacktrace = data.filter(|s| s.is_object()),
                Some("message") if found.message.is_none() => found.message = data,
                _ => {}
            }
        }
        found
    }
}

/// `{"values": [...]}` or a bare list.
fn values_list(value: &Value) -> Option<&[Value]> {
    match value {
        Value::Array(values) => Some(values),
        Value::Object(object) => object.get("values").and_then(Value::as_array).map(Vec::as_slice),
        _ => None,
    }
}

/// One exception value as read, with the chain facts needed to link it.
struct ReadException {
    exception: Exception,
    thread_id: Option<String>,
    exception_id: Option<u64>,
    parent_id: Option<u64>,
    source: Option<String>,
    is_exception_group: bool,
}

fn read_exception_chain(values: &[Value], threads: &[ReadThread]) -> Vec<ReadException> {
    let skip = values.len().saturating_sub(MAX_EXCEPTIONS);
    let mut chain: Vec<ReadException> =
        values[skip..].iter().filter_map(Value::as_object).map(|value| read_exception(value, threads)).collect();
    link_chain(&mut chain);
    chain
}

fn read_exception(value: &Map<String, Value>, threads: &[ReadThread]) -> ReadException {
    let mechanism = value.get("mechanism").and_then(Value::as_object);
    let mechanism_field = |keys: &[&str]| mechanism.and_then(|m| keys.iter().find_map(|k| m.get(*k)));
    let thread_id = ["thread_id", "threadId"].iter().find_map(|k| value.get(*k)).and_then(id_text);

    let stacktrace =
        ["stacktrace", "raw_stacktrace", "rawStacktrace"].iter().find_map(|k| value.get(*k).filter(|s| s.is_object()));
    let (mut frames, mut frames_omitted) = stacktrace.map(read_stacktrace).unwrap_or_default();
    // Native and JVM SDKs put the stack on the crashed thread and point to it from the exception.
    if frames.is_empty()
        && let Some(thread) = thread_id.as_ref().and_then(|id| threads.iter().find(|t| t.id.as_ref() == Some(id)))
    {
        frames = thread.frames.clone();
        frames_omitted = thread.frames_omitted;
    }

    ReadException {
        exception: Exception {
            ty: string_of(value, &["type"]).unwrap_or_else(|| "Error".to_owned()),
            value: value.get("value").map(text_of).unwrap_or_default(),
            module: string_of(value, &["module"]),
            frames,
            frames_omitted,
            link: None,
            handled: mechanism_field(&["handled"]).and_then(Value::as_bool),
        },
        thread_id,
        exception_id: mechanism_field(&["exception_id", "exceptionId"]).and_then(Value::as_u64),
        parent_id: mechanism_field(&["parent_id", "parentId"]).and_then(Value::as_u64),
        source: mechanism_field(&["source"]).and_then(Value::as_str).map(str::to_owned),
        is_exception_group: mechanism_field(&["is_exception_group", "isExceptionGroup"])
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// Links each exception to the one it hangs off: by `mechanism.exception_id`/`parent_id` when the
/// SDK sent them, otherwise each to the next one (Sentry lists the root cause first).
fn link_chain(chain: &mut [ReadException]) {
    let has_ids = chain.iter().any(|e| e.exception_id.is_some());
    if !has_ids {
        let n = chain.len();
        for (index, read) in chain.iter_mut().enumerate().take(n.saturating_sub(1)) {
            read.exception.link = Some(ExceptionLink { parent: index + 1, kind: LinkKind::Cause });
        }
        return;
    }
    for index in 0..chain.len() {
        let Some(parent_id) = chain[index].parent_id else {
            continue;
        };
        let Some(parent) = chain.iter().position(|e| e.exception_id == Some(parent_id)) else {
            continue;
        };
        if parent == index {
            continue;
        }
        let kind = link_kind(chain[index].source.as_deref(), chain[parent].is_exception_group);
        chain[index].exception.link = Some(ExceptionLink { parent, kind });
        if forms_cycle(chain, index) {
            chain[index].exception.link = None;
        }
    }
}

fn link_kind(source: Option<&str>, parent_is_group: bool) -> LinkKind {
    let source = source.unwrap_or("");
    let lower = source.to_ascii_lowercase();
    if lower.starts_with("exceptions[") || lower.starts_with("innerexceptions[") || lower.starts_with("errors[") {
        LinkKind::GroupMember
    } else if source == "__context__" {
        LinkKind::Context
    } else if source == "__cause__" || lower == "cause" {
        LinkKind::Cause
    } else if lower.starts_with("innerexception") {
        LinkKind::Inner
    } else if lower.starts_with("suppressed") {
        LinkKind::Suppressed
    } else if parent_is_group {
        LinkKind::GroupMember
    } else {
        LinkKind::Cause
    }
}

/// Whether following parents from `start` comes back to it (ids in hostile input may loop).
fn forms_cycle(chain: &[ReadException], start: usize) -> bool {
    let mut current = start;
    for _ in 0..chain.len() {
        match chain[current].exception.link {
            Some(link) if link.parent == start => return true,
            Some(link) => current = link.parent,
            None => return false,
        }
    }
    true
}

struct ReadThread {
    id: Option<String>,
    label: String,
    crashed: bool,
    current: bool,
    frames: Vec<Frame>,
    frames_omitted: Option<u32>,
}

fn read_threads(values: &[Value]) -> Vec<ReadThread> {
    values
        .iter()
        .take(MAX_EXCEPTIONS * 10)
        .filter_map(Value::as_object)
        .map(|thread| {
            let id = thread.get("id").and_then(id_text);
            let name = string_of(thread, &["name"]);
            let (frames, frames_omitted) = thread.get("stacktrace").map(read_stacktrace).unwrap_or_default();
            ReadThread {
                label: name.or_else(|| id.clone()).unwrap_or_default(),
                id,
                crashed: thread.get("crashed").and_then(Value::as_bool).unwrap_or(false),
                current: thread.get("current").and_then(Value::as_bool).unwrap_or(false),
                frames,
                frames_omitted,
            }
        })
        .collect()
}

/// The thread whose stack is the crash: the crashed one, else the current one, else the only one.
fn crashed_thread(threads: &[ReadThread]) -> Option<&ReadThread> {
    let with_stack: Vec<&ReadThread> = threads.iter().filter(|t| !t.frames.is_empty()).collect();
    with_stack
        .iter()
        .find(|t| t.crashed)
        .or_else(|| with_stack.iter().find(|t| t.current))
        .or_else(|| if with_stack.len() == 1 { with_stack.first() } else { None })
        .copied()
}

fn thread_label(id: &str, threads: &[ReadThread]) -> String {
    threads
        .iter()
        .find(|t| t.id.as_deref() == Some(id))
        .map(|t| t.label.clone())
        .filter(|label| !label.is_empty())
        .unwrap_or_else(|| id.to_owned())
}

/// A message event that carries a stack trace becomes one exception: type `Message`, the
/// formatted message as its value.
fn message_exception(
    event: &Map<String, Value>,
    interfaces: &Interfaces,
    frames: Vec<Frame>,
    frames_omitted: Option<u32>,
) -> ReadException {
    ReadException {
        exception: Exception {
            ty: "Message".to_owned(),
            value: message_text(event, interfaces).unwrap_or_default(),
            frames,
            frames_omitted,
            ..Exception::default()
        },
        thread_id: None,
        exception_id: None,
        parent_id: None,
        source: None,
        is_exception_group: false,
    }
}

fn message_text(event: &Map<String, Value>, interfaces: &Interfaces) -> Option<String> {
    let from_interface = interfaces.message.and_then(|m| match m {
        Value::String(text) => Some(text.clone()),
        Value::Object(object) => string_of(object, &["formatted", "message"]),
        _ => None,
    });
    from_interface.or_else(|| match event.get("message") {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        Some(Value::Object(object)) => string_of(object, &["formatted", "message"]),
        _ => None,
    })
}

fn not_a_crash_reason(event: &Map<String, Value>, interfaces: &Interfaces) -> String {
    if event.contains_key("shortId") && !event.contains_key("entries") {
        "this is a Sentry issue (group), not an event".to_owned()
    } else if interfaces.message.is_some() || event.get("message").is_some_and(|m| !m.is_null()) {
        "a message-only event without an exception or stack trace is not a crash".to_owned()
    } else if interfaces.exception.is_some() || interfaces.threads.is_some() {
        "the event's exception and thread lists are empty".to_owned()
    } else {
        "no exception, thread stack trace or stack trace found".to_owned()
    }
}

/// Frames (oldest first) and the number of frames the SDK or this reader left out.
fn read_stacktrace(stacktrace: &Value) -> (Vec<Frame>, Option<u32>) {
    let frames_json = stacktrace.get("frames").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let skip = frames_json.len().saturating_sub(MAX_FRAMES);
    let frames: Vec<Frame> = frames_json[skip..].iter().filter_map(Value::as_object).map(read_frame).collect();
    let reported_omitted =
        ["frames_omitted", "framesOmitted"].iter().find_map(|k| stacktrace.get(*k)).and_then(read_frames_omitted);
    let skipped = u32::try_from(skip).unwrap_or(u32::MAX);
    let omitted = match (reported_omitted, skipped) {
        (None, 0) => None,
        (reported, skipped) => Some(reported.unwrap_or(0).saturating_add(skipped)),
    };
    (frames, omitted)
}

/// `frames_omitted` is a `[start, end]` range of dropped frame indices; a plain count is accepted too.
fn read_frames_omitted(value: &Value) -> Option<u32> {
    match value {
        Value::Array(range) => {
            let start = range.first()?.as_u64()?;
            let end = range.get(1)?.as_u64()?;
            u32::try_from(end.saturating_sub(start)).ok().filter(|n| *n > 0)
        }
        other => other.as_u64().and_then(|n| u32::try_from(n).ok()),
    }
}

fn read_frame(frame: &Map<String, Value>) -> Frame {
    let line = ["lineno", "lineNo", "line"].iter().find_map(|k| frame.get(*k)).and_then(read_position);
    Frame {
        function: ["function", "raw_function", "rawFunction", "symbol"]
            .iter()
            .filter_map(|k| frame.get(*k).and_then(Value::as_str))
            .find(|f| !f.is_empty() && *f != "?" && *f != "<unknown>")
            .map(str::to_owned),
        module: string_of(frame, &["module"]),
        filename: string_of(frame, &["filename"]),
        abs_path: string_of(frame, &["abs_path", "absPath"]),
        line,
        column: ["colno", "colNo"].iter().find_map(|k| frame.get(*k)).and_then(read_position),
        in_app: ["in_app", "inApp"].iter().find_map(|k| frame.get(*k)).and_then(Value::as_bool),
        context: read_raw_context(frame).or_else(|| read_api_context(frame.get("context")?, line?)),
        vars: frame.get("vars").map(read_vars).unwrap_or_default(),
    }
}

/// `pre_context`, `context_line`, `post_context` of the raw payload.
fn read_raw_context(frame: &Map<String, Value>) -> Option<SourceContext> {
    let line = frame.get("context_line")?.as_str()?.to_owned();
    let lines = |key: &str| -> Vec<String> {
        frame
            .get(key)
            .and_then(Value::as_array)
            .map(|lines| lines.iter().map(|l| l.as_str().unwrap_or("").to_owned()).collect())
            .unwrap_or_default()
    };
    Some(SourceContext { pre: lines("pre_context"), line, post: lines("post_context") })
}

/// The Web API's `context: [[lineNo, "line"], ...]`, split around the frame's line.
fn read_api_context(context: &Value, frame_line: u32) -> Option<SourceContext> {
    let mut source = SourceContext::default();
    let mut found_line = false;
    for pair in context.as_array()? {
        let Some(number) = pair.get(0).and_then(Value::as_u64) else {
            continue;
        };
        let Some(text) = pair.get(1).and_then(Value::as_str) else {
            continue;
        };
        match number.cmp(&u64::from(frame_line)) {
            std::cmp::Ordering::Less => source.pre.push(text.to_owned()),
            std::cmp::Ordering::Equal => {
                source.line = text.to_owned();
                found_line = true;
            }
            std::cmp::Ordering::Greater => source.post.push(text.to_owned()),
        }
    }
    found_line.then_some(source)
}

/// Local variables in the order given; values rendered as text.
fn read_vars(vars: &Value) -> Vec<(String, String)> {
    match vars {
        Value::Object(object) => {
            object.iter().take(MAX_VARS).map(|(name, value)| (name.clone(), render_var(value))).collect()
        }
        Value::Array(values) => {
            values.iter().take(MAX_VARS).enumerate().map(|(i, value)| (i.to_string(), render_var(value))).collect()
        }
        _ => Vec::new(),
    }
}

/// A variable's value as text: strings as they are (Python SDKs already send `repr`s), anything else
/// as compact JSON, cut to [`MAX_VAR_CHARS`] characters.
pub fn render_var(value: &Value) -> String {
    match value {
        Value::String(text) => crate::text::truncate(text, MAX_VAR_CHARS),
        other => {
            // The writer refuses bytes past the limit, so a huge value stops rendering early.
            let mut writer = BoundedWriter { bytes: Vec::new(), limit: MAX_VAR_CHARS * 4 + 4 };
            let _ = serde_json::to_writer(&mut writer, other);
            crate::text::truncate(&String::from_utf8_lossy(&writer.bytes), MAX_VAR_CHARS)
        }
    }
}

struct BoundedWriter {
    bytes: Vec<u8>,
    limit: usize,
}

impl std::io::Write for BoundedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.limit.saturating_sub(self.bytes.len());
        if room == 0 {
            return Err(std::io::Error::other("value rendered past the limit"));
        }
        let taken = buf.len().min(room);
        self.bytes.extend_from_slice(&buf[..taken]);
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `{"key": "value"}`, `[["key", "value"], ...]` or `[{"key": ..., "value": ...}, ...]`.
fn read_tags(tags: Option<&Value>) -> Vec<(String, String)> {
    match tags {
        Some(Value::Object(object)) => {
            object.iter().take(MAX_TAGS).map(|(key, value)| (key.clone(), text_of(value))).collect()
        }
        Some(Value::Array(pairs)) => pairs
            .iter()
            .take(MAX_TAGS)
            .filter_map(|pair| match pair {
                Value::Array(kv) => Some((kv.first()?.as_str()?.to_owned(), text_of(kv.get(1)?))),
                Value::Object(kv) => Some((kv.get("key")?.as_str()?.to_owned(), text_of(kv.get("value")?))),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn tag_value(tags: &[(String, String)], key: &str) -> Option<String> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
}

/// A release as a string, or the Web API's release object `{"version": ...}`.
fn read_release(release: &Value) -> Option<String> {
    match release {
        Value::String(version) if !version.is_empty() => Some(version.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Object(object) => string_of(object, &["version", "shortVersion"]),
        _ => None,
    }
}

/// An RFC 3339 string, or seconds since the epoch as a number or numeric string.
fn read_timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| text.trim().parse::<f64>().ok().and_then(epoch_seconds)),
        Value::Number(number) => number.as_f64().and_then(epoch_seconds),
        _ => None,
    }
}

fn epoch_seconds(seconds: f64) -> Option<DateTime<Utc>> {
    // Far outside chrono's range (and past where microseconds fit an i64 comfortably).
    if !seconds.is_finite() || seconds.abs() > 9.0e12 {
        return None;
    }
    // SDKs send at most microseconds; rounding to them keeps `1712345678.684` at .684000 exactly,
    // as the same instant written in RFC 3339 reads.
    let micros = (seconds * 1e6).round() as i64;
    DateTime::from_timestamp_micros(micros)
}

/// A 1-based line or column; zero, negative or oversized numbers read as absent.
fn read_position(value: &Value) -> Option<u32> {
    let number = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }?;
    u32::try_from(number).ok().filter(|n| *n > 0)
}

/// The Web API's issue `count` is a string; numbers are accepted too.
fn read_count(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// Thread and group ids may be numbers or strings.
fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The first non-empty string (or number, as text) among `keys`.
fn string_of(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| id_text(object.get(*key)?))
}

/// Any JSON value as display text: strings as they are, `null` as empty, the rest as compact JSON.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => render_var(other),
    }
}

/// Sentry accepts event ids with dashes (UUID form); the 32-hex form is canonical.
fn normalize_event_id(id: &str) -> String {
    let compact: String = id.chars().filter(|c| *c != '-').collect();
    if compact.len() == 32 && compact.chars().all(|c| c.is_ascii_hexdigit()) {
        compact.to_ascii_lowercase()
    } else {
        id.to_owned()
    }
}

/// How a JSON value is named in error messages (`expected an object, got a string`).
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_event_with_bare_exception_list_links_each_to_the_next() {
        let event = json!({
            "platform": "python",
            "timestamp": 1_712_345_678.5,
            "exception": [
                {"type": "KeyError", "value": "'x'", "stacktrace": {"frames": [{"filename": "a.py", "lineno": 3}]}},
                {"type": "ValueError", "value": "bad"}
            ]
        });
        let crash = parse_event(&event).expect("a crash");
        assert_eq!(crash.language, Some(Language::Python));
        assert_eq!(crash.exceptions[0].link, Some(ExceptionLink { parent: 1, kind: LinkKind::Cause }));
        assert_eq!(crash.exceptions[1].link, None);
        assert_eq!(crash.title(), "ValueError: bad");
        assert_eq!(crash.timestamp.map(|t| t.timestamp_millis()), Some(1_712_345_678_500));
    }

    #[test]
    fn web_api_context_is_split_around_the_frame_line() {
        let frame = json!({"lineNo": 11, "context": [[9, "a"], [10, "b"], [11, "c"], [12, "d"]]});
        let crash = parse_event(&json!({"entries": [{"type": "exception", "data": {"values": [
            {"type": "E", "stacktrace": {"frames": [frame]}}
        ]}}]}))
        .expect("a crash");
        let context = crash.exceptions[0].frames[0].context.clone().expect("context");
        assert_eq!(
            context,
            SourceContext { pre: vec!["a".into(), "b".into()], line: "c".into(), post: vec!["d".into()] }
        );
    }

    #[test]
    fn message_only_event_is_not_a_crash_but_one_with_a_thread_stack_is() {
        let message = json!({"logentry": {"formatted": "disk almost full"}, "level": "warning"});
        assert!(matches!(parse_event(&message), Err(SentryEventError::NotAnEvent(_))));

        let with_stack = json!({
            "message": "deadlock detected",
            "threads": {"values": [
                {"id": 1, "name": "main", "stacktrace": {"frames": [{"function": "idle"}]}},
                {"id": 7, "name": "worker", "crashed": true, "stacktrace": {"frames": [{"function": "lock", "lineno": 4}]}}
            ]}
        });
        let crash = parse_event(&with_stack).expect("a crash");
        assert_eq!(crash.title(), "Message: deadlock detected");
        assert_eq!(crash.thread.as_deref(), Some("worker"));
        assert_eq!(crash.exceptions[0].frames[0].function.as_deref(), Some("lock"));
    }

    #[test]
    fn exception_ids_that_loop_are_not_linked_into_a_cycle() {
        let event = json!({"exception": {"values": [
            {"type": "A", "mechanism": {"type": "chained", "exception_id": 1, "parent_id": 2}},
            {"type": "B", "mechanism": {"type": "chained", "exception_id": 2, "parent_id": 1}},
            {"type": "C", "mechanism": {"type": "chained", "exception_id": 3, "parent_id": 3}}
        ]}});
        let crash = parse_event(&event).expect("a crash");
        assert_eq!(crash.exceptions[0].link, Some(ExceptionLink { parent: 1, kind: LinkKind::Cause }));
        assert_eq!(crash.exceptions[1].link, None);
        assert_eq!(crash.exceptions[2].link, None);
    }

    #[test]
    fn wrong_types_and_huge_numbers_read_as_absent() {
        let event = json!({
            "event_id": 12, "platform": ["x"], "timestamp": 1e300, "release": {"version": null},
            "tags": [["a"], {"key": 1}, ["k", 2]],
            "exception": {"values": [null, 3, {"type": 5, "value": {"deep": [1, 2]}, "stacktrace": {"frames": [
                null, {"lineno": -4, "colno": 1e20, "in_app": "yes", "vars": {"v": {"a": "x".repeat(1000)}}}
            ], "frames_omitted": [2, 1]}}]}
        });
        let crash = parse_event(&event).expect("a crash");
        assert_eq!(crash.timestamp, None);
        assert_eq!(crash.tags, vec![("k".to_owned(), "2".to_owned())]);
        let exception = &crash.exceptions[0];
        assert_eq!(exception.ty, "5");
        assert_eq!(exception.value, r#"{"deep":[1,2]}"#);
        assert_eq!(exception.frames.len(), 1);
        assert_eq!(exception.frames_omitted, None);
        let frame = &exception.frames[0];
        assert_eq!((frame.line, frame.column, frame.in_app), (None, None, None));
        assert_eq!(frame.vars[0].1.chars().count(), MAX_VAR_CHARS + 1);
        assert!(matches!(parse_event(&json!([1])), Err(SentryEventError::NotAnEvent(_))));
    }

    #[test]
    fn issue_count_is_a_string() {
        let issue = json!({"id": "4242", "shortId": "SHOP-3F", "count": "1207", "userCount": 31,
            "firstSeen": "2024-04-02T10:00:00.123Z", "lastSeen": "2024-04-09T10:00:00Z", "status": "unresolved",
            "permalink": "https://acme.sentry.io/issues/4242/", "firstRelease": {"version": "shop@1.0"}});
        let summary = parse_issue(&issue).expect("an issue");
        assert_eq!(summary.count, Some(1207));
        assert_eq!(summary.user_count, Some(31));
        assert_eq!(summary.short_id.as_deref(), Some("SHOP-3F"));
        assert_eq!(summary.releases, vec!["shop@1.0".to_owned()]);
        assert!(summary.first_seen.is_some() && summary.last_seen.is_some());
        assert!(parse_issue(&json!({"shortId": "X"})).is_err());
    }
}
