//! The lab chain a data directory was started with. Without
//! `--total-hashrate`, a lab chain's difficulty comes from the machine's
//! capacity, measured at each start; a manager restarted on the same
//! `--data-dir` would measure again, make another chain, and every node
//! would refuse its own store (a store keeps the chain it holds). So the
//! first start writes `<data-dir>/lab-chain.json`, and a later start on the
//! same directory takes the chain from there.

use std::path::{Path, PathBuf};

use crate::hashpower::LabChain;

const FILE: &str = "lab-chain.json";

#[derive(Debug, thiserror::Error)]
pub enum LabRecordError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a lab chain record: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "{path} says this data directory holds the lab chain of a block every {recorded_interval} \
         ms at {recorded_total} attempts/s, and its nodes' stores hold that chain; \
         start with --block-interval-ms {recorded_interval} (and no other --total-hashrate), \
         or give another --data-dir"
    )]
    Other {
        path: PathBuf,
        recorded_interval: u64,
        recorded_total: u64,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where `data_dir` keeps its lab chain's record.
pub fn record_path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The lab chain recorded in `data_dir`, if one is.
pub fn read(data_dir: &Path) -> Result<Option<LabChain>, LabRecordError> {
    let path = record_path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LabRecordError::Read { path, source }),
    };
    let recorded =
        serde_json::from_str(&text).map_err(|source| LabRecordError::Parse { path, source })?;
    Ok(Some(recorded))
}

/// The total hash rate to start with: the one `recorded` (which the
/// flags, where given, must agree with), else `total` as given.
pub fn total_to_use(
    data_dir: &Path,
    recorded: Option<LabChain>,
    interval_ms: Option<u64>,
    total: Option<u64>,
) -> Result<Option<u64>, LabRecordError> {
    let Some(recorded) = recorded else {
        return Ok(total);
    };
    let agrees = interval_ms == Some(recorded.block_interval_ms)
        && total.is_none_or(|total| total == recorded.network_hashrate);
    if agrees {
        Ok(Some(recorded.network_hashrate))
    } else {
        Err(LabRecordError::Other {
            path: record_path(data_dir),
            recorded_interval: recorded.block_interval_ms,
            recorded_total: recorded.network_hashrate,
        })
    }
}

/// Records `lab` in `data_dir` (written whole, then renamed into place,
/// so a crash leaves the old record or the new one).
pub fn write(data_dir: &Path, lab: &LabChain) -> Result<(), LabRecordError> {
    let path = record_path(data_dir);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(data_dir)?;
        let partial = data_dir.join(format!("{FILE}.partial"));
        std::fs::write(&partial, serde_json::to_vec_pretty(lab)?)?;
        std::fs::rename(&partial, &path)
    };
    write().map_err(|source| LabRecordError::Write { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB: LabChain = LabChain {
        block_interval_ms: 1_000,
        network_hashrate: 12_345,
    };

    #[test]
    fn a_record_is_read_back_and_its_total_taken() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        assert_eq!(
            total_to_use(dir.path(), None, Some(1_000), None).unwrap(),
            None
        );
        write(dir.path(), &LAB).unwrap();
        let recorded = read(dir.path()).unwrap();
        assert_eq!(recorded, Some(LAB));
        for total in [None, Some(12_345)] {
            assert_eq!(
                total_to_use(dir.path(), recorded, Some(1_000), total).unwrap(),
                Some(12_345)
            );
        }
    }

    #[test]
    fn flags_that_disagree_with_the_record_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (interval, total) in [(Some(500), None), (Some(1_000), Some(999)), (None, None)] {
            let error = total_to_use(dir.path(), Some(LAB), interval, total).unwrap_err();
            assert!(
                matches!(
                    error,
                    LabRecordError::Other {
                        recorded_interval: 1_000,
                        recorded_total: 12_345,
                        ..
                    }
                ),
                "{interval:?} {total:?}: {error}"
            );
        }
    }

    #[test]
    fn a_damaged_record_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "{\"block_interval_ms\": 1").unwrap();
        assert!(matches!(
            read(dir.path()),
            Err(LabRecordError::Parse { .. })
        ));
    }
}
