//! iCalendar events and tasks, vCards and iTIP requests → EAS and back
//! (src/mapping/calendar.rs, tasks.rs, contacts.rs, ical.rs; `airsync::fuzzing::pim_to_eas`).
#![no_main]
libfuzzer_sys::fuzz_target!(
    // mail-parser and calcard can panic on odd input; airsync catches those panics
    // (`catch_unwind`) and treats the input as unreadable. libfuzzer-sys's hook would
    // abort on them anyway: print instead. A panic that escapes still aborts (the
    // harness checks for it) and is reported as a crash.
    init: std::panic::set_hook(Box::new(|info| eprintln!("caught panic: {info}"))),
    |data: &[u8]| airsync::fuzzing::pim_to_eas(data)
);
