import Glibc
import NetCoreTools

exit(UnixHTTPProgram.main(Array(CommandLine.arguments.dropFirst())))
