import Glibc
import NetCoreTools

exit(EchoServerProgram.main(Array(CommandLine.arguments.dropFirst())))
