//! Covers of a chain by disjoint candidate patterns: the dynamic programs behind the planner's
//! choice (and behind `--verify`'s check of it).
//!
//! A chain has positions `0..n` (its fusable units, in order); a candidate is an [`Item`], an
//! interval of positions with a weight. Two programs, both linear in the number of items for
//! the short items patterns make:
//!
//! - [`best_maximal`]: the set of disjoint items with the largest total weight among the
//!   *maximal* ones (no item fits in a gap between the chosen ones). The planner weighs each
//!   candidate that reaches the threshold by the time fusing it saves; maximality makes a
//!   candidate that reaches the threshold but is predicted a little slower (under a threshold
//!   below one) fused rather than skipped, as the threshold asks, and changes nothing when
//!   every weight is at least 0 (adding an item to a cover never lowers its total then).
//! - [`max_weight`]: the largest total weight of any set of disjoint items: the planner's
//!   estimate of the whole chain's unfused time (no chain is faster unfused than its disjoint
//!   pieces are), so the planned time is never below the sum of its fused kernels.

/// An interval of a chain's positions, `start..=end`, with a weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Item {
    /// First position.
    pub start: usize,
    /// Last position (inclusive).
    pub end: usize,
    /// Its weight (for the planner: predicted ms saved by fusing it).
    pub weight: f64,
}

impl Item {
    fn len(&self) -> usize {
        self.end + 1 - self.start
    }

    /// Whether the two intervals share a position.
    pub fn overlaps(&self, other: &Item) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

/// Value of a partial cover: total weight, then positions covered (more is better on equal
/// weight: fewer kernels).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Value {
    weight: f64,
    covered: usize,
}

impl Value {
    fn better_than(&self, other: &Value) -> bool {
        self.weight > other.weight || (self.weight == other.weight && self.covered > other.covered)
    }
}

/// Indices of `items` (within `n` positions, every item inside them) of the best maximal set
/// of disjoint items (see the module notes), in position order, and its total weight. Items
/// with a NaN weight must not be passed.
pub fn best_maximal(n: usize, items: &[Item]) -> (Vec<usize>, f64) {
    let mut by_start: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    for (i, it) in items.iter().enumerate() {
        by_start[it.start].push(i);
    }
    // min_end[p]: the smallest end of an item starting at or after p. A gap p..q may hold no
    // item entirely, so the next chosen item starts at most at min_end[p].
    let mut min_end = vec![usize::MAX; n + 2];
    for p in (0..n).rev() {
        let here = by_start[p].iter().map(|&i| items[i].end).min();
        min_end[p] = here.map_or(min_end[p + 1], |e| e.min(min_end[p + 1]));
    }
    // best[p]: the best value of a cover of p..n whose position p follows a chosen item (or
    // the chain's start), with the item that begins it.
    let mut best: Vec<(Value, Option<usize>)> = vec![
        (
            Value {
                weight: 0.0,
                covered: 0
            },
            None
        );
        n + 2
    ];
    for p in (0..n).rev() {
        if min_end[p] == usize::MAX {
            // No item starts here or later: the rest stays uncovered.
            continue;
        }
        let mut choice: Option<(Value, usize)> = None;
        for starting in &by_start[p..=min_end[p].min(n - 1)] {
            for &i in starting {
                let it = &items[i];
                let rest = best[it.end + 1].0;
                let v = Value {
                    weight: it.weight + rest.weight,
                    covered: it.len() + rest.covered,
                };
                if choice.is_none_or(|(c, _)| v.better_than(&c)) {
                    choice = Some((v, i));
                }
            }
        }
        let (v, i) = choice.expect("an item starts at min_end[p] or before");
        best[p] = (v, Some(i));
    }
    let mut chosen = Vec::new();
    let mut p = 0;
    while p < n {
        let Some(i) = best[p].1 else { break };
        chosen.push(i);
        p = items[i].end + 1;
    }
    (chosen, best[0].0.weight)
}

/// The largest total weight of a set of disjoint `items` (weights at least 0) within `n`
/// positions.
pub fn max_weight(n: usize, items: &[Item]) -> f64 {
    let mut by_start: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    for (i, it) in items.iter().enumerate() {
        by_start[it.start].push(i);
    }
    let mut best = vec![0.0f64; n + 2];
    for p in (0..n).rev() {
        let mut b = best[p + 1];
        for &i in &by_start[p] {
            b = b.max(items[i].weight + best[items[i].end + 1]);
        }
        best[p] = b;
    }
    best[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(start: usize, end: usize, weight: f64) -> Item {
        Item { start, end, weight }
    }

    #[test]
    fn the_best_cover_beats_first_fit() {
        // Positions 0..3: linear, add, norm. Linear_Bias_Add (0–1) saves 0.3 ms; Linear_Bias
        // (0) 0.1 ms and Add_LayerNorm (1–2) 0.5 ms: together they save more.
        let items = [item(0, 1, 0.3), item(0, 0, 0.1), item(1, 2, 0.5)];
        let (chosen, w) = best_maximal(3, &items);
        assert_eq!(chosen, [1, 2]);
        assert!((w - 0.6).abs() < 1e-12);
        assert!((max_weight(3, &items) - 0.6).abs() < 1e-12);
        // When the longer one saves more, it wins.
        let items = [item(0, 1, 0.7), item(0, 0, 0.1), item(1, 2, 0.5)];
        assert_eq!(best_maximal(3, &items).0, [0]);
    }

    #[test]
    fn covers_are_maximal_so_a_negative_item_that_fits_is_taken() {
        // A threshold below 1 admits an item predicted slower: it is fused, not skipped.
        let items = [item(0, 0, -0.1)];
        assert_eq!(best_maximal(1, &items), (vec![0], -0.1));
        // Between two such, the less slow.
        let items = [item(0, 0, -0.1), item(0, 1, -0.05)];
        assert_eq!(best_maximal(2, &items).0, [1]);
        // Equal weights: the one covering more positions (fewer kernels).
        let items = [item(0, 0, 0.2), item(0, 1, 0.2)];
        assert_eq!(best_maximal(2, &items).0, [1]);
        // Nothing to choose.
        assert_eq!(best_maximal(4, &[]), (vec![], 0.0));
        assert_eq!(max_weight(4, &[]), 0.0);
    }

    #[test]
    fn gaps_hold_no_item_and_long_chains_stay_linear() {
        // 0–1 and 3–4 leave position 2 uncovered: nothing fits there.
        let items = [item(0, 1, 1.0), item(3, 4, 1.0), item(1, 3, 1.5)];
        let (chosen, w) = best_maximal(5, &items);
        assert_eq!((chosen, w), (vec![0, 1], 2.0));
        // 100 000 positions of overlapping singles and pairs: linear work, and the pairs
        // (2.5 for two positions against 1.0 each) win.
        let n = 100_000;
        let items: Vec<Item> = (0..n - 1)
            .flat_map(|p| [item(p, p, 1.0), item(p, p + 1, 2.5)])
            .collect();
        let t = std::time::Instant::now();
        let (chosen, w) = best_maximal(n, &items);
        assert!(t.elapsed().as_secs() < 5);
        assert_eq!(chosen.len(), n / 2);
        assert_eq!(w, 2.5 * (n / 2) as f64);
        assert_eq!(max_weight(n, &items), w);
    }
}
