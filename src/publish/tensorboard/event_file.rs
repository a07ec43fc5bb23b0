//! TFRecord framing, the container of TensorBoard's event files: each record
//! is its length (u64, little-endian), the masked CRC-32C of those 8 bytes,
//! the data, and the masked CRC-32C of the data. The file is built in memory
//! and written at once, so a reader never sees half of it.

use prost::Message;

use super::proto::{Event, What};

/// What TensorFlow's writers put in an event file's first record.
pub(super) const FILE_VERSION: &str = "brain.Event:2";

/// TFRecord's checksum: CRC-32C, rotated and offset so that a CRC of data
/// that itself holds CRCs does not degenerate.
pub(super) fn masked_crc32c(bytes: &[u8]) -> u32 {
    let crc = crc32c::crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// The bytes of one event file.
#[derive(Debug, Default)]
pub(crate) struct EventFile {
    bytes: Vec<u8>,
}

impl EventFile {
    /// A file that starts with the file-version event at `wall_time`.
    pub(crate) fn new(wall_time: f64) -> Self {
        let mut file = EventFile::default();
        file.push(&Event { wall_time, step: 0, what: Some(What::FileVersion(FILE_VERSION.into())) });
        file
    }

    /// Appends one event as a record.
    pub(crate) fn push(&mut self, event: &Event) {
        self.push_record(&event.encode_to_vec());
    }

    fn push_record(&mut self, data: &[u8]) {
        let length = (data.len() as u64).to_le_bytes();
        self.bytes.extend_from_slice(&length);
        self.bytes.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
        self.bytes.extend_from_slice(data);
        self.bytes.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    }

    /// The file's contents.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::tensorboard::proto::{Summary, SummaryValue, ValueKind};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn crc32c_matches_the_standard_check_values() {
        // RFC 3720 B.4 and the CRC catalogue's check value of CRC-32/ISCSI.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c::crc32c(&[0xffu8; 32]), 0x62a8_ab43);
    }

    #[test]
    fn the_mask_is_tensorflows() {
        // tensorflow/core/lib/hash/crc32c.h: ((crc >> 15) | (crc << 17)) + 0xa282ead8, of
        // 0xe3069283 (computed by hand, not by the code under test).
        assert_eq!(masked_crc32c(b"123456789"), 0xc78a_b0e5);
        assert_eq!(masked_crc32c(b""), 0xa282_ead8);
    }

    /// Written by tensorboard 2.21's own `RecordWriter` (Python) from the same
    /// two events: the file-version event, and `valid/mcc` = 0.75 at step 3.
    const FROM_TENSORBOARD: &str = "1800000000000000a37f4b220900002040fc54d9411a0d627261696e2e4576656e743a322b353110\
        1f00000000000000514b44180900005040fc54d94110032a120a100a0976616c69642f6d6363150000403f50c05d5d";

    #[test]
    fn records_are_byte_for_byte_what_tensorboard_writes() {
        let mut file = EventFile::new(1_700_000_000.5);
        file.push(&Event {
            wall_time: 1_700_000_001.25,
            step: 3,
            what: Some(What::Summary(Summary {
                value: vec![SummaryValue {
                    tag: "valid/mcc".into(),
                    metadata: None,
                    value: Some(ValueKind::SimpleValue(0.75)),
                }],
            })),
        });
        assert_eq!(hex(&file.into_bytes()), FROM_TENSORBOARD.replace(' ', ""));
    }
}
