@preconcurrency import Glibc

/// Line output that reaches the terminal, pipe or file at once: each call is one unbuffered `write(2)` (Swift's
/// `print` is block-buffered when stdout is not a TTY, so a server's log would appear late or be lost on a kill).
public enum Console {
    /// Writes `text` followed by a newline to standard output.
    public static func line(_ text: String) {
        write(text + "\n", to: 1)
    }

    /// Writes `text` as is to standard output.
    public static func out(_ text: String) {
        write(text, to: 1)
    }

    /// Writes `text` followed by a newline to standard error.
    public static func error(_ text: String) {
        write(text + "\n", to: 2)
    }

    private static func write(_ text: String, to fd: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    return  // a closed stdout (EPIPE) or a full disk: losing the log must not stop the server
                }
            }
        }
    }
}
