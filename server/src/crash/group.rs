//! Crash identity: one exception type at one in-app location is one crash group, however many
//! times it happened. The signature depends only on the event, so the collector's store, the files
//! source and the language server all agree on it.

use super::library::is_library_path;
use super::{CrashEvent, Frame};

/// How many in-app frames (newest first) take part in the signature.
const SIGNATURE_FRAMES: usize = 3;

/// Whether a frame is application code by what the event alone says: the source's explicit
/// `in_app`, otherwise a path that does not run through a dependency or runtime folder.
pub fn looks_in_app(frame: &Frame) -> bool {
    looks_in_app_with(frame, &[])
}

/// [`looks_in_app`], also counting the configured dependency folders (`[mapping]
/// dependency_folders`) as library code.
pub fn looks_in_app_with(frame: &Frame, dependency_folders: &[String]) -> bool {
    if let Some(in_app) = frame.in_app {
        return in_app;
    }
    frame.paths().next().is_some_and(|path| !is_library_path(path, dependency_folders))
}

/// The stable signature of the crash group an event belongs to: the outermost exception's type
/// and its newest in-app frames (function and file name). Hex, 16 characters.
pub fn signature(event: &CrashEvent) -> String {
    let mut key = String::new();
    if let Some(exception) = event.outermost() {
        key.push_str(&exception.ty);
        // Only the newest in-app frames are looked at (`take` stops the filter early).
        let mut in_app: Vec<&Frame> =
            exception.frames.iter().rev().filter(|f| looks_in_app(f)).take(SIGNATURE_FRAMES).collect();
        if in_app.is_empty() {
            in_app = exception.frames.iter().rev().take(SIGNATURE_FRAMES).collect();
        }
        for frame in in_app {
            key.push('\u{1f}');
            key.push_str(frame.function.as_deref().unwrap_or(""));
            key.push('@');
            key.push_str(file_name(frame.paths().next().unwrap_or("")));
        }
        if exception.frames.is_empty() {
            key.push('\u{1f}');
            key.push_str(&exception.value);
        }
    }
    format!("{:016x}", fnv1a64(key.as_bytes()))
}

/// A short, human-friendly id derived from a signature: `CL-` and six characters.
pub fn short_id(signature: &str) -> String {
    format!("CL-{}", signature.get(..6).unwrap_or(signature).to_ascii_uppercase())
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// FNV-1a: tiny, stable across platforms and releases (unlike `std`'s hasher), good enough for ids.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::Exception;

    fn frame(path: &str, function: &str) -> Frame {
        Frame { filename: Some(path.into()), function: Some(function.into()), line: Some(1), ..Frame::default() }
    }

    fn event(ty: &str, frames: Vec<Frame>) -> CrashEvent {
        CrashEvent {
            exceptions: vec![Exception { ty: ty.into(), frames, ..Exception::default() }],
            ..CrashEvent::default()
        }
    }

    #[test]
    fn same_bug_deployed_elsewhere_is_one_group() {
        let deployed = event("KeyError", vec![frame("/app/shop/orders.py", "total")]);
        let local = event("KeyError", vec![frame("shop/orders.py", "total")]);
        assert_eq!(signature(&deployed), signature(&local));
    }

    #[test]
    fn library_frames_do_not_split_groups() {
        let a = event(
            "KeyError",
            vec![frame("shop/orders.py", "total"), frame("/usr/lib/python3/site-packages/x.py", "f")],
        );
        let b = event(
            "KeyError",
            vec![frame("shop/orders.py", "total"), frame("/usr/lib/python3/site-packages/x.py", "g")],
        );
        assert_eq!(signature(&a), signature(&b));
        assert!(!looks_in_app(&frame("/srv/node_modules/express/index.js", "handle")));
        assert!(!looks_in_app(&frame("/usr/lib/go-1.19/src/runtime/panic.go", "gopanic")));
        assert!(!looks_in_app(&frame(
            "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/option.rs",
            "unwrap"
        )));
        assert!(!looks_in_app(&frame("<frozen runpy>", "_run_code")));
        // A Go project's own `internal/` packages and a GOPATH checkout are application code.
        assert!(looks_in_app(&frame("/srv/ledger/internal/books/post.go", "Post")));
        assert!(looks_in_app(&frame("/home/ada/go/src/example.com/ledger/main.go", "main")));
    }

    #[test]
    fn other_type_or_place_is_another_group() {
        let a = event("KeyError", vec![frame("shop/orders.py", "total")]);
        assert_ne!(signature(&a), signature(&event("ValueError", vec![frame("shop/orders.py", "total")])));
        assert_ne!(signature(&a), signature(&event("KeyError", vec![frame("shop/orders.py", "refund")])));
        assert!(short_id(&signature(&a)).starts_with("CL-"));
    }
}
