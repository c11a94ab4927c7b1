//! The benchmark's driver (Linux only: it reads /proc and uses Linux system
//! calls); the code is in examples/linux/bench.rs. See docs/performance.md.

#[cfg(target_os = "linux")]
#[path = "linux/bench.rs"]
mod imp;

fn main() {
    #[cfg(target_os = "linux")]
    imp::main();
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!("bench: the benchmark runs on Linux only");
        std::process::exit(2);
    }
}
