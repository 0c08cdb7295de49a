//! Replays the committed fuzz corpora (fuzz/regressions/<target>/, minimized with
//! `cargo fuzz cmin`, crash inputs included once fixed) through the same code path as
//! the cargo-fuzz targets (`airsync::fuzzing`), so that CI runs them on every change
//! without nightly or libFuzzer. No stack needed.

use std::path::Path;

#[test]
fn every_fuzz_corpus_replays_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut failed = Vec::new();
    for (target, run) in airsync::fuzzing::TARGETS {
        let dir = root.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (commit the corpus of {target})", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: empty corpus", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
}
