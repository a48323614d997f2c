//! What theory expects of the experiments, as plain functions: the stale
//! rate of a network with propagation delay, Eyal and Sirer's revenue of a
//! selfish miner, and the catch-up probability of section 11 of the
//! Bitcoin paper. No I/O; the scenario report compares the measured
//! figures with these.

/// The chance that a block is stale when blocks take `tau_ms` to reach the
/// others and arrive every `interval_ms` on average: 1 − e^(−τ/T), the
/// chance that another block is found (a Poisson process) while one
/// propagates.
pub fn stale_rate(tau_ms: f64, interval_ms: f64) -> f64 {
    if interval_ms <= 0.0 {
        return 0.0;
    }
    1.0 - (-tau_ms.max(0.0) / interval_ms).exp()
}

/// The selfish miner's share of the best chain (Eyal and Sirer 2014,
/// eq. 8): R(α, γ) = [α(1−α)²(4α + γ(1−2α)) − α³] / [1 − α(1 + (2−α)α)],
/// for an attacker with hash share `alpha` when a share `gamma` of the
/// honest power mines on its block during a race.
pub fn selfish_revenue(alpha: f64, gamma: f64) -> f64 {
    let a = alpha;
    let numerator = a * (1.0 - a).powi(2) * (4.0 * a + gamma * (1.0 - 2.0 * a)) - a.powi(3);
    let denominator = 1.0 - a * (1.0 + (2.0 - a) * a);
    numerator / denominator
}

/// The chance that an attacker with hash share `q` ever catches up from
/// `z` blocks behind, once the merchant waited `z` confirmations (Nakamoto
/// 2008, section 11): 1 − Σ_{k=0..z} e^(−λ) λ^k / k! · (1 − (q/p)^(z−k)),
/// λ = z q / p, p = 1 − q. A majority attacker always catches up.
pub fn catch_up_probability(q: f64, z: u32) -> f64 {
    let p = 1.0 - q;
    if q >= p {
        return 1.0;
    }
    if q <= 0.0 {
        return if z == 0 { 1.0 } else { 0.0 };
    }
    let lambda = f64::from(z) * (q / p);
    let mut sum = 1.0;
    let mut poisson = (-lambda).exp();
    for k in 0..=z {
        if k > 0 {
            poisson *= lambda / f64::from(k);
        }
        sum -= poisson * (1.0 - (q / p).powi((z - k) as i32));
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn the_stale_rate_grows_with_the_delay_over_the_interval() {
        assert_eq!(stale_rate(0.0, 1000.0), 0.0);
        assert!(close(
            stale_rate(1000.0, 1000.0),
            1.0 - (-1.0f64).exp(),
            1e-12
        ));
        assert!(close(stale_rate(100.0, 1000.0), 0.095_162_581_964, 1e-9));
        assert!(stale_rate(300.0, 1000.0) > stale_rate(100.0, 1000.0));
    }

    #[test]
    fn a_selfish_third_without_followers_earns_its_fair_share() {
        assert!(close(selfish_revenue(1.0 / 3.0, 0.0), 1.0 / 3.0, 1e-12));
    }

    #[test]
    fn a_selfish_quarter_breaks_even_when_half_the_honest_follow_it() {
        // The paper's threshold: (1 − γ) / (3 − 2γ) = 1/4 at γ = 1/2.
        assert!(close(selfish_revenue(0.25, 0.5), 0.25, 1e-12));
        assert!(selfish_revenue(0.2, 0.5) < 0.2);
    }

    #[test]
    fn with_every_honest_miner_following_any_selfish_miner_gains() {
        // R(1/4, 1) = 0.1953125 / 0.640625, worked by hand.
        assert!(close(
            selfish_revenue(0.25, 1.0),
            0.195_312_5 / 0.640_625,
            1e-12
        ));
        for alpha in [0.05, 0.1, 0.25, 0.4] {
            assert!(selfish_revenue(alpha, 1.0) > alpha, "α = {alpha}");
        }
    }

    #[test]
    fn the_catch_up_probability_matches_the_papers_table() {
        // Nakamoto 2008, section 11, q = 0.1 and q = 0.3.
        let table = [
            (0.1, 0, 1.0),
            (0.1, 1, 0.204_587_3),
            (0.1, 2, 0.050_977_9),
            (0.1, 3, 0.013_172_2),
            (0.1, 4, 0.003_455_2),
            (0.1, 5, 0.000_913_7),
            (0.1, 6, 0.000_242_8),
            (0.1, 7, 0.000_064_7),
            (0.1, 8, 0.000_017_3),
            (0.1, 9, 0.000_004_6),
            (0.1, 10, 0.000_001_2),
            (0.3, 0, 1.0),
            (0.3, 5, 0.177_352_3),
            (0.3, 10, 0.041_660_5),
            (0.3, 15, 0.010_100_8),
            (0.3, 20, 0.002_480_4),
            (0.3, 25, 0.000_613_2),
            (0.3, 30, 0.000_152_2),
            (0.3, 35, 0.000_037_9),
            (0.3, 40, 0.000_009_5),
            (0.3, 45, 0.000_002_4),
            (0.3, 50, 0.000_000_6),
        ];
        for (q, z, expected) in table {
            let got = catch_up_probability(q, z);
            assert!(
                close(got, expected, 5e-8),
                "q={q} z={z}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn a_majority_attacker_always_catches_up() {
        assert_eq!(catch_up_probability(0.6, 2), 1.0);
        assert_eq!(catch_up_probability(0.5, 10), 1.0);
    }
}
