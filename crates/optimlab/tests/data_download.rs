//! The checksummed download against a local HTTP server on 127.0.0.1 serving files the test
//! makes: success, already-present, wrong checksum, 404 and a cut transfer. Nothing is ever
//! left under a final name unless it verified, and no temporary file survives.

use flate2::Compression;
use flate2::write::GzEncoder;
use optimlab::data::DataError;
use optimlab::data::download::{self, Event, RemoteFile, md5_hex, sha256_hex};
use optimlab::data::idx::{self, encode};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the server does for a path.
#[derive(Clone)]
enum Reply {
    Ok(Vec<u8>),
    /// Promise the full length, send half, close.
    Cut(Vec<u8>),
}

/// A tiny HTTP/1.1 server: answers at most `max_requests` requests (404 for unknown paths),
/// one connection each, and stops by itself after them, after 30 s, or when dropped.
struct Server {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(files: HashMap<String, Reply>, max_requests: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/data/", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut served = 0;
            while served < max_requests
                && Instant::now() < deadline
                && !stopped.load(Ordering::Relaxed)
            {
                let mut stream = match listener.accept() {
                    Ok((s, _)) => s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(_) => break,
                };
                served += 1;
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                log.lock().unwrap().push(path.clone());
                let name = path.strip_prefix("/data/").unwrap_or("");
                let _ = match files.get(name) {
                    Some(Reply::Ok(body)) => {
                        let h = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        stream
                            .write_all(h.as_bytes())
                            .and_then(|_| stream.write_all(body))
                    }
                    Some(Reply::Cut(body)) => {
                        let h = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        stream
                            .write_all(h.as_bytes())
                            .and_then(|_| stream.write_all(&body[..body.len() / 2]))
                    }
                    None => stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
                    ),
                };
            }
        });
        Server {
            url,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Four small MNIST-format .gz files and their specs (MD5 of the .gz, SHA-256 of the content).
fn dataset() -> (HashMap<String, Reply>, Vec<RemoteFile>) {
    let raw = [
        encode(&[6, 2, 2], &(0..24).collect::<Vec<u8>>()),
        encode(&[6], &[0, 1, 2, 0, 1, 2]),
        encode(&[2, 2, 2], &[9; 8]),
        encode(&[2], &[2, 1]),
    ];
    let mut files = HashMap::new();
    let mut specs = Vec::new();
    for (stem, raw) in idx::FILE_NAMES.iter().zip(raw) {
        let gz = gzip(&raw);
        let name = format!("{stem}.gz");
        specs.push(RemoteFile {
            name: name.clone(),
            md5: md5_hex(&gz),
            raw_sha256: Some(sha256_hex(&raw)),
        });
        files.insert(name, Reply::Ok(gz));
    }
    (files, specs)
}

/// The file names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn all_names(specs: &[RemoteFile]) -> Vec<String> {
    let mut v: Vec<String> = specs.iter().map(|f| f.name.clone()).collect();
    v.sort();
    v
}

#[test]
fn download_fetches_verifies_and_then_skips_valid_files() {
    let (files, specs) = dataset();
    let server = Server::start(files, 4);
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("set");
    let mut events = Vec::new();
    download::download_files(&server.url, &dir, &specs, &mut |e| events.push(e)).unwrap();
    let saved = events
        .iter()
        .filter(|e| matches!(e, Event::Saved { .. }))
        .count();
    assert_eq!(saved, 4, "{events:?}");
    assert_eq!(listing(&dir), all_names(&specs));
    assert_eq!(server.requests().len(), 4);
    // The downloaded folder loads.
    let (train, test) = idx::load_folder(&dir, "set").unwrap();
    assert_eq!(
        (train.len(), test.len(), train.dim, train.classes),
        (6, 2, 4, 3)
    );
    // A second run finds every file present and valid: no request at all.
    let mut events = Vec::new();
    download::download_files(&server.url, &dir, &specs, &mut |e| events.push(e)).unwrap();
    assert!(
        events.iter().all(|e| matches!(e, Event::Present { .. })),
        "{events:?}"
    );
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn an_invalid_file_in_the_cache_is_replaced() {
    let (files, specs) = dataset();
    let server = Server::start(files, 1);
    let dir = tempfile::tempdir().unwrap();
    // Three valid files already there, one damaged.
    for f in &specs[..3] {
        let Reply::Ok(body) = &dataset().0[&f.name] else {
            unreachable!()
        };
        std::fs::write(dir.path().join(&f.name), body).unwrap();
    }
    std::fs::write(dir.path().join(&specs[3].name), b"damaged").unwrap();
    let mut events = Vec::new();
    download::download_files(&server.url, dir.path(), &specs, &mut |e| events.push(e)).unwrap();
    assert!(
        matches!(&events[3], Event::Replacing { reason, .. } if reason.contains("MD5 checksum mismatch")),
        "{events:?}"
    );
    assert_eq!(server.requests(), vec![format!("/data/{}", specs[3].name)]);
    download::verify_file(&dir.path().join(&specs[3].name), &specs[3]).unwrap();
}

#[test]
fn wrong_checksum_is_an_error_and_nothing_is_kept() {
    let (files, mut specs) = dataset();
    let server = Server::start(files, 3);
    let dir = tempfile::tempdir().unwrap();
    // The second file's MD5 is wrong: the first is kept, the second is not, the rest not tried.
    let good = specs[1].md5.clone();
    specs[1].md5 = "0123456789abcdef0123456789abcdef".into();
    let e = download::download_files(&server.url, dir.path(), &specs, &mut |_| {}).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Checksum { .. }), "{msg}");
    assert!(
        msg.contains("train-labels-idx1-ubyte.gz: MD5 checksum mismatch"),
        "{msg}"
    );
    assert!(
        msg.contains("expected 0123456789abcdef0123456789abcdef"),
        "{msg}"
    );
    assert!(msg.contains(&format!("got {good}")), "{msg}");
    assert_eq!(listing(dir.path()), vec![specs[0].name.clone()]);

    // Right MD5 but wrong content digest: also refused, also nothing kept.
    specs[1].md5 = good;
    specs[1].raw_sha256 = Some("ab".repeat(32));
    let e = download::download_files(&server.url, dir.path(), &specs, &mut |_| {}).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("SHA-256 (decompressed) checksum mismatch"),
        "{msg}"
    );
    assert_eq!(listing(dir.path()), vec![specs[0].name.clone()]);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn http_404_is_an_error_naming_the_url() {
    let (mut files, specs) = dataset();
    files.remove(&specs[2].name);
    let server = Server::start(files, 3);
    let dir = tempfile::tempdir().unwrap();
    let e = download::download_files(&server.url, dir.path(), &specs, &mut |_| {}).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Http { .. }), "{msg}");
    assert_eq!(
        msg,
        format!("{}{}: HTTP 404 Not Found", server.url, specs[2].name)
    );
    assert_eq!(
        listing(dir.path()),
        vec![specs[0].name.clone(), specs[1].name.clone()]
    );
}

#[test]
fn a_cut_transfer_is_an_error_and_nothing_is_kept() {
    let (mut files, specs) = dataset();
    let Some(Reply::Ok(body)) = files.remove(&specs[0].name) else {
        unreachable!()
    };
    files.insert(specs[0].name.clone(), Reply::Cut(body));
    let server = Server::start(files, 1);
    let dir = tempfile::tempdir().unwrap();
    let e = download::download_files(&server.url, dir.path(), &specs, &mut |_| {}).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::Http { .. }), "{msg}");
    assert!(msg.contains("transfer failed"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    assert!(listing(dir.path()).is_empty());
}

#[test]
fn nothing_listening_is_an_error() {
    // Bind then drop: the port is (almost certainly) closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_, specs) = dataset();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let e = download::download_files(&url, dir.path(), &specs, &mut |_| {}).unwrap_err();
    assert!(matches!(e, DataError::Http { .. }), "{e}");
    assert!(listing(dir.path()).is_empty());
}
