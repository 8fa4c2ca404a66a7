//! Mapping a crash frame to a file of the workspace. (stub)
