//! The embedded default data set: 1,797 handwritten digits as 8×8 images (UCI "Optical
//! Recognition of Handwritten Digits", Alpaydin & Kaynak 1998, CC BY 4.0; scikit-learn's copy).
//! It ships inside the binary, so training works with no download and no setup.

use super::{DataError, Dataset, Features};
use flate2::read::GzDecoder;
use std::io::Read;

const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Fixed seed of the train/test split, so every run tests on the same 20 %.
pub const SPLIT_SEED: u64 = 0;
pub const TEST_FRACTION: f64 = 0.2;

/// All 1,797 samples: 64 pixels 0..16 (read as value/16 in [0, 1]), labels 0..9.
pub fn load() -> Result<Dataset, DataError> {
    let invalid = |problem: String| DataError::Invalid {
        source_name: "embedded digits".into(),
        problem,
    };
    let mut text = String::new();
    GzDecoder::new(DIGITS_CSV_GZ)
        .read_to_string(&mut text)
        .map_err(|e| invalid(e.to_string()))?;
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let values: Vec<&str> = line.split(',').collect();
        if values.len() != 65 {
            return Err(invalid(format!(
                "line {}: {} fields, expected 65",
                n + 1,
                values.len()
            )));
        }
        for v in &values[..64] {
            let p: u8 = v
                .parse()
                .ok()
                .filter(|&p| p <= 16)
                .ok_or_else(|| invalid(format!("line {}: pixel '{v}'", n + 1)))?;
            features.push(p);
        }
        let label: usize = values[64]
            .parse()
            .map_err(|_| invalid(format!("line {}: label '{}'", n + 1, values[64])))?;
        labels.push(label);
    }
    Ok(Dataset {
        name: "digits".into(),
        features: Features::U8 {
            values: features,
            max: 16.0,
        },
        labels,
        dim: 64,
        classes: 10,
    })
}

/// The standard (train, test) split of the embedded digits.
pub fn train_test() -> Result<(Dataset, Dataset), DataError> {
    Ok(load()?.split(TEST_FRACTION, SPLIT_SEED))
}

#[cfg(test)]
mod tests {
    #[test]
    fn loads_all_digits_with_every_class() {
        let d = super::load().unwrap();
        assert_eq!(d.len(), 1797);
        d.validate().unwrap();
        let m = d.to_matrix::<f64>();
        assert_eq!(m.shape(), (1797, 64));
        assert!(m.as_slice().iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_eq!(m.row(0)[2], 5.0 / 16.0);
        for c in 0..10 {
            let n = d.labels.iter().filter(|&&l| l == c).count();
            assert!(n > 150, "class {c}: {n}");
        }
        let (train, test) = super::train_test().unwrap();
        assert_eq!(train.len() + test.len(), 1797);
        assert_eq!(test.len(), 359);
    }
}
