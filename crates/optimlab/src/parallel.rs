//! Independent jobs in parallel: on rayon's pool with the `parallel` feature, one after the
//! other without it (and on wasm32). Results come back in input order either way, so a study's
//! numbers do not depend on the feature or the thread count.

/// `items.map(job)`, collected in input order; the first error (in input order) wins.
pub(crate) fn try_map<I, R, E>(
    items: &[I],
    job: impl Fn(&I) -> Result<R, E> + Sync + Send,
) -> Result<Vec<R>, E>
where
    I: Sync,
    R: Send,
    E: Send,
{
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        items.par_iter().map(job).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        items.iter().map(job).collect()
    }
}

/// `items.map(job)`, collected in input order.
pub(crate) fn map<I, R>(items: &[I], job: impl Fn(&I) -> R + Sync + Send) -> Vec<R>
where
    I: Sync,
    R: Send,
{
    match try_map(items, |i| Ok::<R, std::convert::Infallible>(job(i))) {
        Ok(v) => v,
        Err(never) => match never {},
    }
}

/// `(a(), b())`, on two threads with the `parallel` feature, one after the other without it.
/// Callers split work so that the result does not depend on which.
///
/// On a rayon worker this is `rayon::join`. From any other thread (a training loop on the
/// main thread) `b` goes to one persistent helper thread instead: injecting a job into
/// rayon's pool from outside allocates a queue block every few dozen jobs, and a training
/// step must not allocate. If the helper is busy with another caller, both run here.
pub(crate) fn join<RA: Send, RB: Send>(
    a: impl FnOnce() -> RA + Send,
    b: impl FnOnce() -> RB + Send,
) -> (RA, RB) {
    #[cfg(feature = "parallel")]
    {
        if rayon::current_thread_index().is_some() {
            return rayon::join(a, b);
        }
        helper::join(a, b)
    }
    #[cfg(not(feature = "parallel"))]
    {
        (a(), b())
    }
}

#[cfg(feature = "parallel")]
mod helper {
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::sync::{Condvar, Mutex, OnceLock, TryLockError};

    /// A borrowed `FnMut` on the caller's stack; the caller waits until it has run.
    struct Task(*mut (dyn FnMut() + Send));
    // SAFETY: the closure is `Send`, and the caller keeps it alive (and does not touch it)
    // until the helper reports it finished.
    unsafe impl Send for Task {}

    #[derive(Default)]
    struct State {
        task: Option<Task>,
        finished: bool,
        panicked: bool,
    }

    struct Helper {
        /// One caller at a time.
        busy: Mutex<()>,
        state: Mutex<State>,
        wake: Condvar,
        done: Condvar,
    }

    fn helper() -> &'static Helper {
        static HELPER: OnceLock<&'static Helper> = OnceLock::new();
        HELPER.get_or_init(|| {
            let h: &'static Helper = Box::leak(Box::new(Helper {
                busy: Mutex::new(()),
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
                done: Condvar::new(),
            }));
            std::thread::Builder::new()
                .name("optimlab-join".into())
                .spawn(move || run(h))
                .expect("spawning the helper thread");
            h
        })
    }

    fn run(h: &'static Helper) {
        let mut state = h.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match state.task.take() {
                Some(Task(f)) => {
                    drop(state);
                    // SAFETY: see `Task`: the pointee lives until `finished` is seen.
                    let ok = catch_unwind(AssertUnwindSafe(|| unsafe { (*f)() })).is_ok();
                    state = h.state.lock().unwrap_or_else(|e| e.into_inner());
                    state.finished = true;
                    state.panicked = !ok;
                    h.done.notify_one();
                }
                None => state = h.wake.wait(state).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }

    pub(super) fn join<RA: Send, RB: Send>(
        a: impl FnOnce() -> RA + Send,
        b: impl FnOnce() -> RB + Send,
    ) -> (RA, RB) {
        let h = helper();
        let _turn = match h.busy.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return (a(), b()),
        };
        let mut b = Some(b);
        let mut rb = None;
        let mut call = || rb = b.take().map(|b| b());
        let call: &mut (dyn FnMut() + Send + '_) = &mut call;
        // SAFETY: only the lifetime is erased; this function waits below until the helper
        // has finished with the closure, on every path (a panic in `a` included).
        let call: *mut (dyn FnMut() + Send + 'static) = unsafe { std::mem::transmute(call) };
        {
            let mut state = h.state.lock().unwrap_or_else(|e| e.into_inner());
            *state = State {
                task: Some(Task(call)),
                finished: false,
                panicked: false,
            };
            h.wake.notify_one();
        }
        let ra = catch_unwind(AssertUnwindSafe(a));
        let mut state = h.state.lock().unwrap_or_else(|e| e.into_inner());
        while !state.finished {
            state = h.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let panicked = state.panicked;
        drop(state);
        let ra = ra.unwrap_or_else(|p| resume_unwind(p));
        if panicked {
            panic!("a parallel task panicked");
        }
        (ra, rb.expect("the helper ran the task"))
    }
}
