//! Quasi-random sampling: trial `n` takes point `n` of a low-discrepancy sequence, one
//! dimension per parameter of the space (in the space's order), mapped through each
//! distribution. Such points cover the space more evenly than independent random ones.
//!
//! - Sobol: Joe–Kuo direction numbers (53 dimensions), points in Gray-code order (as SciPy
//!   generates them), scrambled by a seeded random linear matrix and a digital shift (SciPy's
//!   "LMS + digital shift"), which keeps the sequence's net structure.
//! - Halton: the radical inverse in the d-th prime base, each digit position's digits put
//!   through a seeded random permutation.

use super::sobol_directions::JOE_KUO;
use super::unit::{assign_active, from_unit};
use super::{SampleContext, Sampler};
use crate::rng::{Purpose, stream};
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::Params;
use rand::RngExt;
use rand::seq::SliceRandom;

/// The random stream the scrambling draws from (one per seed, apart from the trials' own).
const SCRAMBLE_STREAM: u64 = u64::MAX - 1;

/// The most dimensions (parameters) the Sobol sequence has direction numbers for.
pub const SOBOL_MAX_DIMS: usize = JOE_KUO.len() + 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sequence {
    Sobol,
    Halton,
}

pub struct QmcSampler {
    sequence: Sequence,
    seed: u64,
}

impl QmcSampler {
    pub fn new(sequence: Sequence, seed: u64) -> Self {
        Self { sequence, seed }
    }
}

impl Sampler for QmcSampler {
    fn needs_history(&self) -> bool {
        false
    }

    fn sample(&self, ctx: &SampleContext) -> Result<Params> {
        let dims = ctx.space.params.len();
        let point = match self.sequence {
            Sequence::Sobol => {
                if dims > SOBOL_MAX_DIMS {
                    return Err(TuneError::Config(format!(
                        "the sobol sampler handles at most {SOBOL_MAX_DIMS} parameters, the space has {dims}: use halton"
                    )));
                }
                Sobol::new(dims, Some(self.seed)).point(ctx.number)
            }
            Sequence::Halton => Halton::new(dims, Some(self.seed)).point(ctx.number),
        };
        assign_active(ctx.space, ctx.fixed, |i, spec, _| {
            Ok(from_unit(&spec.dist, point[i]))
        })
    }
    fn name(&self) -> &str {
        match self.sequence {
            Sequence::Sobol => "sobol",
            Sequence::Halton => "halton",
        }
    }
}

const BITS: usize = 32;

/// A Sobol sequence of `dims` dimensions, plain or scrambled.
pub struct Sobol {
    /// Direction numbers, `BITS` per dimension, most significant bit first.
    v: Vec<[u32; BITS]>,
    shift: Vec<u32>,
}

impl Sobol {
    /// `scramble`: `Some(seed)` for a seeded linear-matrix scramble and digital shift, `None`
    /// for the plain sequence. Panics beyond [`SOBOL_MAX_DIMS`] dimensions.
    pub fn new(dims: usize, scramble: Option<u64>) -> Self {
        assert!(
            dims <= SOBOL_MAX_DIMS,
            "at most {SOBOL_MAX_DIMS} dimensions"
        );
        let mut v: Vec<[u32; BITS]> = (0..dims).map(direction_numbers).collect();
        let mut shift = vec![0u32; dims];
        if let Some(seed) = scramble {
            let mut rng = stream(seed, Purpose::Other(SCRAMBLE_STREAM));
            for (vd, sd) in v.iter_mut().zip(shift.iter_mut()) {
                // A random lower-triangular bit matrix with unit diagonal: row i (output bit i,
                // from the top) mixes in input bits above it.
                let rows: [u32; BITS] = std::array::from_fn(|i| {
                    let above = if i == 0 {
                        0
                    } else {
                        rng.random::<u32>() & !(u32::MAX >> i)
                    };
                    above | (1u32 << (31 - i))
                });
                for x in vd.iter_mut() {
                    let mut y = 0u32;
                    for (i, row) in rows.iter().enumerate() {
                        if (row & *x).count_ones() % 2 == 1 {
                            y |= 1 << (31 - i);
                        }
                    }
                    *x = y;
                }
                *sd = rng.random::<u32>();
            }
        }
        Self { v, shift }
    }

    /// Point `n` (Gray-code order), each coordinate in [0, 1).
    pub fn point(&self, n: u64) -> Vec<f64> {
        let gray = n ^ (n >> 1);
        self.v
            .iter()
            .zip(&self.shift)
            .map(|(vd, s)| {
                let mut x = *s;
                for (j, vj) in vd.iter().enumerate() {
                    if (gray >> j) & 1 == 1 {
                        x ^= vj;
                    }
                }
                x as f64 / 4_294_967_296.0
            })
            .collect()
    }
}

/// Dimension `d`'s direction numbers (d = 0 is van der Corput).
fn direction_numbers(d: usize) -> [u32; BITS] {
    let mut v = [0u32; BITS];
    if d == 0 {
        for (j, x) in v.iter_mut().enumerate() {
            *x = 1 << (31 - j);
        }
        return v;
    }
    let (s, a, m) = JOE_KUO[d - 1];
    let s = s as usize;
    for j in 0..BITS {
        v[j] = if j < s {
            m[j] << (31 - j)
        } else {
            let mut x = v[j - s] ^ (v[j - s] >> s);
            for k in 1..s {
                if (a >> (s - 1 - k)) & 1 == 1 {
                    x ^= v[j - k];
                }
            }
            x
        };
    }
    v
}

/// A Halton sequence of `dims` dimensions, plain or with seeded digit permutations.
pub struct Halton {
    bases: Vec<u64>,
    /// Per dimension, per digit position, the permutation of the digits.
    perms: Vec<Vec<Vec<u64>>>,
}

impl Halton {
    pub fn new(dims: usize, scramble: Option<u64>) -> Self {
        let bases = primes(dims);
        let mut rng = scramble.map(|seed| stream(seed, Purpose::Other(SCRAMBLE_STREAM)));
        let perms = bases
            .iter()
            .map(|&b| {
                // Enough digits to resolve a double: b^digits ≥ 2^53.
                let digits = (53.0 / (b as f64).log2()).ceil() as usize;
                (0..digits)
                    .map(|_| {
                        let mut p: Vec<u64> = (0..b).collect();
                        if let Some(r) = rng.as_mut() {
                            p.shuffle(r);
                        }
                        p
                    })
                    .collect()
            })
            .collect();
        Self { bases, perms }
    }

    /// Point `n`, each coordinate in [0, 1).
    pub fn point(&self, n: u64) -> Vec<f64> {
        self.bases
            .iter()
            .zip(&self.perms)
            .map(|(&b, perms)| {
                let (mut x, mut scale, mut k) = (0.0, 1.0 / b as f64, n);
                for p in perms {
                    x += p[(k % b) as usize] as f64 * scale;
                    k /= b;
                    scale /= b as f64;
                }
                x.min(1.0 - f64::EPSILON)
            })
            .collect()
    }
}

/// The first `n` primes.
fn primes(n: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(n);
    let mut c = 2u64;
    while out.len() < n {
        if out.iter().take_while(|&&p| p * p <= c).all(|&p| c % p != 0) {
            out.push(c);
        }
        c += 1;
    }
    out
}
