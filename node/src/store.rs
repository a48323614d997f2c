//! The node's embedded database (redb) under `--data-dir`: every valid
//! block, the node's id and its peers. redb commits are durable when
//! `commit` returns, so a block is written before the node acknowledges it
//! and survives `kill -9`.

use std::path::Path;

use redb::{Database, Durability, ReadableTable, TableDefinition, WriteTransaction};
use shared::{Block, BlockHash, ChainParams};

/// A durable commit that takes this long is worth a warning.
const SLOW_COMMIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Block hash -> the block's binary encoding.
const BLOCKS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blocks");
/// Small named values: the node id, the peer list (JSON).
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
/// The meta key naming the chain a store holds (see [`Store::claim_for_chain`]).
const CHAIN_KEY: &str = "chain";

/// What can go wrong with the database; a redb failure keeps redb's own
/// error as the source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: String,
        source: redb::DatabaseError,
    },
    /// Boxed: redb's errors are large, and every `Result` of the store and
    /// the API would carry their size.
    #[error("store error: {0}")]
    Db(#[source] Box<redb::Error>),
    #[error("stored block {hash} does not decode: {source}")]
    Corrupt {
        hash: BlockHash,
        source: shared::DecodeError,
    },
    #[error(
        "the store at {path} holds another chain ({stored}), not {ours}: wrong --data-dir for \
         this chain? Start the node with the parameters that made the store, or give it another \
         --data-dir"
    )]
    OtherChain {
        path: String,
        stored: String,
        ours: String,
    },
}

/// `?` on any redb call gives a [`StoreError::Db`].
macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for StoreError {
            fn from(error: $error) -> Self {
                Self::Db(Box::new(error.into()))
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub struct Store {
    db: Database,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join("node.redb");
        let db = Database::create(&path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let txn = db.begin_write()?;
        txn.open_table(BLOCKS)?;
        txn.open_table(META)?;
        txn.commit()?;
        Ok(Self { db })
    }

    /// A write transaction whose commit is on disk when `commit` returns.
    /// `Immediate` is redb 2's default; it is named here because every
    /// acknowledgment the node sends relies on it (a weaker level would let
    /// `kill -9` or a power cut lose acknowledged blocks).
    fn begin_durable(&self) -> Result<WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        Ok(txn)
    }

    /// Writes blocks in one durable transaction.
    pub fn put_blocks<'a>(
        &self,
        blocks: impl IntoIterator<Item = &'a Block>,
    ) -> Result<(), StoreError> {
        let txn = self.begin_durable()?;
        {
            let mut table = txn.open_table(BLOCKS)?;
            for block in blocks {
                table.insert(block.hash.as_bytes(), block.to_bytes().as_slice())?;
            }
        }
        let started = std::time::Instant::now();
        txn.commit()?;
        // A block is announced only once it is durable, so a slow fsync
        // (a disk other processes keep busy) shows up as relay latency.
        let took = started.elapsed();
        if took >= SLOW_COMMIT {
            tracing::warn!(
                took_ms = took.as_millis() as u64,
                "a block commit was slow: the disk is busy, and relay waits for it"
            );
        }
        Ok(())
    }

    /// Every stored block, in no particular order.
    pub fn load_blocks(&self) -> Result<Vec<Block>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCKS)?;
        let mut blocks = Vec::new();
        for row in table.iter()? {
            let (key, value) = row?;
            let hash = BlockHash::from_bytes(*key.value());
            let block = Block::from_bytes(value.value())
                .map_err(|source| StoreError::Corrupt { hash, source })?;
            blocks.push(block);
        }
        Ok(blocks)
    }

    /// Makes sure this store holds `params`'s chain: a new store is marked
    /// with it (name and consensus digest), and a store marked with another
    /// is refused, as Bitcoin Core refuses a data directory whose genesis
    /// is not its network's ("Wrong datadir for network?"). Otherwise a
    /// node on other parameters would mix two chains' blocks and quietly
    /// start again from genesis.
    pub fn claim_for_chain(&self, params: &ChainParams, path: &Path) -> Result<(), StoreError> {
        let ours = format!("{} {}", params.name, hex::encode(params.digest()));
        match self.get_meta(CHAIN_KEY)? {
            None => self.set_meta(CHAIN_KEY, &ours),
            Some(stored) if stored == ours => Ok(()),
            Some(stored) => Err(StoreError::OtherChain {
                path: path.display().to_string(),
                stored,
                ours,
            }),
        }
    }

    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(META)?;
        Ok(table.get(key)?.map(|v| v.value().to_owned()))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let txn = self.begin_durable()?;
        txn.open_table(META)?.insert(key, value)?;
        txn.commit()?;
        Ok(())
    }
}
