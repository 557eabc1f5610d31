//! Waiting for something that happens in another process or task: poll with a deadline,
//! never sleep a fixed time and hope. A test on a loaded machine then only takes longer;
//! it fails only when the thing never happens, with a message saying what was awaited.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often the helpers below poll.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Polls `done` every [`POLL_INTERVAL`] until it holds; panics naming `what`, with
/// `context()` (say, a log), when `limit` passes first.
pub fn wait_until(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    eventually_with(what, limit, || done().then_some(()), context)
}

/// Polls `f` every [`POLL_INTERVAL`] until it returns a value, and returns it; panics
/// naming `what` when `limit` passes first.
pub fn eventually<T>(what: &str, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    eventually_with(what, limit, f, String::new)
}

/// [`eventually`] with `context()` (say, a log) in the panic message.
pub fn eventually_with<T>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() >= limit {
            panic!(
                "timed out after {limit:?} waiting for {what}\n{}",
                context()
            );
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// [`eventually`] for async tests: `f` returns a future (wrap a plain check in
/// [`std::future::ready`]), and between polls the test yields to the executor (any
/// executor: the pause is a timer thread, not a runtime's clock), so tasks under test keep
/// running on a single-threaded runtime.
pub async fn eventually_async<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() >= limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        Pause::new(POLL_INTERVAL).await;
    }
}

/// A future that is ready once a helper thread has slept `duration`.
struct Pause {
    duration: Duration,
    state: Option<Arc<(AtomicBool, Mutex<Option<Waker>>)>>,
}

impl Pause {
    fn new(duration: Duration) -> Pause {
        Pause {
            duration,
            state: None,
        }
    }
}

impl Future for Pause {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let duration = self.duration;
        let state = self.state.get_or_insert_with(|| {
            let state = Arc::new((AtomicBool::new(false), Mutex::new(None::<Waker>)));
            let timer = state.clone();
            std::thread::spawn(move || {
                std::thread::sleep(duration);
                timer.0.store(true, Ordering::Release);
                let waker = timer
                    .1
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                if let Some(w) = waker {
                    w.wake();
                }
            });
            state
        });
        let mut waker = state.1.lock().unwrap_or_else(PoisonError::into_inner);
        if state.0.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        *waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventually_returns_the_first_value_once_it_appears() {
        let mut calls = 0;
        let v = eventually("the third call", Duration::from_secs(30), || {
            calls += 1;
            (calls == 3).then_some(calls * 10)
        });
        assert_eq!(v, 30);
    }

    #[test]
    #[should_panic(expected = "timed out after 0ns waiting for nothing\nthe log")]
    fn wait_until_panics_with_what_and_the_context() {
        wait_until("nothing", Duration::ZERO, || false, || "the log".into());
    }

    #[test]
    fn the_async_form_pauses_between_polls_without_a_runtime() {
        let mut calls = 0;
        let fut = eventually_async("the second call", Duration::from_secs(30), || {
            calls += 1;
            std::future::ready((calls == 2).then_some(()))
        });
        block_on(fut);
        assert_eq!(calls, 2);
    }

    /// A minimal executor: polls on the current thread, parks in between.
    fn block_on<F: Future>(fut: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }
}
