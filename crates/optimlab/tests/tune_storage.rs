//! The storage conformance suite on the memory, SQLite and journal storages, plus the tests
//! particular to each back end.

mod storage_conformance;

use optimlab::tune::storage::memory::MemoryStorage;
use optimlab::tune::storage::{self, Storage};
use std::sync::Arc;
use storage_conformance::{CASES, Caps, Fixture};

fn memory() -> Fixture {
    let shared = Arc::new(MemoryStorage::new());
    Fixture::new(move || Box::new(shared.clone()) as Box<dyn Storage>, ())
}

fn run(make: &dyn Fn() -> Fixture, caps: Caps, name: &str) {
    let (_, case) = CASES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no conformance case {name}"));
    case(make, &caps);
}

/// One `#[test]` per conformance case and back end.
macro_rules! conformance {
    ($backend:ident, $make:expr, $caps:expr, [$($case:ident),*]) => {
        mod $backend {
            $(
                #[test]
                fn $case() {
                    super::run(&$make, $caps, stringify!($case));
                }
            )*
        }
    };
}

conformance!(
    memory_conformance,
    super::memory,
    super::Caps { persistent: false },
    [
        studies,
        lifecycle,
        numbering_concurrent,
        budget_concurrent,
        one_winner_for_waiting,
        reap_and_requeue,
        fencing,
        reopen_after_crash,
        import_round_trip
    ]
);

#[test]
fn unknown_url_is_one_line_error() {
    let err = storage::open("redis://x")
        .err()
        .expect("unknown URL")
        .to_string();
    assert!(err.contains("redis://x") && !err.contains('\n'), "{err}");
}
