//! Stack safety for the recursive parts of the crate (parser, executor,
//! and the tree's `Drop`, `Clone`, `Debug` and `Display`): each recursive
//! entry goes through [`guard`], which runs its body on a fresh
//! heap-allocated stack segment when less than [`RED_ZONE`] of the current
//! one is left. Nesting is then bounded by [`crate::MAX_DEPTH`] and
//! [`crate::MAX_CALL_DEPTH`] (and memory), not by the size of the calling
//! thread's stack: a tokio worker, a blocking-pool thread and the main
//! thread all work.

/// Stack that must be left for the code between two guarded entries and
/// for what template functions do (except `query`: see [`callout`]).
const RED_ZONE: usize = 256 * 1024;

/// Stack left for the caller's code that a `query` runs (the datasource
/// client, on this thread), however deep in a template it is called: what
/// it would have had at the top of a 2 MiB thread.
const CALLOUT_RED_ZONE: usize = 1024 * 1024;

/// Size of each new stack segment.
const SEGMENT: usize = 4 * 1024 * 1024;

/// Run `f`, on a new stack segment if the current one is nearly used up.
#[inline]
pub(crate) fn guard<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}

/// Run the caller's `f` (a `query`) with at least [`CALLOUT_RED_ZONE`] of
/// stack.
pub(crate) fn callout<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(CALLOUT_RED_ZONE, SEGMENT, f)
}
