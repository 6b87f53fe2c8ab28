//! MNIST-format loading: round trips (raw and gzip), every bad-input case, and the real
//! Fashion-MNIST when Debian's package is installed.

use flate2::Compression;
use flate2::write::GzEncoder;
use optimlab::data::idx::{self, encode};
use optimlab::data::{DataConfig, DataSource, Features};
use std::io::Write;
use std::path::{Path, PathBuf};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A small MNIST-format set: `n` images of 3×2 pixels, labels i % classes.
fn images(n: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..n * 6).map(|i| (i * 7 % 256) as u8).collect();
    encode(&[n, 3, 2], &pixels)
}
fn labels(n: u32, classes: u32) -> Vec<u8> {
    let l: Vec<u8> = (0..n).map(|i| (i % classes) as u8).collect();
    encode(&[n], &l)
}

/// Writes the four files (gzip or raw) into `dir`.
fn mnist_folder(dir: &Path, gz: bool) {
    let files = [
        (idx::TRAIN_IMAGES, images(12)),
        (idx::TRAIN_LABELS, labels(12, 4)),
        (idx::TEST_IMAGES, images(5)),
        (idx::TEST_LABELS, labels(5, 4)),
    ];
    for (name, bytes) in files {
        if gz {
            write(dir, &format!("{name}.gz"), &gzip(&bytes));
        } else {
            write(dir, name, &bytes);
        }
    }
}

fn err(r: Result<impl std::fmt::Debug, optimlab::data::DataError>) -> String {
    let e = r.unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

#[test]
fn raw_and_gzip_folders_load_the_same_data() {
    let raw = tempfile::tempdir().unwrap();
    let gz = tempfile::tempdir().unwrap();
    mnist_folder(raw.path(), false);
    mnist_folder(gz.path(), true);
    let (tr, te) = idx::load_folder(raw.path(), "x").unwrap();
    let (tr_gz, te_gz) = idx::load_folder(gz.path(), "x").unwrap();
    assert_eq!((tr.len(), te.len(), tr.dim, tr.classes), (12, 5, 6, 4));
    assert_eq!(tr.features, tr_gz.features);
    assert_eq!(te.labels, te_gz.labels);
    assert_eq!(te.labels, vec![0, 1, 2, 3, 0]);
    let Features::U8 { values, max } = &tr.features else {
        panic!("IDX pixels stay bytes")
    };
    assert_eq!(max, &255.0);
    assert_eq!(values[..3], [0, 7, 14]);
    tr.validate().unwrap();
    // A folder given as --data loads the same way.
    let s = DataConfig {
        data: gz.path().display().to_string(),
        ..DataConfig::default()
    }
    .prepare()
    .unwrap();
    assert_eq!(s.train, tr_gz_named(&tr_gz, gz.path()));
    assert_eq!(s.test.len(), 5);
}

fn tr_gz_named(d: &optimlab::data::Dataset, dir: &Path) -> optimlab::data::Dataset {
    let mut d = d.clone();
    d.name = format!("{}/train", dir.display());
    d
}

#[test]
fn gzip_is_detected_by_magic_not_name() {
    let dir = tempfile::tempdir().unwrap();
    // Gzip content under a raw name, raw content under a .gz name.
    let a = write(dir.path(), "a-images", &gzip(&images(3)));
    let b = write(dir.path(), "b-images.gz", &images(3));
    assert_eq!(idx::read_images(&a).unwrap(), idx::read_images(&b).unwrap());
}

#[test]
fn missing_file_and_folder_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let e = err(idx::load_folder(&dir.path().join("nope"), "x"));
    assert!(e.contains("nope: not found"), "{e}");
    mnist_folder(dir.path(), true);
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let e = err(idx::load_folder(dir.path(), "x"));
    assert!(e.contains("t10k-labels-idx1-ubyte: not found"), "{e}");
    let e = err(idx::read_images(&dir.path().join("absent")));
    assert!(e.contains("absent: not found"), "{e}");
}

#[test]
fn wrong_magic_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // Labels where images are expected, and the reverse.
    let l = write(dir.path(), "labels", &labels(4, 2));
    let e = err(idx::read_images(&l));
    assert!(
        e.contains("wrong magic number 0x00000801 (an IDX labels file)"),
        "{e}"
    );
    assert!(e.contains("expected 0x00000803"), "{e}");
    let i = write(dir.path(), "images", &images(4));
    let e = err(idx::read_labels(&i));
    assert!(e.contains("wrong magic number 0x00000803"), "{e}");
    // Not an IDX file at all, raw and gzip.
    let t = write(dir.path(), "text", b"hello world, not idx");
    let e = err(idx::read_images(&t));
    assert!(e.contains("not an IDX file"), "{e}");
    let t = write(dir.path(), "text.gz", &gzip(b"hello world, not idx"));
    let e = err(idx::read_images(&t));
    assert!(e.contains("not an IDX file"), "{e}");
    // Another element type (0x0d: float) of rank 3.
    let mut f = images(1);
    f[2] = 0x0d;
    let f = write(dir.path(), "floats", &f);
    let e = err(idx::read_images(&f));
    assert!(e.contains("another type or rank"), "{e}");
}

#[test]
fn truncated_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let full = images(10);
    for cut in [2, 7, 15, full.len() - 1] {
        let p = write(dir.path(), "cut", &full[..cut]);
        let e = err(idx::read_images(&p));
        assert!(
            e.contains("truncated") || e.contains("but the file has"),
            "raw cut at {cut}: {e}"
        );
    }
    // Gzip: the compressed stream cut short, and a complete stream of too little data.
    let z = gzip(&full);
    let p = write(dir.path(), "cut.gz", &z[..z.len() / 2]);
    let e = err(idx::read_images(&p));
    assert!(e.contains("truncated gzip stream"), "{e}");
    let p = write(dir.path(), "short.gz", &gzip(&full[..full.len() - 5]));
    let e = err(idx::read_images(&p));
    assert!(e.contains("truncated"), "{e}");
    // Trailing data is an error too (raw and gzip).
    let mut long = full.clone();
    long.extend_from_slice(&[1, 2, 3]);
    let p = write(dir.path(), "long", &long);
    let e = err(idx::read_images(&p));
    assert!(e.contains("3 bytes after"), "{e}");
    let p = write(dir.path(), "long.gz", &gzip(&long));
    let e = err(idx::read_images(&p));
    assert!(e.contains("more data after"), "{e}");
}

#[test]
fn corrupt_gzip_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut z = gzip(&images(50));
    // Flip bytes in the middle of the deflate stream.
    let mid = z.len() / 2;
    for b in &mut z[mid..mid + 8] {
        *b ^= 0x5a;
    }
    let p = write(dir.path(), "bad.gz", &z);
    let e = err(idx::read_images(&p));
    assert!(e.contains("bad.gz") && e.contains("gzip"), "{e}");
    // A damaged CRC in the trailer: the data decodes but the check fails.
    let mut z = gzip(&images(50));
    let n = z.len();
    z[n - 6] ^= 0xff;
    let p = write(dir.path(), "crc.gz", &z);
    let e = err(idx::read_images(&p));
    assert!(e.contains("corrupt gzip"), "{e}");
    // Only the gzip magic.
    let p = write(dir.path(), "stub.gz", &[0x1f, 0x8b, 8]);
    let e = err(idx::read_images(&p));
    assert!(e.contains("gzip"), "{e}");
}

#[test]
fn absurd_header_dimensions_are_errors_not_allocations() {
    let dir = tempfile::tempdir().unwrap();
    // 10^12 images cannot be expressed in a u32 count; the largest header is 2^32-1 images of
    // 2^32-1 × 2^32-1 pixels (~2^96 bytes). Also a "plausible" 1,000,000,000 × 28 × 28.
    for dims in [[u32::MAX, u32::MAX, u32::MAX], [1_000_000_000, 28, 28]] {
        let header = encode(&dims, &[0; 100]);
        let p = write(dir.path(), "huge", &header);
        let e = err(idx::read_images(&p));
        assert!(
            e.contains("header claims") && e.contains("but the file has"),
            "{e}"
        );
        let p = write(dir.path(), "huge.gz", &gzip(&header));
        let e = err(idx::read_images(&p));
        assert!(
            e.contains("more than a") && e.contains("gzip file can hold"),
            "{e}"
        );
    }
    let p = write(
        dir.path(),
        "labels.gz",
        &gzip(&encode(&[u32::MAX], &[1; 10])),
    );
    let e = err(idx::read_labels(&p));
    assert!(e.contains("header claims 4294967295 labels"), "{e}");
}

#[test]
fn image_and_label_counts_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i", &images(10));
    let l = write(dir.path(), "l", &labels(9, 3));
    let e = err(idx::load_pair(&i, &l, "x", None));
    assert!(e.contains("9 labels for 10 images"), "{e}");
    // In a folder, the test pair mismatching is found too.
    mnist_folder(dir.path(), false);
    write(dir.path(), idx::TEST_LABELS, &labels(4, 4));
    let e = err(idx::load_folder(dir.path(), "x"));
    assert!(
        e.contains("t10k-labels-idx1-ubyte: 4 labels for 5 images"),
        "{e}"
    );
}

#[test]
fn labels_beyond_the_class_count_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let i = write(dir.path(), "i", &images(3));
    let l = write(dir.path(), "l", &encode(&[3], &[1, 12, 0]));
    let e = err(idx::load_pair(&i, &l, "x", Some(10)));
    assert!(
        e.contains("label 12 of sample 1 is not below 10 classes"),
        "{e}"
    );
    assert_eq!(idx::load_pair(&i, &l, "x", None).unwrap().classes, 13);
}

#[test]
fn images_of_different_sizes_in_train_and_test_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    mnist_folder(dir.path(), false);
    write(dir.path(), idx::TEST_IMAGES, &encode(&[5, 2, 2], &[0; 20]));
    let e = err(idx::load_folder(dir.path(), "x"));
    assert!(e.contains("images have 4 pixels"), "{e}");
}

#[test]
fn fashion_mnist_missing_says_how_to_install() {
    let e = err(DataSource::FashionMnist {
        system_dir: "/nonexistent/fashion".into(),
        cache_dir: "/nonexistent/cache".into(),
    }
    .load());
    assert!(e.contains("apt-get install dataset-fashion-mnist"), "{e}");
    assert!(e.contains("optimlab data download fashion-mnist"), "{e}");
    assert!(e.contains("/nonexistent/cache/fashion-mnist"), "{e}");
}

#[test]
fn fashion_mnist_is_found_in_the_cache_folder() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("fashion-mnist");
    std::fs::create_dir(&dir).unwrap();
    mnist_folder(&dir, true);
    let (train, _) = DataSource::FashionMnist {
        system_dir: "/nonexistent/fashion".into(),
        cache_dir: cache.path().into(),
    }
    .load()
    .unwrap();
    assert_eq!(train.len(), 12);
    assert_eq!(train.name, "fashion-mnist/train");
}

/// The real Fashion-MNIST from Debian's `dataset-fashion-mnist` (CI installs it).
#[test]
fn real_fashion_mnist_loads() {
    let dir = Path::new(optimlab::data::source::SYSTEM_FASHION_MNIST);
    if !idx::is_mnist_folder(dir) {
        eprintln!(
            "note: {} absent (apt-get install dataset-fashion-mnist); skipped",
            dir.display()
        );
        return;
    }
    let t = std::time::Instant::now();
    let s = DataConfig {
        data: "fashion-mnist".into(),
        ..DataConfig::default()
    }
    .prepare()
    .unwrap();
    eprintln!("loaded Fashion-MNIST in {:.3} s", t.elapsed().as_secs_f64());
    assert_eq!((s.train.len(), s.test.len()), (60000, 10000));
    assert_eq!(
        (s.train.dim, s.train.classes, s.test.classes),
        (784, 10, 10)
    );
    assert!(s.val.is_none());
    s.train.validate().unwrap();
    s.test.validate().unwrap();
    // Balanced classes: 6,000 and 1,000 of each.
    for c in 0..10 {
        assert_eq!(s.train.labels.iter().filter(|&&l| l == c).count(), 6000);
        assert_eq!(s.test.labels.iter().filter(|&&l| l == c).count(), 1000);
    }
    // The first training label of Fashion-MNIST is 9 (ankle boot), the first test label 9 too.
    assert_eq!(s.train.labels[0], 9);
    assert_eq!(s.test.labels[0], 9);
    let m = s.test.take(2).to_matrix::<f32>();
    assert!(m.as_slice().iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert!(m.as_slice().contains(&1.0));
}

/// `mnist` and `fashion-mnist` have 10 classes: a stray label in their files is an error
/// naming it (a corrupt download), not an 11-class network; `--classes` overrides. A folder
/// given by path has no known count: its labels tell it.
#[test]
fn named_sets_pin_ten_classes() {
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("mnist");
    std::fs::create_dir(&dir).unwrap();
    let config = |classes: Option<usize>| DataConfig {
        data: "mnist".into(),
        cache: Some(cache.path().into()),
        classes,
        ..DataConfig::default()
    };
    // Labels 0..3 only: still the 10 classes of MNIST.
    mnist_folder(&dir, false);
    let s = config(None).prepare().unwrap();
    assert_eq!((s.train.classes, s.test.classes), (10, 10));
    // Training labels 0..10 (sample 10 has label 10): refused, naming the sample and the set.
    write(&dir, idx::TRAIN_LABELS, &labels(12, 11));
    let e = err(config(None).prepare());
    assert!(
        e.starts_with("mnist/train: sample 10 has label 10, but mnist has 10 classes"),
        "{e}"
    );
    // Said explicitly, it is allowed.
    assert_eq!(config(Some(11)).prepare().unwrap().classes(), 11);
    // The same files as a folder: the labels tell the count.
    let folder = DataConfig {
        data: dir.display().to_string(),
        ..DataConfig::default()
    };
    assert_eq!(folder.prepare().unwrap().classes(), 11);
    for (name, known) in [
        ("digits", Some(10)),
        ("fashion-mnist", Some(10)),
        ("mnist", Some(10)),
        (dir.to_str().unwrap(), None),
    ] {
        let source = DataSource::parse(name, None, cache.path()).unwrap();
        assert_eq!(source.known_classes(), known, "{name}");
    }
}
