import Wire

/// The options of one subcommand, parsed in one pass: `--name value`, `--name=value`, `--flag`, positionals.
struct Options {
    private var values: [(name: String, value: String)] = []
    private var flags: [String] = []
    private(set) var positionals: [String] = []

    /// Parses the rest of `args`. `valued` options take a value, `switches` do not; anything else starting
    /// with "--" is an error naming it.
    /// With `config`, the options of the config file (ConfigFile) come first, so that flags override them.
    static func parse(
        _ args: inout Arguments, command: String, valued: [StaticString], switches: [StaticString], config: Bool = false
    ) -> Result<Options, UsageError> {
        if config {
            switch ConfigFile.apply(args.takeRemaining(), valued: valued, switches: switches, command: command) {
            case .success(let words): args = Arguments(words)
            case .failure(let e): return .failure(e)
            }
        }
        var out = Options()
        while let word = args.next() {
            let (name, inline) = Arguments.split(word)
            if valued.contains(where: { name.isExactly($0) }) {
                switch args.value(for: name, inline: inline) {
                case .success(let v): out.values.append((name, v))
                case .failure(let e): return .failure(UsageError(command + ": " + e.message))
                }
            } else if switches.contains(where: { name.isExactly($0) }) {
                guard inline == nil else { return .failure(UsageError(command + ": " + name + " takes no value")) }
                out.flags.append(name)
            } else if word.startsWithExactly("-") && word.utf8.count > 1 {
                return .failure(UsageError(command + ": unknown option '" + word + "'" + Help.closest(name, among: valued + switches)))
            } else {
                out.positionals.append(word)
            }
        }
        return .success(out)
    }

    /// The last value given for `name`.
    func value(_ name: StaticString) -> String? { values.last { $0.name.isExactly(name) }?.value }

    func all(_ name: StaticString) -> [String] { values.filter { $0.name.isExactly(name) }.map { $0.value } }

    func has(_ flag: StaticString) -> Bool { flags.contains { $0.isExactly(flag) } }

    static func text(_ s: StaticString) -> String {
        String(decoding: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount), as: UTF8.self)
    }

    /// A number in `range`, or a usage error that says what is allowed.
    func number(_ name: StaticString, in range: ClosedRange<Int>, default fallback: Int, command: String) -> Result<Int, UsageError> {
        guard let text = value(name) else { return .success(fallback) }
        guard let n = Int(text), range.contains(n) else {
            return .failure(UsageError(command + ": " + Options.text(name) + " must be a number from " + String(range.lowerBound) + " to " + String(range.upperBound)))
        }
        return .success(n)
    }
}
