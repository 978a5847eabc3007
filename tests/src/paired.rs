//! Paired ratios: on a shared, noisy machine two benchmarks measured a minute apart can drift
//! by ±10 %, more than the differences we care about. Each round times a short burst of the
//! baseline and of the candidate back to back (alternating which goes first), and the median
//! of the per-round ratios is reported with its interquartile range.

use std::time::{Duration, Instant};

const ROUNDS: usize = 41;
const BURST: Duration = Duration::from_millis(20);

/// Prints a table row: the median and quartiles of candidate / baseline time ratios over
/// interleaved rounds.
pub fn paired(name: &str, mut baseline: impl FnMut(), mut candidate: impl FnMut()) {
    // Calibrate a burst length in iterations from the baseline.
    let start = Instant::now();
    let mut calibration = 0u32;
    while start.elapsed() < BURST {
        baseline();
        calibration += 1;
    }
    let iterations = calibration.max(10);
    let time = |f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..iterations {
            f();
        }
        t.elapsed().as_secs_f64()
    };
    let mut ratios = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        let (b, c) = if round % 2 == 0 {
            let b = time(&mut baseline);
            (b, time(&mut candidate))
        } else {
            let c = time(&mut candidate);
            (time(&mut baseline), c)
        };
        ratios.push(c / b);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "| {name} | {:.3} | {:.3} – {:.3} |",
        ratios[ROUNDS / 2],
        ratios[ROUNDS / 4],
        ratios[3 * ROUNDS / 4]
    );
}
