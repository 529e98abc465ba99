import Agent
import Foundation
import XCTest

/// `--events json` text is safe to embed in a web page (security review finding 12) and still plain JSON.
final class JSONEscapeTests: XCTestCase {
    func testMarkupAndSeparatorsAreEscapedAndRoundTrip() throws {
        let text = "a<b>&c\u{2028}d\u{2029}\"\\\n</script>é"
        let encoded = JSON.string(text)
        XCTAssertEqual(encoded, "\"a\\u003cb\\u003e\\u0026c\\u2028d\\u2029\\\"\\\\\\u000a\\u003c/script\\u003eé\"")
        let back = try JSONSerialization.jsonObject(with: Data(("[" + encoded + "]").utf8)) as? [String]
        XCTAssertEqual(back, [text])
    }
}
