import Glibc
import NetCoreTools

exit(SessionServerProgram.main(Array(CommandLine.arguments.dropFirst())))
