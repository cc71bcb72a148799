//! `put` and `get`: the guest's end of file copies (the rules are in `vm::transfer`).

use std::path::PathBuf;

use anyhow::Result;

use super::Out;
use crate::vm::protocol::{Bytes, Event};
use crate::vm::transfer;

/// A `put` in progress: chunks go to a temporary file beside the destination.
pub(crate) struct Put {
    dest: PathBuf,
    recv: transfer::Receiver,
    failed: Option<String>,
}

impl Put {
    pub(crate) fn start(path: &str) -> Result<Put> {
        let dest = PathBuf::from(transfer::guest_path(path)?);
        let recv = transfer::Receiver::new(&dest)?;
        Ok(Put {
            dest,
            recv,
            failed: None,
        })
    }

    pub(crate) fn chunk(&mut self, data: &[u8]) {
        if self.failed.is_none()
            && let Err(e) = self.recv.chunk(data)
        {
            self.failed = Some(format!("writing near {}: {e:#}", self.dest.display()));
        }
    }

    pub(crate) fn finish(self, size: u64, sha256: &str) -> Result<()> {
        if let Some(f) = self.failed {
            anyhow::bail!(f);
        }
        self.recv.finish(size, sha256, &self.dest)
    }
}

/// Streams `path` to the host as chunks, then `end`.
pub(crate) fn get(id: u64, path: &str, out: &Out) {
    let result = (|| -> Result<(u64, String)> {
        let p = transfer::guest_path(path)?;
        let mut chunker = transfer::Chunker::new(|c: &[u8]| {
            out.send(
                id,
                &Event::Chunk {
                    data: Bytes(c.to_vec()),
                },
            );
            Ok(())
        });
        transfer::pack(std::path::Path::new(&p), &mut chunker)?;
        Ok(chunker.finish()?)
    })();
    match result {
        Ok((size, sha256)) => out.send(id, &Event::End { size, sha256 }),
        Err(e) => out.send(
            id,
            &Event::Error {
                message: format!("{e:#}"),
            },
        ),
    }
}
