//! stdin and stdout of `crashloom mcp`: newline-delimited JSON-RPC messages (MCP's stdio
//! transport). Crashloom reads stdin itself and checks each line before the SDK sees it: a line
//! that is not JSON (or longer than [`MAX_LINE`]) is answered with a JSON-RPC parse error (-32700,
//! `id` null) and dropped, so a broken message never ends the session. The rest reaches the SDK
//! through an in-memory pipe, and the SDK's answers go to stdout a whole line at a time, so the
//! answers to broken lines never land inside another message. Nothing else writes to stdout.

use serde::de::IgnoredAny;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The longest message accepted, in bytes.
pub const MAX_LINE: usize = 16 << 20;

/// Starts the tasks that move lines between `input`/`output` and the SDK; returns the SDK's end
/// of the pipe, and the task that writes `output`, which ends once the SDK closed its end and
/// `input` ended (await it so the last answers reach stdout). The session ends at the end of
/// `input`.
pub fn connect<R, W>(input: R, output: W) -> (DuplexStream, JoinHandle<()>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (sdk_end, ours) = tokio::io::duplex(1 << 16);
    let (from_sdk, to_sdk) = tokio::io::split(ours);
    let (lines, outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(write_lines(output, outgoing));
    tokio::spawn(forward_answers(from_sdk, lines.clone()));
    tokio::spawn(read_messages(input, to_sdk, lines));
    (sdk_end, writer)
}

/// A JSON-RPC parse error for a line that could not be read, as one line.
pub fn parse_error(problem: &str) -> Vec<u8> {
    let answer = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32700, "message": format!("Parse error: {problem}")},
    });
    let mut line = answer.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// What one input line is.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// Only white space: ignored.
    Blank,
    /// A JSON value, for the SDK to judge as a JSON-RPC message.
    Message,
    /// Not JSON: the reason.
    Broken(String),
}

/// Checks one line (without its newline).
pub fn check_line(line: &[u8]) -> Line {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    match serde_json::from_slice::<IgnoredAny>(line) {
        Ok(_) => Line::Message,
        Err(e) => Line::Broken(format!("the message is not JSON ({e})")),
    }
}

async fn read_messages<R, W>(input: R, mut to_sdk: W, answers: mpsc::UnboundedSender<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut input).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line).await;
        match read {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("stdin cannot be read: {e}");
                break;
            }
        }
        if !line.ends_with(b"\n") && line.len() > MAX_LINE {
            // Too long: the rest of it up to its newline is dropped too.
            let _ = answers.send(parse_error(&format!("the message is longer than {MAX_LINE} bytes")));
            if !skip_line(&mut input).await {
                break;
            }
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        match check_line(text) {
            Line::Blank => {}
            Line::Broken(problem) => {
                tracing::warn!("answered a message that is not JSON: {problem}");
                let _ = answers.send(parse_error(&problem));
            }
            Line::Message => {
                let mut message = text.to_vec();
                message.push(b'\n');
                if to_sdk.write_all(&message).await.is_err() {
                    break;
                }
            }
        }
    }
    // The end of stdin ends the session: the SDK sees its input close.
    let _ = to_sdk.shutdown().await;
}

/// Reads up to the next newline; `false` at the end of input.
async fn skip_line<R: AsyncRead + Unpin>(input: &mut BufReader<R>) -> bool {
    loop {
        let (done, used) = match input.fill_buf().await {
            Ok([]) | Err(_) => return false,
            Ok(buffer) => match buffer.iter().position(|b| *b == b'\n') {
                Some(at) => (true, at + 1),
                None => (false, buffer.len()),
            },
        };
        input.consume(used);
        if done {
            return true;
        }
    }
}

async fn forward_answers<R: AsyncRead + Unpin>(from_sdk: R, lines: mpsc::UnboundedSender<Vec<u8>>) {
    let mut from_sdk = BufReader::new(from_sdk);
    loop {
        let mut line = Vec::new();
        match from_sdk.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                if lines.send(line).is_err() {
                    break;
                }
            }
        }
    }
}

async fn write_lines<W: AsyncWrite + Unpin>(mut output: W, mut lines: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(line) = lines.recv().await {
        if output.write_all(&line).await.is_err() || output.flush().await.is_err() {
            tracing::warn!("stdout is closed; answers are lost");
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_blank_json_or_broken() {
        assert_eq!(check_line(b"  \t"), Line::Blank);
        assert_eq!(check_line(br#"{"jsonrpc":"2.0","method":"ping","id":1}"#), Line::Message);
        let Line::Broken(problem) = check_line(b"{\"jsonrpc\": ") else { panic!("not JSON") };
        assert!(problem.contains("EOF while parsing"), "{problem}");
        assert!(matches!(check_line(b"\xff\xfe"), Line::Broken(_)));
    }

    #[test]
    fn a_parse_error_is_one_json_rpc_line_with_a_null_id() {
        let line = parse_error("the message is not JSON");
        assert!(line.ends_with(b"\n") && !line[..line.len() - 1].contains(&b'\n'));
        let answer: serde_json::Value = serde_json::from_slice(&line).expect("JSON");
        assert_eq!(answer["id"], serde_json::Value::Null);
        assert_eq!(answer["error"]["code"], -32700);
        assert_eq!(answer["jsonrpc"], "2.0");
    }

    #[tokio::test]
    async fn broken_lines_are_answered_and_good_ones_pass_through_in_order() {
        let (mut client, server_input) = tokio::io::duplex(1 << 16);
        let (server_output, answers) = tokio::io::duplex(1 << 16);
        let (mut sdk, _writer) = connect(server_input, server_output);
        client.write_all(b"not json\n\n{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1}\r\n").await.expect("write");
        client.shutdown().await.expect("close");

        // The SDK sees the good message only, then the end of its input.
        let mut seen = String::new();
        sdk.read_to_string(&mut seen).await.expect("read");
        assert_eq!(seen, "{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1}\n");
        // The client got the parse error for the broken line.
        drop(sdk);
        let mut first = String::new();
        BufReader::new(answers).read_line(&mut first).await.expect("answer");
        let answer: serde_json::Value = serde_json::from_str(&first).expect("JSON");
        assert_eq!(answer["error"]["code"], -32700);
    }
}
