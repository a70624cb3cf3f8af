//! Size sweeps: the sizes `hwcal calibrate --sweep` measures per family, along each axis.

use super::{Family, Preset, Shape};

/// One point of a sweep: which size varied, its value, and the full shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepPoint {
    /// The size that varies along this sweep (`M`, `KN`, `HW`, `C`, `S`).
    pub axis: &'static str,
    /// Its value at this point.
    pub value: usize,
    /// The shape measured.
    pub shape: Shape,
}

fn points(axis: &'static str, values: &[usize], shape: impl Fn(usize) -> Shape) -> Vec<SweepPoint> {
    values
        .iter()
        .map(|&value| SweepPoint {
            axis,
            value,
            shape: shape(value),
        })
        .collect()
}

/// Every sweep point of a family, ascending along each axis.
///
/// - linear: `M` from 1 to 4096 at K = N = 1024; `KN` (K = N) from 64 to 4096 at M = 256;
/// - conv (3×3, stride 1, pad 1, batch 1): `HW` from 7 to 112 at 64→64 channels; `C`
///   (in = out channels) from 16 to 512 at 14×14;
/// - attention (batch 1, D = 64): `S` from 64 to 4096;
/// - norm: `M` (rows) from 1 to 4096 at hidden 4096; `N` (hidden) from 256 to 8192 at 512
///   rows;
/// - depthwise (3×3, stride 1, pad 1, batch 1): `HW` from 7 to 112 at 144 channels; `C` from
///   32 to 960 at 14×14.
///
/// `tiny` sweeps the same axes over a few small sizes (tests, software devices).
pub fn sweep_points(family: Family, preset: Preset) -> Vec<SweepPoint> {
    let tiny = preset == Preset::Tiny;
    match family {
        Family::Linear => {
            let (ms, kns, fixed_kn, fixed_m): (&[usize], &[usize], usize, usize) = if tiny {
                (&[1, 8, 32], &[8, 16, 48], 32, 8)
            } else {
                (
                    &[1, 4, 16, 64, 256, 1024, 4096],
                    &[64, 128, 256, 512, 1024, 2048, 4096],
                    1024,
                    256,
                )
            };
            let mut p = points("M", ms, |m| Shape::Linear {
                m,
                k: fixed_kn,
                n: fixed_kn,
            });
            p.extend(points("KN", kns, |kn| Shape::Linear {
                m: fixed_m,
                k: kn,
                n: kn,
            }));
            p
        }
        Family::Conv => {
            let (hws, cs, fixed_c, fixed_hw): (&[usize], &[usize], usize, usize) = if tiny {
                (&[4, 8, 12], &[2, 4, 8], 4, 6)
            } else {
                (&[7, 14, 28, 56, 112], &[16, 32, 64, 128, 256, 512], 64, 14)
            };
            let mut p = points("HW", hws, |hw| Shape::conv3x3(1, fixed_c, fixed_c, hw));
            p.extend(points("C", cs, |c| Shape::conv3x3(1, c, c, fixed_hw)));
            p
        }
        Family::Attention => {
            let ss: &[usize] = if tiny {
                &[8, 16, 40]
            } else {
                &[64, 128, 256, 512, 1024, 2048, 4096]
            };
            let dim = if tiny { 8 } else { 64 };
            points("S", ss, |seq| Shape::Attention { batch: 1, seq, dim })
        }
        Family::Norm => {
            let (ms, ns, fixed_n, fixed_m): (&[usize], &[usize], usize, usize) = if tiny {
                (&[1, 8, 32], &[8, 16, 48], 32, 8)
            } else {
                (
                    &[1, 4, 16, 64, 256, 1024, 4096],
                    &[256, 512, 1024, 2048, 4096, 8192],
                    4096,
                    512,
                )
            };
            let mut p = points("M", ms, |rows| Shape::Norm {
                rows,
                hidden: fixed_n,
            });
            p.extend(points("N", ns, |hidden| Shape::Norm {
                rows: fixed_m,
                hidden,
            }));
            p
        }
        Family::Depthwise => {
            let (hws, cs, fixed_c, fixed_hw): (&[usize], &[usize], usize, usize) = if tiny {
                (&[4, 8, 12], &[2, 4, 8], 4, 6)
            } else {
                (&[7, 14, 28, 56, 112], &[32, 96, 144, 384, 960], 144, 14)
            };
            let mut p = points("HW", hws, |hw| Shape::depthwise3x3(1, fixed_c, hw, 1));
            p.extend(points("C", cs, |c| Shape::depthwise3x3(1, c, fixed_hw, 1)));
            p
        }
    }
}

/// Sweep points of several families interleaved by rank (the smallest size of every axis
/// first), so that a sweep cut short by its time budget has covered every axis at small sizes
/// rather than one axis completely.
pub fn interleaved<T: Copy>(lists: &[Vec<T>]) -> Vec<T> {
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|i| lists.iter().filter_map(move |l| l.get(i).copied()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_cover_the_issue_ranges() {
        let lin = sweep_points(Family::Linear, Preset::Quick);
        let m: Vec<usize> = lin
            .iter()
            .filter(|p| p.axis == "M")
            .map(|p| p.value)
            .collect();
        assert_eq!((m[0], *m.last().unwrap()), (1, 4096));
        let kn: Vec<usize> = lin
            .iter()
            .filter(|p| p.axis == "KN")
            .map(|p| p.value)
            .collect();
        assert_eq!((kn[0], *kn.last().unwrap()), (64, 4096));
        let att = sweep_points(Family::Attention, Preset::Full);
        assert_eq!((att[0].value, att.last().unwrap().value), (64, 4096));
        for f in Family::ALL {
            for p in sweep_points(f, Preset::Tiny) {
                p.shape.validate().unwrap();
            }
        }
    }

    #[test]
    fn interleaving_takes_small_sizes_of_every_list_first() {
        assert_eq!(
            interleaved(&[vec![1, 2, 3], vec![10], vec![20, 21]]),
            [1, 10, 20, 2, 21, 3]
        );
    }
}
