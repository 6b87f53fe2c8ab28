//! MNIST-format IDX files (<http://yann.lecun.com/exdb/mnist/>), raw or gzip-compressed.
//!
//! Only the two kinds MNIST-format data sets use: images (`idx3`, unsigned bytes, magic
//! `0x00000803`, dims count × rows × cols) and labels (`idx1`, unsigned bytes, magic `0x00000801`).
//! Compression is detected from the first two bytes (`1f 8b`), never from the file name.
//!
//! Everything is checked before the pixel buffer is allocated: magic, element type, rank,
//! non-zero dimensions, the size the header implies against the file's length (raw files), or
//! against the most a deflate stream of the file's length can expand to (gzip: 1032:1), so a
//! header claiming 10^12 images is an error, never an allocation. Gzip files are then read
//! through a limit of the expected length + 1 byte, so trailing data or a lying header is found
//! without reading more than the header promised, and the gzip CRC is checked at the end.
//!
//! Class count: the labels are bytes, so at most 256 classes; a data set's class count is its
//! largest label + 1 (over train and test together, see [`load_folder`]): 10 for MNIST and
//! Fashion-MNIST, and other MNIST-format sets (KMNIST, EMNIST letters) work too.

use super::{DataError, Dataset, Features};
use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// Magic number of an idx3 unsigned-byte file (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an idx1 unsigned-byte file (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// The most a deflate stream expands: 1032 output bytes per input byte (zlib's technical note).
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The four files of an MNIST-format folder, without the optional `.gz`.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
pub const FILE_NAMES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// Images of an idx3 file: `count` images of `rows × cols` bytes, row-major, one after another.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Reads an idx3 image file (raw or gzip).
pub fn read_images(path: &Path) -> Result<Images, DataError> {
    let (dims, pixels) = read_idx(path, IMAGES_MAGIC, "images")?;
    Ok(Images {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels,
    })
}

/// Reads an idx1 label file (raw or gzip).
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    Ok(read_idx(path, LABELS_MAGIC, "labels")?.1)
}

/// Reads idx3 images from the bytes of a file (raw or gzip), with the checks of
/// [`read_images`]; `source` names them in errors.
pub fn parse_images(bytes: &[u8], source: &str) -> Result<Images, DataError> {
    let (dims, pixels) = read_idx_from(bytes, bytes.len() as u64, source, IMAGES_MAGIC, "images")?;
    Ok(Images {
        count: dims[0],
        rows: dims[1],
        cols: dims[2],
        pixels,
    })
}

/// Reads idx1 labels from the bytes of a file (raw or gzip), with the checks of
/// [`read_labels`]; `source` names them in errors.
pub fn parse_labels(bytes: &[u8], source: &str) -> Result<Vec<u8>, DataError> {
    Ok(read_idx_from(bytes, bytes.len() as u64, source, LABELS_MAGIC, "labels")?.1)
}

/// Reads one images file and its labels file into a data set with `classes` classes, pixels
/// kept as bytes read as value/255. The two counts must agree; every label must be below
/// `classes` (pass `None` to use the largest label + 1).
pub fn load_pair(
    images: &Path,
    labels: &Path,
    name: &str,
    classes: Option<usize>,
) -> Result<Dataset, DataError> {
    let img = read_images(images)?;
    let lab = read_labels(labels)?;
    if img.count != lab.len() {
        return Err(DataError::invalid(
            labels.display(),
            format!(
                "{} labels for {} images in {}",
                lab.len(),
                img.count,
                images.display()
            ),
        ));
    }
    let max = lab.iter().copied().max().unwrap_or(0) as usize;
    let classes = classes.unwrap_or(max + 1);
    if max >= classes {
        let (i, bad) = lab
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= classes)
            .expect("a label is at least `classes`");
        return Err(DataError::invalid(
            labels.display(),
            format!("label {bad} of sample {i} is not below {classes} classes"),
        ));
    }
    Ok(Dataset {
        name: name.into(),
        features: Features::U8 {
            values: img.pixels,
            max: 255.0,
        },
        labels: lab.into_iter().map(usize::from).collect(),
        dim: img.rows * img.cols,
        classes,
    })
}

/// Where file `stem` is in `dir`: `stem` itself, else `stem.gz`.
pub fn find_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    [dir.join(stem), dir.join(format!("{stem}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// True when `dir` holds all four MNIST-format files (raw or `.gz`).
pub fn is_mnist_folder(dir: &Path) -> bool {
    FILE_NAMES.iter().all(|s| find_file(dir, s).is_some())
}

/// Loads the (train, test) sets of an MNIST-format folder. The class count is the largest label
/// of both sets + 1, the same for both; both must have the same image size. `name` prefixes the
/// sets' names (`NAME/train`, `NAME/test`).
pub fn load_folder(dir: &Path, name: &str) -> Result<(Dataset, Dataset), DataError> {
    if !dir.is_dir() {
        return Err(DataError::Missing {
            path: dir.display().to_string(),
            hint: String::new(),
        });
    }
    let find = |stem: &str| {
        find_file(dir, stem).ok_or_else(|| DataError::Missing {
            path: dir.join(stem).display().to_string(),
            hint: format!(
                "an MNIST-format folder holds {} (each may end in .gz)",
                FILE_NAMES.join(", ")
            ),
        })
    };
    let paths = [
        find(TRAIN_IMAGES)?,
        find(TRAIN_LABELS)?,
        find(TEST_IMAGES)?,
        find(TEST_LABELS)?,
    ];
    let mut train = load_pair(&paths[0], &paths[1], &format!("{name}/train"), Some(256))?;
    let mut test = load_pair(&paths[2], &paths[3], &format!("{name}/test"), Some(256))?;
    if train.dim != test.dim {
        return Err(DataError::invalid(
            paths[2].display(),
            format!(
                "images have {} pixels, but {} has {}",
                test.dim,
                paths[0].display(),
                train.dim
            ),
        ));
    }
    let max = train.labels.iter().chain(&test.labels).max().copied();
    let classes = max.unwrap_or(0) + 1;
    train.classes = classes;
    test.classes = classes;
    Ok((train, test))
}

/// Reads an IDX file of unsigned bytes with the given magic; returns its dimensions and data.
fn read_idx(path: &Path, magic: u32, what: &str) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => DataError::Missing {
            path: shown.to_string(),
            hint: String::new(),
        },
        _ => DataError::io(&shown, e),
    })?;
    let file_len = file.metadata().map_err(|e| DataError::io(&shown, e))?.len();
    let reader = BufReader::with_capacity(1 << 16, file);
    read_idx_from(reader, file_len, &shown.to_string(), magic, what)
}

/// Reads an IDX stream of `len` bytes in all (raw or gzip, told by its first two bytes).
fn read_idx_from(
    mut reader: impl Read,
    len: u64,
    shown: &str,
    magic: u32,
    what: &str,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let mut first = [0u8; 2];
    let got = read_full(&mut reader, &mut first).map_err(|e| DataError::io(shown, e))?;
    let gz = got == 2 && first == [0x1f, 0x8b];
    let prefix = io::Cursor::new(first[..got].to_vec());
    if gz {
        let decoder = GzDecoder::new(prefix.chain(reader));
        read_body(decoder, shown, magic, what, Limit::Gzip(len))
    } else {
        read_body(prefix.chain(reader), shown, magic, what, Limit::Raw(len))
    }
}

#[derive(Clone, Copy)]
enum Limit {
    /// A raw file of this many bytes: header + data must be exactly this long.
    Raw(u64),
    /// A gzip file of this many bytes: the data cannot be longer than it expands to.
    Gzip(u64),
}

fn read_body(
    mut r: impl Read,
    shown: &str,
    magic: u32,
    what: &str,
    limit: Limit,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let gz = matches!(limit, Limit::Gzip(_));
    let stream_err = |e: io::Error, during: &str| -> DataError {
        if gz {
            match e.kind() {
                io::ErrorKind::UnexpectedEof => {
                    DataError::invalid(shown, format!("truncated gzip stream (ends {during})"))
                }
                io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                    DataError::invalid(shown, format!("corrupt gzip data ({during}): {e}"))
                }
                _ => DataError::io(shown, e),
            }
        } else {
            DataError::io(shown, e)
        }
    };
    let truncated = |got: u64, expected: u64| {
        DataError::invalid(
            shown,
            format!(
                "truncated: {got} bytes{}, the header says {expected}",
                if gz { " after decompression" } else { "" }
            ),
        )
    };

    // Magic: two zero bytes, the element type (0x08: unsigned byte) and the rank.
    let mut head = [0u8; 4];
    let got = read_full(&mut r, &mut head).map_err(|e| stream_err(e, "in the header"))?;
    if got < 4 {
        return Err(truncated(got as u64, 4));
    }
    let found = u32::from_be_bytes(head);
    if found != magic {
        let kind = match found {
            IMAGES_MAGIC => " (an IDX images file)",
            LABELS_MAGIC => " (an IDX labels file)",
            _ if head[0] == 0 && head[1] == 0 => " (an IDX file of another type or rank)",
            _ => " (not an IDX file)",
        };
        return Err(DataError::invalid(
            shown,
            format!(
                "wrong magic number 0x{found:08x}{kind}; expected 0x{magic:08x} (IDX {what}: unsigned bytes, rank {})",
                magic & 0xff
            ),
        ));
    }
    let rank = (magic & 0xff) as usize;

    // Dimensions: big-endian u32 each.
    let mut raw_dims = vec![0u8; 4 * rank];
    let got = read_full(&mut r, &mut raw_dims).map_err(|e| stream_err(e, "in the header"))?;
    let header_len = 4 + 4 * rank as u64;
    if got < raw_dims.len() {
        return Err(truncated(4 + got as u64, header_len));
    }
    let dims: Vec<u64> = raw_dims
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64)
        .collect();
    let dims_text = dims
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" × ");
    if let Some(i) = dims.iter().position(|&d| d == 0) {
        return Err(DataError::invalid(
            shown,
            format!("header dimension {i} is 0 ({dims_text}): no {what}"),
        ));
    }
    // Each dimension is below 2^32, the product of three below 2^96: use u128, then bound.
    let data_len = dims.iter().map(|&d| d as u128).product::<u128>();
    let file_len = match limit {
        Limit::Raw(n) | Limit::Gzip(n) => n,
    };
    let bound = match limit {
        Limit::Raw(n) => n.saturating_sub(header_len) as u128,
        Limit::Gzip(n) => n as u128 * MAX_DEFLATE_RATIO as u128,
    };
    if data_len > bound {
        return Err(DataError::invalid(
            shown,
            match limit {
                Limit::Raw(_) => format!(
                    "file too short: header claims {dims_text} {what} ({} bytes), but the file has {file_len} bytes (truncated, or a wrong header)",
                    data_len + header_len as u128
                ),
                Limit::Gzip(_) => format!(
                    "header claims {dims_text} {what} ({data_len} bytes), more than a {file_len}-byte gzip file can hold"
                ),
            },
        ));
    }
    if let Limit::Raw(n) = limit
        && data_len + (header_len as u128) < n as u128
    {
        return Err(DataError::invalid(
            shown,
            format!(
                "{} bytes after the {dims_text} {what} the header describes",
                n as u128 - data_len - header_len as u128
            ),
        ));
    }
    let data_len = usize::try_from(data_len).map_err(|_| {
        DataError::invalid(shown, format!("{dims_text} {what} do not fit in memory"))
    })?;

    // The data: at most one byte more than the header promises, to detect trailing data.
    let mut data = Vec::new();
    data.try_reserve_exact(data_len + 1).map_err(|_| {
        DataError::invalid(
            shown,
            format!("{dims_text} {what} ({data_len} bytes) do not fit in memory"),
        )
    })?;
    r.by_ref()
        .take(data_len as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| stream_err(e, "in the data"))?;
    if data.len() < data_len {
        return Err(truncated(
            header_len + data.len() as u64,
            header_len + data_len as u64,
        ));
    }
    if data.len() > data_len {
        // Extra data in a gzip stream is often a corrupt stream: drain it (no allocation,
        // bounded by what the file can expand to) so a bad CRC or deflate error is reported
        // as what it is.
        if gz {
            io::copy(
                &mut r.by_ref().take(bound.min(u64::MAX as u128) as u64),
                &mut io::sink(),
            )
            .map_err(|e| stream_err(e, "in the data"))?;
        }
        return Err(DataError::invalid(
            shown,
            format!("more data after the {dims_text} {what} the header describes"),
        ));
    }
    Ok((dims.into_iter().map(|d| d as usize).collect(), data))
}

/// Reads until `buf` is full or the stream ends; returns the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Encodes an IDX file of unsigned bytes (for tests and tools): magic for the rank, dims, data.
pub fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn encode_writes_the_mnist_magic() {
        assert_eq!(&encode(&[2, 3, 4], &[])[..4], &IMAGES_MAGIC.to_be_bytes());
        assert_eq!(&encode(&[2], &[])[..4], &LABELS_MAGIC.to_be_bytes());
    }

    #[test]
    fn raw_images_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8 * 10).collect();
        let p = write(dir.path(), "img", &encode(&[2, 3, 4], &pixels));
        let img = read_images(&p).unwrap();
        assert_eq!((img.count, img.rows, img.cols), (2, 3, 4));
        assert_eq!(img.pixels, pixels);
    }

    #[test]
    fn empty_file_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "empty", &[]);
        let e = read_labels(&p).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn zero_dimension_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "img", &encode(&[5, 0, 28], &[]));
        let e = read_images(&p).unwrap_err().to_string();
        assert!(e.contains("dimension 1 is 0"), "{e}");
    }
}
