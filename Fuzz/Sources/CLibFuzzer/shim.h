// libFuzzer's documented entry point for programs that have their own main (compiler-rt's FuzzerInterface.h).
// The runtime itself is linked by `swiftc -sanitize=fuzzer`.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
