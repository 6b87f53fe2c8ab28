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
/// then parks, so the hand-offs of a training step cost about a µs each, and an idle process
/// (or one training only on rayon workers, one GEMM thread per run) has no thread spinning.
/// If the helper is busy with another caller, or has not started `b` by the time `a` is done
/// (its core is taken by another process), `b` runs here.
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
    use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
    use std::sync::{Mutex, OnceLock, TryLockError};
    use std::thread::Thread;
    use std::time::{Duration, Instant};

    /// How long either side polls before it parks: the helper after its last job, the caller
    /// while it waits for the helper's half. A training step hands the helper a job every few
    /// to few tens of µs (one per split layer and per split update), so during a step the
    /// helper never parks and a hand-off costs about a µs; once steps stop, it parks after
    /// this and takes no CPU (a parked hand-off costs a futex wake-up, ≈ 10–50 µs).
    const SPIN: Duration = Duration::from_micros(100);
    /// After this much polling, a waiting side yields its core between polls: if the two
    /// threads ever share one core (the other is busy), the one with work gets it.
    const YIELD_AFTER: Duration = Duration::from_micros(5);

    /// The job slot: empty, holding a job the helper has not started, or the helper running it.
    const IDLE: u8 = 0;
    const POSTED: u8 = 1;
    const RUNNING: u8 = 2;

    /// A borrowed `FnMut` on the caller's stack (the caller waits until it has run), and the
    /// caller's floating-point mode: subnormals flushed or not, the halves must agree.
    #[derive(Clone, Copy)]
    struct Task(*mut (dyn FnMut() + Send), u32);

    struct Helper {
        /// One caller at a time.
        busy: Mutex<()>,
        /// Written by the caller (holding `busy`) while `state` is `IDLE`, read by the helper
        /// after it moved `state` from `POSTED` to `RUNNING`.
        task: UnsafeCell<Option<Task>>,
        caller_thread: UnsafeCell<Option<Thread>>,
        state: AtomicU8,
        /// The payload of a panic in the helper's job, handed to the caller to re-raise (so the
        /// caller sees the same panic whichever thread ran the half, and the payload is never
        /// dropped on the helper). Written by the helper before `IDLE`, taken by the caller after.
        panic: UnsafeCell<Option<Box<dyn std::any::Any + Send>>>,
        /// Set by a side before it parks (and re-checks its condition), cleared by whoever
        /// wakes it: `SeqCst` on both, so either the sleeper sees the news or the other side
        /// sees the flag and unparks it.
        helper_parked: AtomicBool,
        caller_parked: AtomicBool,
        helper_thread: OnceLock<Thread>,
    }

    // SAFETY: see the fields: `state` orders every access to the `UnsafeCell`s, and `Task`'s
    // closure is `Send` and outlives the job (the caller waits for `IDLE`).
    unsafe impl Sync for Helper {}
    unsafe impl Send for Helper {}

    fn helper() -> &'static Helper {
        static HELPER: OnceLock<&'static Helper> = OnceLock::new();
        HELPER.get_or_init(|| {
            let h: &'static Helper = Box::leak(Box::new(Helper {
                busy: Mutex::new(()),
                task: UnsafeCell::new(None),
                caller_thread: UnsafeCell::new(None),
                state: AtomicU8::new(IDLE),
                panic: UnsafeCell::new(None),
                helper_parked: AtomicBool::new(false),
                caller_parked: AtomicBool::new(false),
                helper_thread: OnceLock::new(),
            }));
            let warm = &*Box::leak(Box::new(AtomicBool::new(false)));
            let handle = std::thread::Builder::new()
                .name("optimlab-join".into())
                .spawn(move || {
                    warm_up_gemm();
                    warm.store(true, SeqCst);
                    run(h)
                })
                .expect("spawning the helper thread");
            let _ = h.helper_thread.set(handle.thread().clone());
            // Once per process: the warm-up's allocations then belong to this first call.
            while !warm.load(SeqCst) {
                std::thread::sleep(Duration::from_micros(50));
            }
            h
        })
    }

    /// Polls `ready` for up to [`SPIN`] (yielding between polls after [`YIELD_AFTER`]), then
    /// parks until `ready` (the waker unparks after changing what `ready` reads, when it sees
    /// `parked` set).
    fn wait(ready: impl Fn() -> bool, parked: &AtomicBool) {
        let start = Instant::now();
        let mut polls = 0u32;
        while !ready() {
            std::hint::spin_loop();
            polls += 1;
            if polls % 64 != 0 {
                continue;
            }
            let waited = start.elapsed();
            if waited > YIELD_AFTER {
                std::thread::yield_now();
            }
            if waited > SPIN {
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

    /// The GEMM kernels keep per-thread packing buffers, allocated by a thread's first
    /// product of each kind. The helper makes them before its first job (the first `join`
    /// waits for it, ≈ 1 ms once), in both precisions and at small and large shapes, so that
    /// its first share of a training step allocates nothing even when the caller took the
    /// first jobs back.
    fn warm_up_gemm() {
        fn products<T: crate::tensor::Scalar>() {
            use crate::tensor::{Matrix, Op, Threads, gemm};
            for n in [4, 16, 64, 256] {
                let a = Matrix::<T>::zeros(n, n);
                let mut c = Matrix::<T>::zeros(n, n);
                for (op_a, op_b) in [(Op::N, Op::N), (Op::T, Op::N), (Op::N, Op::T)] {
                    gemm(&mut c, &a, op_a, &a, op_b, T::one(), true, Threads(1));
                }
            }
        }
        products::<f32>();
        products::<f64>();
    }

    fn run(h: &'static Helper) {
        let mut mode = crate::tensor::thread_float_mode();
        loop {
            wait(|| h.state.load(SeqCst) == POSTED, &h.helper_parked);
            // The caller may have taken the job back meanwhile (it found it not started).
            if h.state
                .compare_exchange(POSTED, RUNNING, SeqCst, SeqCst)
                .is_err()
            {
                continue;
            }
            // SAFETY: see `Helper`: the job is ours until `state` is `IDLE` again.
            let (task, caller) =
                unsafe { ((*h.task.get()).take(), (*h.caller_thread.get()).clone()) };
            if let Some(Task(f, caller_mode)) = task {
                if caller_mode != mode {
                    mode = caller_mode;
                    crate::tensor::set_thread_float_mode(mode);
                }
                // SAFETY: see `Task`: the pointee lives until `state` is `IDLE`.
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| unsafe { (*f)() })) {
                    // SAFETY: see `Helper::panic`: ours until `state` is `IDLE`.
                    unsafe { *h.panic.get() = Some(payload) };
                }
            }
            h.state.store(IDLE, SeqCst);
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
        // has finished with the closure, on every path (a panic in `a` included), unless it
        // took the job back before the helper started it.
        let call: *mut (dyn FnMut() + Send + 'static) = unsafe { std::mem::transmute(call) };
        // SAFETY: see `Helper`: `state` is `IDLE` (every job ends so) and we hold `busy`.
        unsafe {
            *h.task.get() = Some(Task(call, crate::tensor::thread_float_mode()));
            let caller = &mut *h.caller_thread.get();
            let me = std::thread::current();
            if caller.as_ref().map(Thread::id) != Some(me.id()) {
                *caller = Some(me);
            }
        }
        h.state.store(POSTED, SeqCst);
        if h.helper_parked.swap(false, SeqCst)
            && let Some(t) = h.helper_thread.get()
        {
            t.unpark();
        }
        let ra = catch_unwind(AssertUnwindSafe(a));
        let mut panic_b = None;
        if h.state
            .compare_exchange(POSTED, IDLE, SeqCst, SeqCst)
            .is_ok()
        {
            // The helper has not started `b` although `a`, as long, is done: it is descheduled
            // or parked. Run `b` here rather than wait for it.
            // SAFETY: the job is back with us (`IDLE`, never started); the closure is ours.
            let f = unsafe { (*h.task.get()).take() };
            if ra.is_ok()
                && let Some(Task(f, _)) = f
            {
                // SAFETY: `f` is `call` above, alive on this stack frame.
                unsafe { (*f)() };
            }
        } else {
            wait(|| h.state.load(SeqCst) == IDLE, &h.caller_parked);
            // SAFETY: see `Helper::panic`: the helper wrote it before `IDLE`.
            panic_b = unsafe { (*h.panic.get()).take() };
        }
        let ra = ra.unwrap_or_else(|p| resume_unwind(p));
        if let Some(payload) = panic_b {
            resume_unwind(payload);
        }
        (ra, rb.expect("b ran on the helper or here"))
    }
}

#[cfg(all(test, feature = "parallel"))]
mod tests {
    /// Whether the helper ran the half or the caller took it back, the caller re-raises the
    /// half's own panic, and the helper goes on serving joins.
    #[test]
    fn a_panic_in_the_second_half_reaches_the_caller_as_it_was() {
        for _ in 0..20 {
            let caught = std::panic::catch_unwind(|| {
                super::join(
                    || std::thread::sleep(std::time::Duration::from_millis(1)),
                    || -> () { std::panic::panic_any(42_u32) },
                )
            });
            let payload = caught.expect_err("the half's panic reaches the caller");
            assert_eq!(payload.downcast_ref::<u32>(), Some(&42));
        }
        assert_eq!(super::join(|| 2, || 3), (2, 3));
    }
}
