//! What `edged init` owes as PID 1, in a process of its own (the reaper
//! collects every exit status of the process, so it must not share one with
//! other tests): orphans are reaped, and a child that ignores SIGTERM is
//! killed after the stop timeout.

use std::time::{Duration, Instant};

use edge_runtime::boot::supervise::{self, ChildSpec, Reaper};

fn sh(script: &str) -> ChildSpec {
    ChildSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        env: Vec::new(),
    }
}

#[test]
fn orphans_are_reaped_and_stubborn_children_killed() {
    nix::sys::prctl::set_child_subreaper(true).expect("subreaper");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let reaper = Reaper::default();
        reaper.start().expect("reaper");

        // The shell leaves a background sleep behind and exits: the sleep is
        // an orphan, reparented to us (the subreaper, as to PID 1).
        let child = supervise::spawn(&sh("sleep 0.5 & echo $! >&2; exit 3")).expect("spawn");
        let status = tokio::time::timeout(Duration::from_secs(10), reaper.wait(child.pid))
            .await
            .expect("the shell exits");
        assert_eq!(status, "exited with status 3");
        let deadline = Instant::now() + Duration::from_secs(5);
        let orphan: u32 = loop {
            if let Some(line) = child.tail.lines().first() {
                break line.trim().parse().expect("a pid");
            }
            assert!(Instant::now() < deadline, "no pid from the shell");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let status = tokio::time::timeout(Duration::from_secs(10), reaper.wait(orphan))
            .await
            .expect("the orphan is reaped");
        assert_eq!(status, "exited with status 0");
        assert!(
            !std::path::Path::new(&format!("/proc/{orphan}")).exists(),
            "no zombie left"
        );

        // SIGTERM ignored: SIGKILL after the timeout.
        let stubborn = supervise::spawn(&sh(
            "trap '' TERM; echo ready >&2; while :; do sleep 0.1; done",
        ))
        .expect("spawn");
        let deadline = Instant::now() + Duration::from_secs(5);
        while stubborn.tail.lines().is_empty() {
            assert!(Instant::now() < deadline, "the shell did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let started = Instant::now();
        let how = supervise::stop(&reaper, stubborn.pid, Duration::from_secs(1)).await;
        assert!(how.contains("SIGKILL"), "{how}");
        assert!(started.elapsed() >= Duration::from_secs(1), "{how}");

        // A child that honours SIGTERM is not killed.
        let polite = supervise::spawn(&sh("echo ready >&2; exec sleep 30")).expect("spawn");
        while polite.tail.lines().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let how = supervise::stop(&reaper, polite.pid, Duration::from_secs(10)).await;
        assert_eq!(how, "was killed by SIGTERM");
    });
}
