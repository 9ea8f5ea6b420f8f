//! List the bags of a PKCS#12 file: `cargo run -p nkp-pkcs12 --example list_bags -- FILE`.
//! The password is read from the environment variable `P12_PASSWORD` (never from argv); the
//! empty and absent passwords are always tried too.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use nkp_pkcs12::{Limits, Password, Pfx};
use secrecy::SecretString;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os().nth(1).ok_or("usage: list_bags FILE")?;
    let bytes = std::fs::read(&path)?;
    let passwords: Vec<Password> = std::env::var("P12_PASSWORD")
        .ok()
        .map(|p| Password::new("$P12_PASSWORD", SecretString::from(p)))
        .into_iter()
        .collect();
    let contents = match Pfx::parse(&bytes)?.check(&Limits::default()) {
        Ok(checked) => checked.open(&passwords),
        Err(over) => over.into_contents(),
    };
    for bag in &contents.found {
        println!("{}\t{}", bag.path, bag.description);
    }
    for p in &contents.problems {
        eprintln!("problem: {p}");
    }
    Ok(())
}
