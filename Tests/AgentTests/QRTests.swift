import Foundation
import XCTest

import Pairing
import Wire

@testable import Agent

/// `--qr`: the QR code the agent draws in a terminal must read back as the code. A real reader decodes it: zbar's
/// `zbarimg` (Debian zbar-tools), on an image rebuilt from the characters we printed.
final class QRTests: AgentTestCase {
    /// The half-block lines between the log line and the next non-QR line, as rows of modules (true = light).
    func modules(from stdout: String) -> [[Bool]] {
        var rows: [[Bool]] = []
        var inCode = false
        for line in stdout.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("sd-pair: pairing code: ") {
                inCode = true
                continue
            }
            guard inCode else { continue }
            guard !line.isEmpty, line.unicodeScalars.allSatisfy({ " \u{2580}\u{2584}\u{2588}".unicodeScalars.contains($0) }) else { break }
            var upper: [Bool] = []
            var lower: [Bool] = []
            for c in line.unicodeScalars {
                upper.append(c == "\u{2588}" || c == "\u{2580}")
                lower.append(c == "\u{2588}" || c == "\u{2584}")
            }
            rows += [upper, lower]
        }
        return rows
    }

    /// zbarimg's reading of the rows, drawn 4 pixels per module with an extra white margin.
    func decode(_ rows: [[Bool]]) throws -> String? {
        let scale = 4
        let margin = 8
        let width = (rows.first?.count ?? 0) * scale + 2 * margin
        let height = rows.count * scale + 2 * margin
        var pbm = "P1\n\(width) \(height)\n"
        for y in 0..<height {
            var line = ""
            for x in 0..<width {
                let (mx, my) = ((x - margin) / scale, (y - margin) / scale)
                let inside = x >= margin && y >= margin && my < rows.count && mx < rows[my].count
                line += inside && !rows[my][mx] ? "1 " : "0 "  // PBM: 1 is black
            }
            pbm += line + "\n"
        }
        let path = stateDirectory() + ".pbm"
        directories.append(URL(fileURLWithPath: path))
        try pbm.write(toFile: path, atomically: true, encoding: .utf8)
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/zbarimg") else {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("zbarimg is missing (.ci/run installs zbar-tools)") }
            throw XCTSkip("zbarimg not installed: apt-get install zbar-tools")
        }
        let reader = try Spawned(URL(fileURLWithPath: "/usr/bin/zbarimg"), ["--raw", "-q", path])
        guard reader.wait() == 0 else { return nil }
        return reader.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testInviteDrawsAQRCodeThatReadsBackAsTheWords() throws {
        let state = stateDirectory()
        let p = try Spawned(agent, ["invite", "--qr", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state])
        guard let words = p.line(startingWith: "CODE: "), p.line(startingWith: "sd-pair: pairing code: ") != nil else {
            return XCTFail("invite did not start: " + p.stderr)
        }
        let deadline = Date().addingTimeInterval(10)
        var rows: [[Bool]] = []
        while Date() < deadline {
            rows = modules(from: p.stdout)
            if rows.count > 20 && p.stdout.hasSuffix("\n") { break }
            usleep(20_000)
        }
        p.signal(SIGINT)
        XCTAssertEqual(p.wait(), 130)
        XCTAssertGreaterThanOrEqual(rows.count, 25, "version 2 or more, with its quiet zone: " + p.stdout)
        XCTAssertTrue(rows.allSatisfy { $0.count == rows[0].count }, "square, every line the same width")
        XCTAssertEqual(try decode(rows)?.lowercased(), words, "the QR code reads as the code (upper case: the denser mode)")
        XCTAssertFalse(p.stderr.contains("--qr"), p.stderr)
    }

    func testConfigKeyTurnsTheQRCodeOn() throws {
        let state = stateDirectory()
        let config = state + ".conf"
        directories.append(URL(fileURLWithPath: config))
        try "qr = true\n".write(toFile: config, atomically: true, encoding: .utf8)
        let p = try Spawned(agent, ["invite", "--config", config, "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--state-dir", state])
        XCTAssertNotNil(p.line(startingWith: "\u{2588}\u{2588}"), "a QR code line: " + p.stdout + p.stderr)
        p.signal(SIGINT)
        XCTAssertEqual(p.wait(), 130)
    }

    /// What a terminal shows for `text`: rows of pixels (true = light), with the terminal's own colours where the
    /// text sets none (light on dark, or dark on light) and white on black where it asks for `ESC [97;40m`.
    func terminalRows(_ text: String, lightBackground: Bool) -> [[Bool]] {
        var rows: [[Bool]] = []
        for line in text.split(separator: "\n") {
            var (foreground, background) = (!lightBackground, lightBackground)
            var upper: [Bool] = []
            var lower: [Bool] = []
            var rest = Substring(line)
            while let c = rest.unicodeScalars.first {
                if c == "\u{1B}", let end = rest.firstIndex(of: "m") {
                    let parameters = rest[rest.index(rest.startIndex, offsetBy: 2)..<end]
                    (foreground, background) = parameters == "97;40" ? (true, false) : (!lightBackground, lightBackground)
                    rest = rest[rest.index(after: end)...]
                    continue
                }
                upper.append(c == "\u{2588}" || c == "\u{2580}" ? foreground : background)
                lower.append(c == "\u{2588}" || c == "\u{2584}" ? foreground : background)
                rest = rest.dropFirst()
            }
            rows += [upper, lower]
        }
        return rows
    }

    /// First-contact item 9: with the colours forced (what `--qr` does on a terminal), the code reads on a dark and
    /// on a light terminal, with no inversion option on the reader; without them (a log), only on a dark one.
    func testForcedColoursReadOnDarkAndLightTerminals() throws {
        var code = PairingCode(entropy: FixedBytes<16>(repeating: 0x5A))
        var words = code.spelled
        defer {
            code.wipe()
            words.wipe()
        }
        for colours in [true, false] {
            guard case .success(let bytes) = QRText.render(words, colours: colours) else { throw XCTSkip("libqrencode4 is not installed") }
            let text = String(decoding: bytes, as: UTF8.self)
            XCTAssertEqual(text.contains("\u{1B}[97;40m"), colours)
            XCTAssertEqual(try decode(terminalRows(text, lightBackground: false))?.lowercased(), words.string, "dark terminal, colours \(colours)")
            let light = try decode(terminalRows(text, lightBackground: true))?.lowercased()
            if colours { XCTAssertEqual(light, words.string, "light terminal") } else { XCTAssertNil(light, "inverted on a light terminal") }
        }
    }

    func testLayoutDrawsTwoModuleRowsPerLineInsideALightMargin() {
        // A 2 × 2 symbol: dark, light / light, dark.
        let modules: [UInt8] = [1, 0, 0, 1]
        let text = modules.withUnsafeBufferPointer { QRText.layout($0, width: 2) }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 4, "6 module rows (2 + 2 × 2 margin) → 3 lines, then the final newline")
        XCTAssertEqual(String(lines[0]), String(repeating: "\u{2588}", count: 6))
        XCTAssertEqual(String(lines[1]), "\u{2588}\u{2588}\u{2584}\u{2580}\u{2588}\u{2588}")
        XCTAssertEqual(String(lines[2]), String(repeating: "\u{2588}", count: 6))
        XCTAssertEqual(lines[3], "")
    }
}
