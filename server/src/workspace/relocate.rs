//! Placing a frame's line in today's file when the code moved since the crash. (stub)
