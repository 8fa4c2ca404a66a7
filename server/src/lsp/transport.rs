//! stdin and stdout around the protocol library. Crashloom reads stdin itself ([`super::framing`]),
//! hands the library only well-formed messages through an in-memory pipe, and writes the
//! library's messages and its own error answers to stdout whole, one at a time.
//!
//! The server stops on `exit` or at the end of its input, never because of what it read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::framing::{Framer, Incoming, frame};
use super::server::Backend;

/// Bytes buffered between Crashloom and the library in each direction.
const PIPE_BYTES: usize = 64 * 1024;
/// Requests the library runs at once (a request waiting on the client holds one).
const CONCURRENT_REQUESTS: usize = 32;

/// Serves `input`/`output` until `exit` or the end of the input. Returns whether `shutdown` was
/// requested first (the exit status the protocol asks for).
pub async fn serve<I, O>(input: I, output: O) -> bool
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let (service, socket) = tower_lsp_server::LspService::build(Backend::new)
        .custom_method("window/workDoneProgress/cancel", Backend::cancel_progress)
        .finish();
    let (to_library, library_input) = tokio::io::duplex(PIPE_BYTES);
    let (library_output, from_library) = tokio::io::duplex(PIPE_BYTES);
    let (frames, outgoing) = unbounded_channel();
    let shutdown_requested = Arc::new(AtomicBool::new(false));

    let writer = tokio::spawn(write_frames(output, outgoing));
    let forward = tokio::spawn(forward_library_output(from_library, frames.clone()));
    let reader = tokio::spawn(read_input(input, to_library, frames, shutdown_requested.clone()));
    tower_lsp_server::Server::new(library_input, library_output, socket)
        .concurrency_level(CONCURRENT_REQUESTS)
        .serve(service)
        .await;
    reader.abort();
    let _ = reader.await;
    let _ = forward.await;
    // Everything said before `exit` goes out; a blocked stdout does not keep the process alive.
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    shutdown_requested.load(Ordering::Acquire)
}

/// Reads the client's bytes, answers bad messages, passes the good ones on. Stops after `exit`
/// (the library stops reading there) or at the end of the input.
async fn read_input<I: AsyncRead + Unpin>(
    mut input: I,
    mut to_library: DuplexStream,
    frames: UnboundedSender<Vec<u8>>,
    shutdown_requested: Arc<AtomicBool>,
) {
    let mut framer = Framer::default();
    let mut chunk = vec![0; PIPE_BYTES];
    loop {
        let read = match input.read(&mut chunk).await {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::error!("cannot read from the client: {e}");
                break;
            }
        };
        framer.push(&chunk[..read]);
        while let Some(incoming) = framer.next_incoming() {
            match incoming {
                Incoming::Message { body, method, is_request } => {
                    if is_request && method.as_deref() == Some("shutdown") {
                        shutdown_requested.store(true, Ordering::Release);
                    }
                    if to_library.write_all(&frame(&body)).await.is_err() {
                        return;
                    }
                    if method.as_deref() == Some("exit") {
                        return;
                    }
                }
                Incoming::Answer(answers) => {
                    for answer in answers {
                        if let Ok(body) = serde_json::to_vec(&answer) {
                            let _ = frames.send(frame(&body));
                        }
                    }
                }
            }
        }
    }
    if framer.pending() > 0 {
        tracing::warn!("the input ended inside a message ({} bytes unread)", framer.pending());
    }
}

/// Cuts the library's output into whole messages (the library frames them well).
async fn forward_library_output(from_library: DuplexStream, frames: UnboundedSender<Vec<u8>>) {
    let mut reader = BufReader::new(from_library);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length:") {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let Some(length) = length else { continue };
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        if frames.send(frame(&body)).is_err() {
            return;
        }
    }
}

async fn write_frames<O: AsyncWrite + Unpin>(mut output: O, mut frames: UnboundedReceiver<Vec<u8>>) {
    while let Some(framed) = frames.recv().await {
        if output.write_all(&framed).await.and(output.flush().await).is_err() {
            tracing::error!("cannot write to the client; it is gone");
            return;
        }
    }
}
