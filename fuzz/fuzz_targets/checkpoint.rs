#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    optimlab_fuzz::checkpoint(data);
});
