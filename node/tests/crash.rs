//! The crash campaign, bounded: 10 SIGKILLs of a mining node at seeded
//! random moments, real processes, stores in memory. Every acknowledged
//! block must be in the store after each kill, the restarted node's chain
//! must validate, and it must link up with its peer and agree with it.

use std::time::Duration;

use node::crash_campaign::{CrashCampaign, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_kills_lose_no_acknowledged_block() {
    let campaign = CrashCampaign {
        kills: 10,
        seed: 1017,
        min_run: Duration::from_millis(100),
        max_run: Duration::from_millis(800),
        in_ram: true,
        pace_ms: 20,
    };
    let report = run(&campaign).await.expect("the campaign ran");
    let json = serde_json::to_string_pretty(&report).unwrap();
    assert_eq!(report.runs.len(), 10, "{json}");
    assert_eq!(report.lost_total, 0, "{json}");
    assert_eq!(report.invalid_chains, 0, "{json}");
    assert_eq!(report.failed_converges, 0, "{json}");
    assert!(report.is_clean(), "{json}");
    // The campaign saw acknowledgements on every channel, so each was
    // really checked.
    for (name, count) in [
        (
            "/mine",
            report.runs.iter().map(|r| r.acked_by_mine).sum::<usize>(),
        ),
        (
            "block_mined",
            report.runs.iter().map(|r| r.acked_by_event).sum(),
        ),
        (
            "announcements",
            report.runs.iter().map(|r| r.acked_by_announce).sum(),
        ),
        (
            "peer accepts",
            report.runs.iter().map(|r| r.acked_by_peer_accept).sum(),
        ),
    ] {
        assert!(count > 0, "no acknowledgement by {name}: {json}");
    }
    assert!(report.final_height > 0, "{json}");
}
