/// Placeholder while the program is written (issue 10); not a finished program.
public enum HelloServerProgram {
    /// Runs the program; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        Console.error("not implemented yet")
        return 1
    }
}
