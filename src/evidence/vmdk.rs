//! Monolithic sparse `.vmdk` extents: only the embedded descriptor is read, never the disk.
//!
//! The sparse extent header (VMware "Virtual Disk Format 5.0", KNOWN) is little-endian:
//! magic `KDMV` at 0, version (u32) at 4, flags (u32) at 8, capacity (u64, sectors) at 12,
//! grainSize (u64) at 20, descriptorOffset (u64, sectors) at 28, descriptorSize (u64, sectors)
//! at 36. The descriptor is NUL-padded text.

/// Bytes per sector.
pub const SECTOR: u64 = 512;
/// Largest descriptor read (real ones are 10-20 sectors).
pub const MAX_DESCRIPTOR: u64 = 1 << 20;

/// Where the embedded descriptor is: (byte offset, byte length, capped), or `None` when the
/// header has no descriptor or is not a sparse extent header.
pub fn descriptor_range(head: &[u8]) -> Option<(u64, u64)> {
    if !head.starts_with(b"KDMV") || head.len() < 44 {
        return None;
    }
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&head[o..o + 8]);
        u64::from_le_bytes(b)
    };
    let (off, len) = (u64_at(28), u64_at(36));
    if off == 0 || len == 0 {
        return None;
    }
    Some((
        off.checked_mul(SECTOR)?,
        len.saturating_mul(SECTOR).min(MAX_DESCRIPTOR),
    ))
}

/// The header and descriptor of a monolithic sparse extent (fixtures and benchmarks): write
/// these bytes, then extend the file to the disk size to make it sparse.
pub fn sparse_header(descriptor: &str, capacity_sectors: u64) -> Vec<u8> {
    let desc_sectors: u64 = 20;
    let mut h = vec![0u8; 512];
    h[0..4].copy_from_slice(b"KDMV");
    h[4..8].copy_from_slice(&1u32.to_le_bytes());
    h[8..12].copy_from_slice(&3u32.to_le_bytes());
    h[12..20].copy_from_slice(&capacity_sectors.to_le_bytes());
    h[20..28].copy_from_slice(&128u64.to_le_bytes());
    h[28..36].copy_from_slice(&1u64.to_le_bytes());
    h[36..44].copy_from_slice(&desc_sectors.to_le_bytes());
    h[44..48].copy_from_slice(&512u32.to_le_bytes());
    h[73..77].copy_from_slice(b"\n \r\n");
    let mut d = descriptor.as_bytes().to_vec();
    d.resize((desc_sectors * SECTOR) as usize, 0);
    h.extend(d);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = sparse_header("# Disk DescriptorFile\n", 2048);
        assert_eq!(descriptor_range(&h), Some((512, 20 * 512)));
        assert_eq!(descriptor_range(b"KDMV"), None);
        let mut bad = h;
        bad[36..44].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(descriptor_range(&bad), Some((512, MAX_DESCRIPTOR)));
        bad[28..36].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(descriptor_range(&bad), None);
    }
}
