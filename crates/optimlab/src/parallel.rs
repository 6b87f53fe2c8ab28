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
