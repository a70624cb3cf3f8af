//! Element types: what a workload's tensors hold, and a kernel's output read back in its type.
//!
//! The seam precisions come through: a [`DType`] is carried by workloads and inputs, gives the
//! element size the byte formulas use and the tolerance verification allows, and a kernel's
//! output comes back as a [`HostBuffer`] of that type, compared with the f64 reference
//! element by element. hwcal implements f32 today; a new precision is a variant here, which
//! every `match` over it (kernels, formulas, tolerances) then has to handle.

/// The element type of a workload's tensors (names as the Python calibrator spells them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// IEEE 754 single precision.
    F32,
}

impl DType {
    /// Bytes per element.
    pub const fn size(self) -> u64 {
        match self {
            DType::F32 => 4,
        }
    }

    /// The name the Python calibrator uses (`fp32`).
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "fp32",
        }
    }

    /// `(rtol, atol)` for an output element that sums `reduction` products computed in this
    /// type, checked as `|x − r| ≤ atol + rtol·|r|` against the f64 reference: the rounding
    /// error of a sum grows with its length, so the absolute part scales with it.
    pub fn tolerance(self, reduction: usize) -> (f64, f64) {
        match self {
            DType::F32 => (1e-3, 2e-6 * reduction as f64 + 1e-6),
        }
    }
}

/// A kernel's output read back to the host, in its element type.
#[derive(Clone, Debug, PartialEq)]
pub enum HostBuffer {
    /// f32 elements.
    F32(Vec<f32>),
}

impl HostBuffer {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            HostBuffer::F32(_) => DType::F32,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            HostBuffer::F32(v) => v.len(),
        }
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements `range`, widened to f64 for comparison with the reference.
    pub fn to_f64(&self, range: std::ops::Range<usize>) -> Vec<f64> {
        match self {
            HostBuffer::F32(v) => v[range].iter().map(|&x| f64::from(x)).collect(),
        }
    }
}

impl From<Vec<f32>> for HostBuffer {
    fn from(v: Vec<f32>) -> Self {
        HostBuffer::F32(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_is_four_bytes_and_its_tolerance_grows_with_the_reduction() {
        assert_eq!(DType::F32.size(), 4);
        assert_eq!(DType::F32.name(), "fp32");
        let (r1, a1) = DType::F32.tolerance(16);
        let (r2, a2) = DType::F32.tolerance(4096);
        assert_eq!(r1, r2);
        assert!(a2 > a1);
        let b = HostBuffer::from(vec![1.0f32, 2.5, -3.0]);
        assert_eq!((b.len(), b.dtype()), (3, DType::F32));
        assert_eq!(b.to_f64(1..3), [2.5, -3.0]);
    }
}
