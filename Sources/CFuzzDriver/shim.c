// Only the declaration in include/CFuzzDriver.h matters: libFuzzer (-sanitize=fuzzer) defines it.
#include "CFuzzDriver.h"
