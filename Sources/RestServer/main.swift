import Glibc
import NetCoreTools

exit(RestServerProgram.main(Array(CommandLine.arguments.dropFirst())))
