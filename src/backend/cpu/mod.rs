//! CPU backend: rayon + ndarray kernels.
pub mod activation;
pub mod gemm;
