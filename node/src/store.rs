//! The node's embedded database (redb) under `--data-dir`: every valid
//! block, the node's id and its peers. redb commits are durable when
//! `commit` returns, so a block is written before the node acknowledges it
//! and survives `kill -9`.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use shared::{Block, BlockHash};

/// Block hash -> the block's binary encoding.
const BLOCKS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blocks");
/// Small named values: the node id, the peer list (JSON).
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: String,
        source: redb::DatabaseError,
    },
    #[error("store error: {0}")]
    Db(String),
    #[error("stored block {0} does not decode: {1}")]
    Corrupt(BlockHash, shared::DecodeError),
}

fn db_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

pub struct Store {
    db: Database,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(db_error)?;
        let path = dir.join("node.redb");
        let db = Database::create(&path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        let txn = db.begin_write().map_err(db_error)?;
        txn.open_table(BLOCKS).map_err(db_error)?;
        txn.open_table(META).map_err(db_error)?;
        txn.commit().map_err(db_error)?;
        Ok(Self { db })
    }

    /// Writes blocks in one durable transaction.
    pub fn put_blocks<'a>(
        &self,
        blocks: impl IntoIterator<Item = &'a Block>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_error)?;
        {
            let mut table = txn.open_table(BLOCKS).map_err(db_error)?;
            for block in blocks {
                table
                    .insert(block.hash.as_bytes(), block.to_bytes().as_slice())
                    .map_err(db_error)?;
            }
        }
        txn.commit().map_err(db_error)
    }

    /// Every stored block, in no particular order.
    pub fn load_blocks(&self) -> Result<Vec<Block>, StoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(BLOCKS).map_err(db_error)?;
        let mut blocks = Vec::new();
        for row in table.iter().map_err(db_error)? {
            let (key, value) = row.map_err(db_error)?;
            let hash = BlockHash::from_bytes(*key.value());
            let block =
                Block::from_bytes(value.value()).map_err(|e| StoreError::Corrupt(hash, e))?;
            blocks.push(block);
        }
        Ok(blocks)
    }

    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(META).map_err(db_error)?;
        Ok(table
            .get(key)
            .map_err(db_error)?
            .map(|v| v.value().to_owned()))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_error)?;
        txn.open_table(META)
            .map_err(db_error)?
            .insert(key, value)
            .map_err(db_error)?;
        txn.commit().map_err(db_error)
    }
}
