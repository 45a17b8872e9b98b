// libFuzzer's driver, for a fuzz target whose main is Swift's (see Sources/mlpack-fuzz).
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
