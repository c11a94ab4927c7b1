//! Process names and command lines of a process and its ancestors, as any
//! user can set them: never a panic. The input is split into processes on
//! 0xFF, each into its name and arguments on NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use whyport_fuzz::model::Process;
use whyport_fuzz::origin::launcher;

fuzz_target!(|data: &[u8]| {
    let chain: Vec<Process> = data
        .split(|b| *b == 0xff)
        .enumerate()
        .map(|(i, part)| {
            let mut fields = part.split(|b| *b == 0);
            Process {
                pid: i as u32 + 2,
                ppid: Some(i as u32 + 3),
                name: fields.next().unwrap_or_default().to_vec(),
                cmdline: fields.map(<[u8]>::to_vec).collect(),
                ..Process::default()
            }
        })
        .collect();
    if let Some((first, rest)) = chain.split_first() {
        let ancestors: Vec<&Process> = rest.iter().collect();
        let _ = launcher(first, &ancestors);
    }
});
