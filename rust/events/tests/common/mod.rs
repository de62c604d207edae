//! Helpers shared by the integration tests: the real-data folder and a tiny AEDAT 4 writer.
#![allow(dead_code)]
use std::path::PathBuf;

/// `$SPIKEFLOW_DATA` or `<repo>/../shared/data`; `None` (or a panic when `CI=true`) if absent.
pub fn data_root() -> Option<PathBuf> {
    let p = match std::env::var_os("SPIKEFLOW_DATA") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("real data folder {} not found (CI=true)", p.display());
    }
    eprintln!(
        "skipping real-data cases: {} not found (set SPIKEFLOW_DATA)",
        p.display()
    );
    None
}

/// An IOHeader flatbuffer (hand-laid-out, independent of the crate's reader).
pub fn io_header(compression: i32, data_table: i64, xml: &str) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&18u32.to_le_bytes());
    b.extend_from_slice(b"IOHE");
    for v in [10u16, 20, 4, 12, 8] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&10i32.to_le_bytes()); // table at 18, vtable at 8
    b.extend_from_slice(&compression.to_le_bytes());
    b.extend_from_slice(&12u32.to_le_bytes()); // string at 26 + 12 = 38
    b.extend_from_slice(&data_table.to_le_bytes());
    b.extend_from_slice(&(xml.len() as u32).to_le_bytes());
    b.extend_from_slice(xml.as_bytes());
    b.push(0);
    b
}

/// An EventPacket flatbuffer, optionally size-prefixed.
pub fn event_packet(events: &[(i64, i16, i16, bool)], size_prefixed: bool) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&14u32.to_le_bytes());
    b.extend_from_slice(b"EVTS");
    for v in [6u16, 8, 4] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&6i32.to_le_bytes());
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for &(t, x, y, on) in events {
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&x.to_le_bytes());
        b.extend_from_slice(&y.to_le_bytes());
        b.extend_from_slice(&[on as u8, 0, 0, 0]);
    }
    if size_prefixed {
        let mut p = (b.len() as u32).to_le_bytes().to_vec();
        p.extend(b);
        p
    } else {
        b
    }
}

pub const XML: &str = r#"<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/"><node name="0" path="/mainloop/Recorder/outInfo/0/"><attr key="typeIdentifier" type="string">EVTS</attr><node name="info" path="/mainloop/Recorder/outInfo/0/info/"><attr key="sizeX" type="int">64</attr><attr key="sizeY" type="int">48</attr></node></node><node name="1" path="/mainloop/Recorder/outInfo/1/"><attr key="typeIdentifier" type="string">IMUS</attr></node></node></dv>"#;

/// A complete AEDAT 4 file: `compression` 0 none, 1 LZ4, 3 Zstd; events split in packets
/// of `per_packet`; an IMU packet (stream 1) between them; a fake data table at the end.
pub fn aedat4_file(
    compression: i32,
    events: &[(i64, i16, i16, bool)],
    per_packet: usize,
) -> Vec<u8> {
    let compress = |raw: Vec<u8>| -> Vec<u8> {
        match compression {
            0 => raw,
            1 => {
                use std::io::Write;
                let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
                enc.write_all(&raw).unwrap();
                enc.finish().unwrap()
            }
            3 => zstd::encode_all(&raw[..], 3).unwrap(),
            _ => unreachable!(),
        }
    };
    let mut packets = Vec::new();
    for (k, chunk) in events.chunks(per_packet.max(1)).enumerate() {
        let body = compress(event_packet(chunk, k % 2 == 1));
        packets.extend_from_slice(&0i32.to_le_bytes());
        packets.extend_from_slice(&(body.len() as i32).to_le_bytes());
        packets.extend(body);
        let imu = compress(b"\x08\x00\x00\x00IMUS\x00\x00\x00\x00".to_vec());
        packets.extend_from_slice(&1i32.to_le_bytes());
        packets.extend_from_slice(&(imu.len() as i32).to_le_bytes());
        packets.extend(imu);
    }
    let header_len = io_header(compression, 0, XML).len();
    let table_at = 14 + 4 + header_len + packets.len();
    let header = io_header(compression, table_at as i64, XML);
    let mut f = b"#!AER-DAT4.0\r\n".to_vec();
    f.extend_from_slice(&(header.len() as u32).to_le_bytes());
    f.extend(header);
    f.extend(packets);
    f.extend_from_slice(b"\xff\xff\xff\x7fDATA TABLE THAT IS NOT A PACKET");
    f
}
