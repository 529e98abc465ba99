import Crypto
import Foundation

#if FUZZING
/// libFuzzer (built with `-sanitize=fuzzer,address -D FUZZING`, Scripts/fuzz). SwiftPM links an executable's entry
/// point as `main`, so libFuzzer's own `main` stays out and ours hands over to its driver. The target comes from
/// SDPAIR_FUZZ_TARGET, so one instrumented binary serves every decoder.
enum Harness {
    nonisolated(unsafe) static var target: FuzzTarget = .multistream
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
struct Fuzz {
    static func main() {
        try! Sodium.initialize()
        let name = ProcessInfo.processInfo.environment["SDPAIR_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget.named(name) else {
            FileHandle.standardError.write(Data(("SDPAIR_FUZZ_TARGET must be one of: " + FuzzTarget.allCases.map(\.name).joined(separator: " ") + "\n").utf8))
            exit(2)
        }
        Harness.target = target
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            Harness.target.run(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        })
    }
}
#else
/// Without libFuzzer: `sd-pair-fuzz <target> <file or directory>…` runs every input once through the target — how
/// the test suite replays the seed corpora and every crash ever found (Tests/Fuzz/regressions/<target>/);
/// `sd-pair-fuzz --seeds <dir>` writes the seeds our own encoders make.
@main
struct Replay {
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        if args.first == "--seeds", args.count == 2 {
            try! Sodium.initialize()
            do { try Seeds.write(to: args.last!) } catch {
                print("cannot write seeds: \(error)")
                exit(1)
            }
            return
        }
        guard let name = args.first, let target = FuzzTarget.named(name) else {
            print("usage: sd-pair-fuzz <" + FuzzTarget.allCases.map(\.name).joined(separator: "|") + "> <file or directory>…")
            exit(2)
        }
        try! Sodium.initialize()
        var count = 0
        for path in args.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                print("no such file: " + path)
                exit(2)
            }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { target.run($0) }
                count += 1
            }
        }
        print("replayed \(count) inputs through \(name)")
    }
}
#endif
