import CFuzzDriver
import Foundation

// SwiftPM gives an executable a Swift main, so libFuzzer's own main is not linked: run its
// driver from here with the target below.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) })
