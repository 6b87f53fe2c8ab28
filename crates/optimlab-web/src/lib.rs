//! The optimlab library behind the playground page, as a WebAssembly module.
//!
//! The interface is one JSON request in, one JSON response out ([`handle`]): no JavaScript
//! glue generator is needed. The page writes a UTF-8 request into memory from [`optimlab_alloc`],
//! calls [`optimlab_call`], reads a 4-byte little-endian length and that many bytes of JSON at
//! the returned address, and frees them with [`optimlab_dealloc`].
//!
//! Requests (`op` names the operation; every other key is the operation's):
//! - `trajectory`: an [`optimlab::experiments::trajectory::Request`], as `optimlab trajectory`
//!   takes it; answers the same report as `optimlab trajectory --json`.
//! - `session`: a network, optimizer and data set ([`session::SessionRequest`]); answers an id.
//! - `step`: trains a session for some iterations and measures it ([`session::StepRequest`]).
//! - `free`: drops a session.
//! - `surface`: a test function's values on a grid, for the contour plot ([`SurfaceRequest`]).
//! - `histograms`: the initialisation study's per-layer activation histograms for one
//!   initialisation and activation ([`histograms::Request`]).
//!
//! A response is `{"ok": …}` or `{"error": "one line"}`.

pub mod histograms;
pub mod session;

use serde::Deserialize;
use serde_json::{Value, json};

/// Answers one JSON request (see the crate documentation).
pub fn handle(request: &str) -> String {
    match dispatch(request) {
        Ok(v) => json!({ "ok": v }).to_string(),
        Err(e) => json!({ "error": e }).to_string(),
    }
}

fn dispatch(request: &str) -> Result<Value, String> {
    let mut value: Value =
        serde_json::from_str(request).map_err(|e| format!("invalid request: {e}"))?;
    let obj = value
        .as_object_mut()
        .ok_or("invalid request: expected a JSON object")?;
    let op = match obj.remove("op") {
        Some(Value::String(s)) => s,
        _ => return Err("invalid request: no \"op\"".into()),
    };
    match op.as_str() {
        "trajectory" => {
            let req = parse::<optimlab::experiments::trajectory::Request>(value)?;
            let report = req.run().map_err(|e| e.to_string())?;
            serde_json::to_value(report).map_err(|e| e.to_string())
        }
        "session" => session::create(value),
        "step" => session::step(parse(value)?),
        "free" => {
            #[derive(Deserialize)]
            struct Free {
                id: u32,
            }
            session::free(parse::<Free>(value)?.id);
            Ok(Value::Null)
        }
        "histograms" => histograms::run(parse(value)?),
        "surface" => surface(parse(value)?),
        other => Err(format!("unknown op '{other}'")),
    }
}

/// `f` on an `n × n` grid of cell centres over `x` × `y`, row by row from the top (largest y).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurfaceRequest {
    pub function: optimlab::experiments::trajectory::TestFunction,
    pub x: [f64; 2],
    pub y: [f64; 2],
    pub n: usize,
}

fn surface(req: SurfaceRequest) -> Result<Value, String> {
    if req.n == 0 || req.n > 1000 {
        return Err(format!("n {}: expected 1 to 1000", req.n));
    }
    let n = req.n as f64;
    let mut values = Vec::with_capacity(req.n * req.n);
    for r in 0..req.n {
        let y = req.y[1] - (req.y[1] - req.y[0]) * (r as f64 + 0.5) / n;
        for c in 0..req.n {
            let x = req.x[0] + (req.x[1] - req.x[0]) * (c as f64 + 0.5) / n;
            values.push(req.function.value(x, y));
        }
    }
    Ok(json!(values))
}

fn parse<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| format!("invalid request: {e}"))
}

/// Reserves `len` bytes for a request; [`optimlab_call`] frees them.
#[unsafe(no_mangle)]
pub extern "C" fn optimlab_alloc(len: usize) -> *mut u8 {
    // A boxed slice has exactly this capacity, which the frees below rely on.
    Box::into_raw(vec![0u8; len.max(1)].into_boxed_slice()).cast::<u8>()
}

/// Frees `len` bytes from [`optimlab_alloc`] or a response of [`optimlab_call`] (its length
/// plus 4).
///
/// # Safety
/// `ptr` and `len` must describe a block this module handed out and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optimlab_dealloc(ptr: *mut u8, len: usize) {
    // SAFETY: the caller returns a block allocated here with this capacity.
    drop(unsafe { Vec::from_raw_parts(ptr, 0, len.max(1)) });
}

/// Handles the request of `len` bytes at `ptr` (then frees it); returns the address of the
/// response: a u32 little-endian length followed by that many bytes of JSON.
///
/// # Safety
/// `ptr` must come from [`optimlab_alloc`]`(len)` with `len` bytes written.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn optimlab_call(ptr: *mut u8, len: usize) -> *mut u8 {
    // SAFETY: the caller passes a block from optimlab_alloc(len), filled.
    let bytes = unsafe { Vec::from_raw_parts(ptr, len, len.max(1)) };
    let response = match std::str::from_utf8(&bytes) {
        Ok(text) => handle(text),
        Err(_) => json!({ "error": "invalid request: not UTF-8" }).to_string(),
    };
    let mut out = Vec::with_capacity(response.len() + 4);
    out.extend_from_slice(&(response.len() as u32).to_le_bytes());
    out.extend_from_slice(response.as_bytes());
    // The page frees it with optimlab_dealloc(ptr, len + 4): capacity must equal that.
    let mut out = out.into_boxed_slice().into_vec();
    let p = out.as_mut_ptr();
    std::mem::forget(out);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(request: &str) -> Value {
        let v: Value = serde_json::from_str(&handle(request)).unwrap();
        assert!(v.get("error").is_none(), "{request}: {v}");
        v["ok"].clone()
    }

    #[test]
    fn trajectory_is_the_librarys() {
        let v = ok(
            r#"{"op":"trajectory","function":"rosenbrock","optimizer":"adam","lr":0.05,"steps":40,"preset":"book","start":[-1.5,2]}"#,
        );
        let req = optimlab::experiments::trajectory::Request {
            function: optimlab::experiments::trajectory::TestFunction::Rosenbrock,
            start: Some([-1.5, 2.0]),
            steps: 40,
            preset: optimlab::Preset::Book,
            dtype: None,
            optimizer: optimlab::optim::OptimizerConfig {
                name: Some(optimlab::optim::OptimizerName::Adam),
                lr: Some(0.05),
                ..Default::default()
            },
        };
        let expected = serde_json::to_value(req.run().unwrap()).unwrap();
        assert_eq!(v, expected);
        assert_eq!(v["positions"].as_array().unwrap().len(), 41);
        assert_eq!(v["dtype"], "f64");
    }

    #[test]
    fn errors_are_one_line() {
        for bad in [
            "nope",
            r#"{"op":"fly"}"#,
            r#"{"op":"trajectory","function":"moon"}"#,
            r#"{"op":"trajectory","optimizer":"adam","lr":-1}"#,
            r#"{"op":"step","id":999,"iters":1}"#,
        ] {
            let v: Value = serde_json::from_str(&handle(bad)).unwrap();
            let e = v["error"].as_str().unwrap_or_else(|| panic!("{bad}: {v}"));
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn the_abi_round_trips() {
        let req = br#"{"op":"trajectory","steps":3}"#;
        let p = optimlab_alloc(req.len());
        unsafe {
            std::ptr::copy_nonoverlapping(req.as_ptr(), p, req.len());
            let out = optimlab_call(p, req.len());
            let n = u32::from_le_bytes(std::slice::from_raw_parts(out, 4).try_into().unwrap());
            let text = std::str::from_utf8(std::slice::from_raw_parts(out.add(4), n as usize))
                .unwrap()
                .to_string();
            optimlab_dealloc(out, n as usize + 4);
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["ok"]["positions"].as_array().unwrap().len(), 4);
        }
    }
}
