/// A small command-line parser: `--name VALUE`, `--name=VALUE`, boolean `--flag`s, positionals anywhere, and `--`
/// to end options. The tools need nothing more, and the design card allows no packages.
public struct Arguments {
    /// What an option takes.
    public enum Kind: Sendable {
        case flag
        case value(placeholder: String)
    }

    /// One accepted option.
    public struct Option: Sendable {
        /// The option name without the leading `--`.
        public let name: String
        /// Whether it is a flag or takes a value.
        public let kind: Kind
        /// One line for `--help`.
        public let help: String

        /// An option named `--name`.
        public init(_ name: String, _ kind: Kind = .flag, help: String) {
            self.name = name
            self.kind = kind
            self.help = help
        }
    }

    /// A usage error, printed as one line on stderr.
    public struct UsageError: Error, CustomStringConvertible {
        /// The message, e.g. "unknown option '--x'".
        public let description: String
    }

    /// Flags that were given.
    public private(set) var flags: Set<String> = []
    /// Values of valued options (the last one wins).
    public private(set) var values: [String: String] = [:]
    /// Every value of each valued option, in order (for repeatable options).
    public private(set) var allValues: [String: [String]] = [:]
    /// Positional arguments, in order.
    public private(set) var positionals: [String] = []

    /// Parses `arguments` (without the program name) against `options`. `--help`/`-h` is always accepted as a flag.
    public init(_ arguments: [String], options: [Option]) throws(UsageError) {
        var byName: [String: Option] = [:]
        for option in options { byName[option.name] = option }
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if optionsEnded || !argument.hasPrefix("-") || argument == "-" {
                positionals.append(argument)
                continue
            }
            if argument == "--" {
                optionsEnded = true
                continue
            }
            if argument == "-h" || argument == "--help" {
                flags.insert("help")
                continue
            }
            guard argument.hasPrefix("--") else {
                throw UsageError(description: "unknown option '\(argument)'")
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let option = byName[name] else {
                throw UsageError(description: "unknown option '--\(name)'")
            }
            switch option.kind {
            case .flag:
                guard inlineValue == nil else { throw UsageError(description: "option '--\(name)' takes no value") }
                flags.insert(name)
            case .value(let placeholder):
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else if index < arguments.count {
                    value = arguments[index]
                    index += 1
                } else {
                    throw UsageError(description: "option '--\(name)' needs a value (\(placeholder))")
                }
                values[name] = value
                allValues[name, default: []].append(value)
            }
        }
    }

    /// Whether `--name` was given.
    public func has(_ name: String) -> Bool { flags.contains(name) }

    /// The value of `--name` as an integer in `range`, or nil if absent.
    public func integer(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let text = values[name] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw UsageError(
                description:
                    "'--\(name)' must be a number from \(range.lowerBound) to \(range.upperBound), got '\(text)'"
            )
        }
        return value
    }

    /// The help lines for `options`, aligned.
    public static func help(for options: [Option]) -> String {
        let labels =
            options.map { option -> String in
                switch option.kind {
                case .flag: "--\(option.name)"
                case .value(let placeholder): "--\(option.name) \(placeholder)"
                }
            } + ["-h, --help"]
        let width = labels.map(\.count).max() ?? 0
        let helps = options.map(\.help) + ["show this help and exit"]
        return zip(labels, helps).map { label, help in
            "  " + label + String(repeating: " ", count: width - label.count + 2) + help
        }.joined(separator: "\n")
    }
}
