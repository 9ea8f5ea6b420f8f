//! Writes a large VCDB-dump-like text for `bench/vcsa.sh`: MB megabytes of rows of an
//! uninteresting table, then a small provider table at the end (so the whole stream must be
//! read to find it). Usage: cargo run --release --example gen_vcsa_bench -- <out.sql> <MB>

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;

fn main() {
    let mut a = std::env::args().skip(1);
    let out = a.next().expect("out");
    let mb: u64 = a.next().and_then(|s| s.parse().ok()).unwrap_or(2048);
    let f = std::fs::File::create(out).expect("create");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    writeln!(w, "--\n-- PostgreSQL database dump\n--\nCOPY public.vpx_event (event_id, chain_id, event_type, create_time, username, vm_name, host_name) FROM stdin;").expect("w");
    let mut written = 0u64;
    let mut i = 0u64;
    while written < mb << 20 {
        let line = format!(
            "{i}\t{}\tvim.event.VmPoweredOnEvent\t2025-10-{:02} {:02}:{:02}:{:02}.{:06}\tVSPHERE.LOCAL\\\\svc-{}\tvm-{:05}\tesxi{:02}.lab\n",
            i / 3,
            i % 28 + 1,
            i % 24,
            i % 60,
            (i * 7) % 60,
            (i * 7919) % 1_000_000,
            i % 97,
            i % 20_000,
            i % 64
        );
        w.write_all(line.as_bytes()).expect("w");
        written += line.len() as u64;
        i += 1;
    }
    writeln!(w, "\\.\nCOPY public.vpx_nkp_provider (id, name, key_id, kdk_encrypted) FROM stdin;\n1\tNKP-PROD\t648c5a1b-03c6-4694-a11c-89a63cc86f4f\t\\\\x8f00aa11\n\\.").expect("w");
}
