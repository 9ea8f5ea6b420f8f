//! Writes the `evidence` benchmark tree for `bench/evidence.sh`: a copied-datastore shape with
//! N VMs (one .vmx and two .vmdk descriptors each, NKP-encrypted), M unrelated files (logs,
//! notes, binary nvram) and S multi-GB sparse disks (half `-flat.vmdk` raw extents, half
//! monolithic sparse extents with an embedded descriptor). Sparse files take no disk space.
//!
//! Usage: cargo run --release --example gen_evidence_bench -- <dir> <N> <M> <S> <GiB>

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

use nkp_escrow::evidence::keysafe::escape;
use nkp_escrow::evidence::vmdk::sparse_header;

fn blob(i: usize) -> String {
    use base64::Engine;
    let d = <sha2::Sha256 as sha2::Digest>::digest(i.to_le_bytes());
    let r: &[u8] = &d;
    let mut b = vec![1u8, 0x21, 0, 2, 1, 0];
    b.extend_from_slice(&r[..16]);
    b.push(1);
    b.extend_from_slice(&[8, 0, 12, 0, 16, 0, 32, 0, 4, 0]);
    b.extend_from_slice(b"AES-256\0");
    b.extend_from_slice(&r[..12]);
    b.extend_from_slice(&r[..16]);
    b.extend_from_slice(r);
    b.extend_from_slice(&[0xa0, 0x86, 1, 0]);
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn keysafe(provider: &str, i: usize) -> String {
    format!(
        "vmware:key/list/(pair/(fqid/<VMWARE-NULL>/{provider}/{},HMAC%2dSHA%2d256,{}))",
        escape(blob(i).as_bytes()),
        escape(blob(i + 1_000_000).as_bytes())
    )
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let root = std::path::PathBuf::from(&a[0]);
    let n: usize = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let m: usize = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let s: usize = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    let gib: u64 = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(4);
    let providers = ["NKP-PROD", "NKP-DR", "NKP-VDI", "NKP-LAB"];
    for i in 0..n {
        let dir = root.join(format!("ds{}/vm-{i:05}", i % 8));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let p = providers[i % providers.len()];
        let vmx = format!(
            ".encoding = \"UTF-8\"\nconfig.version = \"8\"\nvirtualHW.version = \"20\"\nnvram = \"vm-{i:05}.nvram\"\nmemSize = \"4096\"\nnumvcpus = \"2\"\ndisplayName = \"vm-{i:05}\"\nguestOS = \"windows2019srv-64\"\nvtpm.present = \"TRUE\"\nscsi0.present = \"TRUE\"\nscsi0:0.fileName = \"vm-{i:05}.vmdk\"\nscsi0:1.fileName = \"vm-{i:05}_1.vmdk\"\nethernet0.present = \"TRUE\"\nethernet0.addressType = \"vpx\"\nethernet0.generatedAddress = \"00:50:56:aa:{:02x}:{:02x}\"\nuuid.bios = \"42 1c 5e 2a 11 22 33 44-55 66 77 88 99 aa bb cc\"\nencryption.keySafe = \"{}\"\nencryption.data = \"{}\"\ntools.syncTime = \"FALSE\"\n",
            (i >> 8) & 0xff,
            i & 0xff,
            keysafe(p, i),
            blob(i + 2_000_000).repeat(2)
        );
        std::fs::write(dir.join(format!("vm-{i:05}.vmx")), vmx).expect("write");
        for d in 0..2 {
            let name = if d == 0 {
                format!("vm-{i:05}")
            } else {
                format!("vm-{i:05}_{d}")
            };
            let desc = format!(
                "# Disk DescriptorFile\nversion=1\nencoding=\"UTF-8\"\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\n# Extent description\nRW 83886080 VMFS \"{name}-flat.vmdk\"\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"lsilogic\"\nddb.virtualHWVersion = \"20\"\nddb.uuid = \"60 00 C2 9a 1b 2c 3d 4e-5f 60 71 82 93 a4 b5 c6\"\nencryptionKeys = \"{}\"\n",
                keysafe(p, i * 2 + d)
            );
            std::fs::write(dir.join(format!("{name}.vmdk")), desc).expect("write");
        }
    }
    for j in 0..m {
        let dir = root.join(format!("ds{}/vm-{:05}", j % 8, j % n.max(1)));
        std::fs::create_dir_all(&dir).expect("mkdir");
        match j % 4 {
            0 | 1 => {
                let mut f =
                    std::fs::File::create(dir.join(format!("vmware-{j}.log"))).expect("create");
                for k in 0..20 {
                    writeln!(
                        f,
                        "2026-11-20T03:12:{:02}.123Z In(05) vmx - Powering on VM {j} step {k}",
                        k % 60
                    )
                    .expect("write");
                }
            }
            2 => std::fs::write(
                dir.join(format!("notes-{j}.txt")),
                format!("owner team-{}\n", j % 17),
            )
            .expect("write"),
            _ => std::fs::write(
                dir.join(format!("vm-{j}.nvram")),
                [0u8, 1, 2, 3].repeat(2048),
            )
            .expect("write"),
        }
    }
    for k in 0..s {
        let dir = root.join(format!("ds{}/big-{k}", k % 8));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let size = gib << 30;
        if k % 2 == 0 {
            let f = std::fs::File::create(dir.join(format!("big-{k}-flat.vmdk"))).expect("create");
            f.set_len(size).expect("set_len");
        } else {
            let desc = format!(
                "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\n\nRW {} SPARSE \"big-{k}.vmdk\"\n\nencryptionKeys = \"{}\"\n",
                size / 512,
                keysafe("NKP-PROD", 9_000_000 + k)
            );
            let mut f = std::fs::File::create(dir.join(format!("big-{k}.vmdk"))).expect("create");
            f.write_all(&sparse_header(&desc, size / 512))
                .expect("write");
            f.set_len(size).expect("set_len");
        }
    }
}
