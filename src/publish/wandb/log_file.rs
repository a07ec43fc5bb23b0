//! W&B's transaction log (`run-<id>.wandb`): LevelDB's log framing with W&B's own header and
//! checksum, as `core/pkg/leveldb/record.go` in wandb/wandb writes it.
//!
//! ```text
//! ":W&B" 0xE1 0xBE 0x00                       7 bytes, at the start of the first block
//! then 32 KiB blocks of chunks:
//!   crc u32 LE | length u16 LE | type u8 | payload
//!   type FULL=1 FIRST=2 MIDDLE=3 LAST=4; a record too long for its block continues in the next
//!   a block tail shorter than a chunk header (7 bytes) is zeros
//! ```
//!
//! The checksum is plain CRC-32 (IEEE) over the type byte and the payload, not LevelDB's masked
//! CRC-32C: W&B's reader picks `CRCAlgoIEEE`, so LevelDB's own log crates do not fit.

use prost::Message;

use super::proto::wandb_internal::Record;

/// Block size of the framing.
pub(super) const BLOCK: usize = 32 * 1024;
/// A chunk's header: crc, length, type.
const CHUNK_HEADER: usize = 7;
/// The file header: identifier, magic (0xBEE1, little-endian), version 0 (wandb 0.31 refuses 1).
const FILE_HEADER: [u8; 7] = [b':', b'W', b'&', b'B', 0xE1, 0xBE, 0];

/// Chunk types.
pub(super) const FULL: u8 = 1;
pub(super) const FIRST: u8 = 2;
pub(super) const MIDDLE: u8 = 3;
pub(super) const LAST: u8 = 4;

/// A transaction log built in memory, written in one atomic write.
#[derive(Debug)]
pub(super) struct LogFile {
    bytes: Vec<u8>,
    records: usize,
}

impl LogFile {
    pub(super) fn new() -> Self {
        LogFile { bytes: FILE_HEADER.to_vec(), records: 0 }
    }

    /// Appends one record, numbered in order (`num` 1, 2, ... as W&B's writer numbers them).
    pub(super) fn push(&mut self, mut record: Record) {
        self.records += 1;
        record.num = self.records as i64;
        self.push_payload(&record.encode_to_vec());
    }

    /// Records pushed so far.
    pub(super) fn records(&self) -> usize {
        self.records
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Frames `payload` as one record: a FULL chunk, or FIRST, MIDDLE..., LAST across blocks.
    /// A chunk starts wherever its header fits, as in W&B's writer, even when no payload byte
    /// fits after it (an empty FIRST chunk at a block's end).
    fn push_payload(&mut self, payload: &[u8]) {
        let mut rest = payload;
        let mut first = true;
        loop {
            let left = BLOCK - self.bytes.len() % BLOCK;
            if left < CHUNK_HEADER {
                self.bytes.resize(self.bytes.len() + left, 0);
            }
            let room = BLOCK - self.bytes.len() % BLOCK - CHUNK_HEADER;
            let n = rest.len().min(room);
            let last = n == rest.len();
            let kind = match (first, last) {
                (true, true) => FULL,
                (true, false) => FIRST,
                (false, false) => MIDDLE,
                (false, true) => LAST,
            };
            let (chunk, tail) = rest.split_at(n);
            let mut crc = crc32fast::Hasher::new();
            crc.update(&[kind]);
            crc.update(chunk);
            self.bytes.extend_from_slice(&crc.finalize().to_le_bytes());
            // n ≤ BLOCK - 7, so it fits the u16.
            self.bytes.extend_from_slice(&(n as u16).to_le_bytes());
            self.bytes.push(kind);
            self.bytes.extend_from_slice(chunk);
            rest = tail;
            first = false;
            if last {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the framing back the way W&B's reader does: (type, payload) of every chunk.
    fn chunks(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        assert_eq!(&bytes[..7], &FILE_HEADER);
        let mut out = Vec::new();
        let mut at = 7;
        while at < bytes.len() {
            let left = BLOCK - at % BLOCK;
            if left < CHUNK_HEADER {
                assert!(bytes[at..at + left].iter().all(|b| *b == 0), "a block's tail is zeros");
                at += left;
                continue;
            }
            let crc = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            let len = u16::from_le_bytes(bytes[at + 4..at + 6].try_into().unwrap()) as usize;
            let kind = bytes[at + 6];
            let payload = bytes[at + 7..at + 7 + len].to_vec();
            assert!(at % BLOCK + 7 + len <= BLOCK, "a chunk never crosses a block boundary");
            let mut h = crc32fast::Hasher::new();
            h.update(&[kind]);
            h.update(&payload);
            assert_eq!(h.finalize(), crc, "checksum over type and payload");
            out.push((kind, payload));
            at += 7 + len;
        }
        out
    }

    fn log_of(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut log = LogFile::new();
        for p in payloads {
            log.push_payload(p);
        }
        log.into_bytes()
    }

    #[test]
    fn a_small_record_is_one_full_chunk_after_the_header() {
        let bytes = log_of(&[b"abc".to_vec()]);
        assert_eq!(bytes.len(), 7 + 7 + 3);
        assert_eq!(chunks(&bytes), vec![(FULL, b"abc".to_vec())]);
        // CRC-32 IEEE of [1, 'a', 'b', 'c'], as Go's crc32.ChecksumIEEE gives it.
        assert_eq!(&bytes[7..11], &crc32fast::hash(&[1, b'a', b'b', b'c']).to_le_bytes());
    }

    #[test]
    fn a_record_longer_than_a_block_is_first_middle_last() {
        let big: Vec<u8> = (0..2 * BLOCK + 100).map(|i| (i % 251) as u8).collect();
        let bytes = log_of(&[b"x".to_vec(), big.clone(), b"y".to_vec()]);
        let got = chunks(&bytes);
        let kinds: Vec<u8> = got.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, vec![FULL, FIRST, MIDDLE, LAST, FULL]);
        let joined: Vec<u8> = got[1..4].iter().flat_map(|(_, p)| p.clone()).collect();
        assert_eq!(joined, big);
        // The first block holds the file header, the FULL chunk of "x" and the FIRST chunk to its end.
        assert_eq!(got[1].1.len(), BLOCK - 7 - 8 - 7);
        assert_eq!(got[2].1.len(), BLOCK - 7);
    }

    #[test]
    fn a_block_tail_too_short_for_a_header_is_zero_filled() {
        // One record that leaves exactly 3 bytes of the first block.
        let first = vec![7u8; BLOCK - 7 - 7 - 3];
        let bytes = log_of(&[first.clone(), b"next".to_vec()]);
        assert_eq!(&bytes[BLOCK - 3..BLOCK], &[0, 0, 0]);
        assert_eq!(chunks(&bytes), vec![(FULL, first), (FULL, b"next".to_vec())]);
        assert_eq!(bytes.len(), BLOCK + 7 + 4);
    }

    #[test]
    fn exactly_a_header_left_starts_an_empty_first_chunk() {
        // W&B's writer starts a chunk wherever 7 bytes are left, so does this one.
        let first = vec![1u8; BLOCK - 7 - 7 - 7];
        let bytes = log_of(&[first.clone(), b"spill".to_vec()]);
        assert_eq!(chunks(&bytes), vec![(FULL, first), (FIRST, vec![]), (LAST, b"spill".to_vec())]);
    }

    #[test]
    fn records_are_numbered_in_order() {
        let mut log = LogFile::new();
        log.push(Record::default());
        log.push(Record::default());
        assert_eq!(log.records(), 2);
        let got = chunks(&log.into_bytes());
        let nums: Vec<i64> = got.iter().map(|(_, p)| Record::decode(p.as_slice()).unwrap().num).collect();
        assert_eq!(nums, vec![1, 2]);
    }
}
