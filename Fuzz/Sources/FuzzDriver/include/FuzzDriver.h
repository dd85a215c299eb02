// FuzzDriver.h — libFuzzer's entry point for programs that keep their own `main`
// (in compiler-rt's libclang_rt.fuzzer, linked by `-sanitize=fuzzer`).
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));
