//! Downloads MNIST and Fashion-MNIST into the cache folder, checking every file.
//!
//! Each file is fetched into a temporary file in the destination folder, checked, synced and
//! only then renamed to its final name: a final name always holds a complete, verified file.
//! A failed check or transfer deletes the temporary file: nothing is kept.
//!
//! Checks (the constants below):
//! - MD5 of each `.gz` as published by the datasets' maintainers and by torchvision
//!   (`torchvision.datasets.MNIST.resources` / `FashionMNIST.resources`; the same values are in
//!   the Fashion-MNIST README).
//! - Fashion-MNIST also gets a SHA-256 of each file's *decompressed* content, computed here from
//!   the copy Debian ships (`dataset-fashion-mnist`, /usr/share/datasets/fashion-mnist). Debian
//!   recompressed the `.gz` files, so their bytes (and MD5s) differ from the published ones, but
//!   the decompressed MD5s of Debian's copy equal those torchvision-era tooling publishes for the
//!   raw files (`f4a8712d…`, `9018921c…`, `8181f547…`, `15d48437…`): same data. MNIST has no
//!   copy here to compute a SHA-256 from, so it is checked by MD5 only.
//!
//! Files already present and valid are not fetched again; present but invalid ones are
//! replaced (atomically).

use super::DataError;
use super::idx;
use md5::{Digest, Md5};
use sha2::Sha256;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The largest file accepted from a mirror (MNIST-sized files are at most ~26 MB).
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// One file of a data set on a mirror, with the digests it must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteFile {
    /// File name on the mirror and in the cache folder (e.g. `train-images-idx3-ubyte.gz`).
    pub name: String,
    /// MD5 of the file as served (lower-case hex).
    pub md5: String,
    /// SHA-256 of the gzip-decompressed content (lower-case hex), where known.
    pub raw_sha256: Option<String>,
}

/// The data sets `optimlab data download` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remote {
    Mnist,
    FashionMnist,
}

/// torchvision `MNIST.resources` (MD5 of the .gz files).
const MNIST_MD5: [&str; 4] = [
    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "d53e105ee54ea40749a09fcbcd1e9432",
    "9fb629c4189551a2d022fa330f9573f3",
    "ec29112dd5afa0611ce80d1b7f02629c",
];
/// torchvision `FashionMNIST.resources` and the Fashion-MNIST README (MD5 of the .gz files).
const FASHION_MD5: [&str; 4] = [
    "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "25c81989df183df01b3e8a0aad5dffbe",
    "bef4ecab320f06d8554ea6380940ec79",
    "bb300cfdad3c16e7a12a480ee83cd310",
];
/// SHA-256 of the decompressed Fashion-MNIST files, computed from Debian's copy.
const FASHION_RAW_SHA256: [&str; 4] = [
    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
];

impl Remote {
    /// `mnist` or `fashion-mnist`.
    pub fn parse(s: &str) -> Result<Remote, DataError> {
        match s {
            "mnist" => Ok(Remote::Mnist),
            "fashion-mnist" => Ok(Remote::FashionMnist),
            _ => Err(DataError::Config {
                flag: "data set".into(),
                value: s.into(),
                problem: "unknown; expected mnist or fashion-mnist".into(),
            }),
        }
    }

    /// The name: also the `--data` value and the folder in the cache.
    pub fn name(self) -> &'static str {
        match self {
            Remote::Mnist => "mnist",
            Remote::FashionMnist => "fashion-mnist",
        }
    }

    /// The mirror torchvision uses.
    pub fn default_mirror(self) -> &'static str {
        match self {
            Remote::Mnist => "https://ossci-datasets.s3.amazonaws.com/mnist/",
            Remote::FashionMnist => "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        }
    }

    /// The four files with their published digests.
    pub fn files(self) -> Vec<RemoteFile> {
        idx::FILE_NAMES
            .iter()
            .enumerate()
            .map(|(i, stem)| RemoteFile {
                name: format!("{stem}.gz"),
                md5: match self {
                    Remote::Mnist => MNIST_MD5[i],
                    Remote::FashionMnist => FASHION_MD5[i],
                }
                .into(),
                raw_sha256: match self {
                    Remote::Mnist => None,
                    Remote::FashionMnist => Some(FASHION_RAW_SHA256[i].into()),
                },
            })
            .collect()
    }
}

/// What a download did, for progress output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The file was already there and valid.
    Present { file: PathBuf },
    /// The file was there but invalid (`reason`); it is being fetched again.
    Replacing { file: PathBuf, reason: String },
    /// Fetching starts.
    Fetching { url: String },
    /// Fetched, verified and stored under its final name.
    Saved { file: PathBuf, bytes: u64 },
}

/// Downloads `remote` from `mirror` (default: [`Remote::default_mirror`]) into
/// `cache/NAME/`, checked against the published digests. Returns the folder.
pub fn download(
    remote: Remote,
    mirror: Option<&str>,
    cache: &Path,
    on_event: &mut dyn FnMut(Event),
) -> Result<PathBuf, DataError> {
    let dir = cache.join(remote.name());
    download_files(
        mirror.unwrap_or(remote.default_mirror()),
        &dir,
        &remote.files(),
        on_event,
    )?;
    Ok(dir)
}

/// Downloads each of `files` from `base_url` into `dir` (created if needed), checking each
/// against its digests: the engine of [`download`], with the digests as a parameter.
pub fn download_files(
    base_url: &str,
    dir: &Path,
    files: &[RemoteFile],
    on_event: &mut dyn FnMut(Event),
) -> Result<(), DataError> {
    fs::create_dir_all(dir).map_err(|e| DataError::io(dir.display(), e))?;
    let agent = agent_for(base_url);
    for f in files {
        let target = dir.join(&f.name);
        if target.is_file() {
            match verify_file(&target, f) {
                Ok(()) => {
                    on_event(Event::Present { file: target });
                    continue;
                }
                Err(e) => on_event(Event::Replacing {
                    file: target.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        let url = join_url(base_url, &f.name);
        on_event(Event::Fetching { url: url.clone() });
        let bytes = fetch_verified(&agent, &url, &target, f)?;
        on_event(Event::Saved {
            file: target,
            bytes,
        });
    }
    Ok(())
}

/// Checks a file on disk against its digests.
pub fn verify_file(path: &Path, f: &RemoteFile) -> Result<(), DataError> {
    let shown = path.display();
    let mut file = File::open(path).map_err(|e| DataError::io(&shown, e))?;
    let mut md5 = Md5::new();
    io::copy(&mut file, &mut HashWriter(&mut md5)).map_err(|e| DataError::io(&shown, e))?;
    check_digests(path, f, &hex(&md5.finalize()))
}

fn check_digests(path: &Path, f: &RemoteFile, md5: &str) -> Result<(), DataError> {
    let mismatch = |algorithm: &str, expected: &str, actual: String| DataError::Checksum {
        file: path.display().to_string(),
        algorithm: algorithm.into(),
        expected: expected.into(),
        actual,
    };
    if !md5.eq_ignore_ascii_case(&f.md5) {
        return Err(mismatch("MD5", &f.md5, md5.into()));
    }
    if let Some(want) = &f.raw_sha256 {
        let file = File::open(path).map_err(|e| DataError::io(path.display(), e))?;
        let mut sha = Sha256::new();
        io::copy(
            &mut flate2::read::GzDecoder::new(io::BufReader::new(file)),
            &mut HashWriter(&mut sha),
        )
        .map_err(|e| DataError::invalid(path.display(), format!("corrupt gzip data: {e}")))?;
        let got = hex(&sha.finalize());
        if !got.eq_ignore_ascii_case(want) {
            return Err(mismatch("SHA-256 (decompressed)", want, got));
        }
    }
    Ok(())
}

/// Fetches `url` into a temporary file beside `target`, checks it, syncs and renames it.
fn fetch_verified(
    agent: &ureq::Agent,
    url: &str,
    target: &Path,
    f: &RemoteFile,
) -> Result<u64, DataError> {
    let http = |problem: String| DataError::Http {
        url: url.into(),
        problem,
    };
    let response = agent.get(url).call().map_err(|e| http(describe(e)))?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let temp = TempFile::create(dir, &f.name)?;
    let mut md5 = Md5::new();
    let mut body = response
        .into_body()
        .into_with_config()
        .limit(MAX_FILE_BYTES)
        .reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    let mut out = io::BufWriter::new(&temp.file);
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(http(format!("transfer failed after {total} bytes: {e}"))),
        };
        md5.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| DataError::io(temp.path.display(), e))?;
        total += n as u64;
    }
    out.flush()
        .map_err(|e| DataError::io(temp.path.display(), e))?;
    drop(out);
    // Errors name the final file: that is the one the user asked for.
    check_digests_of(&temp.path, target, f, &hex(&md5.finalize()))?;
    temp.persist(target)?;
    Ok(total)
}

/// [`check_digests`] on `temp`, with errors naming `shown`.
fn check_digests_of(temp: &Path, shown: &Path, f: &RemoteFile, md5: &str) -> Result<(), DataError> {
    check_digests(temp, f, md5).map_err(|e| match e {
        DataError::Checksum {
            algorithm,
            expected,
            actual,
            ..
        } => DataError::Checksum {
            file: shown.display().to_string(),
            algorithm,
            expected,
            actual,
        },
        DataError::Invalid { problem, .. } => DataError::invalid(shown.display(), problem),
        other => other,
    })
}

/// A temporary file that is deleted unless persisted.
struct TempFile {
    path: PathBuf,
    file: File,
    keep: bool,
}

impl TempFile {
    fn create(dir: &Path, name: &str) -> Result<TempFile, DataError> {
        let path = dir.join(format!(".{name}.{}.part", std::process::id()));
        let file = File::create(&path).map_err(|e| DataError::io(path.display(), e))?;
        Ok(TempFile {
            path,
            file,
            keep: false,
        })
    }

    fn persist(mut self, target: &Path) -> Result<(), DataError> {
        self.file
            .sync_all()
            .map_err(|e| DataError::io(self.path.display(), e))?;
        fs::rename(&self.path, target).map_err(|e| DataError::io(target.display(), e))?;
        self.keep = true;
        // Make the rename durable too (best effort: not every file system syncs folders).
        if let Some(dir) = target.parent()
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// An HTTP agent: connect/response timeouts, no proxy for loopback addresses.
fn agent_for(base_url: &str) -> ureq::Agent {
    let host = base_url
        .split("://")
        .nth(1)
        .unwrap_or(base_url)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    let loopback = host == "localhost" || host.starts_with("127.") || base_url.contains("://[::1]");
    let mut config = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .user_agent(concat!("optimlab/", env!("CARGO_PKG_VERSION")));
    if loopback {
        config = config.proxy(None);
    }
    config.build().into()
}

/// One line for an HTTP error.
fn describe(e: ureq::Error) -> String {
    match e {
        ureq::Error::StatusCode(code) => format!("HTTP {code}{}", reason(code)),
        ureq::Error::BodyExceedsLimit(n) => format!("larger than {n} bytes"),
        other => other.to_string().replace('\n', " "),
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        403 => " Forbidden",
        404 => " Not Found",
        500 => " Internal Server Error",
        502 => " Bad Gateway",
        503 => " Service Unavailable",
        _ => "",
    }
}

/// `base` + `/` + `name`, with exactly one slash.
pub fn join_url(base: &str, name: &str) -> String {
    format!("{}/{name}", base.trim_end_matches('/'))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// MD5 of bytes, lower-case hex (for tests and tools).
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

/// SHA-256 of bytes, lower-case hex (for tests and tools).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

struct HashWriter<'a, D: Digest>(&'a mut D);

impl<D: Digest> Write for HashWriter<'_, D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_known_strings() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn urls_join_with_one_slash() {
        assert_eq!(join_url("http://a/b/", "f.gz"), "http://a/b/f.gz");
        assert_eq!(join_url("http://a/b", "f.gz"), "http://a/b/f.gz");
    }

    #[test]
    fn remotes_list_four_gz_files_with_digests() {
        for r in [Remote::Mnist, Remote::FashionMnist] {
            let files = r.files();
            assert_eq!(files.len(), 4);
            for f in &files {
                assert!(f.name.ends_with("-ubyte.gz"));
                assert_eq!(f.md5.len(), 32);
            }
            assert_eq!(Remote::parse(r.name()).unwrap(), r);
        }
        assert!(Remote::parse("cifar").is_err());
    }

    /// Debian's copy decompresses to the data whose SHA-256 the constants hold.
    #[test]
    fn fashion_raw_sha256_matches_debians_copy() {
        let dir = Path::new(crate::data::source::SYSTEM_FASHION_MNIST);
        if !idx::is_mnist_folder(dir) {
            eprintln!("note: {} absent; skipped", dir.display());
            return;
        }
        for f in Remote::FashionMnist.files() {
            let path = dir.join(&f.name);
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(File::open(&path).unwrap())
                .read_to_end(&mut raw)
                .unwrap();
            assert_eq!(Some(sha256_hex(&raw)), f.raw_sha256, "{}", path.display());
        }
    }
}
