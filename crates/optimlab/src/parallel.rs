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
/// step must not allocate. The helper polls for its next job for 100 µs after each one and
/// then parks, so the dozen hand-offs of a training step cost well under a µs each, and an
/// idle process (or one training only on rayon workers, one GEMM thread per run) has no
/// thread spinning. If the helper is busy with another caller, both run here.
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
    use std::cell::UnsafeCell;
    use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Mutex, OnceLock, TryLockError};
    use std::thread::Thread;
    use std::time::{Duration, Instant};

    /// How long either side polls before it parks: the helper after its last job, the caller
    /// while it waits for the helper's half. A training step hands the helper a job every few
    /// to few tens of µs (one per split layer, pass and update), so during a step the helper
    /// never parks and a hand-off costs well under a µs; once steps stop, it parks after this
    /// and takes no CPU (a parked hand-off costs a futex wake-up, ≈ 10–50 µs).
    const SPIN: Duration = Duration::from_micros(100);

    /// A borrowed `FnMut` on the caller's stack (the caller waits until it has run), and the
    /// caller's floating-point mode: subnormals flushed or not, the halves must agree.
    #[derive(Clone, Copy)]
    struct Task(*mut (dyn FnMut() + Send), u32);

    struct Helper {
        /// One caller at a time.
        busy: Mutex<()>,
        /// Written by the caller before it bumps `posted`, read by the helper after it sees
        /// the bump (and never while a job is out).
        task: UnsafeCell<Option<Task>>,
        /// Jobs handed over and jobs finished: equal when the helper is idle.
        posted: AtomicUsize,
        finished: AtomicUsize,
        panicked: AtomicBool,
        /// Set by a side before it parks (and re-checks its condition), cleared by whoever
        /// wakes it: `SeqCst` on both, so either the sleeper sees the news or the other side
        /// sees the flag and unparks it.
        helper_parked: AtomicBool,
        caller_parked: AtomicBool,
        helper_thread: OnceLock<Thread>,
        caller_thread: UnsafeCell<Option<Thread>>,
    }

    // SAFETY: `task` and `caller_thread` are written only by the caller holding `busy`, before
    // the `posted` bump that publishes them, and read by the helper only between that bump and
    // its `finished` bump; `Task`'s closure is `Send` and outlives the job (the caller waits).
    unsafe impl Sync for Helper {}
    unsafe impl Send for Helper {}

    fn helper() -> &'static Helper {
        static HELPER: OnceLock<&'static Helper> = OnceLock::new();
        HELPER.get_or_init(|| {
            let h: &'static Helper = Box::leak(Box::new(Helper {
                busy: Mutex::new(()),
                task: UnsafeCell::new(None),
                posted: AtomicUsize::new(0),
                finished: AtomicUsize::new(0),
                panicked: AtomicBool::new(false),
                helper_parked: AtomicBool::new(false),
                caller_parked: AtomicBool::new(false),
                helper_thread: OnceLock::new(),
                caller_thread: UnsafeCell::new(None),
            }));
            let handle = std::thread::Builder::new()
                .name("optimlab-join".into())
                .spawn(move || run(h))
                .expect("spawning the helper thread");
            let _ = h.helper_thread.set(handle.thread().clone());
            h
        })
    }

    /// Polls `ready` for up to [`SPIN`], then parks until `ready` (the waker unparks after
    /// changing what `ready` reads, when it sees `parked` set).
    fn wait(ready: impl Fn() -> bool, parked: &AtomicBool) {
        let start = Instant::now();
        let mut polls = 0u32;
        while !ready() {
            std::hint::spin_loop();
            polls += 1;
            if polls % 64 == 0 && start.elapsed() > SPIN {
                loop {
                    parked.store(true, SeqCst);
                    if ready() {
                        parked.store(false, SeqCst);
                        return;
                    }
                    std::thread::park();
                    parked.store(false, SeqCst);
                    if ready() {
                        return;
                    }
                }
            }
        }
    }

    fn run(h: &'static Helper) {
        let mut seen = 0usize;
        let mut mode = crate::tensor::thread_float_mode();
        loop {
            wait(|| h.posted.load(SeqCst) != seen, &h.helper_parked);
            seen = h.posted.load(SeqCst);
            // SAFETY: see `Helper`: the job was published by the `posted` bump just seen.
            let (task, caller) =
                unsafe { ((*h.task.get()).take(), (*h.caller_thread.get()).clone()) };
            let ok = match task {
                // SAFETY: see `Task`: the pointee lives until `finished` is bumped.
                Some(Task(f, caller_mode)) => {
                    if caller_mode != mode {
                        mode = caller_mode;
                        crate::tensor::set_thread_float_mode(mode);
                    }
                    catch_unwind(AssertUnwindSafe(|| unsafe { (*f)() })).is_ok()
                }
                None => true,
            };
            h.panicked.store(!ok, SeqCst);
            h.finished.store(seen, SeqCst);
            if h.caller_parked.swap(false, SeqCst)
                && let Some(caller) = caller
            {
                caller.unpark();
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
        let job = h.posted.load(SeqCst) + 1;
        // SAFETY: see `Helper`: the helper is idle (`finished == posted`) and we hold `busy`.
        unsafe {
            *h.task.get() = Some(Task(call, crate::tensor::thread_float_mode()));
            let caller = &mut *h.caller_thread.get();
            let me = std::thread::current();
            if caller.as_ref().map(Thread::id) != Some(me.id()) {
                *caller = Some(me);
            }
        }
        h.posted.store(job, SeqCst);
        if h.helper_parked.swap(false, SeqCst)
            && let Some(t) = h.helper_thread.get()
        {
            t.unpark();
        }
        let ra = catch_unwind(AssertUnwindSafe(a));
        wait(|| h.finished.load(SeqCst) == job, &h.caller_parked);
        let panicked = h.panicked.load(SeqCst);
        let ra = ra.unwrap_or_else(|p| resume_unwind(p));
        if panicked {
            panic!("a parallel task panicked");
        }
        (ra, rb.expect("the helper ran the task"))
    }
}
