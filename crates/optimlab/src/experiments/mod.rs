//! The chapter's studies. Each returns plain serde data; rendering is the caller's business.

pub mod trajectory;
