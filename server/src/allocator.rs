//! The allocator (mimalloc, set in `main.rs`) and the system: memory the server freed goes back
//! at once after a big drop (a big crash file gone), not whenever mimalloc next gets busy. Its
//! purge waits a second after a free and runs only on later allocations, and an idle language
//! server makes none: without this, a server that read a 50 MB crash file once kept its 1 GB.

/// Frees this thread's unused pages and purges every page waiting to go back to the system.
/// Takes a few milliseconds on a big heap; call it after dropping a lot, off the async threads.
#[allow(unsafe_code)]
pub fn give_back() {
    // SAFETY: `mi_collect` has no preconditions: any thread may call it at any time, and it only
    // releases memory no allocation refers to. With another global allocator (the tests) it
    // collects mimalloc's own empty heap.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
