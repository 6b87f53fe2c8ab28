//! (in progress) A study: a storage, a search space, a sampler and a pruner, and the worker
//! loop that claims trials, runs the objective and stores what it reports.
