//! The benchmark's load generator (Linux only: it reads /proc and uses Linux system
//! calls); the code is in examples/linux/loadgen.rs. See docs/performance.md.

#[cfg(target_os = "linux")]
#[path = "linux/loadgen.rs"]
mod imp;

fn main() {
    #[cfg(target_os = "linux")]
    imp::main();
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!("loadgen: the benchmark runs on Linux only");
        std::process::exit(2);
    }
}
