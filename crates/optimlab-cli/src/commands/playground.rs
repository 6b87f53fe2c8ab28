//! `optimlab playground`: the chapter as an interactive page. The page's maths is the library
//! compiled to WebAssembly (crates/optimlab-web, built by this crate's build.rs); the page is
//! one HTML file with the module inlined, so it works from `file://` with no network.

use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  optimlab playground --out playground   # then open playground/index.html\n  \
    optimlab playground --serve --port 8000  # http://127.0.0.1:8000/"
)]
pub struct Args {
    /// Folder to write index.html into (default: ./playground, unless --serve is given)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Serve the page on 127.0.0.1 instead of (or as well as) writing it
    #[arg(long)]
    serve: bool,
    /// Port for --serve (default 8000; 0 picks a free one)
    #[arg(long)]
    port: Option<u16>,
}

#[cfg(playground_wasm)]
const WASM: Result<&[u8], &str> = Ok(include_bytes!(concat!(
    env!("OUT_DIR"),
    "/optimlab_web.wasm"
)));
#[cfg(not(playground_wasm))]
const WASM: Result<&[u8], &str> = Err(env!("OPTIMLAB_PLAYGROUND_MISSING"));

const HTML: &str = include_str!("../../../optimlab-web/www/index.html");
const STYLE: &str = include_str!("../../../optimlab-web/www/style.css");
const APP: &str = include_str!("../../../optimlab-web/www/app.js");
const WORKER: &str = include_str!("../../../optimlab-web/www/worker.js");

/// The page: one self-contained HTML file.
pub fn page() -> Result<String> {
    let wasm =
        WASM.map_err(|why| anyhow::anyhow!("the playground is not built into this binary: {why}"))?;
    Ok(HTML
        .replacen("/*__STYLE__*/", STYLE, 1)
        .replacen("/*__WORKER__*/", WORKER, 1)
        .replacen("/*__APP__*/", APP, 1)
        .replacen("__WASM_BASE64__", &base64(wasm), 1))
}

pub fn run(args: Args) -> Result<()> {
    if args.port.is_some() && !args.serve {
        anyhow::bail!("--port applies to --serve: add --serve to serve the page");
    }
    let page = page()?;
    let out = match (&args.out, args.serve) {
        (Some(dir), _) => Some(dir.clone()),
        (None, false) => Some(PathBuf::from("playground")),
        (None, true) => None,
    };
    if let Some(dir) = out {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create the folder", dir.display()))?;
        let file = dir.join("index.html");
        std::fs::write(&file, &page)
            .with_context(|| format!("{}: cannot write", file.display()))?;
        println!(
            "wrote {} ({} bytes); open it in a browser",
            file.display(),
            page.len()
        );
    }
    if args.serve {
        serve(&page, args.port.unwrap_or(8000))?;
    }
    Ok(())
}

/// Serves the page on 127.0.0.1 until the process is stopped.
fn serve(page: &str, port: u16) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("cannot listen on 127.0.0.1:{port} (try another --port)"))?;
    let addr = listener.local_addr()?;
    println!("serving the playground on http://{addr}/ (Ctrl-C stops)");
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                if let Err(e) = answer(s, page) {
                    eprintln!("playground: a request failed: {e}");
                }
            }
            Err(e) => eprintln!("playground: a connection failed: {e}"),
        }
    }
    Ok(())
}

fn answer(stream: TcpStream, page: &str) -> Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(&stream);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    // Read the headers to their end before answering.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split(['?', '#']).next().unwrap_or("");
    let (status, body, kind): (&str, &[u8], &str) = match (method, path) {
        ("GET" | "HEAD", "/" | "/index.html") => {
            ("200 OK", page.as_bytes(), "text/html; charset=utf-8")
        }
        ("GET" | "HEAD", _) => ("404 Not Found", b"not found\n", "text/plain"),
        _ => ("405 Method Not Allowed", b"only GET\n", "text/plain"),
    };
    let mut w = &stream;
    write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        w.write_all(body)?;
    }
    w.flush()?;
    Ok(())
}

/// Standard base64 with padding (the page decodes it with `atob`).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(A[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[255, 254, 253]), "//79");
    }
}
